// One set of collection-API tests, run over every Engine: the embedded engine directly, the
// official driver (createDriverEngine) connected to the wire endpoint that sits on an embedded
// engine, and a real MongoDB when TRIGGERBOX_TEST_MONGODB_URI is set (a replica set, for change
// streams), e.g.
//   TRIGGERBOX_TEST_MONGODB_URI='mongodb+srv://user:pw@cluster0.example.mongodb.net/' \
//     scripts/node.sh 24 node --no-node-snapshot --test dist/test/mongo-conformance.test.js
// Each test works in its own database (tbconf_<run>_<n>), dropped at the end.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Decimal128, Long, ObjectId } from 'bson';
import {
  EmbeddedEngine,
  MongoError,
  createDriverEngine,
  createMongoService,
  redactText,
  redactUri,
  startMongoEndpoint,
  type ChangeEvent,
  type Engine,
  type WatchRequest,
} from '../src/services/mongodb/index.js';
import { TriggerboxError } from '../src/shared/errors.js';

interface Opened {
  engine: Engine;
  close(): Promise<void>;
}

interface Target {
  name: string;
  open(): Promise<Opened>;
  /** Pre-images need changeStreamPreAndPostImages on a real collection; the engine always has them. */
  preImages: boolean;
  skip?: string | undefined;
}

const realUri = process.env.TRIGGERBOX_TEST_MONGODB_URI;

const targets: Target[] = [
  {
    name: 'the embedded engine',
    preImages: true,
    async open() {
      const engine = await EmbeddedEngine.open();
      return { engine, close: () => engine.close() };
    },
  },
  {
    name: 'the official driver over the wire endpoint',
    preImages: true,
    async open() {
      const embedded = await EmbeddedEngine.open();
      const endpoint = await startMongoEndpoint({ engine: embedded });
      const engine = createDriverEngine({
        uri: endpoint.uri,
        clientOptions: { serverSelectionTimeoutMS: 5000 },
      });
      await engine.connect();
      return {
        engine,
        async close() {
          await engine.close();
          await endpoint.close();
          await embedded.close();
        },
      };
    },
  },
  {
    name: 'a real MongoDB (TRIGGERBOX_TEST_MONGODB_URI)',
    preImages: false,
    skip: realUri
      ? undefined
      : 'TRIGGERBOX_TEST_MONGODB_URI is not set (a replica-set URI runs this suite against a real MongoDB)',
    async open() {
      const engine = createDriverEngine({ uri: realUri! });
      await engine.connect();
      return { engine, close: () => engine.close() };
    },
  },
];

/** Collects a subscription's events; `next(n)` resolves once n more have arrived. */
function collect(engine: Engine, request: WatchRequest) {
  const events: ChangeEvent[] = [];
  let waiting: { count: number; resolve: () => void } | undefined;
  const subscription = engine.watch(request, (event) => {
    events.push(event);
    if (waiting && events.length >= waiting.count) waiting.resolve();
  });
  return {
    events,
    ready: subscription.ready ?? Promise.resolve(),
    until(count: number): Promise<ChangeEvent[]> {
      if (events.length >= count) return Promise.resolve(events.slice(0, count));
      return new Promise((resolve) => {
        waiting = { count, resolve: () => resolve(events.slice(0, count)) };
      });
    },
    close: () => subscription.close(),
  };
}

function mongoCode(error: unknown): number | undefined {
  return error instanceof MongoError ? error.mongoCode : undefined;
}

const run = randomBytes(3).toString('hex');

