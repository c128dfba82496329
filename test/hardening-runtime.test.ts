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
import { runCli, tempApp } from './helpers.js';

async function failure(promise: Promise<unknown>): Promise<FunctionExecutionFailure> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof FunctionExecutionFailure, String(error));
    return error;
  }
  assert.fail('expected the call to fail');
}

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
