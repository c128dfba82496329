// The embedded engine: expected results are MongoDB's documented behaviour (manual pages of each
// operator), not what mingo happens to do.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Decimal128, Int32, Long, ObjectId, Timestamp } from 'bson';
import {
  EmbeddedEngine,
  MongoError,
  type ChangeEvent,
  type Doc,
} from '../src/services/mongodb/index.js';

const ns = { db: 'shop', coll: 'items' };

async function engineWith(docs: Doc[] = []): Promise<EmbeddedEngine> {
  const engine = await EmbeddedEngine.open();
  if (docs.length > 0) await engine.insertMany({ ns, documents: docs });
  return engine;
}

async function find(engine: EmbeddedEngine, filter: Doc, options: Doc = {}): Promise<Doc[]> {
  return (await engine.find({ ns, filter, ...options })).toArray();
}

async function update(
  engine: EmbeddedEngine,
  doc: Doc,
  change: Doc | Doc[],
  options: Doc = {},
): Promise<Doc> {
  await engine.deleteMany({ ns, filter: {} });
  await engine.insertOne({ ns, document: { _id: 1, ...doc } });
  await engine.updateOne({
    ns,
    filter: { _id: 1, ...(options.filter as Doc) },
    update: change,
    ...options,
  });
  return (await find(engine, { _id: 1 }))[0]!;
}

async function rejects(
  promise: Promise<unknown>,
  code: number,
  message: RegExp,
): Promise<MongoError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof MongoError, `not a MongoError: ${String(error)}`);
    assert.equal(error.mongoCode, code, error.message);
    assert.match(error.message, message);
    return error;
  }
  assert.fail('expected a failure');
}

describe('mongo engine: inserts and _id', () => {
  it('generates an ObjectId _id first in the document, keeps given ids, natural order', async () => {
    const engine = await engineWith();
    const { insertedId } = await engine.insertOne({ ns, document: { name: 'a' } });
    assert.ok(insertedId instanceof ObjectId);
    await engine.insertOne({ ns, document: { name: 'b', _id: 7 } });
    const docs = await find(engine, {});
    assert.deepEqual(Object.keys(docs[0]!), ['_id', 'name']);
    assert.deepEqual(
      docs.map((d) => d.name),
      ['a', 'b'],
    );
    assert.equal(docs[1]!._id, 7);
  });

  it('E11000 on a duplicate _id, numbers equal across types, nothing written', async () => {
    const engine = await engineWith([{ _id: 1 }]);
    const error = await rejects(
      engine.insertOne({ ns, document: { _id: Long.fromNumber(1), x: 1 } }),
      11000,
      /^E11000 duplicate key error collection: shop\.items index: _id_ dup key: \{ _id: 1 \}$/,
    );
    assert.deepEqual(error.info.keyValue, { _id: Long.fromNumber(1) });
    assert.equal(await engine.countDocuments({ ns }), 1);
  });

  it('insertMany ordered keeps the documents before the failure; unordered goes on', async () => {
    const engine = await engineWith([{ _id: 2 }]);
    const error = await rejects(
      engine.insertMany({ ns, documents: [{ _id: 1 }, { _id: 2 }, { _id: 3 }] }),
      11000,
      /E11000/,
    );
    assert.deepEqual(error.info.insertedIds, { 0: 1 });
    assert.deepEqual(
      (await find(engine, {})).map((d) => d._id),
      [2, 1],
    );
    await rejects(
      engine.insertMany({ ns, documents: [{ _id: 2 }, { _id: 4 }], ordered: false }),
      11000,
      /E11000/,
    );
    assert.deepEqual(
      (await find(engine, {})).map((d) => d._id),
      [2, 1, 4],
    );
  });

  it('refuses a write of a non-document and an array _id', async () => {
    const engine = await engineWith();
    await rejects(
      engine.insertOne({ ns, document: 5 as never }),
      14,
      /wrong type 'int', expected type 'object'/,
    );
    await rejects(engine.insertOne({ ns, document: [] as never }), 14, /wrong type 'array'/);
    await rejects(engine.insertOne({ ns, document: { _id: [1] } }), 53, /cannot be of type array/);
    assert.equal(await engine.countDocuments({ ns }), 0);
  });

  it('keeps BSON types as given; Int32 reads back as a number, as a BSON round trip gives it', async () => {
    const engine = await engineWith();
    const doc = {
      _id: new ObjectId(),
      l: Long.fromString('9007199254740993'),
      d: Decimal128.fromString('0.10'),
      i: new Int32(3),
      at: new Date(5),
    };
    await engine.insertOne({ ns, document: doc });
    const [back] = await find(engine, {});
    assert.ok(back!.l instanceof Long && back!.l.toString() === '9007199254740993');
    assert.ok(back!.d instanceof Decimal128 && back!.d.toString() === '0.10');
    assert.equal(back!.i, 3);
    assert.deepEqual(back!.at, new Date(5));
  });
});

