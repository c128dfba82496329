// The MongoDB endpoint with the official driver (and raw sockets for what a driver never sends):
// CRUD, cursors, indexes, change streams fed by driver writes and by engine writes, errors as the
// server shapes them, malformed messages closing only their own connection.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { BSON, Long } from 'bson';
import {
  MongoBulkWriteError,
  MongoClient,
  MongoServerError,
  type ChangeStreamDocument,
  type Document,
} from 'mongodb';
import { RecordingLog } from '../src/shared/log.js';
import {
  EmbeddedEngine,
  startMongoEndpoint,
  type MongoEndpoint,
} from '../src/services/mongodb/index.js';
import { crc32c } from '../src/services/mongodb/wire/messages.js';

// The tests use numbers and strings as _id, which the driver's default schema type forbids.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDoc = any;

let engine: EmbeddedEngine;
let endpoint: MongoEndpoint;
let client: MongoClient;
const log = new RecordingLog();

before(async () => {
  engine = await EmbeddedEngine.open();
  endpoint = await startMongoEndpoint({ engine, log });
  client = new MongoClient(endpoint.uri, { serverSelectionTimeoutMS: 5000 });
  await client.connect();
});

after(async () => {
  await client.close();
  await endpoint.close();
  await engine.close();
});

/** Resolves with the next `count` events of a change stream. */
function nextChanges(
  stream: { on(event: 'change', f: (c: ChangeStreamDocument) => void): unknown },
  count: number,
) {
  const got: ChangeStreamDocument[] = [];
  return new Promise<ChangeStreamDocument[]>((resolve) => {
    stream.on('change', (change) => {
      got.push(change);
      if (got.length === count) resolve(got);
    });
  });
}

/**
 * Waits until the driver's change stream has its server-side cursor: the aggregate's empty
 * first batch carries a postBatchResumeToken, which the driver announces.
 */
function opened(stream: { once(event: 'resumeTokenChanged', f: () => void): unknown }) {
  return new Promise<void>((resolve) => stream.once('resumeTokenChanged', () => resolve()));
}

function opMsg(
  body: Document,
  options: { checksum?: boolean; sequence?: [string, Document[]] } = {},
) {
  const parts: Uint8Array[] = [Buffer.from([0]), BSON.serialize(body)];
  if (options.sequence) {
    const [id, docs] = options.sequence;
    const payload = Buffer.concat([Buffer.from(id + '\0'), ...docs.map((d) => BSON.serialize(d))]);
    const size = Buffer.alloc(4);
    size.writeInt32LE(payload.length + 4);
    parts.push(Buffer.from([1]), size, payload);
  }
  const flags = Buffer.alloc(4);
  flags.writeUInt32LE(options.checksum ? 1 : 0);
  const header = Buffer.alloc(16);
  const sections = Buffer.concat(parts);
  const length = 16 + 4 + sections.length + (options.checksum ? 4 : 0);
  header.writeInt32LE(length, 0);
  header.writeInt32LE(7, 4);
  header.writeInt32LE(2013, 12);
  const message = Buffer.concat([header, flags, sections]);
  if (!options.checksum) return message;
  const crc = Buffer.alloc(4);
  crc.writeUInt32LE(crc32c(message));
  return Buffer.concat([message, crc]);
}

function opQuery(collection: string, query: Document) {
  const body = Buffer.concat([
    Buffer.alloc(4),
    Buffer.from(collection + '\0'),
    Buffer.from([0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]),
    BSON.serialize(query),
  ]);
  const header = Buffer.alloc(16);
  header.writeInt32LE(16 + body.length, 0);
  header.writeInt32LE(9, 4);
  header.writeInt32LE(2004, 12);
  return Buffer.concat([header, body]);
}

