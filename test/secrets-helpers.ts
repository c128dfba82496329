/** Helpers of the secret-store suites: an app with secrets, and the store file as data. */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { openSecretStore, type StoreDocument } from '../src/secrets/store.js';
import { tempApp } from './helpers.js';

export const STORE = '.triggerbox/secrets.json';

export const readStore = (root: string): StoreDocument =>
  JSON.parse(readFileSync(path.join(root, STORE), 'utf8')) as StoreDocument;

export const writeStore = (root: string, doc: unknown): void =>
  writeFileSync(path.join(root, STORE), JSON.stringify(doc));

/** A temp app whose store holds `names` (name -> value), created through the library. */
export async function appWithSecrets(names: Record<string, string>): Promise<string> {
  const root = tempApp({ 'functions/noop.js': 'exports = () => 1;' });
  const store = openSecretStore({ root, env: {} });
  for (const [name, value] of Object.entries(names)) await store.create(name, value);
  return root;
}

/**
 * A different hex id of the same length: a fixed prefix leaves an id that already begins with it
 * unchanged (1 run in 256 then tested an unaltered store).
 */
export const otherId = (id: string): string => (id.startsWith('ff') ? '00' : 'ff') + id.slice(2);
