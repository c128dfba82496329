/**
 * Real-cluster mode. No MongoDB server can be installed here, so "the cluster" is the local
 * MongoDB endpoint over an in-memory embedded engine: the official driver talks to it exactly as
 * to a replica set, change streams and resume tokens included.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MongoClient } from 'mongodb';
import { writeAppTypes } from '../src/app-types/generate.js';
import { dev } from '../src/cli/commands/dev.js';
import {
  startDevServer,
  type CallEvent,
  type ClusterEvent,
  type DevServer,
} from '../src/dev/dev-server.js';
import {
  EmbeddedEngine,
  startMongoEndpoint,
  uriVariableFor,
  type MongoEndpoint,
} from '../src/services/mongodb/index.js';
import { runCli, tempApp } from './helpers.js';

let cluster: EmbeddedEngine;
let endpoint: MongoEndpoint;
let port: number;

before(async () => {
  cluster = await EmbeddedEngine.open();
  endpoint = await startMongoEndpoint({ engine: cluster, port: 0 });
  port = endpoint.port;
});
after(async () => {
  await endpoint.close();
  await cluster.close();
});

const uri = (): string => `mongodb://127.0.0.1:${port}/`;

function orderApp(db: string, trigger: Record<string, unknown> = {}): string {
  return tempApp({
    'data_sources/Cluster0/config.json': {
      name: 'Cluster0',
      type: 'mongodb-atlas',
      config: { clusterName: 'Cluster0' },
    },
    'functions/config.json': [
      { name: 'place', private: false },
      { name: 'onOrder', private: true },
    ],
    'functions/place.js': `exports = async (item) => {
      const r = await context.services.get('Cluster0').db('${db}').collection('orders').insertOne({ item });
      return 'placed ' + item;
    };`,
    'functions/onOrder.js': `exports = async (event) => {
      console.log('order ' + event.fullDocument.item);
      return event.fullDocument.item;
    };`,
    'triggers/onOrder.json': {
      name: 'onOrder',
      type: 'DATABASE',
      disabled: false,
      config: {
        service_name: 'Cluster0',
        database: db,
        collection: 'orders',
        operation_types: ['INSERT'],
        full_document: true,
        ...trigger,
      },
      event_processors: { FUNCTION: { config: { function_name: 'onOrder' } } },
    },
  });
}

async function items(db: string): Promise<string[]> {
  const cursor = await cluster.find({ ns: { db, coll: 'orders' }, filter: {} });
  return (await cursor.toArray()).map((d) => String(d['item']));
}

/** Every file under the folder, recursively. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    return statSync(file).isDirectory() ? filesUnder(file) : [file];
  });
}

/** A dev server with its database firings and cluster events collected. */
async function startDev(root: string, extra: Record<string, unknown> = {}) {
  const fired: string[] = [];
  const clusterEvents: ClusterEvent[] = [];
  const waiters: (() => void)[] = [];
  const server: DevServer = await startDevServer({
    root,
    port: 0,
    dbPort: 0,
    env: {},
    schedules: false,
    mongodbUri: uri(),
    ...extra,
  });
  const wake = (): void => {
    for (const w of waiters.splice(0)) w();
  };
  server.on('call', (event: CallEvent) => {
    if (event.source === 'database') fired.push(String(event.result?.resultEJSON ?? event.error));
    wake();
  });
  server.on('cluster', (event) => {
    clusterEvents.push(event);
    wake();
  });
  const until = async (ok: () => boolean): Promise<void> => {
    while (!ok()) await new Promise<void>((resolve) => waiters.push(resolve));
  };
  return { server, fired, clusterEvents, until };
}