/** Sends raw bytes; resolves with the first reply's opCode and document, or 'closed'. */
function rawExchange(
  bytes: Buffer,
): Promise<{ opCode: number; doc: Document; responseTo: number } | 'closed'> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(endpoint.port, '127.0.0.1');
    let data = Buffer.alloc(0);
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (chunk) => {
      data = Buffer.concat([data, chunk]);
      if (data.length < 4 || data.length < data.readInt32LE(0)) return;
      const opCode = data.readInt32LE(12);
      const responseTo = data.readInt32LE(8);
      const docAt = opCode === 1 ? 36 : 21;
      const size = data.readInt32LE(docAt);
      socket.destroy();
      resolve({ opCode, responseTo, doc: BSON.deserialize(data.subarray(docAt, docAt + size)) });
    });
    socket.on('close', () => resolve('closed'));
    socket.on('error', reject);
  });
}

describe('mongo wire endpoint: official driver CRUD', () => {
  it('insert, find, aggregate, countDocuments, distinct, findOneAndUpdate', async () => {
    const orders = client.db('shop').collection<AnyDoc>('orders');
    const one = await orders.insertOne({ _id: 1, item: 'lego', qty: 2 });
    assert.equal(one.insertedId, 1);
    const many = await orders.insertMany([
      { _id: 2, item: 'duplo', qty: 5 },
      { _id: 3, item: 'lego', qty: 1 },
    ]);
    assert.equal(many.insertedCount, 2);
    assert.deepEqual(
      await orders.find({ item: 'lego' }, { sort: { qty: 1 }, projection: { qty: 1 } }).toArray(),
      [
        { _id: 3, qty: 1 },
        { _id: 1, qty: 2 },
      ],
    );
    assert.deepEqual(
      await orders
        .aggregate([{ $group: { _id: '$item', total: { $sum: '$qty' } } }, { $sort: { _id: 1 } }])
        .toArray(),
      [
        { _id: 'duplo', total: 5 },
        { _id: 'lego', total: 3 },
      ],
    );
    assert.equal(await orders.countDocuments({ item: 'lego' }), 2);
    assert.equal(await orders.estimatedDocumentCount(), 3);
    assert.deepEqual(await orders.distinct('item'), ['duplo', 'lego']);
    const updated = await orders.findOneAndUpdate(
      { _id: 2 },
      { $inc: { qty: 1 } },
      { returnDocument: 'after' },
    );
    assert.deepEqual(updated, { _id: 2, item: 'duplo', qty: 6 });
    const meta = await orders.findOneAndUpdate(
      { _id: 9 },
      { $set: { item: 'new' } },
      { upsert: true, returnDocument: 'after', includeResultMetadata: true },
    );
    assert.deepEqual(meta.value, { _id: 9, item: 'new' });
    assert.equal(meta.lastErrorObject?.updatedExisting, false);
    const replaced = await orders.findOneAndReplace(
      { _id: 9 },
      { item: 'again' },
      { returnDocument: 'after' },
    );
    assert.deepEqual(replaced, { _id: 9, item: 'again' });
    assert.deepEqual(await orders.findOneAndDelete({ _id: 9 }), { _id: 9, item: 'again' });
    const upd = await orders.updateMany({ item: 'lego' }, { $set: { seen: true } });
    assert.deepEqual([upd.matchedCount, upd.modifiedCount], [2, 2]);
    const ups = await orders.updateOne({ _id: 7 }, { $set: { qty: 0 } }, { upsert: true });
    assert.equal(ups.upsertedId, 7);
    const rep = await orders.replaceOne({ _id: 7 }, { item: 'plain' });
    assert.equal(rep.modifiedCount, 1);
    assert.equal((await orders.deleteMany({ _id: { $gte: 7 } })).deletedCount, 1);
    // The write reached the engine itself, as a function's write would.
    assert.equal(await engine.countDocuments({ ns: { db: 'shop', coll: 'orders' } }), 3);
  });

  it('keeps BSON types: Long, Decimal128, Date, Binary round-trip', async () => {
    const types = client.db('shop').collection<AnyDoc>('types', { promoteLongs: false });
    const { Decimal128, Binary } = await import('bson');
    const doc = {
      _id: 'x',
      long: Long.fromString('9007199254740993'),
      dec: Decimal128.fromString('0.1'),
      at: new Date(1_700_000_000_000),
      bin: new Binary(Buffer.from('hi')),
    };
    await types.insertOne(doc);
    const back = await types.findOne({ _id: 'x' });
    assert.ok(Long.isLong(back?.long));
    assert.equal(back?.long.toString(), '9007199254740993');
    assert.equal(back?.dec.toString(), '0.1');
    assert.deepEqual(back?.at, doc.at);
    assert.equal(Buffer.from(back?.bin.buffer).toString(), 'hi');
  });

  it('a unique index gives E11000 as a MongoServerError with code 11000; ordered batches stop there', async () => {
    const users = client.db('shop').collection<AnyDoc>('users');
    assert.equal(await users.createIndex({ email: 1 }, { unique: true }), 'email_1');
    await users.insertOne({ email: 'a@x' });
    await assert.rejects(users.insertOne({ email: 'a@x' }), (error: unknown) => {
      assert.ok(error instanceof MongoServerError);
      assert.equal(error.code, 11000);
      assert.match(
        error.message,
        /^E11000 duplicate key error collection: shop\.users index: email_1/,
      );
      assert.deepEqual(error.keyValue, { email: 'a@x' });
      return true;
    });
    await assert.rejects(
      users.insertMany([{ email: 'b@x' }, { email: 'a@x' }, { email: 'c@x' }]),
      (error: unknown) => {
        assert.ok(error instanceof MongoBulkWriteError);
        assert.equal(error.code, 11000);
        assert.equal(error.insertedCount, 1);
        assert.deepEqual(
          (Array.isArray(error.writeErrors) ? error.writeErrors : [error.writeErrors]).map(
            (w) => w.index,
          ),
          [1],
        );
        return true;
      },
    );
    await assert.rejects(
      users.insertMany([{ email: 'a@x' }, { email: 'd@x' }], { ordered: false }),
      MongoBulkWriteError,
    );
    assert.equal(await users.countDocuments({ email: 'd@x' }), 1);
    await assert.rejects(users.updateOne({ email: 'd@x' }, { $set: { email: 'a@x' } }), {
      code: 11000,
    });
    const indexes = await users.listIndexes().toArray();
    assert.deepEqual(
      indexes.map((i) => [i.name, i.unique === true]),
      [
        ['_id_', false],
        ['email_1', true],
      ],
    );
    await users.dropIndex('email_1');
    await users.insertOne({ email: 'a@x' });
  });

  it('cursors: batchSize and getMore, early close kills the cursor, limit and singleBatch', async () => {
    const nums = client.db('shop').collection<AnyDoc>('nums');
    await nums.insertMany(Array.from({ length: 25 }, (_, i) => ({ _id: i, i })));
    const seen: number[] = [];
    for await (const doc of nums.find({}, { batchSize: 4 })) seen.push(doc.i as number);
    assert.equal(seen.length, 25);
    const cursor = nums.find({}, { batchSize: 3 });
    assert.equal((await cursor.next())?.i, 0);
    await cursor.close();
    assert.equal((await nums.find({}, { limit: 5, batchSize: 2 }).toArray()).length, 5);
    assert.equal((await nums.find({}).limit(-3).toArray()).length, 3);
    assert.equal(
      (await nums.aggregate([{ $match: { i: { $lt: 10 } } }], { batchSize: 2 }).toArray()).length,
      10,
    );
    await assert.rejects(
      client.db('shop').command({ getMore: Long.fromNumber(123456), collection: 'nums' }),
      { code: 43, codeName: 'CursorNotFound' },
    );
  });

  it('listDatabases, listCollections (nameOnly, filter), create, drop, dropDatabase', async () => {
    const db = client.db('catalog');
    await db.createCollection('a');
    await db.collection<AnyDoc>('b').insertOne({ x: 1 });
    await assert.rejects(db.createCollection('a'), { code: 48 });
    const names = (await client.db('admin').admin().listDatabases()).databases.map((d) => d.name);
    assert.ok(names.includes('catalog'));
    assert.deepEqual(
      (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name),
      ['a', 'b'],
    );
    assert.deepEqual(
      (await db.listCollections({ name: 'b' }).toArray()).map((c) => c.name),
      ['b'],
    );
    assert.equal(await db.collection<AnyDoc>('a').drop(), true);
    assert.deepEqual(
      (await db.listCollections().toArray()).map((c) => c.name),
      ['b'],
    );
    assert.equal(await db.dropDatabase(), true);
    assert.ok(
      !(await client.db('admin').admin().listDatabases()).databases.some(
        (d) => d.name === 'catalog',
      ),
    );
  });
});