for (const target of targets) {
  describe(`conformance over ${target.name}`, { skip: target.skip }, () => {
    let opened: Opened;
    let engine: Engine;
    const dbs: string[] = [];
    const newDb = () => {
      const name = `tbconf_${run}_${dbs.length}`;
      dbs.push(name);
      return name;
    };

    before(async () => {
      opened = await target.open();
      engine = opened.engine;
    });

    after(async () => {
      if (!opened) return;
      for (const db of dbs) await engine.dropDatabase({ db }).catch(() => {});
      await opened.close();
    });

    it('insert and read back: ids, projection, sort/skip/limit, BSON types, inputs untouched', async () => {
      const items = createMongoService({ engine }).db(newDb()).collection('items');
      const input = { name: 'lego', qty: 2 };
      const { insertedId } = await items.insertOne(input);
      assert.ok(insertedId instanceof ObjectId);
      assert.deepEqual(input, { name: 'lego', qty: 2 });
      assert.deepEqual(
        await items.insertMany([
          { _id: 1, name: 'a', qty: 5 },
          { _id: 2, name: 'b', qty: 1 },
        ]),
        { insertedIds: [1, 2] },
      );
      assert.deepEqual(await items.findOne({ _id: 1 }, { qty: 1 }), { _id: 1, qty: 5 });
      assert.deepEqual(
        await items.find({}, { name: 1, _id: 0 }).sort({ qty: -1 }).skip(1).limit(1).toArray(),
        [{ name: 'lego' }],
      );
      assert.equal(await items.findOne({ name: 'none' }), null);
      const typed = {
        _id: 'types',
        long: Long.fromString('9007199254740993'),
        dec: Decimal128.fromString('1.10'),
        at: new Date(1_700_000_000_000),
        oid: new ObjectId('65a1b2c3d4e5f60718293a4b'),
        nested: { list: [1, 'two', { three: 3 }] },
      };
      await items.insertOne(typed);
      const back = await items.findOne({ _id: 'types' });
      assert.ok(back && Long.isLong(back.long));
      assert.equal(String(back.long), '9007199254740993');
      assert.ok(back.dec instanceof Decimal128);
      assert.equal(String(back.dec), '1.10');
      assert.deepEqual(back.at, typed.at);
      assert.ok(back.oid instanceof ObjectId && back.oid.equals(typed.oid));
      assert.deepEqual(back.nested, typed.nested);
    });

    it('updates: operators, upsert, replacement by updateOne, multi replacement refused, arrayFilters', async () => {
      const items = createMongoService({ engine }).db(newDb()).collection('items');
      await items.insertMany([
        { _id: 1, n: 1, tags: ['a'], grades: [80, 95] },
        { _id: 2, n: 2, tags: [], grades: [70] },
      ]);
      assert.deepEqual(
        await items.updateOne({ _id: 1 }, { $inc: { n: 10 }, $push: { tags: 'b' } }),
        {
          matchedCount: 1,
          modifiedCount: 1,
        },
      );
      assert.deepEqual(await items.findOne({ _id: 1 }), {
        _id: 1,
        n: 11,
        tags: ['a', 'b'],
        grades: [80, 95],
      });
      assert.deepEqual(await items.updateMany({}, { $set: { seen: true } }), {
        matchedCount: 2,
        modifiedCount: 2,
      });
      const upserted = await items.updateOne({ _id: 3 }, { $set: { n: 3 } }, { upsert: true });
      assert.deepEqual(upserted, { matchedCount: 0, modifiedCount: 0, upsertedId: 3 });
      await items.updateOne({ _id: 3 }, { replaced: true });
      assert.deepEqual(await items.findOne({ _id: 3 }), { _id: 3, replaced: true });
      await assert.rejects(items.updateMany({}, { plain: 1 }), (error: unknown) => {
        assert.equal(mongoCode(error), 9);
        return true;
      });
      await items.updateOne(
        { _id: 1 },
        { $set: { 'grades.$[high]': 100 } },
        { arrayFilters: [{ high: { $gte: 90 } }] },
      );
      assert.deepEqual((await items.findOne({ _id: 1 }, { grades: 1 }))?.grades, [80, 100]);
      await assert.rejects(items.updateOne({ _id: 1 }, { $inc: { tags: 1 } }), (error: unknown) => {
        assert.equal(mongoCode(error), 14);
        return true;
      });
      assert.deepEqual(await items.replaceOne({ _id: 2 }, { n: 20 }), {
        matchedCount: 1,
        modifiedCount: 1,
      });
    });

    it('findOneAnd*, deletes, count, distinct, aggregate with $lookup', async () => {
      const db = createMongoService({ engine }).db(newDb());
      const orders = db.collection('orders');
      const users = db.collection('users');
      await users.insertMany([
        { _id: 'ann', city: 'Oslo' },
        { _id: 'bob', city: 'Rome' },
      ]);
      await orders.insertMany([
        { _id: 1, user: 'ann', total: 5 },
        { _id: 2, user: 'bob', total: 7 },
        { _id: 3, user: 'ann', total: 1 },
      ]);
      assert.deepEqual(
        await orders.findOneAndUpdate(
          { _id: 1 },
          { $set: { total: 6 } },
          { returnNewDocument: true },
        ),
        { _id: 1, user: 'ann', total: 6 },
      );
      assert.deepEqual(await orders.findOneAndUpdate({ _id: 1 }, { $set: { total: 9 } }), {
        _id: 1,
        user: 'ann',
        total: 6,
      });
      assert.deepEqual(
        await orders.findOneAndReplace(
          { _id: 3 },
          { user: 'ann', total: 2 },
          { returnNewDocument: true },
        ),
        { _id: 3, user: 'ann', total: 2 },
      );
      assert.deepEqual(await orders.findOneAndDelete({ user: 'bob' }), {
        _id: 2,
        user: 'bob',
        total: 7,
      });
      assert.equal(await orders.count(), 2);
      assert.equal(await orders.countDocuments({ total: { $gt: 5 } }), 1);
      assert.deepEqual(await users.distinct('city', {}), ['Oslo', 'Rome']);
      const joined = await orders
        .aggregate([
          { $group: { _id: '$user', sum: { $sum: '$total' } } },
          { $lookup: { from: 'users', localField: '_id', foreignField: '_id', as: 'who' } },
          { $project: { sum: 1, city: { $first: '$who.city' } } },
        ])
        .toArray();
      assert.deepEqual(joined, [{ _id: 'ann', sum: 11, city: 'Oslo' }]);
      assert.deepEqual(await orders.deleteMany({ user: 'ann' }), { deletedCount: 2 });
      assert.deepEqual(await orders.deleteOne({ user: 'ann' }), { deletedCount: 0 });
    });

    it('unique indexes: E11000 with keyValue, listing, an ordered insertMany stops at the duplicate', async () => {
      const db = newDb();
      const ns = { db, coll: 'users' };
      assert.equal(await engine.createIndex({ ns, key: { email: 1 }, unique: true }), 'email_1');
      await engine.insertOne({ ns, document: { _id: 1, email: 'a@x' } });
      await assert.rejects(
        engine.insertOne({ ns, document: { _id: 2, email: 'a@x' } }),
        (error: unknown) => {
          assert.ok(error instanceof MongoError);
          assert.equal(error.mongoCode, 11000);
          assert.match(
            error.message,
            /^E11000 duplicate key error collection: tbconf_\w+\.users index: email_1 dup key/,
          );
          assert.deepEqual(error.info.keyValue, { email: 'a@x' });
          return true;
        },
      );
      await assert.rejects(engine.insertOne({ ns, document: { _id: 1 } }), (error: unknown) => {
        assert.equal(mongoCode(error), 11000);
        return true;
      });
      await assert.rejects(
        engine.insertMany({
          ns,
          documents: [
            { _id: 3, email: 'b@x' },
            { _id: 4, email: 'a@x' },
            { _id: 5, email: 'c@x' },
          ],
        }),
        (error: unknown) => {
          assert.ok(error instanceof MongoError);
          assert.equal(error.mongoCode, 11000);
          const writeErrors = error.info.writeErrors as { index: number; code: number }[];
          assert.deepEqual(
            writeErrors.map((w) => [w.index, w.code]),
            [[1, 11000]],
          );
          assert.equal(error.info.insertedCount, 1);
          return true;
        },
      );
      assert.equal(await engine.countDocuments({ ns }), 2);
      const specs = await engine.listIndexes({ ns });
      assert.deepEqual(
        specs.map((s) => [s.name, s.key, s.unique === true]),
        [
          ['_id_', { _id: 1 }, false],
          ['email_1', { email: 1 }, true],
        ],
      );
      await engine.dropIndex({ ns, name: 'email_1' });
      await engine.insertOne({ ns, document: { _id: 6, email: 'a@x' } });
      await assert.rejects(
        engine.listIndexes({ ns: { db, coll: 'missing' } }),
        (error: unknown) => {
          assert.equal(mongoCode(error), 26);
          return true;
        },
      );
    });

    it('bulkWrite: mixed operations; an ordered failure keeps what came before it', async () => {
      const db = newDb();
      const ns = { db, coll: 'bulk' };
      const result = await engine.bulkWrite({
        ns,
        operations: [
          { insertOne: { document: { _id: 1, n: 1 } } },
          { insertOne: { document: { _id: 2, n: 2 } } },
          { updateOne: { filter: { _id: 1 }, update: { $set: { n: 10 } } } },
          { updateMany: { filter: {}, update: { $inc: { n: 1 } } } },
          { replaceOne: { filter: { _id: 9 }, replacement: { n: 9 }, upsert: true } },
          { deleteOne: { filter: { _id: 2 } } },
        ],
      });
      assert.deepEqual(
        [
          result.insertedCount,
          result.matchedCount,
          result.modifiedCount,
          result.deletedCount,
          result.upsertedCount,
        ],
        [2, 3, 3, 1, 1],
      );
      assert.equal(result.upsertedIds[4], 9);
      await assert.rejects(
        engine.bulkWrite({
          ns,
          operations: [
            { insertOne: { document: { _id: 20 } } },
            { insertOne: { document: { _id: 1 } } },
            { insertOne: { document: { _id: 21 } } },
          ],
        }),
        (error: unknown) => {
          assert.equal(mongoCode(error), 11000);
          return true;
        },
      );
      assert.deepEqual(
        (await (await engine.find({ ns, sort: { _id: 1 } })).toArray()).map((d) => d._id),
        [1, 9, 20],
      );
    });

    it('collections and databases: create (48 when it exists), list, drop, dropDatabase', async () => {
      const db = newDb();
      await engine.createCollection({ ns: { db, coll: 'a' } });
      await assert.rejects(engine.createCollection({ ns: { db, coll: 'a' } }), (error: unknown) => {
        assert.equal(mongoCode(error), 48);
        return true;
      });
      await engine.insertOne({ ns: { db, coll: 'b' }, document: { x: 1 } });
      assert.deepEqual(await engine.listCollections({ db }), [
        { name: 'a', type: 'collection' },
        { name: 'b', type: 'collection' },
      ]);
      assert.ok((await engine.listDatabases()).some((d) => d.name === db));
      assert.equal(await engine.dropCollection({ ns: { db, coll: 'a' } }), true);
      assert.equal(await engine.dropCollection({ ns: { db, coll: 'a' } }), false);
      assert.equal(await engine.estimatedDocumentCount({ ns: { db, coll: 'b' } }), 1);
      await engine.dropDatabase({ db });
      assert.ok(!(await engine.listDatabases()).some((d) => d.name === db));
    });

    it('the result cap fails a find or aggregate that would return too many documents', async () => {
      const items = createMongoService({ engine, resultLimit: 3 }).db(newDb()).collection('items');
      await items.insertMany([1, 2, 3, 4].map((n) => ({ _id: n })));
      await assert.rejects(items.find({}).toArray(), (error: unknown) => {
        assert.ok(error instanceof TriggerboxError);
        assert.equal(error.code, 'MongoResultLimitExceeded');
        return true;
      });
      await assert.rejects(items.aggregate([{ $match: {} }]).toArray(), /exceed the limit of 3/);
      assert.equal((await items.find({}).limit(3).toArray()).length, 3);
    });

    it('watch: insert, update (updateDescription, updateLookup, pre-image), replace, delete, in order', async () => {
      const db = newDb();
      const ns = { db, coll: 'feed' };
      await engine.createCollection({ ns });
      const all = collect(engine, {
        db,
        coll: 'feed',
        fullDocument: 'updateLookup',
        fullDocumentBeforeChange: target.preImages ? 'whenAvailable' : 'off',
      });
      const plain = collect(engine, { db, coll: 'feed' });
      await Promise.all([all.ready, plain.ready]);
      await engine.insertOne({ ns, document: { _id: 1, n: 1, list: [1, 2, 3] } });
      await engine.updateOne({
        ns,
        filter: { _id: 1 },
        update: { $set: { n: 2 }, $unset: { list: '' } },
      });
      await engine.replaceOne({ ns, filter: { _id: 1 }, replacement: { n: 3 } });
      await engine.deleteOne({ ns, filter: { _id: 1 } });
      const events = await all.until(4);
      assert.deepEqual(
        events.map((e) => e.operationType),
        ['insert', 'update', 'replace', 'delete'],
      );
      for (const event of events) {
        assert.deepEqual(event.ns, ns);
        assert.deepEqual(event.documentKey, { _id: 1 });
        assert.equal(typeof event._id._data, 'string');
        assert.ok(event.wallTime instanceof Date);
      }
      const [insert, update, replace, remove] = events;
      assert.deepEqual(insert?.fullDocument, { _id: 1, n: 1, list: [1, 2, 3] });
      assert.deepEqual(update?.updateDescription, {
        updatedFields: { n: 2 },
        removedFields: ['list'],
        truncatedArrays: [],
      });
      assert.deepEqual(update?.fullDocument, { _id: 1, n: 2 });
      assert.deepEqual(replace?.fullDocument, { _id: 1, n: 3 });
      if (target.preImages) {
        assert.deepEqual(update?.fullDocumentBeforeChange, { _id: 1, n: 1, list: [1, 2, 3] });
        assert.deepEqual(remove?.fullDocumentBeforeChange, { _id: 1, n: 3 });
      }
      // Resume tokens sort in commit order.
      const tokens = events.map((e) => e._id._data);
      assert.deepEqual([...tokens].sort(), tokens);
      const plainEvents = await plain.until(4);
      assert.equal(plainEvents[1]?.fullDocument, undefined);
      assert.equal(plainEvents[3]?.fullDocumentBeforeChange, undefined);
      all.close();
      plain.close();
    });

    it('watch scope: a collection subscription sees its collection only, a database one all of it', async () => {
      const db = newDb();
      const other = newDb();
      await engine.createCollection({ ns: { db, coll: 'a' } });
      await engine.createCollection({ ns: { db, coll: 'b' } });
      const onA = collect(engine, { db, coll: 'a' });
      const onDb = collect(engine, { db });
      await Promise.all([onA.ready, onDb.ready]);
      await engine.insertOne({ ns: { db: other, coll: 'a' }, document: { _id: 'elsewhere' } });
      await engine.insertOne({ ns: { db, coll: 'b' }, document: { _id: 'b1' } });
      await engine.insertOne({ ns: { db, coll: 'a' }, document: { _id: 'a1' } });
      assert.deepEqual(
        (await onA.until(1)).map((e) => e.documentKey?._id),
        ['a1'],
      );
      assert.deepEqual(
        (await onDb.until(2)).map((e) => e.documentKey?._id),
        ['b1', 'a1'],
      );
      onA.close();
      onDb.close();
    });
  });
}

