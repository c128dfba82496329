/** DATABASE triggers from writes: function run / trigger fire cascades, loops, dev and its endpoint. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { MongoClient } from 'mongodb';
import { startDevServer, type CallEvent, type DevServer } from '../src/dev/dev-server.js';
import { loadApp } from '../src/app/load-app.js';
import { createRunner } from '../src/runtime/runner.js';
import { builtinServices } from '../src/services/builtin.js';
import { EmbeddedEngine, mongodbService } from '../src/services/mongodb/index.js';
import { TriggerDispatcher, type TriggerFiring } from '../src/triggers/dispatcher.js';
import { fixturesDir, repoRoot, runCli, tempApp } from './helpers.js';

const BIN = path.join(repoRoot, 'dist/src/cli/bin.js');

const copies: string[] = [];
after(() => {
  for (const dir of copies) rmSync(dir, { recursive: true, force: true });
});

/** A fresh copy of the orders fixture (its database is created in the copy, never in the repo). */
function ordersApp(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'triggerbox-orders-'));
  copies.push(dir);
  cpSync(path.join(fixturesDir, 'orders'), dir, { recursive: true });
  return dir;
}

const dataSource = {
  'data_sources/Cluster0/config.json': {
    name: 'Cluster0',
    type: 'mongodb-atlas',
    config: { clusterName: 'Cluster0' },
  },
};

function loopApp(): string {
  return tempApp({
    ...dataSource,
    'functions/config.json': [
      { name: 'touch', private: false },
      { name: 'again', private: true },
    ],
    'functions/touch.js': `exports = async () => {
      await context.services.get('Cluster0').db('app').collection('counters').insertOne({ _id: 'c', n: 0 });
      return 'touched';
    };`,
    'functions/again.js': `exports = async (event) => {
      await context.services.get('Cluster0').db('app').collection('counters').updateOne({ _id: event.documentKey._id }, { $inc: { n: 1 } });
      return 'again';
    };`,
    'triggers/again.json': {
      name: 'again',
      type: 'DATABASE',
      disabled: false,
      config: {
        service_name: 'Cluster0',
        database: 'app',
        collection: 'counters',
        operation_types: ['INSERT', 'UPDATE'],
      },
      event_processors: { FUNCTION: { config: { function_name: 'again' } } },
    },
  });
}

