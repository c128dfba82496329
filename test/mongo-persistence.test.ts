// The store on disk: reopen, locking, torn tails, damage, compaction, and a kill -9 in a write loop.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  appendFileSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Decimal128, Long, ObjectId, Timestamp } from 'bson';
import { EmbeddedEngine, type ChangeEvent } from '../src/services/mongodb/index.js';

const ns = { db: 'app', coll: 'orders' };
const dirs: string[] = [];
const tempStore = () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tb-mongo-'));
  dirs.push(dir);
  return path.join(dir, 'db');
};
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('mongo persistence', () => {
  it('keeps documents, BSON types, indexes, drops and the cluster clock across a reopen', async () => {
    const dir = tempStore();
    const id = new ObjectId();
    let engine = await EmbeddedEngine.open({ dir });
    await engine.insertOne({
      ns,
      document: {
        _id: id,
        total: Decimal128.fromString('12.50'),
        n: Long.fromString('9007199254740993'),
        at: new Date(7),
      },
    });
    await engine.insertMany({
      ns,
      documents: [
        { _id: 2, sku: 'a' },
        { _id: 3, sku: 'b' },
      ],
    });
    await engine.updateOne({ ns, filter: { _id: 2 }, update: { $set: { sku: 'c' } } });
    await engine.deleteOne({ ns, filter: { _id: 3 } });
    await engine.createIndex({ ns, key: { sku: 1 }, unique: true });
    await engine.insertOne({ ns: { db: 'app', coll: 'gone' }, document: {} });
    await engine.dropCollection({ ns: { db: 'app', coll: 'gone' } });
    let last: Timestamp | undefined;
    engine.watch({}, (e) => (last = e.clusterTime));
    await engine.insertOne({ ns, document: { _id: 4, sku: 'd' } });
    await engine.close();

    engine = await EmbeddedEngine.open({ dir });
    const docs = await (await engine.find({ ns, filter: {} })).toArray();
    assert.deepEqual(docs, [
      {
        _id: id,
        total: Decimal128.fromString('12.50'),
        n: Long.fromString('9007199254740993'),
        at: new Date(7),
      },
      { _id: 2, sku: 'c' },
      { _id: 4, sku: 'd' },
    ]);
    assert.deepEqual(
      (await engine.listCollections({ db: 'app' })).map((c) => c.name),
      ['orders'],
    );
    await assert.rejects(
      engine.insertOne({ ns, document: { sku: 'c' } }),
      /E11000 .* index: sku_1/,
    );
    const events: ChangeEvent[] = [];
    engine.watch({}, (e) => events.push(e));
    await engine.insertOne({ ns, document: { _id: 5, sku: 'e' } });
    const t = events[0]!.clusterTime;
    assert.ok(
      t.t > last!.t || (t.t === last!.t && t.i > last!.i),
      'the clock continues after a restart',
    );
    await engine.close();
  });

  it('one process owns the store; a second opener gets a clear error; a dead owner is taken over', async () => {
    const dir = tempStore();
    const engine = await EmbeddedEngine.open({ dir });
    await assert.rejects(
      EmbeddedEngine.open({ dir }),
      (e: Error & { code: string }) =>
        e.code === 'MongoStoreLocked' && /open in another process/.test(e.message),
    );
    await engine.close();
    writeFileSync(path.join(dir, 'LOCK'), '999999999');
    await (await EmbeddedEngine.open({ dir })).close();
  });

  it('drops a torn last write with a warning; damage elsewhere is an error naming the file, and changes nothing', async () => {
    const dir = tempStore();
    let engine = await EmbeddedEngine.open({ dir });
    for (let i = 0; i < 3; i++) await engine.insertOne({ ns, document: { _id: i } });
    await engine.close();
    const file = path.join(dir, 'journal.tbj');
    const good = readFileSync(file);
    // A frame whose header promises more bytes than were written: a write cut by the kill.
    const torn = Buffer.alloc(20);
    torn.writeUInt32LE(0x54424a31, 0);
    torn.writeUInt32LE(500, 4);
    appendFileSync(file, torn);
    const warnings: string[] = [];
    engine = await EmbeddedEngine.open({ dir, warn: (m) => warnings.push(m) });
    assert.equal(await engine.countDocuments({ ns }), 3);
    assert.match(warnings[0]!, /incomplete write .* dropped/);
    await engine.close();
    assert.equal(statSync(file).size, good.length);

    const damaged = Buffer.from(good);
    damaged[20] = damaged[20]! ^ 0xff;
    writeFileSync(file, damaged);
    await assert.rejects(
      EmbeddedEngine.open({ dir }),
      (e: Error & { code: string }) =>
        e.code === 'MongoStoreCorrupt' && e.message.includes(file) && /checksum/.test(e.message),
    );
    assert.deepEqual(readFileSync(file), damaged, 'nothing changed');
    // The failed open released its lock.
    writeFileSync(file, good);
    await (await EmbeddedEngine.open({ dir })).close();
  });

  it('compaction rewrites the journal to the live state', async () => {
    const dir = tempStore();
    let engine = await EmbeddedEngine.open({ dir, durable: false });
    await engine.insertOne({ ns, document: { _id: 1, n: 0 } });
    for (let i = 0; i < 3000; i++)
      await engine.updateOne({ ns, filter: { _id: 1 }, update: { $inc: { n: 1 } } });
    await engine.close();
    const file = path.join(dir, 'journal.tbj');
    const before = statSync(file).size;
    engine = await EmbeddedEngine.open({ dir });
    assert.ok(statSync(file).size < before / 10, 'compacted at open');
    assert.deepEqual(await (await engine.find({ ns, filter: {} })).toArray(), [
      { _id: 1, n: 3000 },
    ]);
    await engine.close();
  });

  it('a kill -9 during a write loop loses no acknowledged write and leaves a store that opens', async () => {
    const dir = tempStore();
    // The writer uses the built library, from a script in the temp folder.
    const library = pathToFileURL(
      path.join(path.dirname(fileURLToPath(import.meta.url)), '../src/services/mongodb/index.js'),
    );
    const writer = path.join(path.dirname(dir), 'writer.mjs');
    writeFileSync(
      writer,
      `import { EmbeddedEngine } from '${library.href}';
const engine = await EmbeddedEngine.open({ dir: process.argv[2] });
const ns = { db: 'app', coll: 'orders' };
for (let i = 0; ; i++) {
  await engine.insertOne({ ns, document: { _id: i, pad: 'x'.repeat(i % 300) } });
  if (i % 5 === 0) await engine.updateOne({ ns, filter: { _id: i }, update: { $set: { touched: true } } });
  process.stdout.write(i + '\\n');
}
`,
    );
    const child = spawn(process.execPath, [writer, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let acknowledged = -1;
    let buffered = '';
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop()!;
        for (const line of lines) acknowledged = Number(line);
        if (acknowledged >= 300 && !child.killed) child.kill('SIGKILL');
      });
      child.on('exit', () => resolve());
    });
    assert.ok(acknowledged >= 300);
    const engine = await EmbeddedEngine.open({ dir });
    const docs = await (
      await engine.find({ ns, filter: { _id: { $lte: acknowledged } } })
    ).toArray();
    assert.equal(docs.length, acknowledged + 1, 'every acknowledged insert is there');
    for (const doc of docs)
      if ((doc._id as number) % 5 === 0)
        assert.equal(doc.touched, true, `update of ${String(doc._id)}`);
    await engine.insertOne({ ns, document: { _id: 'after-crash' } });
    await engine.close();
  });
});
