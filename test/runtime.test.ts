import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  Binary,
  BSONRegExp,
  Code,
  DBRef,
  Decimal128,
  Double,
  Int32,
  Long,
  MaxKey,
  MinKey,
  ObjectId,
  Timestamp,
  UUID,
} from 'bson';
import {
  createRunner,
  FunctionExecutionFailure,
  loadApp,
  RecordingLog,
  type FunctionRunner,
} from '../src/index.js';
import { tempApp } from './helpers.js';

/** Asserts that `promise` fails with this execution error code and a message matching `pattern`. */
async function rejectsWith(
  promise: Promise<unknown>,
  code: string,
  pattern: RegExp,
): Promise<FunctionExecutionFailure> {
  try {
    await promise;
  } catch (error) {
    assert.ok(
      error instanceof FunctionExecutionFailure,
      `expected FunctionExecutionFailure, got ${String(error)}`,
    );
    assert.equal(error.errorCode, code, error.message);
    assert.match(error.message, pattern);
    return error;
  }
  assert.fail('expected the call to fail');
}

const FUNCTIONS: Record<string, string> = {
  'functions/config.json': JSON.stringify([
    { name: 'secretive', private: true },
    { name: 'asSystem', run_as_system: true },
  ]),
  'functions/plain.js': 'exports = function (a, b) { return a + b; };',
  'functions/asyncFn.js': 'exports = async function (x) { await null; return x * 2; };',
  'functions/arrow.js': 'exports = (x) => ({ got: x });',
  'functions/named.js': 'function named(x) { return `named ${x}`; }\nexports = named;',
  'functions/withJest.js':
    'exports = function () { return typeof module; };\nif (typeof module !== "undefined") module.exports = exports;',
  'functions/sloppy.js':
    'exports = function () { leaked = 42; return leaked + (this === globalThis ? 1 : 0); };',
  'functions/setsGlobal.js':
    'exports = function () { const before = typeof globalThis.marker; globalThis.marker = 1; Array.prototype.polluted = true; return before; };',
  'functions/readsGlobal.js':
    'exports = function () { return [typeof globalThis.marker, [].polluted === undefined]; };',
  'functions/values.js': 'exports = function (name) { return context.values.get(name); };',
  'functions/environment.js': 'exports = function () { return context.environment; };',
  'functions/whoami.js':
    'exports = function () { return { user: context.user, system: context.runningAsSystem(), app: context.app.name }; };',
  'functions/asSystem.js': 'exports = function () { return context.runningAsSystem(); };',
  'functions/echo.js': 'exports = function (...args) { return args; };',
  'functions/types.js':
    'exports = function (v) { return { isNumber: typeof v.n === "number", oid: v.oid instanceof BSON.ObjectId, long: v.long instanceof BSON.Long, date: v.date instanceof Date }; };',
  'functions/makeBson.js':
    'exports = function () { return { oid: BSON.ObjectId("64b7f0c2a1b2c3d4e5f60718"), oid2: new BSON.ObjectId("64b7f0c2a1b2c3d4e5f60718"), bin: BSON.Binary.fromBase64("aGk=", 0), text: BSON.Binary.fromHex("6869").text(), dec: BSON.Decimal128.fromString("1.5"), buf: Buffer.from("hi").toString("base64"), ejson: EJSON.stringify({ a: 1 }), parsed: EJSON.parse(\'{"$oid":"64b7f0c2a1b2c3d4e5f60718"}\').toHexString() }; };',
  'functions/logs.js':
    'exports = function () { console.log("one", 2, { three: 3 }); console.error("bad"); console.warn("careful"); return null; };',
  'functions/callSync.js':
    'exports = function () { const r = context.functions.execute("plain", 1, 2); return { r, sync: typeof r === "number" }; };',
  'functions/callAsync.js':
    'exports = function () { const p = context.functions.execute("asyncFn", 5); return { isPromise: p instanceof Promise }; };',
  'functions/awaitAsync.js':
    'exports = async function () { return await context.functions.execute("asyncFn", 5); };',
  'functions/retry.js':
    'exports = function () { let n = 0; const op = () => { n++; if (n < 3) throw new Error("flaky"); return n; }; return context.functions.execute("withRetry", op, { tries: 5 }); };',
  'functions/withRetry.js':
    'exports = function (op, opts) { for (let i = 0; i < opts.tries; i++) { try { return op(); } catch (e) { if (i === opts.tries - 1) throw e; } } };',
  'functions/mutates.js':
    'exports = function () { const o = { n: 1 }; context.functions.execute("mutator", o); return o.n; };',
  'functions/mutator.js': 'exports = function (o) { o.n = 99; };',
  'functions/callsPrivate.js':
    'exports = function () { return context.functions.execute("secretive"); };',
  'functions/secretive.js': 'exports = function () { return "private ok"; };',
  'functions/callsUnknown.js':
    'exports = function () { return context.functions.execute("nope"); };',
  'functions/throws.js':
    'exports = function () {\n  const x = 1;\n  throw new Error("boom " + x);\n};',
  'functions/rejects.js':
    'exports = async function () { await null; throw new TypeError("async boom"); };',
  'functions/throwsString.js': 'exports = function () { throw "just a string"; };',
  'functions/broken.js': 'exports = function () {\n  return 1 +;\n};',
  'functions/notAFunction.js': 'exports = 42;',
  'functions/topRequire.js': 'const _ = require("lodash");\nexports = function () { return 1; };',
  'functions/timers.js':
    'exports = function () { return new Promise((resolve) => { const order = []; let ticks = 0; setTimeout(() => order.push("t2"), 30); setTimeout(() => order.push("t1"), 5); const cancelled = setTimeout(() => order.push("never"), 10); clearTimeout(cancelled); const i = setInterval(() => { ticks++; if (ticks === 3) clearInterval(i); }, 1); setTimeout(() => resolve({ order, ticks }), 60); }); };',
  'functions/undefinedResult.js': 'exports = function () {};',
  'functions/cyclic.js': 'exports = function () { const a = {}; a.self = a; return a; };',
  'functions/withFn.js': 'exports = function () { return { keep: 1, drop: () => 1 }; };',
  'values/greeting.json': JSON.stringify({ name: 'greeting', value: 'hello' }),
  'values/config.json': JSON.stringify({
    name: 'config',
    value: { retries: 3, hosts: ['a', 'b'] },
  }),
  'values/apiKey.json': JSON.stringify({
    name: 'apiKey',
    value: 'apiKeySecret',
    from_secret: true,
  }),
  'environments/no-environment.json': JSON.stringify({
    values: { region: 'local', flags: { beta: true } },
  }),
};