describe('db triggers: function run and trigger fire', () => {
  test("function run: the trigger the function's insert fires runs after it, labelled", async () => {
    const root = ordersApp();
    assert.equal((await runCli(['db', 'seed'], root)).code, 0);
    const run = await runCli(
      ['function', 'run', '--name', 'placeOrder', '--args', 'pen', '--args', '2'],
      root,
    );
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^Logs\n {2}order [0-9a-f]{24} for 2 x pen\nResult\n/);
    assert.match(
      run.stdout,
      /\n--- trigger updateInventory \(insert store\.orders _id: \{"\$oid":"[0-9a-f]{24}"\}, [\d.]+ ms\)\nLogs\n {2}pen: 98 left\nResult\n/,
    );
    // The trigger's write persisted with the function's.
    const found = await runCli(
      ['db', 'find', '--ns', 'store.inventory', '--filter', '{"_id": "pen"}', '-f', 'json'],
      root,
    );
    assert.match(found.stdout, /"stock":\{"\$numberInt":"98"\}/);
  });

  test('function run --no-triggers: the write happens, no trigger runs', async () => {
    const root = ordersApp();
    await runCli(['db', 'seed'], root);
    const run = await runCli(
      ['function', 'run', '--name', 'placeOrder', '--args', 'ink', '--args', '3', '--no-triggers'],
      root,
    );
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stdout, /--- trigger/);
    const orders = await runCli(
      ['db', 'find', '--ns', 'store.orders', '--filter', '{"sku": "ink"}'],
      root,
    );
    assert.match(orders.stdout, /Found 1 document/);
    const ink = await runCli(
      ['db', 'find', '--ns', 'store.inventory', '--filter', '{"_id": "ink"}', '-f', 'json'],
      root,
    );
    assert.match(ink.stdout, /"stock":\{"\$numberInt":"20"\}/);
  });

  test('function run -f json: the firings are listed under "triggers"', async () => {
    const root = ordersApp();
    await runCli(['db', 'seed'], root);
    const run = await runCli(
      ['function', 'run', '--name', 'placeOrder', '--args', 'pen', '--args', '1', '-f', 'json'],
      root,
    );
    const out = JSON.parse(run.stdout) as {
      triggers: { trigger: string; operation_type: string; result: unknown }[];
    };
    assert.equal(out.triggers.length, 1);
    assert.equal(out.triggers[0]?.trigger, 'updateInventory');
    assert.equal(out.triggers[0]?.operation_type, 'insert');
    assert.deepEqual(out.triggers[0]?.result, { sku: 'pen', stock: { $numberInt: '99' } });
  });

  test('a trigger that keeps re-triggering itself stops at depth 8 with a warning naming the loop', async () => {
    const root = loopApp();
    const run = await runCli(['function', 'run', '--name', 'touch'], root);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.match(/--- trigger again /g)?.length, 8);
    assert.match(
      run.stderr,
      /trigger loop stopped: again -> again -> .* would be 9 triggers deep, past the limit of 8/,
    );
    const found = await runCli(['db', 'find', '--ns', 'app.counters', '-f', 'json'], root);
    assert.match(found.stdout, /"n":\{"\$numberInt":"8"\}/);
  });

  test('trigger fire: the SCHEDULED cleanup deletes the old seeded order; --id fires with a stored document', async () => {
    const root = ordersApp();
    await runCli(['db', 'seed'], root);
    const fired = await runCli(
      [
        'trigger',
        'fire',
        '--name',
        'updateInventory',
        '--id',
        '{"$oid": "650000000000000000000001"}',
      ],
      root,
    );
    assert.equal(fired.code, 0, fired.stderr);
    assert.match(fired.stdout, /pen: 99 left/);
    const event = await runCli(
      [
        'trigger',
        'event',
        '--name',
        'updateInventory',
        '--id',
        '{"$oid": "650000000000000000000001"}',
      ],
      root,
    );
    assert.match(event.stdout, /"status": "shipped"/);
    const missing = await runCli(
      ['trigger', 'fire', '--name', 'updateInventory', '--id', '7'],
      root,
    );
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no document with _id 7 in store\.orders/);
    const cleanup = await runCli(['trigger', 'fire', '--name', 'cleanupOrders'], root);
    assert.equal(cleanup.code, 0, cleanup.stderr);
    assert.match(cleanup.stdout, /deleted 1 old orders/);
  });
});

describe('db triggers: the dispatcher as a library', () => {
  test('full_document decides whether an update event carries fullDocument; match filters', async () => {
    const root = tempApp({
      ...dataSource,
      'functions/config.json': [{ name: 'seen', private: true }],
      'functions/seen.js':
        'exports = (event) => ({ op: event.operationType, full: event.fullDocument !== undefined, before: event.fullDocumentBeforeChange !== undefined });',
      'triggers/paid.json': {
        name: 'paid',
        type: 'DATABASE',
        disabled: false,
        config: {
          service_name: 'Cluster0',
          database: 'shop',
          collection: '',
          operation_types: ['UPDATE'],
          match: { 'updateDescription.updatedFields.status': 'paid' },
          full_document: false,
          full_document_before_change: true,
        },
        event_processors: { FUNCTION: { config: { function_name: 'seen' } } },
      },
    });
    const { app } = loadApp({ root });
    const engine = await EmbeddedEngine.open();
    const runner = createRunner({
      app,
      services: [
        ...builtinServices(),
        mongodbService({ engine, dataSources: app.dataSources.keys() }),
      ],
    });
    const firings: TriggerFiring[] = [];
    const dispatcher = new TriggerDispatcher({
      engine,
      runner,
      triggers: () => app.triggers.values(),
      warn: () => {},
      onFiring: (f) => firings.push(f),
    });
    after(() => {
      dispatcher.close();
      runner.dispose();
      void engine.close();
    });
    const ns = { db: 'shop', coll: 'bills' };
    await engine.insertOne({ ns, document: { _id: 1, status: 'new' } });
    await engine.updateOne({ ns, filter: { _id: 1 }, update: { $set: { status: 'late' } } });
    await engine.updateOne({ ns, filter: { _id: 1 }, update: { $set: { status: 'paid' } } });
    await dispatcher.settled();
    assert.equal(firings.length, 1);
    assert.deepEqual(firings[0]?.result?.result, { op: 'update', full: false, before: true });
    assert.deepEqual(firings[0]?.ns, ns);
  });
});

