import assert from 'node:assert/strict';
import nodeCrypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  createRunner,
  FunctionExecutionFailure,
  loadApp,
  type FunctionRunner,
} from '../src/index.js';
import { failure, runCli, tempApp } from './helpers.js';

/** The failure of a call that must fail. */
const rsa = nodeCrypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsaPrivate = rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
const rsaPublic = rsa.publicKey.export({ type: 'pkcs1', format: 'pem' }).toString();

describe('function world: utils.crypto and utils.jwt', () => {
  let runner: FunctionRunner;
  before(() => {
    const root = tempApp({
      'functions/vectors.js': `exports = function () {
        const key = '603082712271C525E087BD999A4E0738';
        const encrypted = BSON.Binary.fromBase64('WPBuIvJ6Bity43Uh822dW8QlVYVJaFUiDeUjlTiJXzptUuTYIKPlXekBQAJb', 0);
        const roundTrip = utils.crypto.decrypt('aes', utils.crypto.encrypt('aes', 'again', key), key).text();
        return {
          decrypted: utils.crypto.decrypt('aes', encrypted, key).text(),
          roundTrip,
          hmac: utils.crypto.hmac('hello!', 'super-secret', 'sha256', 'base64'),
          hash: utils.crypto.hash('sha256', 'hello!').toBase64(),
        };
      };`,
      'functions/rsa.js': `exports = function (priv, pub) {
        const signature = utils.crypto.sign('rsa', 'message', priv, 'pss');
        return [utils.crypto.verify('rsa', 'message', pub, signature, 'pss'),
                utils.crypto.verify('rsa', 'other', pub, signature, 'pss')];
      };`,
      'functions/jwt.js': `exports = function (priv, pub) {
        const hs = utils.jwt.encode('HS256', { sub: 'u1', n: 3 }, 'shh', { kid: 'k1' });
        const rs = utils.jwt.encode('RS256', { sub: 'u2' }, priv);
        return {
          hs: utils.jwt.decode(hs, 'shh', true),
          rs: utils.jwt.decode(rs, pub),
          parts: hs.split('.').length,
        };
      };`,
      'functions/jwtBad.js': `exports = function () {
        const token = utils.jwt.encode('HS256', { sub: 'u1' }, 'shh');
        try { utils.jwt.decode(token, 'wrong'); } catch (e) { return { isError: e instanceof Error, message: e.message }; }
        return 'no error';
      };`,
      'functions/cryptoBad.js': `exports = function () {
        try { utils.crypto.encrypt('des', 'x', 'k'); } catch (e) { return { isError: e instanceof Error, message: e.message }; }
        return 'no error';
      };`,
    });
    runner = createRunner({ app: loadApp({ root }).app });
  });
  after(() => runner.dispose());

  it('utils.crypto: the SPEC section 3 vectors, from inside a function', async () => {
    assert.deepEqual((await runner.execute('vectors')).result, {
      decrypted: 'MongoDB is great!',
      roundTrip: 'again',
      hmac: 'SUXd6PRMaTXXgBGaGsIHzaDWgTSa6C3D44lRGrvRak0=',
      hash: 'zgYJL7lI2f+sfRo3bkBLJrdXW8wR7gWkYV/vT+w6MIs=',
    });
  });

  it('utils.crypto: RSA sign and verify with PKCS#1 keys', async () => {
    assert.deepEqual((await runner.execute('rsa', [rsaPrivate, rsaPublic])).result, [true, false]);
  });

  it('utils.jwt: encode and decode round trip (HS256 with header fields, RS256), synchronously', async () => {
    const { result } = await runner.execute('jwt', [rsaPrivate, rsaPublic]);
    const out = result as {
      hs: { header: Record<string, unknown>; payload: Record<string, unknown> };
      rs: Record<string, unknown>;
      parts: number;
    };
    assert.equal(out.parts, 3);
    assert.equal(out.hs.header['alg'], 'HS256');
    assert.equal(out.hs.header['kid'], 'k1');
    assert.deepEqual(out.hs.payload, { sub: 'u1', n: 3 });
    assert.deepEqual(out.rs, { sub: 'u2' });
  });

  it('utils: failures are Errors the function can catch, with the host message', async () => {
    const bad = (await runner.execute('jwtBad')).result as { isError: boolean; message: string };
    assert.equal(bad.isError, true);
    assert.match(bad.message, /signature is invalid/);
    const crypto = (await runner.execute('cryptoBad')).result as { isError: boolean };
    assert.equal(crypto.isError, true);
  });

  it('utils through the CLI: function run prints the hmac', async () => {
    const root = tempApp({
      'functions/h.js': `exports = () => utils.crypto.hmac('hello!', 'super-secret', 'sha256', 'hex');`,
    });
    const run = await runCli(['function', 'run', '--name', 'h', '--local'], root);
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stdout,
      new RegExp(nodeCrypto.createHmac('sha256', 'super-secret').update('hello!').digest('hex')),
    );
  });
});

