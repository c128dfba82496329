/** context.services.get(): the collection API in functions, over the engine in the parent. */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { loadApp } from '../src/app/load-app.js';
import { createRunner, FunctionExecutionFailure } from '../src/runtime/runner.js';
import { builtinServices } from '../src/services/builtin.js';
import { EmbeddedEngine, mongodbService } from '../src/services/mongodb/index.js';
import { runCli, tempApp } from './helpers.js';

const dataSource = {
  'data_sources/Cluster0/config.json': {
    name: 'Cluster0',
    type: 'mongodb-atlas',
    config: { clusterName: 'Cluster0' },
  },
};

const fn = (name: string, source: string): Record<string, string | object> => ({
  [`functions/${name}.js`]: source,
});

const functionsConfig = (names: string[]): object =>
  names.map((name) => ({ name, private: false }));

function appWith(functions: Record<string, string>): string {
  const files: Record<string, string | object> = {
    ...dataSource,
    'functions/config.json': functionsConfig(Object.keys(functions)),
  };
  for (const [name, source] of Object.entries(functions)) Object.assign(files, fn(name, source));
  return tempApp(files);
}

const CRUD = `exports = async function () {
  const orders = context.services.get('Cluster0').db('shop').collection('orders');
  const a = await orders.insertOne({ _id: 1, item: 'pen', qty: 2, total: BSON.Decimal128.fromString('9.50'), big: BSON.Long.fromString('9007199254740993'), at: new Date('2024-01-02T03:04:05Z') });
  await orders.insertMany([{ _id: 2, item: 'ink', qty: 5 }, { _id: 3, item: 'pad', qty: 1 }]);
  const u = await orders.updateOne({ _id: 2 }, { $inc: { qty: 1 } });
  const one = await orders.findOne({ _id: 1 });
  const sorted = await orders.find({}, { item: 1 }).sort({ qty: -1 }).skip(1).limit(1).toArray();
  const cursor = orders.find({ qty: { $gte: 1 } });
  const first = await cursor.next();
  const agg = await orders.aggregate([{ $group: { _id: null, n: { $sum: '$qty' } } }]).toArray();
  const fam = await orders.findOneAndUpdate({ _id: 3 }, { $set: { qty: 7 } }, { returnNewDocument: true });
  let dup;
  try {
    await orders.insertOne({ _id: 1 });
  } catch (e) {
    dup = { message: e.message, code: e.code, codeName: e.codeName, keyValue: e.keyValue, isError: e instanceof Error };
  }
  const names = context.services.get('Cluster0').db('shop').getCollectionNames();
  return {
    insertedId: a.insertedId, u, one,
    types: [one.total instanceof BSON.Decimal128, one.big instanceof BSON.Long, one.at instanceof Date, typeof one.qty],
    big: one.big.toString(),
    sorted, first: first._id, agg, fam, dup, names,
    count: await orders.count({}),
  };
};`;

describe('db service: through createRunner with an in-memory engine', () => {
  test('a function inserts, finds, updates, aggregates, findOneAndUpdates and catches E11000', async () => {
    const root = appWith({ crud: CRUD });
    const { app } = loadApp({ root });
    const engine = await EmbeddedEngine.open();
    const runner = createRunner({
      app,
      services: [
        ...builtinServices(),
        mongodbService({ engine, dataSources: app.dataSources.keys() }),
      ],
    });
    after(() => {
      runner.dispose();
      void engine.close();
    });
    const { result } = await runner.execute('crud');
    const r = result as Record<string, any>;
    assert.equal(r.insertedId, 1);
    assert.deepEqual(r.u, { matchedCount: 1, modifiedCount: 1 });
    assert.deepEqual(r.types, [true, true, true, 'number']);
    assert.equal(r.big, '9007199254740993');
    assert.deepEqual(r.sorted, [{ _id: 1, item: 'pen' }]);
    assert.equal(r.first, 1);
    assert.deepEqual(r.agg, [{ _id: null, n: 9 }]);
    assert.deepEqual(r.fam, { _id: 3, item: 'pad', qty: 7 });
    assert.equal(r.dup.code, 11000);
    assert.equal(r.dup.codeName, 'DuplicateKey');
    assert.equal(r.dup.isError, true);
    assert.deepEqual(r.dup.keyValue, { _id: 1 });
    assert.match(r.dup.message, /^E11000 duplicate key error collection: shop.orders index: _id_/);
    assert.deepEqual(r.names, ['orders']);
    assert.equal(r.count, 3);
    // The engine in the parent holds the data, types included.
    const stored = await (
      await engine.find({ ns: { db: 'shop', coll: 'orders' }, filter: { _id: 1 } })
    ).next();
    assert.equal(stored?.['big']?.constructor.name, 'Long');
  });
});

describe('db service: names and the CLI', () => {
  test('get() of a name that is not a data source is undefined, with a warning', async () => {
    const root = appWith({
      probe: `exports = () => ({ unknown: context.services.get('nope') === undefined, known: typeof context.services.get('Cluster0').db });`,
    });
    const run = await runCli(['function', 'run', '--name', 'probe'], root);
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stdout,
      /context\.services\.get\('nope'\): the app has no data source named 'nope' \(its data sources: Cluster0\); returning undefined/,
    );
    assert.match(run.stdout, /"unknown": true/);
    assert.match(run.stdout, /"known": "function"/);
  });

  test('an app without data source files answers to mongodb-atlas', async () => {
    const root = tempApp({
      'functions/config.json': [{ name: 'probe', private: false }],
      'functions/probe.js': `exports = async () => (await context.services.get('mongodb-atlas').db('d').collection('c').insertOne({ a: 1 })).insertedId instanceof BSON.ObjectId;`,
    });
    const run = await runCli(['function', 'run', '--name', 'probe'], root);
    assert.match(run.stdout, /Result\ntrue\n/, run.stderr);
  });

  test('through the CLI: the data persists across runs in .triggerbox/db; E11000 reaches the function', async () => {
    const root = appWith({ crud: CRUD });
    const first = await runCli(['function', 'run', '--name', 'crud', '-f', 'json'], root);
    assert.equal(first.code, 0, first.stderr);
    const out = JSON.parse(first.stdout) as { result: Record<string, any> };
    assert.equal(out.result['dup']['code']['$numberInt'], '11000');
    assert.equal(out.result['big']['$numberLong'] ?? out.result['big'], '9007199254740993');
    // The second run finds the documents of the first: its first insert is now a duplicate.
    const second = await runCli(['function', 'run', '--name', 'crud'], root);
    assert.equal(second.code, 1);
    assert.match(
      second.stderr,
      /E11000 duplicate key error collection: shop\.orders index: _id_ dup key: \{ _id: 1 \}/,
    );
    const listed = await runCli(
      ['db', 'find', '--ns', 'shop.orders', '--filter', '{"_id": 1}'],
      root,
    );
    assert.match(listed.stdout, /"big": \{"\$numberLong": "9007199254740993"\}/);
    assert.match(listed.stdout, /"total": \{"\$numberDecimal": "9.50"\}/);
  });

  test('a function that never touches the database leaves no .triggerbox/db', async () => {
    const root = appWith({ plain: 'exports = () => 1;' });
    await runCli(['function', 'run', '--name', 'plain'], root);
    const { existsSync } = await import('node:fs');
    assert.equal(existsSync(`${root}/.triggerbox/db`), false);
  });
});
