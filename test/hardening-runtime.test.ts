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
