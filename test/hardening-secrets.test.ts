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
import { deriveKeys, keyCheck, keyId } from '../src/secrets/crypto.js';
import { openSecretStore, type StoreDocument } from '../src/secrets/store.js';
import { TriggerboxError } from '../src/index.js';
import { repoRoot, runCli, runNode, tempApp } from './helpers.js';
import { appWithSecrets, otherId, readStore, STORE, writeStore } from './secrets-helpers.js';

const BIN = path.join(repoRoot, 'dist/src/cli/bin.js');
const KEY = '.triggerbox/master.key';

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
function runBinary(args: string[], cwd: string) {
  return runNode([BIN, ...args], cwd, { unprivileged: true, env: {} });
}

describe('secret store: races with rotate-key', () => {
  it('rotate-key in another process: every concurrent read succeeds, and the rotation completes', async () => {
    const root = await appWithSecrets({ a: 'value-a', b: 'value-b' });
    const rotator = path.join(root, 'rotator.mjs');
    writeFileSync(
      rotator,
      `import { openSecretStore } from ${JSON.stringify(path.join(repoRoot, 'dist/src/secrets/store.js'))};
const store = openSecretStore({ root: ${JSON.stringify(root)}, env: {} });
for (let i = 0; i < 40; i++) await store.rotateKey();
`,
    );
    const child = spawn(process.execPath, [rotator], { stdio: ['ignore', 'ignore', 'pipe'] });
    let childErr = '';
    child.stderr.on('data', (chunk: Buffer) => (childErr += chunk.toString()));
    let running = true;
    const exited = new Promise<number | null>((resolve) =>
      child.on('exit', (code) => {
        running = false;
        resolve(code);
      }),
    );
    // A long-lived store (as the dev server holds) and fresh ones (as each command opens).
    const longLived = openSecretStore({ root, env: {} });
    const failures: string[] = [];
    let reads = 0;
    while (running || reads < 20) {
      for (const store of [longLived, openSecretStore({ root, env: {} })]) {
        try {
          assert.equal(await store.resolve('a'), 'value-a');
          assert.deepEqual((await store.list()).map((s) => s.name).sort(), ['a', 'b']);
        } catch (error) {
          failures.push(
            error instanceof TriggerboxError
              ? `${error.code}: ${error.message}`
              : String((error as Error).stack),
          );
        }
      }
      if (reads % 10 === 0) {
        const list = await runCli(['secrets', 'list'], root);
        if (list.code !== 0) failures.push(`secrets list: ${list.stderr}`);
      }
      reads++;
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(await exited, 0, childErr);
    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${reads * 2} reads failed`);
    assert.equal(existsSync(path.join(root, '.triggerbox/master.key.next')), false);
    assert.equal(await openSecretStore({ root, env: {} }).resolve('b'), 'value-b');
  });

  it('an interrupted rotation is finished by a reader only under the lock', async () => {
    const root = await appWithSecrets({ a: 'value-a' });
    const keyFile = path.join(root, KEY);
    const oldKey = readFileSync(keyFile, 'utf8');
    await openSecretStore({ root, env: {} }).rotateKey();
    writeFileSync(path.join(root, '.triggerbox/master.key.next'), readFileSync(keyFile), {
      mode: 0o600,
    });
    writeFileSync(keyFile, oldKey);
    // A writer holds the lock (as a rotation in progress does): the reader must not rename the
    // key file behind its back; it waits for the lock, then finishes the rotation.
    const lock = path.join(root, '.triggerbox/secrets.lock');
    writeFileSync(lock, String(process.pid));
    const reading = openSecretStore({ root, env: {} }).resolve('a');
    let settled = false;
    void reading.finally(() => (settled = true)).catch(() => undefined);
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(settled, false, 'the reader did not wait for the lock');
    assert.equal(
      readFileSync(keyFile, 'utf8'),
      oldKey,
      'the key file was renamed without the lock',
    );
    unlinkSync(lock);
    assert.equal(await reading, 'value-a');
    assert.equal(existsSync(path.join(root, '.triggerbox/master.key.next')), false);
  });
  it('a reader that cannot take the lock (read-only folder) reads a half-done rotation with the next key, changing nothing', async () => {
    const root = await appWithSecrets({ a: 'value-a' });
    const keyFile = path.join(root, KEY);
    const oldKey = readFileSync(keyFile, 'utf8');
    await openSecretStore({ root, env: {} }).rotateKey();
    writeFileSync(path.join(root, '.triggerbox/master.key.next'), readFileSync(keyFile));
    writeFileSync(keyFile, oldKey);
    for (const file of [KEY, '.triggerbox/master.key.next', STORE])
      chmodSync(path.join(root, file), 0o644);
    chmodSync(root, 0o755);
    chmodSync(path.join(root, '.triggerbox'), 0o755);
    const before = snapshot(root);
    const result = await runBinary(['secrets', 'list'], root);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Found 1 secrets/);
    assert.equal(snapshot(root), before);
  });
});

describe('secret store: altered key fields', () => {
  it('tampering: an altered store_id or key_check is SecretStoreTampered, a wrong key still SecretKeyWrong', async () => {
    const root = await appWithSecrets({ a: 'value-a', b: 'value-b' });
    const original = readStore(root);
    const flip = (text: string): string => (text[0] === 'A' ? 'B' : 'A') + text.slice(1);
    for (const [what, mutate] of [
      ['store_id', (d: StoreDocument) => void (d.store_id = otherId(d.store_id))],
      ['key_check', (d: StoreDocument) => void (d.key_check = flip(d.key_check))],
      [
        'store_id and key_check',
        (d: StoreDocument) => {
          d.store_id = otherId(d.store_id);
          d.key_check = flip(d.key_check);
        },
      ],
    ] as const) {
      const doc = structuredClone(original);
      mutate(doc);
      writeStore(root, doc);
      const error = await failsWith(root, 'SecretStoreTampered', () =>
        openSecretStore({ root, env: {} }).list(),
      ).catch((e: unknown) => {
        throw new Error(`${what}: ${String(e)}`);
      });
      assert.match(error.message, /store_id|key_check/, what);
      assert.match(error.hint ?? '', /git checkout/);
      await failsWith(root, 'SecretStoreTampered', () =>
        openSecretStore({ root, env: {} }).create('c', 'value-c'),
      );
      const cli = await runCli(['secrets', 'list'], root);
      assert.equal(cli.code, 1);
      assert.match(cli.stderr, /modified outside triggerbox/);
    }
    writeStore(root, original);
    const wrong = Buffer.alloc(32, 7).toString('base64');
    await failsWith(root, 'SecretKeyWrong', () =>
      openSecretStore({ root, env: { TRIGGERBOX_MASTER_KEY: wrong } }).list(),
    );
    assert.equal(await openSecretStore({ root, env: {} }).resolve('a'), 'value-a');
  });

  it('tampering: a store written before key_id existed still tells an altered key_check from a wrong key', async () => {
    const root = await appWithSecrets({ a: 'value-a' });
    const doc = readStore(root) as StoreDocument & { key_id?: string };
    delete doc.key_id;
    writeStore(root, doc);
    assert.equal(await openSecretStore({ root, env: {} }).resolve('a'), 'value-a');
    writeStore(root, { ...doc, key_check: 'A' + doc.key_check.slice(1) });
    await failsWith(root, 'SecretStoreTampered', () => openSecretStore({ root, env: {} }).list());
    writeStore(root, { ...doc, key_id: 'A' + keyId(Buffer.alloc(32, 3)).slice(1) });
    await failsWith(root, 'SecretStoreTampered', () => openSecretStore({ root, env: {} }).list());
  });

  it('format: key_id matches the documented derivation (test vector in docs/secret-store.md)', () => {
    const master = Buffer.from(
      '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f',
      'hex',
    );
    const idKey = Buffer.from(
      hkdfSync('sha256', master, Buffer.alloc(0), 'triggerbox/v1/key-id', 32),
    );
    const direct = createHmac('sha256', idKey).update('triggerbox-key-id/v1').digest('base64');
    assert.equal(keyId(master), direct);
    const docs = readFileSync(path.join(repoRoot, 'docs/secret-store.md'), 'utf8');
    assert.ok(
      docs.includes(`| key_id | \`${direct}\` |`),
      'docs/secret-store.md lacks the key_id vector',
    );
    // key_id takes no store_id: it stays the same when the store_id changes.
    const keys = deriveKeys(master, '00112233445566778899aabbccddeeff');
    assert.notEqual(keyCheck(keys, '00112233445566778899aabbccddeeff'), direct);
  });
});