describe('mongo engine: queries', () => {
  const docs = [
    { _id: 1, n: 5, tags: ['a', 'b'], items: [{ q: 1 }, { q: 5 }] },
    { _id: 2, n: Long.fromNumber(10), tags: ['c'] },
    { _id: 3, n: Decimal128.fromString('9.5') },
    { _id: 4, n: 'text' },
    { _id: 5 },
  ];

  it('compares numbers by value across Int32, Long, Double and Decimal128', async () => {
    const engine = await engineWith(docs);
    const ids = async (filter: Doc) => (await find(engine, filter)).map((d) => d._id);
    assert.deepEqual(await ids({ n: { $gt: 9 } }), [2, 3]);
    assert.deepEqual(await ids({ n: Long.fromNumber(5) }), [1]);
    assert.deepEqual(await ids({ n: 10 }), [2]);
    assert.deepEqual(await ids({ n: { $lt: Decimal128.fromString('10') } }), [1, 3]);
    assert.deepEqual(await ids({ n: { $in: [Decimal128.fromString('5.0'), 'text'] } }), [1, 4]);
    // Type bracketing: $gt on a number never matches a string.
    assert.deepEqual(await ids({ n: { $gte: 0 } }), [1, 2, 3]);
    assert.deepEqual(await ids({ n: null }), [5]);
    assert.deepEqual(await ids({ n: { $type: 'long' } }), [2]);
    assert.deepEqual(await ids({ n: { $type: 'number' } }), [1, 2, 3]);
    assert.deepEqual(await ids({ tags: 'b' }), [1]);
    assert.deepEqual(await ids({ 'items.q': { $gt: 3 } }), [1]);
    assert.deepEqual(
      await ids({ $expr: { $and: [{ $isNumber: '$n' }, { $gt: ['$n', 9.9] }] } }),
      [2],
    );
  });

  it('sorts in the server order of types, numbers by value; skip, limit and projection', async () => {
    const engine = await engineWith(docs);
    const sorted = await find(engine, {}, { sort: { n: 1 } });
    assert.deepEqual(
      sorted.map((d) => d._id),
      [5, 1, 3, 2, 4],
    );
    const page = await find(
      engine,
      {},
      { sort: { n: -1 }, skip: 1, limit: 2, projection: { n: 1 } },
    );
    assert.deepEqual(page, [
      { _id: 2, n: Long.fromNumber(10) },
      { _id: 3, n: Decimal128.fromString('9.5') },
    ]);
    assert.deepEqual(await find(engine, { _id: 1 }, { projection: { tags: 0, items: 0 } }), [
      { _id: 1, n: 5 },
    ]);
  });

  it('fails unknown operators and malformed filters as the server does', async () => {
    const engine = await engineWith(docs);
    await rejects(engine.find({ ns, filter: { n: { $foo: 1 } } }), 2, /^unknown operator: \$foo$/);
    await rejects(
      engine.find({ ns, filter: { $bar: 1 } }),
      2,
      /^unknown top level operator: \$bar/,
    );
    await rejects(engine.find({ ns, filter: { n: { $in: 5 } } }), 2, /\$in needs an array/);
    await rejects(engine.find({ ns, filter: 'x' as never }), 2, /must be an object/);
  });

  it('refuses $where, $function and $accumulator before evaluating anything', async () => {
    const engine = await engineWith(docs);
    let ran = false;
    const body = () => {
      ran = true;
      return true;
    };
    for (const run of [
      () => engine.find({ ns, filter: { $where: body as never } }),
      () => engine.find({ ns, filter: { $expr: { $function: { body, args: [], lang: 'js' } } } }),
      () =>
        engine.aggregate({
          ns,
          pipeline: [{ $group: { _id: null, x: { $accumulator: { init: body } } } }],
        }),
      () =>
        engine.updateOne({
          ns,
          filter: {},
          update: [{ $set: { x: { $function: { body, args: [], lang: 'js' } } } }],
        }),
    ]) {
      const error = await rejects(run(), 2, /runs JavaScript/);
      assert.equal(error.code, 'MongoScriptRefused');
    }
    assert.equal(ran, false);
  });

  it('caps results at maxDocuments with a clear error; limit keeps under it', async () => {
    const engine = await engineWith(Array.from({ length: 12 }, (_, i) => ({ _id: i })));
    const error = await rejects(
      engine.find({ ns, filter: {}, maxDocuments: 10 }),
      2,
      /exceed the limit of 10 documents/,
    );
    assert.equal(error.code, 'MongoResultLimitExceeded');
    assert.equal(
      (await (await engine.find({ ns, filter: {}, maxDocuments: 10, limit: 10 })).toArray()).length,
      10,
    );
  });

  it('aggregates via mingo with numbers by value and Long/Decimal128 types kept on unchanged fields', async () => {
    const engine = await engineWith(docs);
    const out = await (
      await engine.aggregate({
        ns,
        pipeline: [
          { $match: { n: { $type: 'number' } } },
          { $addFields: { twice: { $multiply: ['$n', 2] } } },
          { $sort: { n: -1 } },
        ],
      })
    ).toArray();
    assert.deepEqual(
      out.map((d) => d._id),
      [2, 3, 1],
    );
    assert.ok(out[0]!.n instanceof Long);
    assert.equal(out[0]!.twice, 20);
    const [sum] = await (
      await engine.aggregate({ ns, pipeline: [{ $group: { _id: null, total: { $sum: '$n' } } }] })
    ).toArray();
    assert.equal(sum!.total, 24.5);
    await engine.insertOne({
      ns: { db: 'shop', coll: 'tags' },
      document: { _id: 'a', label: 'Alpha' },
    });
    const [joined] = await (
      await engine.aggregate({
        ns,
        pipeline: [
          { $match: { _id: 1 } },
          { $lookup: { from: 'tags', localField: 'tags', foreignField: '_id', as: 't' } },
        ],
      })
    ).toArray();
    assert.deepEqual(joined!.t, [{ _id: 'a', label: 'Alpha' }]);
  });

  it('fails stages that cannot run locally, and unknown stages as the server does', async () => {
    const engine = await engineWith(docs);
    for (const stage of ['$search', '$merge', '$out', '$vectorSearch']) {
      const error = await rejects(
        engine.aggregate({ ns, pipeline: [{ [stage]: {} }] }),
        115,
        /is not supported locally/,
      );
      assert.equal(error.code, 'MongoNotSupportedLocally');
    }
    await rejects(
      engine.aggregate({ ns, pipeline: [{ $nope: {} }] }),
      40324,
      /Unrecognized pipeline stage name: '\$nope'/,
    );
  });

  it("$collStats is an unrecognized stage in the server's words (Compass then shows no statistics)", async () => {
    const engine = await engineWith(docs);
    await rejects(
      engine.aggregate({ ns, pipeline: [{ $collStats: { storageStats: {} } }] }),
      40324,
      /Unrecognized pipeline stage name: '\$collStats'/,
    );
  });

  it('$sample gives distinct documents, at most all of them, and checks its size', async () => {
    const engine = await engineWith([{ _id: 1 }, { _id: 2 }, { _id: 3 }]);
    const sample = async (size: unknown): Promise<unknown[]> =>
      (await (await engine.aggregate({ ns, pipeline: [{ $sample: { size } }] })).toArray()).map(
        (d) => d._id,
      );
    for (let round = 0; round < 20; round++) {
      const all = await sample(1000);
      assert.deepEqual([...all].sort(), [1, 2, 3]);
      const two = await sample(2);
      assert.equal(two.length, 2);
      assert.equal(new Set(two).size, 2);
    }
    assert.deepEqual(await sample(Long.fromNumber(0)), []);
    await rejects(sample(-1), 28747, /must not be negative/);
    await rejects(sample('3'), 28746, /must be a number/);
  });

  it('counts, and gives distinct values once each (1 and Long 1 are one value)', async () => {
    const engine = await engineWith([
      { _id: 1, k: 1 },
      { _id: 2, k: Long.fromNumber(1) },
      { _id: 3, k: [2, 3] },
      { _id: 4 },
    ]);
    assert.equal(await engine.countDocuments({ ns, filter: { k: { $exists: true } } }), 3);
    assert.equal(await engine.countDocuments({ ns, filter: {}, skip: 1, limit: 2 }), 2);
    assert.deepEqual(await engine.distinct({ ns, key: 'k' }), [1, 2, 3]);
  });
});

