// The path of one database call from a function (issue 11's figure): a findOne by _id in a
// 100,000-document collection and one insertOne, each made by a function through
// context.services.get(), against the same collection method called in-process on the engine.
//   npm run bench -- db-path
//
// "The database part" of a call is the p50 of a function that makes the database call minus the
// p50 of a trivial function that takes the same argument and returns the same kind of value,
// measured interleaved in the same run: everything the database call adds to a function call
// (BSON in the call's fresh context, the arguments' Extended JSON, the op's trip from the isolate
// through the sandbox process to the parent and back, the engine, the decoding of the answer).
import { fork } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EJSON, ObjectId } from 'bson';
import { loadApp } from '../src/app/load-app.js';
import { createRunner } from '../src/index.js';
import { median, writeTempApp } from './common.js';
import { builtinServices } from '../src/services/builtin.js';
import {
  createMongoService,
  EmbeddedEngine,
  mongodbService,
} from '../src/services/mongodb/index.js';

const N = 100_000;
const ns = { db: 'bench', coll: 'docs' };
const CALLS = 1500;

const COLL = `context.services.get('mongodb-atlas').db('bench').collection('docs')`;
const FUNCTIONS: Record<string, string> = {
  trivial: 'exports = (key) => key.length;',
  objectId: 'exports = (key) => BSON.ObjectId.createFromHexString(key).toHexString().length;',
  findOne: `exports = async (key) => (await ${COLL}.findOne({ _id: BSON.ObjectId.createFromHexString(key) })).n;`,
  insertOne: `exports = async (key) => (await ${COLL}.insertOne({ k: key })).insertedId ? 1 : 0;`,
};

function makeApp(): string {
  const files: Record<string, unknown> = {
    'root_config.json': { name: 'bench', environment: '' },
    'data_sources/mongodb-atlas/config.json': {
      name: 'mongodb-atlas',
      type: 'mongodb-atlas',
      config: { clusterName: 'Cluster0' },
    },
    'functions/config.json': Object.keys(FUNCTIONS).map((name) => ({ name, private: false })),
  };
  for (const [name, source] of Object.entries(FUNCTIONS)) files[`functions/${name}.js`] = source;
  return writeTempApp('triggerbox-bench-dbpath-', files);
}

const p50 = median;

async function timeEach(n: number, action: (i: number) => Promise<unknown>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await action(i);
    samples.push(performance.now() - start);
  }
  return samples;
}

/**
 * A bare IPC round trip (parent -> forked Node -> parent, `serialization: 'advanced'` as the
 * sandbox process uses) carrying the findOne op's request and its reply: the part of the floor a
 * process boundary sets, whatever runs on either side.
 */
