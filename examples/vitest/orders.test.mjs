// Vitest: `npx vitest run examples/vitest` (the app is the repository's demo app).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { createTestApp } from 'triggerbox/testing';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let app;
beforeEach(async () => {
  app = await createTestApp({ root, env: { currency: 'USD' } });
});
afterEach(() => app.dispose());

test('greet', async () => {
  const { result } = await app.run('greet', 'Vi');
  expect(result.message).toBe('Hello, Vi!');
});

test('a paid order fires orderPaid', async () => {
  await app
    .db('shop')
    .collection('orders')
    .insertOne({ _id: 1, status: 'paid', lines: [{ sku: 'A1', qty: 1 }] });
  await app.settled();
  expect(app.triggers('orderPaid').map((r) => r.result)).toEqual([
    { lines: 1, total: 12.5, currency: 'USD' },
  ]);
});