describe('mongo engine: update operators', () => {
  it('$set/$unset/$inc/$mul/$min/$max/$rename/$currentDate with their types', async () => {
    const engine = await engineWith();
    const now = Date.now();
    const doc = await update(
      engine,
      { a: 1, l: Long.fromNumber(5), d: Decimal128.fromString('1.10'), old: 'x', nested: { k: 1 } },
      {
        $set: { 'nested.k': 2, 'made.deep': true },
        $unset: { a: '' },
        $inc: { l: 2, d: Decimal128.fromString('0.05'), fresh: 3 },
        $mul: { gone: 2 },
        $min: { low: 4 },
        $max: { high: 9 },
        $rename: { old: 'renamed' },
        $currentDate: { at: true, ts: { $type: 'timestamp' } },
      },
    );
    assert.ok(doc.l instanceof Long && doc.l.toString() === '7');
    assert.ok(doc.d instanceof Decimal128 && doc.d.toString() === '1.15');
    assert.equal(doc.fresh, 3);
    assert.equal(doc.gone, 0);
    assert.deepEqual(doc.nested, { k: 2 });
    assert.deepEqual(doc.made, { deep: true });
    assert.equal(doc.renamed, 'x');
    assert.ok(!('a' in doc) && !('old' in doc));
    assert.ok(doc.at instanceof Date && doc.at.getTime() >= now - 1000);
    assert.ok(doc.ts instanceof Timestamp);
    assert.deepEqual([doc.low, doc.high], [4, 9]);
    // New fields appear in field-name order, as the server applies updates.
    assert.deepEqual(Object.keys(doc), [
      '_id',
      'l',
      'd',
      'nested',
      'at',
      'fresh',
      'gone',
      'high',
      'low',
      'made',
      'renamed',
      'ts',
    ]);
  });

  it('array operators: $push with $each/$position/$sort/$slice, $addToSet, $pull, $pullAll, $pop', async () => {
    const engine = await engineWith();
    assert.deepEqual(
      (
        await update(
          engine,
          { a: [5, 1] },
          { $push: { a: { $each: [3, 9], $sort: 1, $slice: 3 } } },
        )
      ).a,
      [1, 3, 5],
    );
    assert.deepEqual(
      (await update(engine, { a: [1, 2] }, { $push: { a: { $each: [0], $position: 0 } } })).a,
      [0, 1, 2],
    );
    assert.deepEqual(
      (
        await update(
          engine,
          { a: [1, { x: 1 }] },
          { $addToSet: { a: { $each: [Long.fromNumber(1), { x: 1 }, 4] } } },
        )
      ).a,
      [1, { x: 1 }, 4],
    );
    assert.deepEqual(
      (await update(engine, { a: [1, 5, 8, { k: 1, z: 2 }] }, { $pull: { a: { $gte: 5 } } })).a,
      [1, { k: 1, z: 2 }],
    );
    assert.deepEqual(
      (await update(engine, { a: [{ k: 1, z: 2 }, { k: 2 }] }, { $pull: { a: { k: 1 } } })).a,
      [{ k: 2 }],
    );
    assert.deepEqual(
      (await update(engine, { a: [1, 2, 1, 3] }, { $pullAll: { a: [1, 3] } })).a,
      [2],
    );
    assert.deepEqual((await update(engine, { a: [1, 2, 3] }, { $pop: { a: -1 } })).a, [2, 3]);
  });

  it('positional $, $[] and $[<id>] with arrayFilters', async () => {
    const engine = await engineWith();
    const items = [{ q: 1 }, { q: 5 }, { q: 7 }];
    assert.deepEqual(
      (
        await update(
          engine,
          { items },
          { $set: { 'items.$.q': 0 } },
          { filter: { 'items.q': { $gt: 4 } } },
        )
      ).items,
      [{ q: 1 }, { q: 0 }, { q: 7 }],
    );
    assert.deepEqual((await update(engine, { items }, { $inc: { 'items.$[].q': 10 } })).items, [
      { q: 11 },
      { q: 15 },
      { q: 17 },
    ]);
    assert.deepEqual(
      (
        await update(
          engine,
          { items },
          { $set: { 'items.$[big].q': -1 } },
          { arrayFilters: [{ 'big.q': { $gte: 5 } }] },
        )
      ).items,
      [{ q: 1 }, { q: -1 }, { q: -1 }],
    );
  });

  it('pipeline updates evaluate expressions on the document', async () => {
    const engine = await engineWith();
    const doc = await update(engine, { a: 2, b: 3 }, [
      { $set: { sum: { $add: ['$a', '$b'] } } },
      { $unset: 'b' },
    ]);
    assert.deepEqual(doc, { _id: 1, a: 2, sum: 5 });
  });

  it('fails as the server does, and leaves the document unchanged', async () => {
    const engine = await engineWith([{ _id: 1, s: 'x', n: 1, a: { b: 1 } }]);
    const cases: [Doc | Doc[], number, RegExp][] = [
      [{ $set: { a: 1 }, b: 2 }, 9, /^Unknown modifier: b\. Expected a valid update modifier/],
      [{ $foo: { a: 1 } }, 9, /^Unknown modifier: \$foo/],
      [
        { $inc: { s: 1 } },
        14,
        /^Cannot apply \$inc to a value of non-numeric type\. \{_id: 1\} has the field 's' of non-numeric type string$/,
      ],
      [{ $inc: { n: 'x' } }, 2, /Cannot increment with non-numeric argument/],
      [{ $set: { 'n.deep': 1 } }, 28, /^Cannot create field 'deep' in element \{n: 1\}$/],
      [
        { $set: { a: 1, 'a.b': 2 } },
        40,
        /^Updating the path 'a\.b' would create a conflict at 'a'$/,
      ],
      [{ $set: { _id: 2 } }, 66, /immutable field '_id'/],
      [{ $set: 1 } as never, 9, /Modifiers operate on fields/],
      [{ x: 1, $set: { y: 1 } }, 52, /dollar \(\$\) prefixed field '\$set'/],
    ];
    for (const [change, code, message] of cases)
      await rejects(engine.updateOne({ ns, filter: { _id: 1 }, update: change }), code, message);
    await rejects(
      engine.updateMany({ ns, filter: {}, update: { x: 1 } }),
      9,
      /multi update is not supported for replacement-style update/,
    );
    assert.deepEqual(await find(engine, {}), [{ _id: 1, s: 'x', n: 1, a: { b: 1 } }]);
  });

  it('updateOne with a document without operators replaces it, keeping _id', async () => {
    const engine = await engineWith([{ _id: 1, a: 1 }]);
    const result = await engine.updateOne({ ns, filter: { _id: 1 }, update: { b: 2 } });
    assert.deepEqual(result, { matchedCount: 1, modifiedCount: 1, upsertedCount: 0 });
    assert.deepEqual(await find(engine, {}), [{ _id: 1, b: 2 }]);
  });

  it('upsert seeds from the filter equalities, applies $setOnInsert, generates an ObjectId', async () => {
    const engine = await engineWith();
    const result = await engine.updateOne({
      ns,
      filter: { sku: 'A', qty: { $gt: 1 } },
      update: { $inc: { n: 1 }, $setOnInsert: { made: true } },
      upsert: true,
    });
    assert.ok(result.upsertedId instanceof ObjectId);
    const [doc] = await find(engine, {});
    assert.deepEqual({ ...doc, _id: 0 }, { _id: 0, sku: 'A', made: true, n: 1 });
    const again = await engine.updateOne({
      ns,
      filter: { sku: 'A' },
      update: { $inc: { n: 1 }, $setOnInsert: { made: false } },
      upsert: true,
    });
    assert.deepEqual(again, { matchedCount: 1, modifiedCount: 1, upsertedCount: 0 });
    assert.equal((await find(engine, {}))[0]!.made, true);
  });

  it('a no-op update matches without modifying; updateMany is all-or-nothing on a unique index', async () => {
    const engine = await engineWith([
      { _id: 1, a: 1, e: 'x' },
      { _id: 2, a: 2, e: 'y' },
    ]);
    assert.deepEqual(
      await engine.updateOne({ ns, filter: { _id: 1 }, update: { $set: { a: 1 } } }),
      { matchedCount: 1, modifiedCount: 0, upsertedCount: 0 },
    );
    await engine.createIndex({ ns, key: { e: 1 }, unique: true });
    await rejects(
      engine.updateMany({ ns, filter: {}, update: { $set: { e: 'z' } } }),
      11000,
      /index: e_1 dup key: \{ e: "z" \}/,
    );
    assert.deepEqual(
      (await find(engine, {})).map((d) => d.e),
      ['x', 'y'],
    );
    await rejects(
      engine.createIndex({ ns, key: { a: 1, b: 1 }, unique: true, name: 'e_1' }),
      86,
      /same name/,
    );
    assert.deepEqual(
      (await engine.listIndexes({ ns })).map((i) => i.name),
      ['_id_', 'e_1'],
    );
  });

  it('findOneAnd* return before or after, with projection, sort and upsert', async () => {
    const engine = await engineWith([
      { _id: 1, n: 1 },
      { _id: 2, n: 2 },
    ]);
    assert.deepEqual(
      await engine.findOneAndUpdate({
        ns,
        filter: {},
        sort: { n: -1 },
        update: { $inc: { n: 10 } },
      }),
      { _id: 2, n: 2 },
    );
    assert.deepEqual(
      await engine.findOneAndUpdate({
        ns,
        filter: { _id: 1 },
        update: { $inc: { n: 1 } },
        returnDocument: 'after',
        projection: { _id: 0 },
      }),
      { n: 2 },
    );
    assert.equal(
      await engine.findOneAndUpdate({
        ns,
        filter: { _id: 3 },
        update: { $set: { n: 3 } },
        upsert: true,
      }),
      null,
    );
    assert.deepEqual(
      await engine.findOneAndReplace({
        ns,
        filter: { _id: 3 },
        replacement: { m: 1 },
        returnDocument: 'after',
      }),
      { _id: 3, m: 1 },
    );
    assert.deepEqual(await engine.findOneAndDelete({ ns, filter: {}, sort: { _id: -1 } }), {
      _id: 3,
      m: 1,
    });
    assert.equal(await engine.countDocuments({ ns }), 2);
  });

  it('bulkWrite runs in order and reports the first failure with what was written', async () => {
    const engine = await engineWith([{ _id: 1 }]);
    const result = await engine.bulkWrite({
      ns,
      operations: [
        { insertOne: { document: { _id: 2 } } },
        { updateOne: { filter: { _id: 1 }, update: { $set: { a: 1 } } } },
        { replaceOne: { filter: { _id: 9 }, replacement: { r: 1 }, upsert: true } },
        { deleteOne: { filter: { _id: 2 } } },
      ],
    });
    assert.deepEqual(
      { ...result, insertedIds: 0 },
      {
        insertedCount: 1,
        matchedCount: 1,
        modifiedCount: 1,
        deletedCount: 1,
        upsertedCount: 1,
        insertedIds: 0,
        upsertedIds: { 2: 9 },
      },
    );
    const error = await rejects(
      engine.bulkWrite({
        ns,
        operations: [
          { insertOne: { document: { _id: 5 } } },
          { insertOne: { document: { _id: 1 } } },
          { insertOne: { document: { _id: 6 } } },
        ],
      }),
      11000,
      /E11000/,
    );
    assert.equal((error.info.writeErrors as { index: number }[])[0]!.index, 1);
    assert.equal(await engine.countDocuments({ ns, filter: { _id: { $in: [5, 6] } } }), 1);
  });
});

