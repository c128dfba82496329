// Figures of the MongoDB endpoint (docs/database.md): the official driver's insertOne / findOne
// round trip against the endpoint, as a ratio to the same calls on the engine directly (both
// on an in-memory engine, one call at a time), and driver write -> change-stream event, p50.
//   npm run bench -- wire
import { MongoClient, type Document } from 'mongodb';
import { EmbeddedEngine, startMongoEndpoint } from '../src/services/mongodb/index.js';
import { median } from './common.js';

const N = 2000;
const WARMUP = 300;
const ns = { db: 'bench', coll: 'docs' };

function now(): bigint {
  return process.hrtime.bigint();
}

function perCall(start: bigint, count: number): number {
  return Number(now() - start) / 1000 / count;
}

async function direct(engine: EmbeddedEngine) {
  const ids: number[] = [];
  const run = async (from: number, count: number) => {
    let start = now();
    for (let i = from; i < from + count; i++) {
      await engine.insertOne({ ns, document: { _id: i, name: `user-${i}`, n: i } });
      ids.push(i);
    }
    const insert = perCall(start, count);
    start = now();
    for (let i = from; i < from + count; i++)
      await (await engine.find({ ns, filter: { _id: i }, limit: 1 })).next();
    return { insert, find: perCall(start, count) };
  };
  await run(0, WARMUP);
  return run(WARMUP, N);
}

async function viaDriver(client: MongoClient) {
  const docs = client.db(ns.db).collection<Document>('driver');
  const run = async (from: number, count: number) => {
    let start = now();
    for (let i = from; i < from + count; i++)
      await docs.insertOne({ _id: i as never, name: `user-${i}`, n: i });
    const insert = perCall(start, count);
    start = now();
    for (let i = from; i < from + count; i++) await docs.findOne({ _id: i as never });
    return { insert, find: perCall(start, count) };
  };
  await run(0, WARMUP);
  return run(WARMUP, N);
}

async function changeLatency(client: MongoClient): Promise<number> {
  const feed = client.db(ns.db).collection<Document>('feed');
  const stream = feed.watch();
  let arrived: (() => void) | undefined;
  stream.on('change', () => arrived?.());
  await new Promise<void>((resolve) => stream.once('resumeTokenChanged', () => resolve()));
  const samples: number[] = [];
  for (let i = 0; i < 300; i++) {
    const event = new Promise<void>((resolve) => (arrived = resolve));
    const start = now();
    await feed.insertOne({ i });
    await event;
    if (i >= 50) samples.push(Number(now() - start) / 1000);
  }
  await stream.close();
  return median(samples);
}

export async function run(): Promise<void> {
  console.log('\n## MongoDB endpoint: official driver vs the engine directly');
  const engine = await EmbeddedEngine.open();
  const endpoint = await startMongoEndpoint({ engine });
  const client = new MongoClient(endpoint.uri);
  try {
    await client.connect();
    const base = await direct(engine);
    const wire = await viaDriver(client);
    const p50 = await changeLatency(client);
    const row = (name: string, a: number, b: number) =>
      console.log(
        `${name.padEnd(10)} engine ${a.toFixed(1).padStart(7)} µs   driver via endpoint ${b
          .toFixed(1)
          .padStart(7)} µs   ratio ${(b / a).toFixed(1)}x`,
      );
    row('insertOne', base.insert, wire.insert);
    row('findOne', base.find, wire.find);
    console.log(`driver insertOne -> change-stream event, p50: ${(p50 / 1000).toFixed(2)} ms`);
  } finally {
    await client.close();
    await endpoint.close();
    await engine.close();
  }
}