describe('function world: Node built-ins', () => {
  let runner: FunctionRunner;
  before(() => {
    const root = tempApp({
      'functions/builtins.js': `exports = async function () {
        const crypto = require('crypto');
        const util = require('util');
        const path = require('path');
        const { EventEmitter } = require('events');
        const assert = require('assert');
        const zlib = require('zlib');
        const { URL: UrlFromModule } = require('url');
        const hash = crypto.createHash('sha256').update('abc').digest('hex');
        const hmac = crypto.createHmac('sha1', 'k').update(Buffer.from('x')).digest('base64');
        const cipherKey = crypto.randomBytes(32);
        const iv = crypto.randomBytes(16);
        const cipher = crypto.createCipheriv('aes-256-cbc', cipherKey, iv);
        const enc = Buffer.concat([cipher.update('secret text', 'utf8'), cipher.final()]);
        const decipher = crypto.createDecipheriv('aes-256-cbc', cipherKey, iv);
        const dec = Buffer.concat([decipher.update(enc), decipher.final()]).toString();
        const wait = util.promisify((ms, cb) => setTimeout(() => cb(null, ms), ms));
        const waited = await wait(1);
        const emitter = new EventEmitter();
        let got;
        emitter.on('x', (v) => { got = v; });
        emitter.emit('x', 42);
        assert.strictEqual(got, 42);
        let assertError;
        try { assert.strictEqual(1, 2); } catch (e) { assertError = e.name; }
        const url = new URL('https://example.com/a/b?x=1&y=2');
        const params = new URLSearchParams(url.search);
        const zipped = zlib.gzipSync(Buffer.from('hello zlib'));
        const unzipped = zlib.gunzipSync(zipped).toString();
        return {
          hash, hmac, dec, waited, got, assertError,
          host: url.host, y: params.get('y'), sameUrl: UrlFromModule === URL,
          joined: path.join('/a', 'b', '../c'),
          unzipped, isBuffer: Buffer.isBuffer(zipped),
          format: util.format('%s=%d', 'n', 5),
          processSame: require('process') === process,
          version: process.version, env: typeof process.env,
          globalIsGlobal: global === globalThis && typeof global.context === 'object',
        };
      };`,
      'functions/hello.js': `exports = function () {
        const assert = require("assert");
        assert(true);
        return "hello";
      };`,
      'functions/unsupported.js': `exports = () => require('child_process');`,
      'functions/prefixed.js': `exports = () => require('node:crypto');`,
      'functions/notLocal.js': `exports = () => { try { require('http2') } catch (e) { return e.code + ' ' + e.message } };`,
      'functions/usesPackage.js': `exports = async () => require('uses-builtins').run();`,
      'functions/node_modules/uses-builtins/package.json': {
        name: 'uses-builtins',
        version: '1.0.0',
        main: 'index.js',
      },
      'functions/node_modules/uses-builtins/index.js': `const util = require('util');
const { EventEmitter } = require('events');
exports.run = async function () {
  const e = new EventEmitter();
  const seen = [];
  e.on('a', (v) => seen.push(v));
  e.emit('a', util.format('%s-%s', 'x', 'y'));
  const later = util.promisify(setTimeout);
  await later(1);
  return { seen, inherits: typeof util.inherits };
};
`,
      'functions/package.json': { name: 'fns', dependencies: { 'uses-builtins': '1.0.0' } },
    });
    runner = createRunner({ app: loadApp({ root }).app });
  });
  after(() => runner.dispose());

  it('crypto, util.promisify, URL, path, events, assert, zlib and Buffer work together', async () => {
    const { result } = await runner.execute('builtins');
    assert.deepEqual(result, {
      hash: nodeCrypto.createHash('sha256').update('abc').digest('hex'),
      hmac: nodeCrypto.createHmac('sha1', 'k').update('x').digest('base64'),
      dec: 'secret text',
      waited: 1,
      got: 42,
      assertError: 'AssertionError',
      host: 'example.com',
      y: '2',
      sameUrl: true,
      joined: '/a/c',
      unzipped: 'hello zlib',
      isBuffer: true,
      format: 'n=5',
      processSame: true,
      version: 'v10.18.1',
      env: 'object',
      globalIsGlobal: true,
    });
  });

  it("the docs' hello world: require('assert') works", async () => {
    assert.equal((await runner.execute('hello')).result, 'hello');
  });

  it('a package of functions/node_modules gets util and events from the built-ins', async () => {
    assert.deepEqual((await runner.execute('usesPackage')).result, {
      seen: ['x-y'],
      inherits: 'function',
    });
  });

  it('unsupported modules and node: names fail with the registry messages', async () => {
    const unsupported = await failure(runner.execute('unsupported'));
    assert.match(
      unsupported.message,
      /Node built-in 'child_process' is not supported by App Services functions \(the platform does not provide it\)/,
    );
    const prefixed = await failure(runner.execute('prefixed'));
    assert.match(prefixed.message, /Cannot find module 'node:crypto'.*write require\('crypto'\)/);
    assert.match(
      String((await runner.execute('notLocal')).result),
      /^MODULE_NOT_FOUND Node built-in 'http2'/,
    );
  });
});

