// Jest: `NODE_OPTIONS=--experimental-vm-modules npx jest --rootDir examples/jest` (Jest runs ES
// module tests only with that flag; see jest.config.mjs).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, expect, test } from '@jest/globals';
import { createTestApp } from 'triggerbox/testing';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let app;
beforeEach(async () => {
  app = await createTestApp({ root });
});
afterEach(() => app.dispose());

test('greet', async () => {
  const { result } = await app.run('greet', 'Jo');
  expect(result.message).toBe('Hello, Jo!');
});

test('orders/summary calls context.http nowhere, and prices from the Value', async () => {
  const { result, logs } = await app.run('orders/summary', [{ sku: 'B7', qty: 2 }]);
  expect(result).toEqual({ lines: 1, total: 8, currency: 'EUR' });
  expect(logs).toEqual(['1 order lines, total 8 EUR']);
});
