/**
 * The secret store under races and damage: readers during rotate-key, an altered store_id or
 * key_check, odd files (a folder, a FIFO, an unreadable file, a symlink out of the app) in place
 * of the store, the key file or .env, and a flag given twice.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHmac, hkdfSync } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { openSecretStore, type StoreDocument } from '../src/secrets/store.js';
import { TriggerboxError } from '../src/index.js';
import { repoRoot, runCli, tempApp } from './helpers.js';

const BIN = path.join(repoRoot, 'dist/src/cli/bin.js');
const STORE = '.triggerbox/secrets.json';
const KEY = '.triggerbox/master.key';

const readStore = (root: string): StoreDocument =>
  JSON.parse(readFileSync(path.join(root, STORE), 'utf8')) as StoreDocument;
const writeStore = (root: string, doc: unknown): void =>
  writeFileSync(path.join(root, STORE), JSON.stringify(doc));

async function appWithSecrets(names: Record<string, string>): Promise<string> {
  const root = tempApp({ 'functions/noop.js': 'exports = () => 1;' });
  const store = openSecretStore({ root, env: {} });
  for (const [name, value] of Object.entries(names)) await store.create(name, value);
  return root;
}

/** Every file under .triggerbox (and .env, .gitignore) with its content: to prove nothing changed. */
function snapshot(root: string): string {
  const parts: string[] = [];
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return;
    if (!statSync(dir).isDirectory()) {
      parts.push(`${dir}=${readFileSync(dir, 'base64')}`);
      return;
    }
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (entry.isFile()) parts.push(`${file}=${readFileSync(file, 'base64')}`);
      else parts.push(`${file}:${entry.isSymbolicLink() ? 'link' : 'special'}`);
    }
  };
  walk(path.join(root, '.triggerbox'));
  for (const name of ['.env', '.gitignore']) {
    const file = path.join(root, name);
    try {
      // Never read a FIFO: lstat first.
      if (lstatSync(file).isFile()) parts.push(`${file}=${readFileSync(file, 'base64')}`);
      else parts.push(`${file}:not a regular file`);
    } catch {
      parts.push(`${file}:absent or unreadable`);
    }
  }
  return parts.join('\n');
}

async function failsWith(
  root: string,
  code: string,
  action: () => Promise<unknown>,
): Promise<TriggerboxError> {
  const before = snapshot(root);
  try {
    await action();
  } catch (error) {
    assert.ok(error instanceof TriggerboxError, String((error as Error).stack ?? error));
    assert.equal(error.code, code, error.message);
    assert.equal(snapshot(root), before, 'a file changed');
    assert.ok(error.hint, `${code} without a hint`);
    return error;
  }
  assert.fail(`expected ${code}`);
}

function mkfifo(file: string): void {
  execFileSync('mkfifo', [file]);
}

/** Runs the built CLI; as an unprivileged user when this process is root (root reads anything). */
function runBinary(
  args: string[],
  cwd: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runNode([BIN, ...args], cwd);
}

/** Runs node, as an unprivileged user when this process is root. */
function runNode(
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const unprivileged = process.getuid?.() === 0;
  const child = spawn(process.execPath, args, {
    cwd,
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(unprivileged ? { uid: 65534, gid: 65534 } : {}),
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

describe('secrets commands: flags given twice', () => {
  it('secrets create/update: --value or --name twice is an InvalidInput naming the flag, nothing written', async () => {
    const root = tempApp({});
    const create = await runCli(
      ['secrets', 'create', '--name', 'a', '--value', 'one', '--value', 'two'],
      root,
    );
    assert.equal(create.code, 1);
    assert.match(create.stderr, /--value .*(twice|2 times)/);
    assert.doesNotMatch(create.stderr, /TypeError|\n\s+at /);
    assert.doesNotMatch(create.stderr, /one|two/, 'the values are not echoed');
    assert.equal(existsSync(path.join(root, '.triggerbox')), false);
    const names = await runCli(['secrets', 'create', '-n', 'a', '-n', 'b', '-v', 'x'], root);
    assert.equal(names.code, 1);
    assert.match(names.stderr, /--name .*(twice|2 times)/);
    await openSecretStore({ root, env: {} }).create('a', 'value-a');
    const before = snapshot(root);
    const update = await runCli(
      ['secrets', 'update', '--secret', 'a', '--value', 'one', '--value', 'two'],
      root,
    );
    assert.equal(update.code, 1);
    assert.match(update.stderr, /--value .*(twice|2 times)/);
    assert.equal(snapshot(root), before);
    assert.equal(await openSecretStore({ root, env: {} }).resolve('a'), 'value-a');
  });
});