describe('FunctionRunner', () => {
  let runner: FunctionRunner;
  before(() => {
    const root = tempApp(FUNCTIONS);
    runner = createRunner({ app: loadApp({ root }).app, timeoutMs: 20_000 });
  });
  after(() => runner.dispose());

  it('execute: runs every form of `exports =` (function, async, arrow, named)', async () => {
    assert.equal((await runner.execute('plain', [2, 3])).result, 5);
    assert.equal((await runner.execute('asyncFn', [21])).result, 42);
    assert.deepEqual((await runner.execute('arrow', ['x'])).result, { got: 'x' });
    assert.equal((await runner.execute('named', ['y'])).result, 'named y');
  });

  it('execute: `typeof module` is "undefined", so the Jest export line is harmless', async () => {
    assert.equal((await runner.execute('withJest')).result, 'undefined');
  });

  it('execute: files run in sloppy mode (undeclared assignments, `this` is the global)', async () => {
    assert.equal((await runner.execute('sloppy')).result, 43);
  });

  it('execute: each call starts from clean global state', async () => {
    assert.equal((await runner.execute('setsGlobal')).result, 'undefined');
    assert.equal((await runner.execute('setsGlobal')).result, 'undefined');
    assert.deepEqual((await runner.execute('readsGlobal')).result, ['undefined', true]);
  });

  it('context.values.get: plain Values as JSON, unknown names as undefined', async () => {
    assert.equal((await runner.execute('values', ['greeting'])).result, 'hello');
    assert.deepEqual((await runner.execute('values', ['config'])).result, {
      retries: 3,
      hosts: ['a', 'b'],
    });
    const unknown = await runner.execute('values', ['nope']);
    assert.equal(unknown.result, undefined);
    assert.equal(unknown.resultEJSON, '{"$undefined":true}');
  });

  it('context.values.get: a Secret-linked Value without a secret store fails naming the Value and the Secret', async () => {
    await rejectsWith(
      runner.execute('values', ['apiKey']),
      'FunctionExecutionError',
      /value 'apiKey' \(values\/apiKey\.json\) is linked to secret 'apiKeySecret'.*no secret store/,
    );
  });

  it('context.environment: tag and values of the active environment', async () => {
    assert.deepEqual((await runner.execute('environment')).result, {
      tag: '',
      values: { region: 'local', flags: { beta: true } },
    });
  });

  it('context.user: the system user by default, a normal user with an id, runningAsSystem()', async () => {
    const system = (await runner.execute('whoami')).result as {
      user: { type: string; id?: string };
      system: boolean;
      app: string;
    };
    assert.equal(system.user.type, 'system');
    assert.equal(system.user.id, undefined);
    assert.equal(system.system, true);
    assert.equal(system.app, 'test-app');
    const user = (await runner.execute('whoami', [], { user: 'u-123' })).result as typeof system;
    assert.deepEqual([user.user.type, user.user.id, user.system], ['normal', 'u-123', false]);
    assert.equal((await runner.execute('asSystem', [], { user: 'u-123' })).result, true);
  });

  it('EJSON: every BSON type survives the round trip in and out of the sandbox', async () => {
    const args = [
      new ObjectId('64b7f0c2a1b2c3d4e5f60718'),
      new Date('2024-05-06T07:08:09.010Z'),
      new Binary(Buffer.from('binary data'), 0),
      Decimal128.fromString('12345.6789'),
      new Int32(7),
      Long.fromString('9007199254740993'),
      new Double(3.5),
      new BSONRegExp('^a.c$', 'i'),
      /x+y/i,
      new Timestamp({ t: 1700000000, i: 3 }),
      new MinKey(),
      new MaxKey(),
      null,
      'text',
      true,
      { nested: [1, { deep: new ObjectId('64b7f0c2a1b2c3d4e5f60719') }] },
      new UUID('0f3c6a2e-9b1d-4c7e-8a5f-2d4b6c8e0a1f'),
      new Code('function () { return 1; }'),
      new DBRef('orders', new ObjectId('64b7f0c2a1b2c3d4e5f6071a')),
    ];
    const { resultEJSON, result } = await runner.execute('echo', args);
    assert.deepEqual(JSON.parse(resultEJSON), [
      { $oid: '64b7f0c2a1b2c3d4e5f60718' },
      { $date: { $numberLong: '1714979289010' } },
      { $binary: { base64: Buffer.from('binary data').toString('base64'), subType: '00' } },
      { $numberDecimal: '12345.6789' },
      { $numberInt: '7' },
      { $numberLong: '9007199254740993' },
      { $numberDouble: '3.5' },
      { $regularExpression: { pattern: '^a.c$', options: 'i' } },
      { $regularExpression: { pattern: 'x+y', options: 'i' } },
      { $timestamp: { t: 1700000000, i: 3 } },
      { $minKey: 1 },
      { $maxKey: 1 },
      null,
      'text',
      true,
      { nested: [{ $numberInt: '1' }, { deep: { $oid: '64b7f0c2a1b2c3d4e5f60719' } }] },
      {
        $binary: {
          base64: Buffer.from('0f3c6a2e9b1d4c7e8a5f2d4b6c8e0a1f', 'hex').toString('base64'),
          subType: '04',
        },
      },
      { $code: 'function () { return 1; }' },
      { $ref: 'orders', $id: { $oid: '64b7f0c2a1b2c3d4e5f6071a' } },
    ]);
    const decoded = result as unknown[];
    assert.ok(decoded[0] instanceof ObjectId);
    assert.ok(decoded[5] instanceof Long);
    assert.equal(decoded[4], 7);
  });

  it('EJSON: inside the sandbox, numbers are numbers and BSON values are BSON classes', async () => {
    const { result } = await runner.execute('types', [
      { n: 5, oid: new ObjectId(), long: Long.fromNumber(5), date: new Date() },
    ]);
    assert.deepEqual(result, { isNumber: true, oid: true, long: true, date: true });
  });

  it('globals: BSON (ObjectId with or without new, Binary helpers, Decimal128), EJSON and Buffer', async () => {
    const { result, resultEJSON } = await runner.execute('makeBson');
    const r = result as Record<string, unknown>;
    assert.ok(r['oid'] instanceof ObjectId);
    assert.equal(String(r['oid']), '64b7f0c2a1b2c3d4e5f60718');
    assert.equal(String(r['oid2']), '64b7f0c2a1b2c3d4e5f60718');
    assert.equal(r['text'], 'hi');
    assert.equal(r['buf'], 'aGk=');
    // Canonical by default, as the platform's EJSON.stringify (SPEC section 3).
    assert.equal(r['ejson'], '{"a":{"$numberInt":"1"}}');
    assert.equal(r['parsed'], '64b7f0c2a1b2c3d4e5f60718');
    assert.match(resultEJSON, /"dec":\{"\$numberDecimal":"1.5"\}/);
    assert.match(resultEJSON, /"bin":\{"\$binary":\{"base64":"aGk=","subType":"00"\}\}/);
  });

  it('console: every call becomes one log line, in order', async () => {
    const { logs } = await runner.execute('logs');
    assert.deepEqual(logs, ['one 2 {"three":3}', 'bad', 'careful']);
  });

  it('functions.execute: a sync callee returns its value as is, an async one a Promise', async () => {
    assert.deepEqual((await runner.execute('callSync')).result, { r: 3, sync: true });
    assert.deepEqual((await runner.execute('callAsync')).result, { isPromise: true });
    assert.equal((await runner.execute('awaitAsync')).result, 10);
  });

  it('functions.execute: arguments pass by reference, function objects included (the retry pattern)', async () => {
    assert.equal((await runner.execute('retry')).result, 3);
    assert.equal((await runner.execute('mutates')).result, 99);
  });

  it('functions.execute: private functions can be executed; an unknown name fails', async () => {
    assert.equal((await runner.execute('callsPrivate')).result, 'private ok');
    await rejectsWith(
      runner.execute('callsUnknown'),
      'FunctionNotFound',
      /function not found: 'nope'/,
    );
  });

  it('errors: a throw is a FunctionExecutionError whose stack names the file and line', async () => {
    const failure = await rejectsWith(
      runner.execute('throws'),
      'FunctionExecutionError',
      /^boom 1$/,
    );
    assert.match(failure.functionStack, /functions\/throws\.js:3:9/);
    await rejectsWith(runner.execute('rejects'), 'FunctionExecutionError', /^async boom$/);
    await rejectsWith(runner.execute('throwsString'), 'FunctionExecutionError', /^just a string$/);
  });

  it('errors: a syntax error is a FunctionSyntaxError with file, line and column', async () => {
    await rejectsWith(
      runner.execute('broken'),
      'FunctionSyntaxError',
      /^functions\/broken\.js:2:13: Unexpected token ';'$/,
    );
    await rejectsWith(
      runner.execute('notAFunction'),
      'FunctionSyntaxError',
      /does not assign a function to exports/,
    );
  });

  it('errors: an unknown function is FunctionNotFound with a suggestion', async () => {
    const failure = await rejectsWith(
      runner.execute('plian'),
      'FunctionNotFound',
      /function not found: 'plian'/,
    );
    assert.match(failure.hint ?? '', /did you mean 'plain'/);
  });

  it('require: refused at the top level of a function file', async () => {
    await rejectsWith(
      runner.execute('topRequire'),
      'FunctionExecutionError',
      /require\('lodash'\) at the top level of functions\/topRequire\.js/,
    );
  });

  it('timers: setTimeout, clearTimeout, setInterval and clearInterval work inside a call', async () => {
    assert.deepEqual((await runner.execute('timers')).result, { order: ['t1', 't2'], ticks: 3 });
  });

  it('results: undefined crosses as {"$undefined": true}; functions are dropped; cycles fail clearly', async () => {
    assert.equal((await runner.execute('undefinedResult')).resultEJSON, '{"$undefined":true}');
    assert.deepEqual((await runner.execute('withFn')).result, { keep: 1 });
    await rejectsWith(runner.execute('cyclic'), 'FunctionExecutionError', /circular reference/);
  });

  it('stats: each call reports its duration', async () => {
    const { stats } = await runner.execute('plain', [1, 1]);
    assert.ok(stats.durationMs > 0);
  });

  it('calls in flight: 20 concurrent calls all get their own answers', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => runner.execute('asyncFn', [i])),
    );
    assert.deepEqual(
      results.map((r) => r.result),
      Array.from({ length: 20 }, (_, i) => i * 2),
    );
  });
});