async function ipcRoundTrip(request: unknown, reply: unknown): Promise<number> {
  const child = fork(fileURLToPath(import.meta.url), [], {
    serialization: 'advanced',
    execArgv: [],
    env: { ...process.env, TRIGGERBOX_BENCH_ECHO: '1' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiting = new Map<number, () => void>();
  child.on('message', (message: { id: number }) => {
    waiting.get(message.id)?.();
    waiting.delete(message.id);
  });
  let next = 0;
  const once = (): Promise<void> =>
    new Promise((resolve) => {
      const id = next++;
      waiting.set(id, resolve);
      child.send({ id, request, reply });
    });
  for (let i = 0; i < 200; i++) await once();
  const samples = await timeEach(CALLS, once);
  child.kill();
  return p50(samples);
}

if (process.env['TRIGGERBOX_BENCH_ECHO'] === '1') {
  // The echo side of ipcRoundTrip: answers each message with the reply it carries.
  process.on('message', (message: { id: number; reply: unknown }) =>
    process.send?.({ id: message.id, reply: message.reply }),
  );
}

const fmt = (ms: number): string => (ms * 1000).toFixed(1);

export async function run(): Promise<void> {
  const root = makeApp();
  const dir = path.join(root, '.triggerbox', 'db');
  const engine = await EmbeddedEngine.open({ dir });
  try {
    const ids: ObjectId[] = [];
    for (let i = 0; i < N; i += 1000) {
      const documents = Array.from({ length: 1000 }, (_, j) => ({
        _id: new ObjectId(),
        n: i + j,
        name: `user-${i + j}`,
        active: (i + j) % 2 === 0,
        at: new Date(1_700_000_000_000 + i + j),
      }));
      await engine.insertMany({ ns, documents });
      ids.push(...documents.map((d) => d._id));
    }
    const keys = ids.map((id) => id.toHexString());
    const pick = (i: number): number => (i * 7919) % N;

    // In-process: the collection method the service calls in the parent, with the same arguments.
    const items = createMongoService({ engine }).db(ns.db).collection(ns.coll);
    for (let i = 0; i < 500; i++) await items.findOne({ _id: ids[pick(i)] });
    const directFind = p50(await timeEach(CALLS, (i) => items.findOne({ _id: ids[pick(i)] })));
    const directInsert = p50(await timeEach(CALLS, (i) => items.insertOne({ k: keys[pick(i)] })));
    const engineFind = p50(
      await timeEach(CALLS, async (i) =>
        (await engine.find({ ns, filter: { _id: ids[pick(i)] }, limit: 1 })).next(),
      ),
    );

    const runner = createRunner({
      app: loadApp({ root }).app,
      services: [...builtinServices(), mongodbService({ engine, dataSources: ['mongodb-atlas'] })],
    });
    const names = Object.keys(FUNCTIONS);
    const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
    for (let i = 0; i < 100; i++) for (const name of names) await runner.execute(name, [keys[i]]);
    // Interleaved, so that the machine's load drifts over all four alike.
    for (let i = 0; i < CALLS; i++) {
      for (const name of names) {
        const key = keys[pick(i)];
        const start = performance.now();
        await runner.execute(name, [key]);
        samples[name]?.push(performance.now() - start);
      }
    }
    runner.dispose();
    const [trivial, objectId, findOne, insertOne] = names.map((n) => p50(samples[n] ?? []));

    const sample = await items.findOne({ _id: ids[0] });
    const ipc = await ipcRoundTrip(
      {
        type: 'op',
        id: 1,
        callId: 1,
        op: 'service',
        arg: {
          op: 'mongodb.call',
          mode: 'async',
          data: {
            source: 'mongodb-atlas',
            db: 'bench',
            coll: 'docs',
            method: 'findOne',
            args: EJSON.stringify([{ _id: ids[0] }], { relaxed: false }),
          },
        },
      },
      {
        type: 'opReply',
        id: 1,
        reply: {
          ok: true,
          value: { ok: true, value: EJSON.stringify(sample, { relaxed: false }) },
        },
      },
    );

    const findPart = (findOne ?? NaN) - (trivial ?? NaN);
    const insertPart = (insertOne ?? NaN) - (trivial ?? NaN);
    console.log(
      `\n## Database path: one call from a function vs the same call in-process (${N.toLocaleString('en-US')} documents, journal with fdatasync, p50 of ${CALLS})`,
    );
    console.log(
      'database part = p50 of a function making the call minus p50 of a trivial function with the same argument (interleaved): BSON in the fresh context, Extended JSON both ways, isolate -> sandbox process -> parent and back, the engine',
    );
    console.log('| operation | in-process µs | database part µs | ratio | target |');
    console.log('| --- | ---: | ---: | ---: | --- |');
    const row = (name: string, direct: number, part: number): void => {
      const ratio = part / direct;
      console.log(
        `| ${name} | ${fmt(direct)} | ${fmt(part)} | ${ratio.toFixed(2)} | 1.5x (${ratio <= 1.5 ? 'met' : 'NOT met'}) |`,
      );
    };
    row('findOne by _id (collection.findOne)', directFind, findPart);
    row('insertOne (collection.insertOne)', directInsert, insertPart);
    console.log(`engine.find by _id, limit 1 (below the collection API): ${fmt(engineFind)} µs`);
    console.log(
      `through a function, p50: trivial ${fmt(trivial ?? NaN)} µs, BSON.ObjectId only ${fmt(objectId ?? NaN)} µs, findOne ${fmt(findOne ?? NaN)} µs, insertOne ${fmt(insertOne ?? NaN)} µs`,
    );
    console.log(
      `floor: a bare IPC round trip with the findOne op's request and reply (forked Node, advanced serialization) ${fmt(ipc)} µs; BSON in the context (BSON.ObjectId only minus trivial) ${fmt((objectId ?? NaN) - (trivial ?? NaN))} µs`,
    );
  } finally {
    await engine.close();
    rmSync(root, { recursive: true, force: true });
  }
}
