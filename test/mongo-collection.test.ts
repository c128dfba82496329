// The collection API as functions see it: result shapes from docs-app-services
// source/functions/mongodb/api.txt.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ObjectId } from 'bson';
import { createMongoService, EmbeddedEngine, MongoError } from '../src/services/mongodb/index.js';

async function service(resultLimit?: number) {
  const engine = await EmbeddedEngine.open();
  return { engine, mongodb: createMongoService({ engine, resultLimit }) };
}

describe('mongo collection API', () => {
  it('insertOne/insertMany/updateOne/deleteOne resolve to the platform shapes', async () => {
    const { mongodb } = await service();
    const items = mongodb.db('store').collection('items');
    const one = await items.insertOne({ name: 'lego' });
    assert.deepEqual(Object.keys(one), ['insertedId']);
    assert.ok(one.insertedId instanceof ObjectId);
    const many = await items.insertMany([
      { _id: 1, name: 'a' },
      { _id: 2, name: 'b' },
    ]);
    assert.deepEqual(many, { insertedIds: [1, 2] });
    assert.deepEqual(await items.updateOne({ _id: 1 }, { $set: { qty: 3 } }), {
      matchedCount: 1,
      modifiedCount: 1,
    });
    const upserted = await items.updateMany({ name: 'z' }, { $set: { qty: 0 } }, { upsert: true });
    assert.deepEqual(Object.keys(upserted), ['matchedCount', 'modifiedCount', 'upsertedId']);
    assert.deepEqual(await items.deleteOne({ _id: 2 }), { deletedCount: 1 });
    assert.deepEqual(await items.deleteMany({ qty: { $exists: true } }), { deletedCount: 2 });
    assert.equal(await items.count(), 1);
    assert.equal(await items.countDocuments({ name: 'lego' }), 1);
  });

  it('find takes the projection second; the cursor chains sort/skip/limit before the first read', async () => {
    const { mongodb } = await service();
    const items = mongodb.db('store').collection('items');
    await items.insertMany([1, 2, 3, 4].map((n) => ({ _id: n, n, even: n % 2 === 0 })));
    assert.deepEqual(await items.find({ even: true }, { n: 1, _id: 0 }).sort({ n: -1 }).toArray(), [
      { n: 4 },
      { n: 2 },
    ]);
    const cursor = items.find({}).sort({ n: 1 }).skip(1).limit(2);
    assert.deepEqual(await cursor.next(), { _id: 2, n: 2, even: true });
    assert.throws(() => cursor.limit(1), /after documents were read/);
    assert.deepEqual(await cursor.next(), { _id: 3, n: 3, even: false });
    assert.equal(await cursor.next(), undefined);
    assert.deepEqual(await items.findOne({ n: { $gt: 1 } }, { n: 1 }), { _id: 2, n: 2 });
    assert.equal(await items.findOne({ n: 99 }), null);
    const agg = items.aggregate([{ $sort: { n: -1 } }, { $project: { n: 1 } }]).skip(3);
    assert.deepEqual(await agg.toArray(), [{ _id: 1, n: 1 }]);
    assert.deepEqual(await items.distinct('even', {}), [false, true]);
  });

  it('findOneAndUpdate uses returnNewDocument; bulkWrite resolves to null', async () => {
    const { mongodb } = await service();
    const items = mongodb.db('store').collection('items');
    await items.insertOne({ _id: 1, n: 1 });
    assert.deepEqual(await items.findOneAndUpdate({ _id: 1 }, { $inc: { n: 1 } }), {
      _id: 1,
      n: 1,
    });
    assert.deepEqual(
      await items.findOneAndUpdate(
        { _id: 1 },
        { $inc: { n: 1 } },
        { returnNewDocument: true, projection: { _id: 0 } },
      ),
      { n: 3 },
    );
    assert.deepEqual(
      await items.findOneAndReplace({ _id: 1 }, { m: 1 }, { returnNewDocument: true }),
      { _id: 1, m: 1 },
    );
    assert.deepEqual(await items.findOneAndDelete({ _id: 1 }), { _id: 1, m: 1 });
    assert.equal(
      await items.bulkWrite([
        { insertOne: { document: { _id: 5 } } },
        { updateOne: { filter: { _id: 5 }, update: { $set: { a: 1 } } } },
      ]),
      null,
    );
    assert.deepEqual(await items.find().toArray(), [{ _id: 5, a: 1 }]);
  });

  it('an update document without operators replaces the document on updateOne', async () => {
    const { mongodb } = await service();
    const items = mongodb.db('store').collection('items');
    await items.insertOne({ _id: 1, a: 1, b: 2 });
    await items.updateOne({ _id: 1 }, { c: 3 });
    assert.deepEqual(await items.findOne({ _id: 1 }), { _id: 1, c: 3 });
  });

  it('getCollectionNames lists the collections of the database', async () => {
    const { mongodb } = await service();
    const db = mongodb.db('store');
    await db.collection('b').insertOne({});
    await db.collection('a').insertOne({});
    await mongodb.db('other').collection('c').insertOne({});
    assert.deepEqual(await db.getCollectionNames(), ['a', 'b']);
  });

  it('returns copies: changing a result never changes the stored document', async () => {
    const { mongodb } = await service();
    const items = mongodb.db('store').collection('items');
    const doc = { _id: 1, tags: ['a'], at: new Date(0) };
    await items.insertOne(doc);
    doc.tags.push('changed-input');
    const read = (await items.findOne({ _id: 1 }))!;
    (read.tags as string[]).push('changed-output');
    (read.at as Date).setTime(99);
    assert.deepEqual(await items.findOne({ _id: 1 }), { _id: 1, tags: ['a'], at: new Date(0) });
  });

  it('caps find and aggregate at the result limit (50,000 on the platform) with a clear error', async () => {
    const { mongodb } = await service(3);
    const items = mongodb.db('store').collection('items');
    await items.insertMany([1, 2, 3, 4].map((n) => ({ n })));
    await assert.rejects(
      items.find({}).toArray(),
      (e: MongoError) =>
        e.code === 'MongoResultLimitExceeded' && /limit of 3 documents/.test(e.message),
    );
    await assert.rejects(items.aggregate([]).toArray(), /limit of 3 documents/);
    assert.equal((await items.find({}).limit(3).toArray()).length, 3);
    assert.equal(
      (
        await createMongoService({ engine: (await service()).engine })
          .db('x')
          .collection('y')
          .find()
          .toArray()
      ).length,
      0,
    );
  });

  it('a duplicate key rejects with code 11000, as function error handling expects', async () => {
    const { mongodb } = await service();
    const items = mongodb.db('store').collection('items');
    await items.insertOne({ _id: 'k' });
    await assert.rejects(
      items.insertOne({ _id: 'k' }),
      (e: MongoError) =>
        e.mongoCode === 11000 &&
        e.codeName === 'DuplicateKey' &&
        e.message.includes('dup key: { _id: "k" }'),
    );
  });
});
