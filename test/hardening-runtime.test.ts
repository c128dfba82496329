/**
 * Security issue #8, runtime part: what a hostile or runaway function can do to the host, to the
 * sandbox process and to the calls beside it, and what an app's files can make require() read.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, ftruncateSync, symlinkSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  createRunner,
  FunctionExecutionFailure,
  loadApp,
  scanDependencies,
  TriggerboxError,
  type FunctionRunner,
} from '../src/index.js';
import { failure, runCli, tempApp } from './helpers.js';

const OUTPUT: Record<string, string> = {
  'functions/bigResult.js': 'exports = function () { return "r".repeat(19 * 1000 * 1000); };',
  // 2,000 references to one 1 MiB string: 2 GiB once expanded, a few MB inside the isolate.
  'functions/sharedString.js':
    'exports = function () { return new Array(2000).fill("s".repeat(1024 * 1024)); };',
  'functions/sharedStringBson.js':
    'exports = function () { const s = "b".repeat(1024 * 1024); return { id: new BSON.ObjectId("65aa11bb22cc33dd44ee55ff"), list: new Array(2000).fill(s) }; };',
  // 16 Mi characters: far past the 64 KiB cap, and well inside the 64 MB limit. 64 Mi (2 ** 26)
  // failed when this test ran alone, as a memory-limit failure (the message alone is 64 MB in a
  // 64 MB isolate): it passed only when an earlier call had left the heap a certain way.
  'functions/bigError.js':
    'exports = function () { let s = "e"; for (let i = 0; i < 24; i++) s += s; throw new Error(s); };',
  'functions/longLine.js':
    'exports = function () { console.log("L".repeat(200000)); console.log("after"); return "ok"; };',
  'functions/manyLines.js': 'exports = function () { for (;;) console.log("M".repeat(60000)); };',
  'functions/emptyLines.js': 'exports = function () { for (;;) console.log(""); };',
  'functions/caughtLogs.js':
    'exports = function () { for (let i = 0; i < 200; i++) { try { console.log("C".repeat(60000)); } catch (e) {} } return "finished"; };',
  'functions/ok.js': 'exports = function (x) { return x ?? "ok"; };',
};

describe('hardening: results and logs are capped inside the sandbox', () => {
  let runner: FunctionRunner;
  before(() => {
    runner = createRunner({ app: loadApp({ root: tempApp(OUTPUT) }).app, memoryMb: 64 });
  });
  after(() => runner.dispose());

  it('result cap: a result over 18 MB fails the call naming the cap, and the next call works', async () => {
    const error = await failure(runner.execute('bigResult'));
    assert.equal(error.errorCode, 'FunctionExecutionError');
    assert.match(error.message, /result.*18 MB/);
    assert.equal((await runner.execute('ok', [1])).result, 1);
  });

  it('result cap: one string returned 2,000 times is refused before it is expanded (not a memory failure)', async () => {
    const pid = runner.sandboxPid;
    for (const name of ['sharedString', 'sharedStringBson']) {
      const error = await failure(runner.execute(name));
      assert.equal(error.errorCode, 'FunctionExecutionError');
      assert.match(error.message, /result.*18 MB/);
      assert.doesNotMatch(error.message, /memory limit/);
    }
    assert.equal(runner.sandboxPid, pid);
    assert.equal((await runner.execute('ok', [2])).result, 2);
  });

  it('error cap: a 16-million-character error message reaches the caller truncated, with a marker', async () => {
    const error = await failure(runner.execute('bigError'));
    assert.ok(error.message.length < 100_000, `message of ${error.message.length} characters`);
    assert.match(error.message, /truncated/);
  });

  it('log cap: a line longer than 64 KiB is truncated with a marker that names the cap', async () => {
    const result = await runner.execute('longLine');
    assert.equal(result.result, 'ok');
    assert.equal(result.logs.length, 2);
    assert.ok(result.logs[0]!.startsWith('L'.repeat(1000)));
    assert.ok(result.logs[0]!.length < 70_000);
    assert.match(result.logs[0]!, /truncated.*200000 characters.*65536/);
    assert.equal(result.logs[1], 'after');
  });

  it('log cap: more than 4 MiB of log text in one call fails it naming the cap, even if the function catches', async () => {
    for (const name of ['manyLines', 'caughtLogs']) {
      const error = await failure(runner.execute(name, [], { timeoutMs: 600_000 }));
      assert.equal(error.errorCode, 'FunctionExecutionError');
      assert.match(error.message, /log.*4 MiB/);
      const total = error.logs.reduce((sum, line) => sum + line.length, 0);
      assert.ok(total <= 4 * 1024 * 1024, `${total} characters of logs reached the caller`);
    }
    assert.equal((await runner.execute('ok', [3])).result, 3);
  });

  it('log cap: more than 20,000 log lines in one call fail it naming the cap', async () => {
    const error = await failure(runner.execute('emptyLines', [], { timeoutMs: 600_000 }));
    assert.match(error.message, /20000 log lines/);
    assert.ok(error.logs.length <= 20_000);
  });

  it('result cap: `function run` prints the cap error and exits 1 instead of dying', async () => {
    const run = await runCli(['function', 'run', '--name', 'sharedString'], runnerRoot(runner));
    assert.equal(run.code, 1);
    assert.match(run.stderr, /result.*18 MB/);
  });
});

function runnerRoot(runner: FunctionRunner): string {
  return runner.currentApp.root;
}

describe('hardening: require() names packages of functions/node_modules, never files', () => {
  let root: string;
  let appRoot: string;
  let runner: FunctionRunner;
  before(() => {
    root = tempApp(
      {
        // A package in a parent folder's node_modules: Node would find it, the platform would not.
        'node_modules/outside-pkg/package.json': { name: 'outside-pkg', main: 'index.js' },
        'node_modules/outside-pkg/index.js': 'module.exports = "found outside";',
        'app/root_config.json': { name: 'test-app', environment: '' },
        'app/node_modules/approot-pkg/package.json': { name: 'approot-pkg', main: 'index.js' },
        'app/node_modules/approot-pkg/index.js': 'module.exports = "found at the app root";',
        'app/values/x.json': { name: 'x', value: 'TOPSECRET-VALUE-CONTENT' },
        'app/functions/node_modules/good/package.json': { name: 'good', main: 'index.js' },
        'app/functions/node_modules/good/index.js':
          'module.exports = require("./data.json").word + "-" + require("dep");',
        'app/functions/node_modules/good/data.json': { word: 'fine' },
        'app/functions/node_modules/dep/package.json': { name: 'dep', main: 'index.js' },
        'app/functions/node_modules/dep/index.js': 'module.exports = "dep";',
        'app/functions/node_modules/uses-outside/package.json': {
          name: 'uses-outside',
          main: 'index.js',
        },
        'app/functions/node_modules/uses-outside/index.js':
          'module.exports = require("outside-pkg");',
        'app/functions/node_modules/texty/package.json': { name: 'texty', main: 'index.js' },
        'app/functions/node_modules/texty/index.js': 'module.exports = 1;',
        'app/functions/node_modules/texty/notes.txt': 'TOPSECRET-TEXT-CONTENT',
        'app/functions/node_modules/huge/package.json': { name: 'huge', main: 'index.js' },
        'app/functions/node_modules/fifo/package.json': { name: 'fifo', main: 'index.js' },
        'app/functions/node_modules/linked/package.json': { name: 'linked', main: 'index.js' },
        'app/functions/node_modules/escapes/package.json': { name: 'escapes', main: 'index.js' },
        'app/functions/node_modules/escapes/index.js':
          'module.exports = require("../../../values/x.json");',
        'app/functions/req.js': 'exports = function (spec) { return require(spec); };',
      },
      false,
    );
    appRoot = path.join(root, 'app');
    const modules = path.join(appRoot, 'functions/node_modules');
    // A 1 GiB sparse file: its size says it all, nothing needs to be read.
    const fd = openSync(path.join(modules, 'huge/index.js'), 'w');
    ftruncateSync(fd, 1024 * 1024 * 1024);
    closeSync(fd);
    execFileSync('mkfifo', [path.join(modules, 'fifo/index.js')]);
    symlinkSync('/dev/zero', path.join(modules, 'linked/index.js'));
    mkdirSync(path.join(modules, 'dir-link-target'), { recursive: true });
    writeFileSync(path.join(root, 'secret-outside.js'), 'module.exports = "TOPSECRET-LINKED";');
    symlinkSync(
      path.join(root, 'secret-outside.js'),
      path.join(modules, 'dir-link-target/index.js'),
    );
    runner = createRunner({ app: loadApp({ root: appRoot }).app });
  });
  after(() => runner.dispose());

  async function refused(spec: string, pattern: RegExp): Promise<void> {
    const error = await failure(runner.execute('req', [spec]));
    assert.equal(error.errorCode, 'FunctionExecutionError', error.message);
    assert.match(error.message, pattern, `require(${JSON.stringify(spec)})`);
    assert.doesNotMatch(error.message, /TOPSECRET|\n/, `require(${JSON.stringify(spec)}) leaked`);
  }

  it('require: a package of functions/node_modules still loads, with its own JSON files and dependencies', async () => {
    assert.equal((await runner.execute('req', ['good'])).result, 'fine-dep');
  });

  it('require: absolute, relative and drive-letter paths are refused before anything is read', async () => {
    const never =
      /names a package .*functions\/node_modules.* or a Node built-in, never a file path/;
    for (const spec of [
      '/etc/hostname',
      '/dev/zero',
      '../../values/x.json',
      '../values/x.json',
      './req.js',
      '.',
      '..',
      path.join(appRoot, 'values/x.json'),
      'C:\\Windows\\win.ini',
      'c:/x',
      '\\\\server\\share',
      'good/../../../values/x.json',
      'good/./data.json',
      'file:///etc/hostname',
    ]) {
      await refused(spec, never);
    }
  });

  it("require: packages in a parent folder's node_modules (or the app root's) are not found", async () => {
    await refused('outside-pkg', /cannot find package 'outside-pkg' in functions\/node_modules/);
    await refused('approot-pkg', /cannot find package 'approot-pkg' in functions\/node_modules/);
    await refused('uses-outside', /'outside-pkg'.*not in functions\/node_modules/);
  });

  it('require: a package cannot reach files outside functions/node_modules, by path or by symlink', async () => {
    await refused('escapes', /outside functions\/node_modules/);
    await refused('dir-link-target', /outside functions\/node_modules/);
    await refused('linked', /outside functions\/node_modules/);
  });

  it('require: only regular files of known kinds are read, up to the size cap, and contents never appear in errors', async () => {
    await refused('texty/notes.txt', /notes\.txt.*\.js, \.cjs, \.mjs, \.json/);
    await refused('fifo', /fifo\/index\.js is not a regular file/);
    await refused('huge', /huge\/index\.js is 1073741824 bytes.*32 MiB/);
    assert.equal((await runner.execute('req', ['good'])).result, 'fine-dep');
  });

  it("validate: a package found only in a parent folder's node_modules is reported missing", async () => {
    const app = loadApp({ root: appRoot }).app;
    const scanned = { ...app, functions: new Map(app.functions) };
    scanned.functions.set('usesParent', {
      ...app.functions.get('req')!,
      name: 'usesParent',
      file: 'functions/usesParent.js',
      source: 'exports = function () { return require("outside-pkg"); };',
    });
    const diagnostics = await scanDependencies(scanned);
    assert.ok(
      diagnostics.some(
        (d) =>
          d.file === 'functions/usesParent.js' &&
          /cannot find package 'outside-pkg'/.test(d.message),
      ),
      JSON.stringify(diagnostics),
    );
  });
});

const BREAKERS: Record<string, string> = {
  'functions/timerSpin.js':
    'exports = function () { setTimeout(() => { for (;;) {} }, 0); return "returned"; };',
  'functions/intervalSpin.js':
    'exports = function () { setInterval(() => { for (;;) {} }, 0); return "returned"; };',
  'functions/microtaskSpin.js':
    'exports = function () { (async () => { for (let i = 0; i < 1000; i++) await null; for (;;) {} })(); return "returned"; };',
  'functions/waitAsync.js':
    'exports = async function () { if (typeof Atomics.waitAsync !== "function") return "absent"; const r = Atomics.waitAsync(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10); return typeof r.value === "string" ? r.value : await r.value; };',
  'functions/random.js':
    'exports = function (n) { const a = new Uint8Array(n); try { crypto.getRandomValues(a); } catch (e) { return e.name + ": " + e.message; } return a.some((b) => b !== 0); };',
  'functions/tbCode.js':
    'exports = function () { const e = new Error("mine"); e.tbCode = "ExecutionTimeLimitExceeded"; throw e; };',
  'functions/forgedCode.js':
    'exports = function () { let Ctor; try { context.functions.execute("no-such-function"); } catch (e) { Ctor = e.constructor; } throw new Ctor("ExecutionTimeLimitExceeded", "forged"); };',
  'functions/objectMessage.js':
    'exports = function () { context.values.get("apiKey"); const e = new Error("x"); e.message = { a: 1 }; throw e; };',
  'functions/symbolMessage.js':
    'exports = function () { context.values.get("apiKey"); const e = new Error("x"); e.message = Symbol("sym"); throw e; };',
  'functions/throwingMessage.js':
    'exports = function () { context.values.get("apiKey"); const e = new Error("x"); Object.defineProperty(e, "message", { get() { throw new Error("no"); } }); Object.defineProperty(e, "stack", { get() { throw new Error("no"); } }); throw e; };',
  'functions/plainObject.js': 'exports = function () { throw { message: 42 }; };',
  'functions/ok.js': 'exports = function (x) { return x ?? "ok"; };',
  'values/apiKey.json': JSON.stringify({
    name: 'apiKey',
    value: 'apiKeySecret',
    from_secret: true,
  }),
};

describe('hardening: one call cannot break the sandbox for the next', () => {
  let runner: FunctionRunner;
  before(() => {
    runner = createRunner({
      app: loadApp({ root: tempApp(BREAKERS) }).app,
      secrets: () => 'the-api-key-value',
      timeoutMs: 2000,
    });
  });
  after(() => runner.dispose());

  it('queued work: code left spinning after a call returns never delays or fails the next call', async () => {
    for (const name of ['timerSpin', 'intervalSpin', 'microtaskSpin']) {
      await runner.execute('ok');
      const pid = runner.sandboxPid;
      const first = await runner.execute(name).then(
        (r) => r.result,
        (e: FunctionExecutionFailure) => e.errorCode,
      );
      assert.ok(first === 'returned' || first === 'ExecutionTimeLimitExceeded', String(first));
      assert.equal((await runner.execute('ok', [name])).result, name);
      assert.equal((await runner.execute('ok', [name])).result, name);
      assert.equal(runner.sandboxPid, pid, `${name} took the sandbox process down`);
    }
  });

  it('Atomics.waitAsync is not available (it hung the call, or aborted the sandbox process)', async () => {
    assert.equal((await runner.execute('waitAsync')).result, 'absent');
  });

  it('crypto.getRandomValues: up to 65,536 bytes are filled; more throws QuotaExceededError', async () => {
    assert.equal((await runner.execute('random', [65536])).result, true);
    const over = (await runner.execute('random', [65537])).result as string;
    assert.match(over, /^QuotaExceededError: .*65537.*65536/);
  });

  it('error codes: a function cannot choose the error_code of its own failure', async () => {
    for (const name of ['tbCode', 'forgedCode']) {
      const error = await failure(runner.execute(name));
      assert.equal(error.errorCode, 'FunctionExecutionError', name);
    }
  });

  it('error messages: a message that is not a string fails the call normally (no host TypeError)', async () => {
    const cases: [string, RegExp][] = [
      ['objectMessage', /\[object Object\]|\{"a":1\}/],
      ['symbolMessage', /Symbol\(sym\)/],
      ['throwingMessage', /Error/],
      ['plainObject', /\{"message":42\}/],
    ];
    for (const [name, pattern] of cases) {
      const error = await failure(runner.execute(name));
      assert.equal(error.errorCode, 'FunctionExecutionError', `${name}: ${error.message}`);
      assert.equal(typeof error.message, 'string');
      assert.match(error.message, pattern, name);
    }
  });
});

describe('hardening: secret values are masked in every form output can take', () => {
  const SECRET = 'pa"ss\\wo\trd-42';
  let runner: FunctionRunner;
  before(() => {
    runner = createRunner({
      app: loadApp({
        root: tempApp({
          'values/token.json': { name: 'token', value: 'tokenSecret', from_secret: true },
          'functions/leaks.js': `exports = function () {
  const token = context.values.get("token");
  console.log(token);
  console.log({ token });
  console.log(JSON.stringify({ body: JSON.stringify({ token }) }));
  console.log(EJSON.stringify({ token }));
  return { token, nested: JSON.stringify({ token }) };
};`,
          'functions/throws.js':
            'exports = function () { const token = context.values.get("token"); throw new Error(JSON.stringify({ token })); };',
        }),
      }).app,
      secrets: () => SECRET,
    });
  });
  after(() => runner.dispose());

  const forms = [
    SECRET,
    JSON.stringify(SECRET).slice(1, -1),
    JSON.stringify(JSON.stringify(SECRET)).slice(1, -1),
  ];
  function assertMasked(text: string, where: string): void {
    for (const form of forms) assert.ok(!text.includes(form), `${where} shows ${form}: ${text}`);
    assert.ok(!text.includes('wo\\trd'), `${where}: ${text}`);
    assert.ok(!text.includes('wo\trd'), `${where}: ${text}`);
  }

  it('logs and the rendered result: raw, JSON-escaped and doubly escaped forms are masked', async () => {
    const result = await runner.execute('leaks');
    assert.equal(result.logs.length, 4);
    for (const line of result.logs) {
      assertMasked(line, 'log');
      assert.match(line, /\*{8}/);
    }
    assertMasked(result.resultEJSON, 'resultEJSON');
    assert.deepEqual(JSON.parse(result.resultEJSON), {
      token: '********',
      nested: '{"token":"********"}',
    });
  });

  it('errors: the JSON-escaped form in an error message is masked', async () => {
    const error = await failure(runner.execute('throws'));
    assertMasked(error.message, 'error');
    assertMasked(error.functionStack, 'stack');
    assert.match(error.message, /\*{8}/);
  });

  it('maskSecrets: the same masking is available to other output (dev server, HTTP bodies)', async () => {
    await runner.execute('leaks');
    const body = JSON.stringify({ result: { token: SECRET } });
    assertMasked(runner.maskSecrets(body), 'maskSecrets');
    assert.equal(runner.maskSecrets('nothing secret'), 'nothing secret');
  });
});

describe('hardening: limits out of range are refused up front', () => {
  const root = (): string => tempApp({ 'functions/ok.js': 'exports = () => 1;' });

  it('createRunner: a timeout beyond the largest timer delay is refused naming the range', () => {
    const app = loadApp({ root: root() }).app;
    assert.throws(
      () => createRunner({ app, timeoutMs: 3_000_000_000 }),
      (e: unknown) =>
        e instanceof TriggerboxError &&
        e.code === 'InvalidInput' &&
        /--timeout.*between 1 and 2147480647 ms.*3000000000/.test(e.message),
    );
  });

  it('createRunner: a memory limit below what an isolate with BSON needs, or above 16 GiB, is refused', () => {
    const app = loadApp({ root: root() }).app;
    for (const memoryMb of [1, 8, 15, 16385]) {
      assert.throws(
        () => createRunner({ app, memoryMb }),
        (e: unknown) =>
          e instanceof TriggerboxError &&
          e.code === 'InvalidInput' &&
          /--memory.*between 16 and 16384 MB/.test(e.message),
        String(memoryMb),
      );
    }
  });

  it('execute: a per-call timeout out of range is refused the same way', async () => {
    const runner = createRunner({ app: loadApp({ root: root() }).app });
    try {
      await assert.rejects(
        runner.execute('ok', [], { timeoutMs: 2 ** 31 }),
        /--timeout.*between 1 and 2147480647 ms/,
      );
    } finally {
      runner.dispose();
    }
  });

  it('function run: --timeout 3000000000 and --memory 1 print the allowed range', async () => {
    const dir = root();
    const timeout = await runCli(
      ['function', 'run', '--name', 'ok', '--timeout', '3000000000'],
      dir,
    );
    assert.equal(timeout.code, 1);
    assert.match(timeout.stderr, /--timeout.*between 1 and 2147480647 ms/);
    const memory = await runCli(['function', 'run', '--name', 'ok', '--memory', '1'], dir);
    assert.equal(memory.code, 1);
    assert.match(memory.stderr, /--memory.*between 16 and 16384 MB/);
  });
});
