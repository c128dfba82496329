/** triggerbox/testing: createTestApp and every method of a test app. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { createTestApp, FunctionExecutionFailure } from '../src/testing/index.js';
import { repoRoot, tempApp } from './helpers.js';

const demo = repoRoot;

function kitApp(): string {
  return tempApp({
    'root_config.json': { name: 'kit', environment: 'development' },
    'environments/development.json': { values: { region: 'eu' } },
    'values/apiKey.json': { name: 'apiKey', value: 'api-secret', from_secret: true },
    'values/rate.json': { name: 'rate', value: 2, from_secret: false },
    'functions/config.json': [
      { name: 'now', private: false },
      { name: 'whoami', private: false },
      { name: 'fetchRate', private: false },
      { name: 'callee', private: true },
      { name: 'caller', private: false },
      { name: 'tick', private: true },
      { name: 'config', private: false },
      { name: 'fail', private: false },
    ],
    'functions/now.js':
      'exports = function () { return { now: Date.now(), iso: new Date().toISOString(), given: new Date(5).getTime(), isDate: new Date() instanceof Date }; };',
    'functions/whoami.js':
      'exports = function () { return context.user.type === "system" ? "system" : context.user.id; };',
    'functions/fetchRate.js':
      'exports = async function (cur) { const r = await context.http.get({ url: "https://rates.example/" + cur }); return JSON.parse(r.body.text()).rate; };',
    'functions/callee.js': 'exports = function (x) { return x * 100; };',
    'functions/caller.js':
      'exports = async function (x) { const v = await context.functions.execute("callee", x); console.log("callee said", v); return v; };',
    'functions/tick.js':
      'exports = async function () { await context.services.get("mongodb-atlas").db("app").collection("ticks").insertOne({ at: new Date() }); console.log("tick"); return "ticked"; };',
    'functions/config.js':
      'exports = function () { return { key: context.values.get("apiKey"), rate: context.values.get("rate"), region: context.environment.values.region, tag: context.environment.tag }; };',
    'functions/fail.js':
      'exports = function () { console.log("before"); throw new Error("boom"); };',
    'triggers/everyHour.json': {
      name: 'everyHour',
      type: 'SCHEDULED',
      config: { schedule: '0 * * * *' },
      event_processors: { FUNCTION: { config: { function_name: 'tick' } } },
    },
  });
}

test('run: the demo app, with its triggers from writes, settled() and triggerRuns', async () => {
  await using app = await createTestApp({ root: demo });
  const greet = await app.run('greet', 'Ada');
  assert.equal((greet.result as { message: string }).message, 'Hello, Ada!');
  assert.deepEqual(greet.logs, ['greeting Ada in the development environment']);
  await app
    .db('shop')
    .collection('orders')
    .insertOne({
      _id: 'o1',
      status: 'paid',
      lines: [{ sku: 'A1', qty: 2 }],
    });
  await app.settled();
  const runs = app.triggers('orderPaid');
  assert.equal(runs.length, 1);
  assert.equal(runs[0]?.error, undefined);
  assert.deepEqual(runs[0]?.result, { lines: 1, total: 25, currency: 'EUR' });
  assert.equal((runs[0]?.event?.['fullDocument'] as { _id: string })._id, 'o1');
  assert.match(runs[0]?.logs.join('\n') ?? '', /order o1 paid/);
  const sales = await app.db('shop').collection('sales').findOne({ _id: 'EUR' });
  assert.deepEqual(sales, { _id: 'EUR', orders: 1, revenue: 25 });
  assert.ok(app.logs.some((l) => l.source === 'orderPaid' && /order o1 paid/.test(l.message)));
});

test('values, env and environment overrides; the app files stay untouched', async () => {
  const before = readFileSync(path.join(demo, 'values/prices.json'), 'utf8');
  await using app = await createTestApp({
    root: demo,
    values: { greeting: 'Hi', prices: { A1: 1, B7: 1 } },
    environment: 'production',
    env: { currency: 'USD' },
  });
  const greet = await app.run('greet', 'Bo');
  assert.equal((greet.result as { message: string }).message, 'Hi, Bo!');
  assert.match(greet.logs[0] ?? '', /production/);
  const summary = await app.run('orders/summary', [{ sku: 'A1', qty: 3 }]);
  assert.deepEqual(summary.result, { lines: 1, total: 3, currency: 'USD' });
  assert.equal(readFileSync(path.join(demo, 'values/prices.json'), 'utf8'), before);
  await assert.rejects(
    createTestApp({ root: demo, values: { greting: 'x' } }),
    (e: Error & { hint?: string }) =>
      /no Value 'greting'/.test(e.message) && /greeting/.test(e.hint ?? ''),
  );
});

test('secrets in clear, and a missing secret names itself', async () => {
  const root = kitApp();
  await using app = await createTestApp({ root, secrets: { 'api-secret': 's3cr3t' } });
  const { result } = await app.run('config');
  assert.deepEqual(result, { key: 's3cr3t', rate: 2, region: 'eu', tag: 'development' });
  await using bare = await createTestApp({ root });
  await assert.rejects(bare.run('config'), /secret 'api-secret' is not given to this test app/);
});

test('seed documents per namespace fire no trigger; runAs a user or system', async () => {
  await using app = await createTestApp({
    root: demo,
    seed: { 'shop.orders': [{ _id: 'old', status: 'paid', lines: [] }] },
  });
  assert.equal(await app.db('shop').collection('orders').count({}), 1);
  await app.settled();
  assert.equal(app.triggerRuns.length, 0);
  await using kit = await createTestApp({ root: kitApp(), secrets: { 'api-secret': 'x' } });
  assert.equal((await kit.runAs({ user: 'u-42' }, 'whoami')).result, 'u-42');
  assert.equal((await kit.runAs({ user: { id: 'u-7' } }, 'whoami')).result, 'u-7');
  assert.equal((await kit.runAs('system', 'whoami')).result, 'system');
});

test('a failing function throws FunctionExecutionFailure with its logs', async () => {
  await using app = await createTestApp({ root: kitApp() });
  const error = await app.run('fail').then(
    () => assert.fail('expected a failure'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof FunctionExecutionFailure);
  assert.match(error.message, /boom/);
  assert.deepEqual(error.logs, ['before']);
});

test('a fixed clock: Date inside functions, advanceClock runs due scheduled triggers, fireScheduled', async () => {
  const start = Date.UTC(2030, 0, 1, 10, 30);
  await using app = await createTestApp({ root: kitApp(), clock: new Date(start) });
  const { result } = await app.run('now');
  assert.deepEqual(
    { ...(result as object), now: Number((result as { now: unknown }).now) },
    {
      now: start,
      iso: new Date(start).toISOString(),
      given: 5,
      isDate: true,
    },
  );
  await app.advanceClock(29 * 60_000);
  assert.equal(app.triggers('everyHour').length, 0);
  await app.advanceClock(2 * 60 * 60_000); // 11:00 and 12:00 are due
  const runs = app.triggers('everyHour');
  assert.equal(runs.length, 2);
  assert.deepEqual(
    runs.map((r) => r.scheduledFor?.toISOString()),
    ['2030-01-01T11:00:00.000Z', '2030-01-01T12:00:00.000Z'],
  );
  assert.deepEqual(runs[0]?.logs, ['tick']);
  const ticks = await app.db('app').collection('ticks').find({}).toArray();
  assert.equal(ticks.length, 2);
  const manual = await app.fireScheduled('everyHour');
  assert.equal(manual.result, 'ticked');
  assert.equal(app.now().getTime(), start + 149 * 60_000);
  await assert.rejects(
    app.fireScheduled('everyHr'),
    (e: Error & { hint?: string }) =>
      /not a SCHEDULED trigger/.test(e.message) && /everyHour/.test(e.hint ?? ''),
  );
});

test('stubFunction: a host function (async for the caller) and a fixed value (sync)', async () => {
  const calls: unknown[][] = [];
  await using app = await createTestApp({ root: kitApp() });
  app.stubFunction('callee', (...args: unknown[]) => {
    calls.push(args);
    return { stubbed: args[0], when: new Date(0) };
  });
  const { result, logs } = await app.run('caller', 7);
  assert.deepEqual(result, { stubbed: 7, when: new Date(0) });
  assert.deepEqual(calls, [[7]]);
  assert.match(logs[0] ?? '', /callee said/);
  app.stubFunction('callee', () => {
    throw new Error('callee is down');
  });
  await assert.rejects(app.run('caller', 1), /callee is down/);
  // The demo's orders/summary calls orders/price synchronously: a fixed value fits it.
  await using demoApp = await createTestApp({
    root: demo,
    stubs: { 'orders/price': { returns: 10 } },
  });
  const summary = await demoApp.run('orders/summary', [{ sku: 'ZZ', qty: 2 }]);
  assert.deepEqual(summary.result, { lines: 1, total: 20, currency: 'EUR' });
  demoApp.unstubFunction('orders/price');
  await assert.rejects(demoApp.run('orders/summary', [{ sku: 'ZZ', qty: 2 }]), /unknown SKU ZZ/);
});

test('stubHttp / http.on answer context.http; an unexpected request fails naming it', async () => {
  await using app = await createTestApp({ root: kitApp() });
  await assert.rejects(
    app.run('fetchRate', 'usd'),
    /unexpected HTTP request in a test app: GET https:\/\/rates\.example\/usd \(from function 'fetchRate'\)/,
  );
  app.stubHttp('https://rates.example/usd', { body: { rate: 1.1 } });
  app.http.on({ method: 'GET', url: /\/eur$/ }, (request) => ({
    status: 200,
    body: JSON.stringify({ rate: request.url.length }),
  }));
  assert.equal((await app.run('fetchRate', 'usd')).result, 1.1);
  assert.equal((await app.run('fetchRate', 'eur')).result, 'https://rates.example/eur'.length);
  assert.deepEqual(
    app.http.requests().map((r) => r.url),
    ['https://rates.example/usd', 'https://rates.example/usd', 'https://rates.example/eur'],
  );
});

test('parallel test apps share nothing; dispose releases the sandbox process', async () => {
  const apps = await Promise.all(
    [1, 2, 3].map((n) => createTestApp({ root: demo, values: { greeting: `G${n}` } })),
  );
  await Promise.all(
    apps.map((app, i) =>
      app.db('shop').collection('orders').insertOne({ _id: i, status: 'paid', lines: [] }),
    ),
  );
  const results = await Promise.all(apps.map((app) => app.run('greet', 'x')));
  assert.deepEqual(
    results.map((r) => (r.result as { message: string }).message),
    ['G1, x!', 'G2, x!', 'G3, x!'],
  );
  for (const app of apps) {
    await app.settled();
    assert.equal(app.triggerRuns.length, 1);
    assert.equal(await app.db('shop').collection('orders').count({}), 1);
  }
  const pids = apps.map((app) => app.sandboxPid);
  assert.equal(new Set(pids).size, 3);
  await Promise.all(apps.map((app) => app.dispose()));
  for (const pid of pids) {
    assert.ok(pid !== undefined);
    await waitForExit(pid);
  }
  await assert.rejects(apps[0]!.run('greet', 'x'), /disposed/);
});

async function waitForExit(pid: number): Promise<void> {
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