describe('mongo wire endpoint: change streams', () => {
  it('collection.watch() receives an insert made through the driver and one made through the engine', async () => {
    const feed = client.db('live').collection<AnyDoc>('orders');
    const stream = feed.watch();
    const changes = nextChanges(stream, 2);
    await opened(stream);
    await feed.insertOne({ _id: 'driver', via: 'driver' });
    await engine.insertOne({
      ns: { db: 'live', coll: 'orders' },
      document: { _id: 'engine', via: 'engine' },
    });
    const [first, second] = await changes;
    assert.equal(first?.operationType, 'insert');
    assert.deepEqual((first as { fullDocument?: unknown }).fullDocument, {
      _id: 'driver',
      via: 'driver',
    });
    assert.deepEqual((second as { documentKey?: unknown }).documentKey, { _id: 'engine' });
    await stream.close();
  });

  it('updateLookup, pre-images, $match after $changeStream, and resumeAfter a token', async () => {
    const feed = client.db('live').collection<AnyDoc>('items');
    await feed.insertOne({ _id: 1, n: 1 });
    const stream = feed.watch([{ $match: { operationType: { $in: ['update', 'delete'] } } }], {
      fullDocument: 'updateLookup',
      fullDocumentBeforeChange: 'whenAvailable',
    });
    const changes = nextChanges(stream, 2);
    await opened(stream);
    await feed.insertOne({ _id: 2, n: 2 });
    await feed.updateOne({ _id: 1 }, { $set: { n: 10 } });
    await feed.deleteOne({ _id: 2 });
    const [update, remove] = (await changes) as Document[];
    assert.equal(update?.operationType, 'update');
    assert.deepEqual(update?.updateDescription.updatedFields, { n: 10 });
    assert.deepEqual(update?.fullDocument, { _id: 1, n: 10 });
    assert.deepEqual(update?.fullDocumentBeforeChange, { _id: 1, n: 1 });
    assert.equal(remove?.operationType, 'delete');
    assert.deepEqual(remove?.fullDocumentBeforeChange, { _id: 2, n: 2 });
    await stream.close();

    // Resuming after the update replays what came after it (the delete) from the endpoint's ring.
    const resumed = feed.watch([], { resumeAfter: update?._id });
    const replayed = nextChanges(resumed, 1);
    const [again] = await replayed;
    assert.equal(again?.operationType, 'delete');
    await resumed.close();

    const lost = feed.watch([], { resumeAfter: { _data: '8200000001000000010000000004' } });
    await assert.rejects(lost.next(), { code: 286 });
    await lost.close();
  });

  it('a dropped collection ends its stream with invalidate; a database stream sees every collection', async () => {
    const db = client.db('gone');
    const coll = db.collection<AnyDoc>('c');
    await coll.insertOne({ x: 1 });
    const collStream = coll.watch();
    const dbStream = db.watch();
    const collChanges = nextChanges(collStream, 2);
    const dbChanges = nextChanges(dbStream, 2);
    await Promise.all([opened(collStream), opened(dbStream)]);
    await db.collection<AnyDoc>('other').insertOne({ y: 1 });
    await coll.drop();
    assert.deepEqual(
      (await collChanges).map((c) => c.operationType),
      ['drop', 'invalidate'],
    );
    assert.deepEqual(
      (await dbChanges).map((c) => [c.operationType, (c as { ns?: { coll?: string } }).ns?.coll]),
      [
        ['insert', 'other'],
        ['drop', 'c'],
      ],
    );
    await collStream.close();
    await dbStream.close();
  });

  it('client.watch() on the whole deployment', async () => {
    const stream = client.watch();
    const changes = nextChanges(stream, 1);
    await opened(stream);
    await client.db('anywhere').collection<AnyDoc>('x').insertOne({ a: 1 });
    assert.equal((await changes)[0]?.operationType, 'insert');
    await stream.close();
  });
});