describe('function world: BSON and EJSON as the docs use them', () => {
  let runner: FunctionRunner;
  before(() => {
    const root = tempApp({
      'functions/bson.js': `exports = function () {
        const regex = BSON.BSONRegExp('the great', 'ig');
        return {
          int32: BSON.Int32(42) instanceof BSON.Int32,
          long: BSON.Long(600206158, 342).toString(),
          newLong: new BSON.Long(1, 0).toString(),
          double: BSON.Double(1234.5678).valueOf(),
          decimal: BSON.Decimal128('1.5').toString(),
          oid: BSON.ObjectId('5f1f1b1b1b1b1b1b1b1b1b1b').toHexString(),
          regex: [regex.pattern, regex.options],
          query: EJSON.stringify({ a: { $lt: BSON.MaxKey, $gt: BSON.MinKey } }),
          canonical: EJSON.stringify({ answer: BSON.Long(42), submittedAt: new Date(1583167607977) }),
          relaxed: EJSON.stringify({ n: 1 }, { relaxed: true }),
          parsedLong: EJSON.parse('{"n":{"$numberLong":"42"}}').n instanceof BSON.Long,
          fromLong: BSON.Long.fromNumber(7).toString(),
        };
      };`,
      'functions/maxKey.js': `exports = () => ({ top: BSON.MaxKey, bottom: new BSON.MinKey() });`,
      'functions/badDate.js': `exports = () => ({ when: new Date('not a date') });`,
      'functions/badDateBson.js': `exports = () => ({ when: new Date(NaN), n: BSON.Long(1) });`,
    });
    runner = createRunner({ app: loadApp({ root }).app });
  });
  after(() => runner.dispose());

  it('constructors are callable without new; EJSON is canonical by default and keeps Longs', async () => {
    assert.deepEqual((await runner.execute('bson')).result, {
      int32: true,
      long: String(342n * 2n ** 32n + 600206158n),
      newLong: '1',
      double: 1234.5678,
      decimal: '1.5',
      oid: '5f1f1b1b1b1b1b1b1b1b1b1b',
      regex: ['the great', 'i'],
      query: '{"a":{"$lt":{"$maxKey":1},"$gt":{"$minKey":1}}}',
      canonical:
        '{"answer":{"$numberLong":"42"},"submittedAt":{"$date":{"$numberLong":"1583167607977"}}}',
      relaxed: '{"n":1}',
      parsedLong: true,
      fromLong: '7',
    });
  });

  it('MaxKey and MinKey cross out of a function as values', async () => {
    const { resultEJSON } = await runner.execute('maxKey');
    assert.equal(resultEJSON, '{"top":{"$maxKey":1},"bottom":{"$minKey":1}}');
  });

  it('an invalid Date result fails as FunctionExecutionError with a clear message', async () => {
    for (const name of ['badDate', 'badDateBson']) {
      const error = await failure(runner.execute(name));
      assert.equal(error.errorCode, 'FunctionExecutionError');
      assert.match(error.message, /invalid Date/);
    }
  });
});