/** The next 'call' event of this source. */
function nextCall(server: DevServer, source: CallEvent['source']): Promise<CallEvent> {
  return new Promise((resolve) => {
    const listener = (event: CallEvent): void => {
      if (event.source !== source) return;
      server.off('call', listener);
      resolve(event);
    };
    server.on('call', listener);
  });
}

describe('db triggers: dev', () => {
  test('dev: seeds on first start, serves the endpoint; an insert through the official driver fires the trigger', async () => {
    const root = ordersApp();
    const server = await startDevServer({ root, port: 0, dbPort: 0, env: {}, schedules: false });
    const client = new MongoClient(server.dbUri, { serverSelectionTimeoutMS: 20_000 });
    after(async () => {
      await client.close();
      await server.close();
    });
    assert.match(server.dbUri, /^mongodb:\/\/127\.0\.0\.1:\d+$/);
    assert.deepEqual(
      server.seeded?.loaded.map((s) => `${s.ns.db}.${s.ns.coll}:${s.count}`).sort(),
      ['store.inventory:2', 'store.orders:1'],
    );
    const fired = nextCall(server, 'database');
    const { insertedId } = await client
      .db('store')
      .collection('orders')
      .insertOne({ sku: 'ink', qty: 5, status: 'placed', createdAt: new Date() });
    const event = await fired;
    assert.equal(event.name, 'updateInventory');
    assert.equal(event.firing?.operationType, 'insert');
    assert.equal(String(event.firing?.key), insertedId.toHexString());
    assert.deepEqual(event.result?.result, { sku: 'ink', stock: 15 });
    const ink = await client
      .db('store')
      .collection('inventory')
      .findOne({ _id: 'ink' as never });
    assert.equal(ink?.['stock'], 15);
    // A function's write fires it too.
    const second = nextCall(server, 'database');
    const response = await fetch(`${server.url}/functions/placeOrder`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '["pen", 4]',
    });
    assert.equal(response.status, 200);
    assert.deepEqual((await second).result?.result, { sku: 'pen', stock: 96 });
  });

  test('dev process: prints the endpoint, a driver insert prints the firing, SIGTERM closes everything', async () => {
    const root = ordersApp();
    const child = spawn(
      process.execPath,
      ['--no-node-snapshot', BIN, 'dev', '--port', '0', '--db-port', '0', '--no-schedules'],
      {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    const waitFor = (pattern: RegExp): Promise<RegExpExecArray> =>
      new Promise((resolve, reject) => {
        const check = (): boolean => {
          const m = pattern.exec(stdout);
          if (m) resolve(m);
          return m !== null;
        };
        if (check()) return;
        const onData = (): void => {
          if (check()) child.stdout.off('data', onData);
        };
        child.stdout.on('data', onData);
        child.once('exit', () => reject(new Error(`dev exited: ${stdout}`)));
      });
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = new Promise<number | null>((resolve) =>
      child.on('exit', (code) => resolve(code)),
    );
    const uri = (await waitFor(/database: (mongodb:\/\/127\.0\.0\.1:\d+) /))[1] ?? '';
    await waitFor(/Ctrl-C to stop/);
    assert.match(stdout, /seeded store\.inventory with 2 documents/);
    const client = new MongoClient(uri, { serverSelectionTimeoutMS: 20_000 });
    try {
      await client
        .db('store')
        .collection('orders')
        .insertOne({ _id: 'o1' as never, sku: 'pen', qty: 3 });
      await waitFor(
        /--- trigger updateInventory \(insert store\.orders _id: "o1", [\d.]+ ms\)\nLogs\n {2}pen: 97 left\n/,
      );
    } finally {
      await client.close();
    }
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.match(stdout, /triggerbox dev: stopped/);
  });
});
