import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  createRunner,
  FunctionExecutionFailure,
  loadApp,
  type FunctionRunner,
} from '../src/index.js';
import { tempApp } from './helpers.js';

async function failure(promise: Promise<unknown>): Promise<FunctionExecutionFailure> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof FunctionExecutionFailure, String(error));
    return error;
  }
  assert.fail('expected the call to fail');
}

describe('boundary: host ops', () => {
  let runner: FunctionRunner;
  before(() => {
    const root = tempApp({
      'functions/manyTimers.js': `exports = function () {
        const ids = [];
        for (let i = 0; i < 1000; i++) ids.push(setTimeout(() => {}, 60000));
        let refused;
        try { setTimeout(() => {}, 1); } catch (e) { refused = e.message; }
        clearTimeout(ids.pop());
        const again = typeof setTimeout(() => {}, 1);
        ids.forEach(clearTimeout);
        return { refused, again };
      };`,
      'functions/secretValue.js': 'exports = () => context.values.get("apiKey");',
      'values/apiKey.json': { name: 'apiKey', value: 'key', from_secret: true },
    });
    runner = createRunner({
      app: loadApp({ root }).app,
      secrets: (name) => {
        if (name === 'key') return 's3cr3t-value';
        throw new Error(`no secret '${name}'`);
      },
    });
  });
  after(() => runner.dispose());

  it('boundary: past 1000 timers in flight, setTimeout throws naming the limit; clearing one frees a slot', async () => {
    const { result } = await runner.execute('manyTimers');
    const { refused, again } = result as { refused: string; again: string };
    assert.match(refused, /setTimeout: the function has 1000 asynchronous operations in flight/);
    assert.equal(again, 'number');
  });

  it('boundary: a blocking parent op (a Secret-linked Value) answers through the op table', async () => {
    const run = await runner.execute('secretValue');
    assert.equal(run.result, 's3cr3t-value');
    assert.equal(run.resultEJSON, '"********"');
  });

  it('createRunner: services with bad or duplicate names are refused', () => {
    const app = loadApp({ root: tempApp({ 'functions/f.js': 'exports = () => 1;' }) }).app;
    const op = { mode: 'async' as const, run: () => null };
    assert.throws(
      () => createRunner({ app, services: [{ name: 'my-service', ops: { op } }] }),
      /'my-service' \(service 'my-service'\) is not a valid name/,
    );
    assert.throws(
      () => createRunner({ app, services: [{ name: 'svc', ops: { 'do it': op } }] }),
      /'do it' \(service 'svc'\) is not a valid name/,
    );
    assert.throws(
      () =>
        createRunner({
          app,
          services: [
            { name: 'svc', ops: { op } },
            { name: 'svc', ops: { op } },
          ],
        }),
      /two services are named 'svc'/,
    );
  });

  it('boundary: an unknown secret fails the call with the resolver message', async () => {
    const root = tempApp({
      'functions/f.js': 'exports = () => context.values.get("other");',
      'values/other.json': { name: 'other', value: 'missing', from_secret: true },
    });
    const local = createRunner({
      app: loadApp({ root }).app,
      secrets: () => Promise.reject(new Error('nope')),
    });
    try {
      const error = await failure(local.execute('f'));
      assert.match(error.message, /linked to secret 'missing', which cannot be resolved: nope/);
    } finally {
      local.dispose();
    }
  });
});