describe('driver adapter: the URI never appears in clear', () => {
  const uri =
    'mongodb+srv://trigger%40user:S3cr%3At-pw@cluster0.abcde.mongodb.net/app?retryWrites=true&authMechanismProperties=AWS_SESSION_TOKEN:tok123456';

  it('redactUri keeps scheme, hosts and database; hides credentials and options', () => {
    assert.equal(
      redactUri(uri),
      'mongodb+srv://<credentials>@cluster0.abcde.mongodb.net/app?<options>',
    );
    assert.equal(redactUri('mongodb://127.0.0.1:27017/'), 'mongodb://127.0.0.1:27017/');
    assert.equal(redactUri('mongodb://a:b@h1:1,h2:2'), 'mongodb://<credentials>@h1:1,h2:2');
    assert.doesNotMatch(redactUri('not a uri with pw'), /pw/);
  });

  it('redactText removes the URI, the user info, the password (raw and decoded) and secret options', () => {
    const text = [
      `failed to connect to ${uri}`,
      'auth failed for trigger@user:S3cr:t-pw',
      'password S3cr%3At-pw was rejected',
      'token tok123456 expired',
      'other mongodb://x:y@elsewhere:1 quoted',
      'retryWrites=true stays readable',
    ].join('\n');
    const out = redactText(text, uri);
    for (const secret of ['S3cr', 'tok123456', 'x:y@'])
      assert.ok(!out.includes(secret), `${secret} in ${out}`);
    assert.match(
      out,
      /mongodb\+srv:\/\/<credentials>@cluster0\.abcde\.mongodb\.net\/app\?<options>/,
    );
    assert.match(out, /retryWrites=true stays readable/);
  });

  it('an unreachable cluster and an invalid URI fail with messages free of the credentials', async () => {
    const unreachable = createDriverEngine({
      uri: 'mongodb://admin:hunter2-secret@127.0.0.1:1/?directConnection=true',
      clientOptions: { serverSelectionTimeoutMS: 300, connectTimeoutMS: 300 },
    });
    await assert.rejects(unreachable.connect(), (error: unknown) => {
      assert.ok(error instanceof MongoError);
      assert.equal(error.codeName, 'HostUnreachable');
      assert.match(
        error.message,
        /cannot reach mongodb:\/\/<credentials>@127\.0\.0\.1:1\/\?<options>/,
      );
      assert.ok(!error.message.includes('hunter2'));
      assert.ok(!String(error.hint).includes('hunter2'));
      return true;
    });
    await unreachable.close();
    assert.throws(
      () => createDriverEngine({ uri: 'mongodb://admin:hunter2-secret@host:notaport/' }),
      (error: unknown) => {
        assert.ok(error instanceof TriggerboxError);
        assert.equal(error.code, 'InvalidInput');
        assert.ok(!error.message.includes('hunter2'), error.message);
        return true;
      },
    );
  });
});