describe('function world: function files as real apps write them', () => {
  it('import declarations at the top run as requires, with exact line numbers after them', async () => {
    const root = tempApp({
      'functions/imports.js': `import path from "path";
import { format as fmt, promisify } from "util";
import * as events from 'events';
import {
  join,
} from "path";
import "assert";
exports = function () {
  const stack = new Error('here').stack;
  return { joined: join('a', 'b'), base: path.basename('/x/y.js'), f: fmt('%d', 3),
    p: typeof promisify, e: typeof events.EventEmitter,
    line: /imports\\.js:9:/.test(stack) };
};`,
      'functions/pkgImport.js': `import helper from 'helper';
exports = () => helper.twice(4);`,
      'functions/node_modules/helper/package.json': { name: 'helper', main: 'index.js' },
      'functions/node_modules/helper/index.js': `const util = require('util');
exports.twice = (n) => Number(util.format('%d', n * 2));`,
      'functions/package.json': { name: 'fns', dependencies: { helper: '1.0.0' } },
    });
    const runner = createRunner({ app: loadApp({ root }).app });
    try {
      assert.deepEqual((await runner.execute('imports')).result, {
        joined: 'a/b',
        base: 'y.js',
        f: '3',
        p: 'function',
        e: 'function',
        line: true,
      });
      assert.equal((await runner.execute('pkgImport')).result, 8);
    } finally {
      await runner.dispose();
    }
  });

  it('a top-level require: validate and function run give the same message', async () => {
    const root = tempApp({
      'functions/top.js': `const _ = require('lodash');
exports = () => 1;`,
    });
    const message =
      "require('lodash') at the top level of functions/top.js: App Services allows require() only inside function bodies; move it into the function";
    const validate = await runCli(['validate'], root);
    assert.equal(validate.code, 1);
    assert.ok((validate.stdout + validate.stderr).includes(message), validate.stdout);
    const run = await runCli(['function', 'run', '--name', 'top', '--local'], root);
    assert.equal(run.code, 1);
    assert.ok((run.stdout + run.stderr).includes(message), run.stdout + run.stderr);
  });

  it('BigInt, Proxy, Reflect, WeakSet and RegExp y/u flags: warnings from validate and function run, never failures', async () => {
    const root = tempApp({
      'functions/modern.js': `exports = function () {
  const big = 10n;
  const p = new Proxy({}, {});
  const keys = Reflect.ownKeys({ a: 1 });
  const seen = new WeakSet();
  const sticky = /a/y.test('a') && /\\u{61}/u.test('a');
  const fine = { Proxy: 1 }.Proxy;
  return [typeof big, typeof p, keys.length, typeof seen, sticky, fine];
};`,
    });
    const validate = await runCli(['validate'], root);
    assert.equal(validate.code, 0, validate.stdout + validate.stderr);
    const output = validate.stdout + validate.stderr;
    for (const what of [
      'BigInt',
      'Proxy',
      'Reflect',
      'WeakSet',
      "RegExp flag 'y'",
      "RegExp flag 'u'",
    ]) {
      assert.ok(output.includes(what), `${what} in ${output}`);
    }
    assert.match(output, /functions\/modern\.js.*2/);
    const run = await runCli(['function', 'run', '--name', 'modern', '--local'], root);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout + run.stderr, /Proxy is not supported by App Services functions/);
    assert.match(run.stdout, /bigint/);
  });
});

