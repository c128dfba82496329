// Figures of the embedded database (docs/database.md): findOne by _id in 100,000 documents,
// insertOne with the store's durability, memory for 100,000 small documents, open time.
//   npm run bench -- db
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ObjectId } from 'bson';
import { createMongoService, EmbeddedEngine } from '../src/services/mongodb/index.js';

const N = 100_000;
const ns = { db: 'bench', coll: 'docs' };
const gc = (globalThis as { gc?: () => void }).gc;

function smallDoc(i: number) {
  return {
    _id: new ObjectId(),
    n: i,
    name: `user-${i}`,
    active: i % 2 === 0,
    at: new Date(1_700_000_000_000 + i),
  };
}

async function fill(engine: EmbeddedEngine): Promise<unknown[]> {
  const ids: unknown[] = [];
  for (let i = 0; i < N; i += 1000) {
    const docs = Array.from({ length: 1000 }, (_, j) => smallDoc(i + j));
    await engine.insertMany({ ns, documents: docs });
    ids.push(...docs.map((d) => d._id));
  }
  return ids;
}

function micros(start: bigint, count: number): string {
  return (Number(process.hrtime.bigint() - start) / 1000 / count).toFixed(1);
}

export async function run(): Promise<void> {
  console.log('\n## Embedded database (engine in-process)');
  const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'tb-mongo-bench-')), 'db');
  try {
    gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    let engine = await EmbeddedEngine.open({ dir });
    const ids = await fill(engine);
    gc?.();
    const heapMb = (process.memoryUsage().heapUsed - heapBefore) / 1024 / 1024;
    console.log(
      `memory for ${N.toLocaleString('en-US')} small documents: ${heapMb.toFixed(1)} MB of heap${gc ? '' : ' (run with --expose-gc for a settled figure)'}`,
    );
    await engine.close();
    console.log(
      `journal size: ${(statSync(path.join(dir, 'journal.tbj')).size / 1024 / 1024).toFixed(1)} MB`,
    );

    let start = process.hrtime.bigint();
    engine = await EmbeddedEngine.open({ dir });
    console.log(
      `open (replay ${N.toLocaleString('en-US')} documents): ${(Number(process.hrtime.bigint() - start) / 1e6).toFixed(0)} ms`,
    );

    const lookups = 20_000;
    start = process.hrtime.bigint();
    for (let i = 0; i < lookups; i++)
      await (await engine.find({ ns, filter: { _id: ids[(i * 7919) % N] }, limit: 1 })).next();
    console.log(`engine find by _id, limit 1: ${micros(start, lookups)} µs`);
    const items = createMongoService({ engine }).db(ns.db).collection(ns.coll);
    start = process.hrtime.bigint();
    for (let i = 0; i < lookups; i++) await items.findOne({ _id: ids[(i * 7919) % N] });
    console.log(`collection.findOne by _id: ${micros(start, lookups)} µs`);
    start = process.hrtime.bigint();
    for (let i = 0; i < 20; i++) await items.findOne({ name: `user-${N - 1 - i}` });
    console.log(`collection.findOne by an unindexed field (full scan): ${micros(start, 20)} µs`);

    const writes = 300;
    start = process.hrtime.bigint();
    for (let i = 0; i < writes; i++) await items.insertOne({ k: i });
    console.log(
      `insertOne, fdatasync before acknowledging, one at a time: ${micros(start, writes)} µs`,
    );
    start = process.hrtime.bigint();
    await Promise.all(Array.from({ length: 1000 }, (_, i) => items.insertOne({ c: i })));
    console.log(`insertOne, 1,000 concurrent (group commit): ${micros(start, 1000)} µs each`);
    await engine.close();

    const memory = await EmbeddedEngine.open();
    const memItems = createMongoService({ engine: memory }).db(ns.db).collection(ns.coll);
    start = process.hrtime.bigint();
    for (let i = 0; i < 10_000; i++) await memItems.insertOne({ k: i });
    console.log(`insertOne, in-memory engine (no journal): ${micros(start, 10_000)} µs`);
  } finally {
    rmSync(path.dirname(dir), { recursive: true, force: true });
  }
}
