import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  createRunner,
  FunctionExecutionFailure,
  loadApp,
  type FunctionRunner,
} from '../src/index.js';
import { failure, tempApp } from './helpers.js';

describe('limits', () => {
  let runner: FunctionRunner;
  before(() => {
    const root = tempApp({
      'functions/loop.js':
        'exports = function () { console.log("before the loop"); while (true) {} };',
      'functions/never.js': 'exports = function () { return new Promise(() => {}); };',
      'functions/spin.js': 'exports = async function () { await null; for (;;) {} };',
      'functions/grow.js':
        'exports = function () { const a = []; for (;;) a.push({ x: Math.random(), y: "y".repeat(10) + Math.random() }); };',
      'functions/hugeArray.js':
        'exports = function () { return new Array(60e6).fill(1.5).length; };',
      'functions/ok.js': 'exports = function (x) { return x ?? "ok"; };',
    });
    // Time limits are short here so the tests stay quick; they are limits, not timing assertions.
    runner = createRunner({ app: loadApp({ root }).app, timeoutMs: 30_000, memoryMb: 64 });
  });
  after(() => runner.dispose());

  it('time: a synchronous infinite loop ends with ExecutionTimeLimitExceeded, keeps its logs, and the next call works', async () => {
    const error = await failure(runner.execute('loop', [], { timeoutMs: 300 }));
    assert.equal(error.errorCode, 'ExecutionTimeLimitExceeded');
    assert.match(error.message, /more than 300 ms.*--timeout/);
    assert.deepEqual(error.logs, ['before the loop']);
    assert.equal((await runner.execute('ok')).result, 'ok');
  });

  it('time: a promise that never settles, and async code spinning after an await, are stopped too', async () => {
    assert.equal(
      (await failure(runner.execute('never', [], { timeoutMs: 300 }))).errorCode,
      'ExecutionTimeLimitExceeded',
    );
    assert.equal(
      (await failure(runner.execute('spin', [], { timeoutMs: 300 }))).errorCode,
      'ExecutionTimeLimitExceeded',
    );
    assert.equal((await runner.execute('ok', [1])).result, 1);
  });

  it('limits: time and heap limits end the isolate, not the sandbox process', async () => {
    await runner.execute('ok');
    const pid = runner.sandboxPid;
    await failure(runner.execute('loop', [], { timeoutMs: 300 }));
    await failure(runner.execute('never', [], { timeoutMs: 300 }));
    assert.equal((await runner.execute('ok', [4])).result, 4);
    assert.equal(runner.sandboxPid, pid);
  });

  it('memory: heap growth past the limit fails clearly and the next call works', async () => {
    const pid = runner.sandboxPid;
    const error = await failure(runner.execute('grow'));
    assert.equal(error.errorCode, 'FunctionExecutionError');
    assert.match(error.message, /memory limit of 64 MB.*--memory/);
    assert.equal((await runner.execute('ok', [2])).result, 2);
    assert.equal(runner.sandboxPid, pid);
  });

  // isolated-vm 5 turned this into a catastrophic error (the sandbox process was killed and a new
  // one started); isolated-vm 7 disposes the isolate like any heap growth. Either way the user
  // sees the same thing: a memory failure that names the flag, and a next call that works.
  it('memory: one allocation too large fails the call as a memory failure, and the next call works', async () => {
    const error = await failure(runner.execute('hugeArray'));
    assert.equal(error.errorCode, 'FunctionExecutionError');
    assert.match(error.message, /memory/i);
    assert.match(error.message, /--memory/);
    assert.equal((await runner.execute('ok', [3])).result, 3);
  });

  it('limits: a call that fails on a limit does not disturb calls in flight beside it', async () => {
    const [slow, fine] = await Promise.allSettled([
      runner.execute('never', [], { timeoutMs: 300 }),
      runner.execute('ok', ['beside']),
    ]);
    assert.equal(slow.status, 'rejected');
    assert.equal(fine.status === 'fulfilled' ? fine.value.result : undefined, 'beside');
  });

  it('options: a non-positive limit is refused with a clear error', () => {
    const root = tempApp({ 'functions/ok.js': 'exports = () => 1;' });
    assert.throws(
      () => createRunner({ app: loadApp({ root }).app, timeoutMs: 0 }),
      /timeoutMs \(--timeout\) must be between 1 and/,
    );
  });
});