describe('FunctionRunner reload', () => {
  it('reload: calls sent just before a reload still complete (on the new version), none hangs', async () => {
    const root = tempApp({
      'functions/version.js': 'exports = async () => { await null; return 1; };',
    });
    const runner = createRunner({ app: loadApp({ root }).app });
    try {
      await runner.execute('version');
      // More calls than prepared contexts, so some wait in the sandbox while the app changes.
      const inFlight = Array.from({ length: 8 }, () => runner.execute('version'));
      writeFileSync(
        path.join(root, 'functions/version.js'),
        'exports = async () => { await null; return 2; };',
      );
      runner.reload(loadApp({ root }).app);
      const guard = new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('a call hung across the reload')), 60_000).unref(),
      );
      const results = await Promise.race([Promise.all(inFlight), guard]);
      for (const { result } of results) assert.ok(result === 1 || result === 2);
      assert.equal((await runner.execute('version')).result, 2);
    } finally {
      runner.dispose();
    }
  });
});

describe('FunctionRunner log', () => {
  it('log: function console output goes through the injected Log, tagged with the function name', async () => {
    const root = tempApp(FUNCTIONS);
    const log = new RecordingLog();
    const runner = createRunner({ app: loadApp({ root }).app, log });
    try {
      await runner.execute('logs');
      assert.deepEqual(log.entries, [
        { level: 'info', message: 'one 2 {"three":3}', tag: 'logs' },
        { level: 'error', message: 'bad', tag: 'logs' },
        { level: 'warn', message: 'careful', tag: 'logs' },
      ]);
    } finally {
      runner.dispose();
    }
  });
});

describe('FunctionRunner secrets', () => {
  it("context.values.get: a Secret-linked Value resolves through the runner's resolver", async () => {
    const root = tempApp(FUNCTIONS);
    const asked: string[] = [];
    const runner = createRunner({
      app: loadApp({ root }).app,
      secrets: (name) => {
        asked.push(name);
        return 's3cr3t';
      },
    });
    try {
      assert.equal((await runner.execute('values', ['apiKey'])).result, 's3cr3t');
      assert.deepEqual(asked, ['apiKeySecret']);
    } finally {
      runner.dispose();
    }
  });
});