describe('real-cluster mode', () => {
  test('function run --mongodb-uri: the writes land on the cluster, not the local database', async () => {
    const root = orderApp('fr');
    const run = await runCli(
      ['function', 'run', '--name', 'place', '--args', 'pen', '--mongodb-uri', uri()],
      root,
    );
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /placed pen/);
    assert.deepEqual(await items('fr'), ['pen']);
    assert.equal(existsSync(path.join(root, '.triggerbox/db')), false);
    // The cluster's triggers are driven by dev's change streams, not by a one-off run.
    assert.doesNotMatch(run.stdout, /onOrder/);
  });

  test("TRIGGERBOX_MONGODB_URI from the app's .env, and per data source", async () => {
    const root = orderApp('envfile');
    writeFileSync(path.join(root, '.env'), `TRIGGERBOX_MONGODB_URI=${uri()}\n`);
    const run = await runCli(['function', 'run', '--name', 'place', '--args', 'cup'], root);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(await items('envfile'), ['cup']);

    const other = orderApp('envsource');
    assert.equal(uriVariableFor('Cluster0'), 'TRIGGERBOX_MONGODB_URI_CLUSTER0');
    assert.equal(uriVariableFor('mongodb-atlas'), 'TRIGGERBOX_MONGODB_URI_MONGODB_ATLAS');
    writeFileSync(path.join(other, '.env'), `TRIGGERBOX_MONGODB_URI_CLUSTER0=${uri()}\n`);
    const second = await runCli(['function', 'run', '--name', 'place', '--args', 'ink'], other);
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(await items('envsource'), ['ink']);
  });

  test('dev --mongodb-uri: a write made to the cluster fires the trigger; a restart resumes from the saved token', async () => {
    const root = orderApp('devresume');
    const first = await startDev(root);
    await first.until(() => first.clusterEvents.some((e) => e.kind === 'ready'));
    const client = new MongoClient(uri());
    try {
      await client.db('devresume').collection('orders').insertOne({ item: 'a' });
      await first.until(() => first.fired.length === 1);
      assert.deepEqual(first.fired, ['"a"']);
      const token = path.join(root, '.triggerbox/change-streams/Cluster0/devresume.orders.json');
      assert.ok(existsSync(token));
      const saved = JSON.parse(readFileSync(token, 'utf8')) as Record<string, unknown>;
      assert.equal(saved['namespace'], 'devresume.orders');
      await first.server.close();

      // Written while dev is down: fires once, after the restart.
      await client.db('devresume').collection('orders').insertOne({ item: 'b' });
      const second = await startDev(root);
      try {
        await second.until(() => second.fired.includes('"b"'));
        await client.db('devresume').collection('orders').insertOne({ item: 'c' });
        await second.until(() => second.fired.includes('"c"'));
        assert.deepEqual(second.fired, ['"b"', '"c"']);
      } finally {
        await second.server.close();
      }
    } finally {
      await client.close();
    }
  });

  test('dev with skip_catchup_events: a write made while dev was down does not fire', async () => {
    const root = orderApp('devskip', { skip_catchup_events: true });
    const first = await startDev(root);
    await first.until(() => first.clusterEvents.some((e) => e.kind === 'ready'));
    await cluster.insertOne({ ns: { db: 'devskip', coll: 'orders' }, document: { item: 'a' } });
    await first.until(() => first.fired.length === 1);
    await first.server.close();

    await cluster.insertOne({ ns: { db: 'devskip', coll: 'orders' }, document: { item: 'b' } });
    const second = await startDev(root);
    try {
      await second.until(() => second.clusterEvents.some((e) => e.kind === 'ready'));
      await cluster.insertOne({ ns: { db: 'devskip', coll: 'orders' }, document: { item: 'c' } });
      // Firings of one trigger run in commit order: 'b' would have come before 'c'.
      await second.until(() => second.fired.length >= 1);
      assert.deepEqual(second.fired, ['"c"']);
    } finally {
      await second.server.close();
    }
  });

  test('the URI with credentials never appears in output or under .triggerbox', async () => {
    const root = orderApp('secret');
    const secretUri = `mongodb://user:s3cret@127.0.0.1:${port}/`;
    // The endpoint has no authentication: it refuses these credentials.
    const run = await runCli(
      ['function', 'run', '--name', 'place', '--args', 'x', '--mongodb-uri', secretUri],
      root,
    );
    assert.notEqual(run.code, 0);
    assert.doesNotMatch(run.stdout + run.stderr, /s3cret|user:/);

    let out = '';
    let retried: () => void = () => {};
    const retry = new Promise<void>((resolve) => (retried = resolve));
    const io = {
      stdout: (text: string) => {
        out += text;
      },
      stderr: (text: string) => {
        out += text;
        if (/retrying in/.test(text)) retried();
      },
      cwd: root,
      env: {},
      stdin: { isTTY: false, read: () => Promise.resolve('') },
      prompt: () => Promise.resolve(''),
    };
    const code = await dev(
      {
        local: root,
        port: 0,
        host: '127.0.0.1',
        args: [],
        dbPort: 0,
        schedules: false,
        outputFormat: 'text',
        mongodbUri: secretUri,
      } as Parameters<typeof dev>[0],
      io,
      retry,
    );
    assert.equal(code, 0);
    assert.match(out, /mongodb:\/\/<credentials>@127\.0\.0\.1/);
    assert.match(out, /refused the credentials/);
    assert.doesNotMatch(out, /s3cret|user:/);
    for (const file of filesUnder(path.join(root, '.triggerbox')))
      assert.doesNotMatch(readFileSync(file, 'latin1'), /s3cret/, file);
  });

  test('an unreachable cluster: a clear message, dev keeps running and retries with backoff', async () => {
    const closed = await new Promise<number>((resolve) => {
      const server = createServer();
      server.listen(0, '127.0.0.1', () => {
        const { port: free } = server.address() as { port: number };
        server.close(() => resolve(free));
      });
    });
    const root = orderApp('down');
    const started = await startDev(root, {
      mongodbUri: `mongodb://127.0.0.1:${closed}/`,
      clusterClientOptions: { serverSelectionTimeoutMS: 200 },
    });
    try {
      await started.until(
        () => started.clusterEvents.filter((e) => e.kind === 'retry').length >= 2,
      );
      const retries = started.clusterEvents.filter((e) => e.kind === 'retry');
      assert.deepEqual(
        retries.map((e) => (e.kind === 'retry' ? e.delayMs : 0)),
        [1000, 2000],
      );
      assert.match(retries[0]?.kind === 'retry' ? retries[0].message : '', /is unreachable/);
      // dev still serves.
      const response = await fetch(`${started.server.url}/functions`);
      assert.equal(response.status, 200);
    } finally {
      await started.server.close();
    }
  });

  test('a lost connection: dev says so without the URI, keeps serving, retries with backoff and resumes from the saved token', async () => {
    // A cluster of its own: its endpoint is closed and started again on the same port over the
    // same engine, which keeps its change history (a server restart, as the driver sees it).
    const engine = await EmbeddedEngine.open();
    let server = await startMongoEndpoint({ engine, port: 0 });
    const own = server.port;
    const root = orderApp('lost');
    const delays: number[] = [];
    const started = await startDev(root, {
      // The options are secret-shaped on purpose: no message may show them.
      mongodbUri: `mongodb://127.0.0.1:${own}/?serverSelectionTimeoutMS=300&heartbeatFrequencyMS=500&appName=s3cret-app`,
      clusterRetryDelayMs: (attempt: number) => {
        delays.push(attempt);
        return 10 * attempt;
      },
    });
    const orders = { db: 'lost', coll: 'orders' };
    try {
      await started.until(() => started.clusterEvents.some((e) => e.kind === 'ready'));
      await engine.insertOne({ ns: orders, document: { item: 'a' } });
      await started.until(() => started.fired.length === 1);

      await server.close();
      await started.until(() => started.clusterEvents.some((e) => e.kind === 'retry'));
      // Written while the connection is down: fires once, when the cluster is back.
      await engine.insertOne({ ns: orders, document: { item: 'b' } });
      const retry = started.clusterEvents.find((e) => e.kind === 'retry');
      assert.ok(retry?.kind === 'retry');
      assert.match(
        retry.message,
        /^data source 'Cluster0': lost the connection to mongodb:\/\/127\.0\.0\.1:\d+\/\?<options>/,
      );
      assert.match(retry.message, /resume from the saved position/);
      assert.equal(retry.delayMs, 10);
      // dev goes on serving while the cluster is away.
      assert.equal((await fetch(`${started.server.url}/functions`)).status, 200);

      const readyBefore = started.clusterEvents.filter((e) => e.kind === 'ready').length;
      server = await startMongoEndpoint({ engine, port: own });
      await started.until(() => started.fired.includes('"b"'));
      await started.until(
        () => started.clusterEvents.filter((e) => e.kind === 'ready').length > readyBefore,
      );
      await engine.insertOne({ ns: orders, document: { item: 'c' } });
      await started.until(() => started.fired.includes('"c"'));
      assert.deepEqual(started.fired, ['"a"', '"b"', '"c"']);
      // Backoff grows with each failed attempt and starts over after a success.
      const attempts = started.clusterEvents.flatMap((e) =>
        e.kind === 'retry' ? [e.attempt] : [],
      );
      assert.deepEqual(
        attempts,
        attempts.map((_, i) => i + 1),
      );
      for (const event of started.clusterEvents)
        assert.doesNotMatch(JSON.stringify(event), /s3cret|appName/);
    } finally {
      await started.server.close();
      await server.close();
      await engine.close();
    }
  });

  test('a server without change streams (standalone): said once with how to fix, not retried until a reload', async () => {
    const engine = await EmbeddedEngine.open();
    const server = await startMongoEndpoint({ engine, port: 0, standalone: true });
    const root = orderApp('standalone');
    const started = await startDev(root, {
      mongodbUri: `mongodb://127.0.0.1:${server.port}/`,
      // Were it retried on a timer, it would be at once, again and again.
      clusterRetryDelayMs: () => 0,
    });
    try {
      await started.until(() => started.clusterEvents.length > 0);
      const [stop] = started.clusterEvents;
      assert.ok(stop?.kind === 'stopped', JSON.stringify(stop));
      assert.match(stop.message, /does not support change streams/);
      assert.match(stop.message, /only supported on replica sets/);
      assert.match(stop.message, /--replSet/);
      assert.match(stop.message, /rs\.initiate\(\)/);
      // Functions still read and write it (each call's round trips give a retry time to show).
      for (const item of ['x', 'y', 'z']) {
        const response = await fetch(`${started.server.url}/functions/place`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify([item]),
        });
        assert.equal(response.status, 200, await response.text());
      }
      const cursor = await engine.find({ ns: { db: 'standalone', coll: 'orders' }, filter: {} });
      assert.equal((await cursor.toArray()).length, 3);
      assert.deepEqual(
        started.clusterEvents.map((e) => e.kind),
        ['stopped'],
      );
      // A reload of the triggers tries again (and says it again).
      writeFileSync(
        path.join(root, 'functions/onOrder.js'),
        'exports = async (event) => event.fullDocument.item + "!";',
      );
      await started.until(() => started.clusterEvents.length > 1);
      assert.deepEqual(
        started.clusterEvents.map((e) => e.kind),
        ['stopped', 'stopped'],
      );
    } finally {
      await started.server.close();
      await server.close();
      await engine.close();
    }
  });

  test('wrong URIs: a clear message, the password never shown', async () => {
    const root = orderApp('wrong');
    const password = 'pw-s3cret';
    for (const [bad, expected] of [
      [`http://user:${password}@cluster0.example.net/`, /is not valid: Invalid scheme/],
      [`mongodb://user:p@ss-${password}@127.0.0.1:1/`, /percent-encode/],
      [`mongodb+srv://user:${password}@cluster0.example.net:27017/`, /cannot have port number/],
    ] as const) {
      const run = await runCli(
        ['dev', '--port', '0', '--db-port', '0', '--mongodb-uri', bad],
        root,
      );
      assert.notEqual(run.code, 0, bad);
      assert.match(run.stderr, expected, bad);
      assert.doesNotMatch(run.stdout + run.stderr, /s3cret|user:pw/, bad);
    }
    // A host that does not resolve: reported as unreachable, retried, dev runs.
    const started = await startDev(root, {
      mongodbUri: `mongodb://user:${password}@no-such-host.invalid:27017/?serverSelectionTimeoutMS=300`,
      clusterRetryDelayMs: () => 10,
    });
    try {
      await started.until(() => started.clusterEvents.some((e) => e.kind === 'retry'));
      const retry = started.clusterEvents.find((e) => e.kind === 'retry');
      assert.ok(retry?.kind === 'retry');
      assert.match(
        retry.message,
        /mongodb:\/\/<credentials>@no-such-host\.invalid:27017\/\?<options> is unreachable: .*no-such-host\.invalid/,
      );
      assert.doesNotMatch(retry.message, /s3cret|user:/);
    } finally {
      await started.server.close();
    }
  });

  test('dev keeps the generated types current on reload', async () => {
    const root = orderApp('types');
    mkdirSync(path.join(root, 'values'), { recursive: true });
    writeAppTypes({ root });
    const file = path.join(root, 'triggerbox-env.d.ts');
    assert.doesNotMatch(readFileSync(file, 'utf8'), /greeting/);
    const server = await startDevServer({ root, port: 0, dbPort: 0, env: {}, schedules: false });
    try {
      const reloaded = new Promise<void>((resolve) =>
        server.on('reload', (event) => {
          if (event.applied) resolve();
        }),
      );
      writeFileSync(
        path.join(root, 'values/greeting.json'),
        JSON.stringify({ name: 'greeting', value: 'hi' }),
      );
      await reloaded;
      assert.match(readFileSync(file, 'utf8'), /greeting/);
    } finally {
      await server.close();
    }
  });
});