describe('mongo engine: change events', () => {
  it('every committed write gives an event of the change-stream shape, after the write', async () => {
    const engine = await engineWith();
    const events: ChangeEvent[] = [];
    const plain: ChangeEvent[] = [];
    engine.watch(
      { db: 'shop', fullDocument: 'updateLookup', fullDocumentBeforeChange: 'whenAvailable' },
      (e) => events.push(e),
    );
    engine.watch({ db: 'shop', coll: 'items' }, (e) => plain.push(e));
    engine.watch({ db: 'other' }, () => assert.fail('another database'));
    await engine.insertOne({ ns, document: { _id: 1, a: 1, arr: [1, 2, 3], sub: { x: 1, y: 2 } } });
    await engine.updateOne({
      ns,
      filter: { _id: 1 },
      update: { $set: { 'sub.x': 5, b: Long.fromNumber(2) }, $unset: { a: '' }, $pop: { arr: 1 } },
    });
    await engine.updateOne({ ns, filter: { _id: 1 }, update: { $push: { arr: 9 } } });
    await engine.replaceOne({ ns, filter: { _id: 1 }, replacement: { c: 1 } });
    await engine.deleteOne({ ns, filter: { _id: 1 } });
    await engine.updateOne({ ns, filter: { _id: 1 }, update: { $set: { a: 1 } } });
    assert.deepEqual(
      events.map((e) => e.operationType),
      ['insert', 'update', 'update', 'replace', 'delete'],
    );
    for (let i = 1; i < events.length; i++) {
      const [a, b] = [events[i - 1]!.clusterTime, events[i]!.clusterTime];
      assert.ok(b.t > a.t || (b.t === a.t && b.i > a.i), 'clusterTime increases');
      assert.ok(events[i]!._id._data > events[i - 1]!._id._data, 'resume tokens sort in order');
    }
    const [insert, set, push, replace, del] = events;
    assert.deepEqual(insert!.ns, { db: 'shop', coll: 'items' });
    assert.deepEqual(insert!.documentKey, { _id: 1 });
    assert.ok(insert!.wallTime instanceof Date && insert!.clusterTime instanceof Timestamp);
    assert.deepEqual(insert!.fullDocument, { _id: 1, a: 1, arr: [1, 2, 3], sub: { x: 1, y: 2 } });
    assert.deepEqual(set!.updateDescription, {
      updatedFields: { 'sub.x': 5, b: Long.fromNumber(2) },
      removedFields: ['a'],
      truncatedArrays: [{ field: 'arr', newSize: 2 }],
    });
    assert.deepEqual(set!.fullDocumentBeforeChange, {
      _id: 1,
      a: 1,
      arr: [1, 2, 3],
      sub: { x: 1, y: 2 },
    });
    assert.deepEqual(push!.updateDescription, {
      updatedFields: { 'arr.2': 9 },
      removedFields: [],
      truncatedArrays: [],
    });
    assert.deepEqual(replace!.fullDocument, { _id: 1, c: 1 });
    assert.equal(del!.fullDocument, undefined);
    assert.deepEqual(del!.fullDocumentBeforeChange, { _id: 1, c: 1 });
    // Without full_document: no fullDocument on update, no pre-images.
    assert.equal(plain[1]!.operationType, 'update');
    assert.equal(plain[1]!.fullDocument, undefined);
    assert.equal(plain[4]!.fullDocumentBeforeChange, undefined);
  });

  it('a listener that throws does not fail the write; a failed write emits nothing', async () => {
    const warnings: string[] = [];
    const engine = await EmbeddedEngine.open({ warn: (m) => warnings.push(m) });
    const events: ChangeEvent[] = [];
    engine.watch({}, () => {
      throw new Error('listener bug');
    });
    engine.watch({}, (e) => events.push(e));
    await engine.insertOne({ ns, document: { _id: 1 } });
    await assert.rejects(engine.insertOne({ ns, document: { _id: 1 } }));
    assert.equal(events.length, 1);
    assert.match(warnings[0]!, /listener bug/);
  });
});