describe('function world: run_as_system under functions.execute', () => {
  it('sync and async callees run as system; nested calls stack; the caller is restored after a throw', async () => {
    const root = tempApp({
      'functions/config.json': [
        { name: 'caller', private: false },
        { name: 'sysSync', private: true, run_as_system: true },
        { name: 'sysAsync', private: true, run_as_system: true },
        { name: 'sysThrows', private: true, run_as_system: true },
        { name: 'asUser', private: true, run_as_user_id: 'user-9' },
      ],
      'functions/caller.js': `exports = async function () {
        const who = () => [context.runningAsSystem(), context.user.type, context.user.id];
        const before = who();
        const sync = context.functions.execute('sysSync');
        const afterSync = who();
        const asyncResult = await context.functions.execute('sysAsync');
        let thrown;
        try { context.functions.execute('sysThrows'); } catch (e) { thrown = e.message; }
        return { before, sync, afterSync, asyncResult, thrown, after: who() };
      };`,
      'functions/sysSync.js': `exports = function () {
        return [context.runningAsSystem(), context.user.type, context.functions.execute('asUser')];
      };`,
      'functions/asUser.js': `exports = () => [context.runningAsSystem(), context.user.id];`,
      'functions/sysAsync.js': `exports = async function () {
        await new Promise((resolve) => setTimeout(resolve, 1));
        return context.runningAsSystem();
      };`,
      'functions/sysThrows.js': `exports = function () { throw new Error('boom ' + context.runningAsSystem()); };`,
    });
    const runner = createRunner({ app: loadApp({ root }).app });
    try {
      const { result } = await runner.execute('caller', [], { user: 'user-1' });
      assert.deepEqual(result, {
        before: [false, 'normal', 'user-1'],
        sync: [true, 'system', [false, 'user-9']],
        afterSync: [false, 'normal', 'user-1'],
        asyncResult: true,
        thrown: 'boom true',
        after: [false, 'normal', 'user-1'],
      });
    } finally {
      await runner.dispose();
    }
  });
});

describe('function world: BSON binary serialization', () => {
  it('BSON.serialize / deserialize work in a function (bson allocates its buffer on first use)', async () => {
    const root = tempApp({
      'functions/roundTrip.js': `exports = () => {
        const bytes = BSON.serialize({ a: 1, id: new BSON.ObjectId("65aa11bb22cc33dd44ee55ff"), s: "x".repeat(100000) });
        const back = BSON.deserialize(bytes);
        return { length: bytes.length, a: back.a, id: back.id.toHexString(), s: back.s.length };
      };`,
    });
    const runner = createRunner({ app: loadApp({ root }).app });
    try {
      const { result } = await runner.execute('roundTrip');
      assert.deepEqual(result, { length: 100036, a: 1, id: '65aa11bb22cc33dd44ee55ff', s: 100000 });
    } finally {
      runner.dispose();
    }
  });
});
