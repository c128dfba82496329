// Write -> DATABASE-trigger-function start in `dev`, p50 (README "Local database"): a dev server
// on a temp app whose trigger function logs as its first statement; the time from just before
// the write to that log line reaching the dev server (durable journal, one write at a time).
// Two writers: the official driver through the endpoint, and the engine's own insertOne (what a
// function's insert becomes in the parent process).
//   npm run bench -- db-triggers
import { rmSync } from 'node:fs';
import { MongoClient } from 'mongodb';
import { startDevServer, type DevServer } from '../src/dev/dev-server.js';
import { median, writeTempApp } from './common.js';

const N = 200;
const WARMUP = 30;

function app(): string {
  const files: Record<string, unknown> = {
    'root_config.json': { name: 'bench', environment: '' },
    'functions/config.json': [{ name: 'onInsert', private: true }],
    'functions/onInsert.js':
      'exports = (event) => { console.log("start"); return event.documentKey._id; };',
    'triggers/onInsert.json': {
      name: 'onInsert',
      type: 'DATABASE',
      disabled: false,
      config: {
        service_name: 'mongodb-atlas',
        database: 'bench',
        collection: 'events',
        operation_types: ['INSERT'],
        full_document: true,
      },
      event_processors: { FUNCTION: { config: { function_name: 'onInsert' } } },
    },
  };
  return writeTempApp('triggerbox-bench-', files);
}

function nextStart(server: DevServer): Promise<number> {
  return new Promise((resolve) => {
    const listener = ({ name }: { name: string }): void => {
      if (name !== 'onInsert') return;
      server.off('log', listener);
      resolve(performance.now());
    };
    server.on('log', listener);
  });
}

async function measure(server: DevServer, write: (i: number) => Promise<unknown>, from: number) {
  const times: number[] = [];
  for (let i = from; i < from + WARMUP + N; i++) {
    const started = nextStart(server);
    const t0 = performance.now();
    await write(i);
    const t1 = await started;
    // Let the firing finish so the next write meets an idle sandbox, as a user's would.
    await server.triggersSettled();
    if (i >= from + WARMUP) times.push(t1 - t0);
  }
  return times;
}

export async function run(): Promise<void> {
  console.log('\n## dev: write -> DATABASE trigger function start');
  const root = app();
  const server = await startDevServer({ root, port: 0, dbPort: 0, env: {}, schedules: false });
  const client = new MongoClient(server.dbUri);
  try {
    const coll = client.db('bench').collection('events');
    const driver = await measure(server, (i) => coll.insertOne({ _id: i as never, i }), 0);
    const engine = await measure(
      server,
      (i) =>
        server.engine.insertOne({ ns: { db: 'bench', coll: 'events' }, document: { _id: i, i } }),
      100_000,
    );
    const fmt = (t: number[]): string =>
      `p50 ${median(t).toFixed(2)} ms, p90 ${[...t].sort((a, b) => a - b)[Math.floor(t.length * 0.9)]!.toFixed(2)} ms`;
    console.log(`dev: write -> trigger function start (${N} writes each, durable journal)`);
    console.log(`  official driver insertOne via the endpoint: ${fmt(driver)}`);
    console.log(`  engine insertOne (a function's write):       ${fmt(engine)}`);
  } finally {
    await client.close();
    await server.close();
    rmSync(root, { recursive: true, force: true });
  }
}
