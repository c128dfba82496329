import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  createRunner,
  FunctionExecutionFailure,
  loadApp,
  type FunctionRunner,
  type HostService,
  type ServiceCall,
} from '../src/index.js';
import { failure, tempApp } from './helpers.js';

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

/**
 * A stand-in 'http' service: the boundary's generic async op seen from a provider, through the
 * one guest wrapper that uses it today (context.http).
 */
function fakeHttp(mode: 'sync' | 'async' = 'async') {
  const hangs: AbortSignal[] = [];
  let hangArrived: () => void = () => {};
  const firstHang = new Promise<void>((resolve) => {
    hangArrived = resolve;
  });
  const response = (body: Uint8Array) => ({
    status: '200 OK',
    statusCode: 200,
    contentLength: body.byteLength,
    headers: {},
    cookies: {},
    body,
  });
  const service: HostService = {
    name: 'http',
    ops: {
      request: {
        mode,
        run: async (arg: { url: string; body?: unknown }, call: ServiceCall) => {
          switch (arg.url) {
            case 'http://bytes/': {
              assert.ok(arg.body instanceof Uint8Array, 'bytes arrive as bytes');
              return response(Uint8Array.from(arg.body).reverse());
            }
            case 'http://throw/':
              throw new TypeError('the fake service refused');
            case 'http://after-hang/':
              await firstHang;
              return response(new Uint8Array());
            case 'http://hang/':
              hangs.push(call.signal);
              hangArrived();
              return new Promise((_, reject) => {
                call.signal.addEventListener('abort', () => reject(new Error('aborted')));
              });
            default:
              return response(new TextEncoder().encode(arg.url));
          }
        },
      },
    },
  };
  return { service, hangs };
}

const SERVICE_FUNCTIONS = {
  'functions/bytes.js': `exports = async () => {
    const r = await context.http.post({ url: 'http://bytes/', body: new BSON.Binary(new Uint8Array([1, 2, 3, 250])) });
    return r.body.toString('hex');
  };`,
  'functions/throws.js': `exports = async () => {
    try { await context.http.get({ url: 'http://throw/' }); } catch (e) { return [e instanceof Error, e.message]; }
  };`,
  'functions/early.js': `exports = async () => {
    context.http.get({ url: 'http://hang/' }).catch(() => {});
    await context.http.get({ url: 'http://after-hang/' });
    return 'early';
  };`,
  'functions/tooMany.js': `exports = async () => {
    for (let i = 0; i < 1000; i++) context.http.get({ url: 'http://hang/' }).catch(() => {});
    try { await context.http.get({ url: 'http://hang/' }); return 'not refused'; } catch (e) { return e.message; }
  };`,
  'functions/plain.js': `exports = async () => (await context.http.get({ url: 'http://plain/' })).body.text();`,
};

describe('boundary: host services', () => {
  const root = tempApp(SERVICE_FUNCTIONS);

  it('boundary: bytes cross to the service and back as bytes', async () => {
    const runner = createRunner({ app: loadApp({ root }).app, services: [fakeHttp().service] });
    try {
      assert.equal((await runner.execute('bytes')).result, 'fa030201');
    } finally {
      runner.dispose();
    }
  });

  it("boundary: a service's throw reaches the function as an Error with its message", async () => {
    const runner = createRunner({ app: loadApp({ root }).app, services: [fakeHttp().service] });
    try {
      assert.deepEqual((await runner.execute('throws')).result, [true, 'the fake service refused']);
    } finally {
      runner.dispose();
    }
  });

  it('boundary: when a call returns, the signal of the ops it left running is aborted', async () => {
    const fake = fakeHttp();
    const runner = createRunner({ app: loadApp({ root }).app, services: [fake.service] });
    try {
      assert.equal((await runner.execute('early')).result, 'early');
      assert.equal(fake.hangs.length, 1);
      assert.equal(fake.hangs[0]?.aborted, true);
      assert.equal((await runner.execute('plain')).result, 'http://plain/');
    } finally {
      runner.dispose();
    }
  });

  it('boundary: past 1000 async ops in flight, the next one is refused naming the limit', async () => {
    const fake = fakeHttp();
    const runner = createRunner({ app: loadApp({ root }).app, services: [fake.service] });
    try {
      const { result } = await runner.execute('tooMany');
      assert.match(
        String(result),
        /^http\.request: the function has 1000 asynchronous operations in flight/,
      );
      assert.equal(fake.hangs.length, 1000);
      assert.ok(fake.hangs.every((signal) => signal.aborted));
    } finally {
      runner.dispose();
    }
  });

  it('boundary: an op called in the other mode than its service declares, or a missing service, fails clearly', async () => {
    const sync = createRunner({ app: loadApp({ root }).app, services: [fakeHttp('sync').service] });
    const none = createRunner({ app: loadApp({ root }).app, services: [] });
    try {
      await assert.rejects(sync.execute('plain'), /http\.request is synchronous/);
      await assert.rejects(none.execute('plain'), /this runner has no 'http' service/);
    } finally {
      sync.dispose();
      none.dispose();
    }
  });
});
