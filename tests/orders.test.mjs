// The demo app's own tests: its functions and its orderPaid trigger, run by `npm test`.
// `triggerbox/testing` loads this app (the folder above) into a fresh sandbox and in-memory
// database per test; nothing here touches the app's files or .triggerbox/.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createTestApp } from 'triggerbox/testing';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

test('greet uses the greeting Value', async () => {
  await using app = await createTestApp({ root, values: { greeting: 'Howdy' } });
  const { result, logs } = await app.run('greet', 'Ada');
  assert.equal(result.message, 'Howdy, Ada!');
  assert.deepEqual(logs, ['greeting Ada in the development environment']);
});

test('a paid order updates the sales totals through the orderPaid trigger', async () => {
  await using app = await createTestApp({
    root,
    seed: { 'shop.sales': [{ _id: 'EUR', orders: 1, revenue: 10 }] },
  });
  await app
    .db('shop')
    .collection('orders')
    .insertOne({
      _id: 'o-1',
      status: 'paid',
      lines: [{ sku: 'B7', qty: 3 }],
    });
  await app.settled();
  const [run] = app.triggers('orderPaid');
  assert.deepEqual(run.result, { lines: 1, total: 12, currency: 'EUR' });
  const totals = await app.db('shop').collection('sales').findOne({ _id: 'EUR' });
  assert.deepEqual(totals, { _id: 'EUR', orders: 2, revenue: 22 });
});

test('a pending order fires nothing', async () => {
  await using app = await createTestApp({ root });
  await app.db('shop').collection('orders').insertOne({ _id: 'o-2', status: 'pending', lines: [] });
  await app.settled();
  assert.equal(app.triggerRuns.length, 0);
});

test('orders/summary with a stubbed price list', async () => {
  await using app = await createTestApp({ root, stubs: { 'orders/price': { returns: 1 } } });
  const { result } = await app.run('orders/summary', [{ sku: 'any', qty: 4 }]);
  assert.deepEqual(result, { lines: 1, total: 4, currency: 'EUR' });
});