describe('mongo wire endpoint: errors and protocol', () => {
  it('an unsupported command fails with CommandNotFound naming it, and the connection goes on', async () => {
    await assert.rejects(client.db('admin').command({ fsync: 1 }), (error: unknown) => {
      assert.ok(error instanceof MongoServerError);
      assert.equal(error.code, 59);
      assert.equal(error.codeName, 'CommandNotFound');
      assert.equal(error.message, "no such command: 'fsync'");
      return true;
    });
    assert.deepEqual(await client.db('admin').command({ ping: 1 }), { ok: 1 });
  });

  it('unsupported stages and transactions fail with MongoDB-shaped errors', async () => {
    const coll = client.db('shop').collection<AnyDoc>('orders');
    await assert.rejects(coll.aggregate([{ $out: 'x' }]).toArray(), { code: 115 });
    const session = client.startSession();
    session.startTransaction();
    await assert.rejects(coll.insertOne({ t: 1 }, { session }), {
      code: 115,
      message: /Transactions are not supported/,
    });
    await session.abortTransaction();
    await session.endSession();
  });

  it('hello presents a writable primary of a one-node replica set', async () => {
    const hello = await client.db('admin').command({ hello: 1 });
    assert.equal(hello.isWritablePrimary, true);
    assert.equal(hello.setName, 'triggerbox');
    assert.deepEqual(hello.hosts, [`127.0.0.1:${endpoint.port}`]);
    assert.ok(hello.maxWireVersion >= 21);
    assert.equal(hello.logicalSessionTimeoutMinutes, 30);
    assert.ok(hello.topologyVersion);
  });

  it('standalone: hello without a replica set; $changeStream fails with 40573 as mongod', async () => {
    const own = await EmbeddedEngine.open();
    const standalone = await startMongoEndpoint({ engine: own, port: 0, standalone: true });
    const driver = new MongoClient(standalone.uri);
    try {
      const hello = await driver.db('admin').command({ hello: 1 });
      assert.equal(hello.isWritablePrimary, true);
      assert.equal(hello.setName, undefined);
      assert.equal(hello.hosts, undefined);
      // CRUD still works; change streams do not, with the real server's error.
      await driver.db('s').collection('c').insertOne({ a: 1 });
      const stream = driver.db('s').collection('c').watch();
      await assert.rejects(stream.next(), {
        name: 'MongoServerError',
        code: 40573,
        codeName: 'Location40573',
        message: 'The $changeStream stage is only supported on replica sets',
      });
      await stream.close();
    } finally {
      await driver.close();
      await standalone.close();
      await own.close();
    }
  });

  it('an endpoint closed and started again over the same engine keeps the change history: a stream resumes past the gap', async () => {
    const own = await EmbeddedEngine.open();
    const first = await startMongoEndpoint({ engine: own, port: 0 });
    const port = first.port;
    const ns = { db: 'restart', coll: 'items' };
    let driver = new MongoClient(first.uri);
    let token: unknown;
    try {
      const stream = driver.db(ns.db).collection(ns.coll).watch();
      const seen = nextChanges(stream, 1);
      await opened(stream);
      await own.insertOne({ ns, document: { _id: 1 } });
      token = (await seen)[0]?._id;
      await stream.close();
    } finally {
      await driver.close();
      await first.close();
    }
    // Written while no endpoint listens.
    await own.insertOne({ ns, document: { _id: 2 } });
    const second = await startMongoEndpoint({ engine: own, port });
    driver = new MongoClient(second.uri);
    try {
      const resumed = driver.db(ns.db).collection(ns.coll).watch([], { resumeAfter: token });
      const [next] = await nextChanges(resumed, 1);
      assert.equal(next?.operationType, 'insert');
      assert.deepEqual(next?.documentKey, { _id: 2 });
      await resumed.close();
    } finally {
      await driver.close();
      await second.close();
      await own.close();
    }
  });

  it('credentials in the URI get a clear authentication error (there is none to pass)', async () => {
    const withAuth = new MongoClient(`mongodb://user:pw@127.0.0.1:${endpoint.port}/`, {
      serverSelectionTimeoutMS: 2000,
    });
    await assert.rejects(withAuth.connect(), /no authentication: connect without credentials/);
    await withAuth.close();
  });

  it("the drivers' monitor gets streamed hello replies (exhaust) and stays connected", async () => {
    const monitored = new MongoClient(endpoint.uri, { heartbeatFrequencyMS: 500 });
    const beats: boolean[] = [];
    const streamed = new Promise<void>((resolve) =>
      monitored.on('serverHeartbeatSucceeded', (event) => {
        beats.push(event.awaited);
        if (beats.filter(Boolean).length >= 2) resolve();
      }),
    );
    monitored.on('serverHeartbeatFailed', (event) =>
      assert.fail(`heartbeat failed: ${String(event.failure)}`),
    );
    await monitored.connect();
    await streamed;
    assert.deepEqual(await monitored.db('admin').command({ ping: 1 }), { ok: 1 });
    await monitored.close();
  });

  it('raw OP_MSG with a checksum and a kind-1 document sequence; OP_QUERY isMaster gets OP_REPLY', async () => {
    const reply = await rawExchange(
      opMsg(
        { insert: 'raw', $db: 'proto' },
        { checksum: true, sequence: ['documents', [{ _id: 1 }, { _id: 2 }]] },
      ),
    );
    assert.notEqual(reply, 'closed');
    if (reply === 'closed') return;
    assert.equal(reply.opCode, 2013);
    assert.equal(reply.responseTo, 7);
    assert.deepEqual(reply.doc, { n: 2, ok: 1 });
    const legacy = await rawExchange(opQuery('admin.$cmd', { isMaster: 1, helloOk: true }));
    assert.notEqual(legacy, 'closed');
    if (legacy === 'closed') return;
    assert.equal(legacy.opCode, 1);
    assert.equal(legacy.doc.ismaster, true);
    const other = await rawExchange(opQuery('proto.$cmd', { find: 'raw' }));
    assert.equal(other !== 'closed' && other.doc.code, 352);
  });

  it('an awaitable hello without exhaustAllowed gets one plain reply after maxAwaitTimeMS', async () => {
    const { topologyVersion } = await client.db('admin').command({ hello: 1 });
    const reply = await rawExchange(
      opMsg({ hello: 1, topologyVersion, maxAwaitTimeMS: 20, $db: 'admin' }),
    );
    assert.notEqual(reply, 'closed');
    if (reply === 'closed') return;
    assert.equal(reply.doc.isWritablePrimary, true);
  });

  it('a malformed or oversized message closes only its own connection, with the reason logged', async () => {
    const garbage = opMsg({ ping: 1, $db: 'admin' });
    garbage[21] = 0x7f; // the body's length now runs past the message
    assert.equal(await rawExchange(garbage), 'closed');
    const badChecksum = opMsg({ ping: 1, $db: 'admin' }, { checksum: true });
    badChecksum[badChecksum.length - 1] = badChecksum.at(-1)! ^ 0xff;
    assert.equal(await rawExchange(badChecksum), 'closed');
    const huge = Buffer.alloc(16);
    huge.writeInt32LE(48_000_001, 0);
    huge.writeInt32LE(2013, 12);
    assert.equal(await rawExchange(huge), 'closed');
    const messages = log.entries.map((e) => e.message).join('\n');
    assert.match(messages, /runs past/);
    assert.match(messages, /checksum mismatch/);
    assert.match(messages, /over the 48000000-byte limit/);
    const second = new MongoClient(endpoint.uri);
    assert.equal(await second.db('shop').collection<AnyDoc>('orders').countDocuments(), 3);
    await second.close();
  });

  it('listens on loopback only', async () => {
    await assert.rejects(startMongoEndpoint({ engine, host: '0.0.0.0' }), /loopback only/);
  });
});
