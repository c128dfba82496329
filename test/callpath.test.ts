/**
 * The path of a call (worker.ts): contexts prepared with the bson bundle when recent calls used
 * BSON, Values and the function's source handed to the context, constant service ops answered
 * in the sandbox; none of it may change what a function sees.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRunner, loadApp, type FunctionRunner, type HostService } from '../src/index.js';
import { tempApp } from './helpers.js';

describe('call path', () => {
  let runner: FunctionRunner;
  let sourcesRuns = 0;
  before(() => {
    const root = tempApp({
      'functions/useBson.js': `exports = function () {
        const tampered = BSON.ObjectId.prototype.tampered;
        BSON.ObjectId.prototype.tampered = true;
        globalThis.leftover = 1;
        return { hex: new BSON.ObjectId('65a000000000000000000000').toHexString(), tampered: tampered === true, libs: typeof globalThis.__tb_libs };
      };`,
      'functions/plain.js': `exports = function () {
        return { leftover: typeof leftover, greeting: context.values.get('greeting'), missing: context.values.get('nope') === undefined, libs: typeof globalThis.__tb_libs };
      };`,
      'functions/sources.js': `exports = function () {
        return [context.services.get('Cluster0') !== undefined, context.services.get('Other') === undefined];
      };`,
      'values/greeting.json': { name: 'greeting', value: { text: 'hello' } },
    });
    // The database service's shape: 'mongodb.sources' is constant, as services/mongodb declares it.
    const names: HostService = {
      name: 'mongodb',
      ops: {
        sources: {
          mode: 'sync',
          constant: true,
          run: () => {
            sourcesRuns++;
            return ['Cluster0'];
          },
        },
      },
    };
    runner = createRunner({ app: loadApp({ root }).app, services: [names] });
  });
  after(() => runner.dispose());

  it('call path: after many calls that used BSON (contexts then come with it), each call still sees fresh BSON classes and globals', async () => {
    for (let i = 0; i < 30; i++) {
      const { result } = await runner.execute('useBson');
      assert.deepEqual(result, {
        hex: '65a000000000000000000000',
        tampered: false,
        libs: 'undefined',
      });
    }
    const { result } = await runner.execute('plain');
    assert.deepEqual(result, {
      leftover: 'undefined',
      greeting: { text: 'hello' },
      missing: true,
      libs: 'undefined',
    });
  });

  it('call path: a constant service op reaches the parent once, and every call gets its answer', async () => {
    for (let i = 0; i < 5; i++) {
      const { result, logs } = await runner.execute('sources');
      assert.deepEqual(result, [true, true]);
      assert.match(logs.join('\n'), /no data source named 'Other' \(its data sources: Cluster0\)/);
    }
    assert.equal(sourcesRuns, 1);
  });

  it('call path: the runner reports the isolates its sandbox process holds', async () => {
    await runner.execute('plain');
    assert.ok(runner.sandboxIsolates >= 1);
  });
});