describe('secret store: odd files', () => {
  it('the store as a folder or a FIFO: SecretStoreUnreadable with the file, and nothing changes', async () => {
    for (const make of [
      (file: string) => mkdirSync(file),
      (file: string) => mkfifo(file),
      (file: string) => symlinkSync('/dev/zero', file),
    ]) {
      const root = tempApp({});
      mkdirSync(path.join(root, '.triggerbox'));
      make(path.join(root, STORE));
      for (const action of [
        () => openSecretStore({ root, env: {} }).list(),
        () => openSecretStore({ root, env: {} }).resolve('a'),
        () => openSecretStore({ root, env: {} }).create('a', 'value'),
        async () => openSecretStore({ root, env: {} }).names(),
      ]) {
        const error = await failsWith(root, 'SecretStoreUnreadable', action);
        assert.match(error.message, /\.triggerbox\/secrets\.json/);
      }
      const cli = await runCli(['secrets', 'list'], root);
      assert.equal(cli.code, 1);
      assert.match(cli.stderr, /\.triggerbox\/secrets\.json/);
      assert.doesNotMatch(cli.stderr, /\n\s+at /, 'no stack trace');
      const validate = await runCli(['validate'], root);
      assert.match(validate.stdout, /error: \.triggerbox\/secrets\.json: .*secrets\.json/);
    }
  });

  it('.triggerbox as a file: SecretStoreUnreadable, not a raw EEXIST', async () => {
    const root = tempApp({ '.triggerbox': 'not a folder' });
    const error = await failsWith(root, 'SecretStoreUnreadable', () =>
      openSecretStore({ root, env: {} }).create('a', 'value'),
    );
    assert.match(error.message, /\.triggerbox/);
  });

  it('the key file or .env as a folder, a FIFO or a symlink out of the app: SecretKeyUnreadable', async () => {
    const outside = tempApp({ 'master.key': `${Buffer.alloc(32, 9).toString('base64')}\n` }, false);
    const cases: [string, (file: string) => void][] = [
      [KEY, (file) => mkdirSync(file)],
      [KEY, (file) => mkfifo(file)],
      [KEY, (file) => symlinkSync(path.join(outside, 'master.key'), file)],
      ['.env', (file) => mkdirSync(file)],
      ['.env', (file) => mkfifo(file)],
      ['.env', (file) => symlinkSync('/dev/zero', file)],
    ];
    for (const [name, make] of cases) {
      const root = await appWithSecrets({ a: 'value-a' });
      const file = path.join(root, name);
      rmSync(file, { force: true });
      make(file);
      for (const action of [
        () => openSecretStore({ root, env: {} }).resolve('a'),
        () => openSecretStore({ root, env: {} }).create('b', 'value'),
        () => openSecretStore({ root, env: {} }).rotateKey(),
      ]) {
        const error = await failsWith(root, 'SecretKeyUnreadable', action);
        assert.ok(error.message.includes(name), error.message);
      }
      const cli = await runCli(['secrets', 'list'], root);
      assert.equal(cli.code, 1);
      assert.match(cli.stderr, /SecretKeyUnreadable|not read/);
      assert.doesNotMatch(cli.stderr, /\n\s+at /, 'no stack trace');
    }
  });

  it('permission denied on the store, the key file or .env: documented codes, no stack', async () => {
    for (const [name, code] of [
      [STORE, 'SecretStoreUnreadable'],
      [KEY, 'SecretKeyUnreadable'],
      ['.env', 'SecretKeyUnreadable'],
    ] as const) {
      const root = await appWithSecrets({ a: 'value-a' });
      if (name === '.env') writeFileSync(path.join(root, '.env'), 'OTHER=1\n');
      // mkdtemp folders are 0700: let the unprivileged user in, then lock the one file.
      chmodSync(root, 0o755);
      chmodSync(path.join(root, '.triggerbox'), 0o755);
      chmodSync(path.join(root, STORE), 0o644);
      chmodSync(path.join(root, name), 0o000);
      const before = snapshot(root);
      const result = await runBinary(['secrets', 'list'], root);
      assert.equal(result.code, 1, result.stdout);
      assert.match(result.stderr, /permission denied/, name);
      assert.ok(result.stderr.includes(name), result.stderr);
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
      assert.equal(snapshot(root), before);
      // The library's code, from a process that truly cannot read the file.
      const script = path.join(root, 'code.mjs');
      writeFileSync(
        script,
        `import { openSecretStore } from ${JSON.stringify(path.join(repoRoot, 'dist/src/secrets/store.js'))};
try { await openSecretStore({ root: ${JSON.stringify(root)}, env: {} }).resolve('a'); console.log('read'); }
catch (error) { console.log(error.code); }
`,
      );
      chmodSync(script, 0o644);
      const library = await runNode([script], root, { unprivileged: true, env: {} });
      assert.equal(library.stdout.trim(), code, library.stderr);
    }
  });
});

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
