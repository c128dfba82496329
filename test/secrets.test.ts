import assert from 'node:assert/strict';
import { createCipheriv, createHmac, hkdfSync } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { deriveKeys, fileMac, keyCheck, seal, setMac } from '../src/secrets/crypto.js';
import { openSecretStore, type StoreDocument } from '../src/secrets/store.js';
import { TriggerboxError } from '../src/index.js';
import { repoRoot, runCli, tempApp } from './helpers.js';
import { appWithSecrets, otherId, readStore, STORE, writeStore } from './secrets-helpers.js';

/** Asserts that `action` fails with `code` and leaves the store file byte for byte as it was. */
async function failsWithoutChange(
  root: string,
  code: string,
  action: () => Promise<unknown>,
): Promise<TriggerboxError> {
  const before = readFileSync(path.join(root, STORE), 'utf8');
  try {
    await action();
  } catch (error) {
    assert.ok(error instanceof TriggerboxError, String(error));
    assert.equal(error.code, code, error.message);
    assert.equal(readFileSync(path.join(root, STORE), 'utf8'), before, 'the store file changed');
    return error;
  }
  assert.fail(`expected ${code}`);
}

/** The file MAC of `body`, recomputed with node:crypto alone from the app's key file. */
function fileMacByHand(root: string, storeId: string, body: string): string {
  const master = Buffer.from(
    readFileSync(path.join(root, '.triggerbox/master.key'), 'utf8').trim(),
    'base64',
  );
  const key = hkdfSync('sha256', master, Buffer.from(storeId, 'hex'), 'triggerbox/v1/file-mac', 32);
  return createHmac('sha256', Buffer.from(key))
    .update('triggerbox-secrets-file/v1\0')
    .update(body)
    .digest('base64');
}

describe('secret store format', () => {
  it('test vectors: docs/secret-store.md matches the implementation and node:crypto used directly', () => {
    const doc = readFileSync(path.join(repoRoot, 'docs/secret-store.md'), 'utf8');
    const vector = (label: string): string => {
      const match = new RegExp(`^\\| ${label.replace(/[()]/g, '\\$&')} \\| \`([^\`]+)\``, 'm').exec(
        doc,
      );
      assert.ok(match, `no vector '${label}' in docs/secret-store.md`);
      return match[1] ?? '';
    };
    const master = Buffer.from(vector('master key (hex)'), 'hex');
    const storeId = vector('store_id');
    const keys = deriveKeys(master, storeId);
    assert.equal(keys.encryption.toString('hex'), vector('encryption key (hex)'));
    assert.equal(keys.mac.toString('hex'), vector('MAC key (hex)'));
    assert.equal(keys.check.toString('hex'), vector('key-check key (hex)'));
    assert.equal(keys.file.toString('hex'), vector('file-MAC key (hex)'));
    const hkdf = (info: string): string =>
      Buffer.from(hkdfSync('sha256', master, Buffer.from(storeId, 'hex'), info, 32)).toString(
        'hex',
      );
    assert.equal(hkdf('triggerbox/v1/encryption'), vector('encryption key (hex)'));
    assert.equal(hkdf('triggerbox/v1/file-mac'), vector('file-MAC key (hex)'));
    const check = keyCheck(keys, storeId);
    assert.equal(check, vector('key_check'));
    assert.equal(
      createHmac('sha256', keys.check)
        .update(`triggerbox-key-check/v1\0${storeId}`)
        .digest('base64'),
      check,
    );
    const nonce = Buffer.from(vector('nonce (hex)'), 'hex');
    const sealed = seal(keys, storeId, '65f000000000000000000001', 'apiKey', 'hunter2', nonce);
    assert.equal(sealed.ciphertext, vector('ciphertext (base64)'));
    const cipher = createCipheriv('aes-256-gcm', keys.encryption, nonce);
    cipher.setAAD(
      Buffer.from(`triggerbox-secrets/v1\0${storeId}\0${'65f000000000000000000001'}\0apiKey`),
    );
    const direct = Buffer.concat([
      cipher.update('hunter2'),
      cipher.final(),
      cipher.getAuthTag(),
    ]).toString('base64');
    assert.equal(direct, sealed.ciphertext);
    const entry = { id: '65f000000000000000000001', name: 'apiKey', ...sealed };
    assert.equal(
      setMac(keys, storeId, check, [entry]),
      vector('mac of a store holding that one entry'),
    );
  });

  it('format: the file holds names and ciphertexts only, and a fresh nonce on every write', async () => {
    const root = await appWithSecrets({ one: 'same-value', two: 'same-value' });
    const doc = readStore(root);
    assert.equal(doc.triggerbox_secret_store, 1);
    assert.deepEqual(
      doc.secrets.map((s) => s.name),
      ['one', 'two'],
    );
    assert.ok(doc.secrets.every((s) => /^[0-9a-f]{24}$/.test(s.id)));
    assert.notEqual(doc.secrets[0]?.ciphertext, doc.secrets[1]?.ciphertext);
    assert.ok(!readFileSync(path.join(root, STORE), 'utf8').includes('same-value'));
    const store = openSecretStore({ root, env: {} });
    const nonce = doc.secrets[0]?.nonce;
    await store.update('one', { value: 'same-value' });
    assert.notEqual(readStore(root).secrets[0]?.nonce, nonce);
    assert.equal(await store.resolve('one'), 'same-value');
  });

  it('file MAC: the file ends with an HMAC over its own bytes; a copy reformatted or from an older version is checked entry by entry, and the next write signs it again', async () => {
    const root = await appWithSecrets({ one: 'value-1', two: 'value-2' });
    const file = path.join(root, STORE);
    const text = readFileSync(file, 'utf8');
    const tail = /,\n "file_mac": "([A-Za-z0-9+/]{43}=)"\n\}\n$/.exec(text);
    assert.ok(tail, `the file does not end with its file MAC:\n${text.slice(-120)}`);
    const doc = readStore(root);
    assert.equal(fileMacByHand(root, doc.store_id, text.slice(0, tail.index)), tail[1]);
    // The document is what it was before the file MAC: one-space indent, `mac` over the entries.
    const { file_mac: _, ...unsigned } = doc;
    assert.equal(text.slice(0, tail.index), JSON.stringify(unsigned, null, 1).slice(0, -2));

    // Reformatted (an editor, prettier) or written by an older triggerbox: the bytes differ, so
    // the entries and `mac` are checked as they always were, and the store opens.
    for (const copy of [JSON.stringify(doc, null, 2), JSON.stringify(unsigned, null, 1) + '\n']) {
      writeFileSync(file, copy);
      const store = openSecretStore({ root, env: {} });
      assert.deepEqual(
        (await store.list()).map((s) => s.name),
        ['one', 'two'],
      );
      assert.equal(await store.resolve('two'), 'value-2');
    }
    await openSecretStore({ root, env: {} }).create('three', 'value-3');
    assert.match(readFileSync(file, 'utf8'), /"file_mac": "[A-Za-z0-9+/]{43}="\n\}\n$/);
    assert.equal(await openSecretStore({ root, env: {} }).resolve('one'), 'value-1');
  });

  it('file MAC: a file signed under the key is taken as it is; bytes changed under an unchanged file MAC are checked entry by entry, and caught', async () => {
    const root = await appWithSecrets({ one: 'value-1', two: 'value-2' });
    const file = path.join(root, STORE);
    const text = readFileSync(file, 'utf8');
    const doc = readStore(root);
    const master = Buffer.from(
      readFileSync(path.join(root, '.triggerbox/master.key'), 'utf8').trim(),
      'base64',
    );
    const keys = deriveKeys(master, doc.store_id);
    // Signed by the key's holder, the file is not checked again: here its `mac` is wrong, which
    // a reader that ignored the file MAC would report as tampering.
    const { file_mac: _, ...unsigned } = doc;
    const body = JSON.stringify({ ...unsigned, mac: 'A'.repeat(43) + '=' }, null, 1).slice(0, -2);
    writeFileSync(file, `${body},\n "file_mac": "${fileMac(keys, Buffer.from(body))}"\n}\n`);
    assert.equal(await openSecretStore({ root, env: {} }).resolve('one'), 'value-1');

    // The same kind of file without the key: every change to the signed bytes fails the file MAC,
    // and then the entry-by-entry check finds it.
    const [first, second] = doc.secrets;
    assert.ok(first && second);
    const flipped = first.ciphertext.startsWith('A') ? 'B' : 'A';
    const changes: [string, string, string][] = [
      ['an entry swapped', '', '\u0000'],
      ['a ciphertext changed', first.ciphertext, flipped + first.ciphertext.slice(1)],
      ['an entry removed', '', ''],
      ['the store id changed', doc.store_id, otherId(doc.store_id)],
    ];
    for (const [what, from, to] of changes) {
      let changed: string;
      if (what === 'an entry swapped') {
        changed = text
          .replace(first.ciphertext, to)
          .replace(second.ciphertext, first.ciphertext)
          .replace(to, second.ciphertext);
      } else if (what === 'an entry removed') {
        const start = text.indexOf('\n  {');
        changed = text.slice(0, start) + text.slice(text.indexOf('\n  {', start + 1));
      } else {
        changed = text.replace(from, to);
      }
      assert.notEqual(changed, text, what);
      assert.ok(changed.endsWith(text.slice(-70)), `${what}: the file MAC stays`);
      writeFileSync(file, changed);
      await failsWithoutChange(root, 'SecretStoreTampered', () =>
        openSecretStore({ root, env: {} }).list(),
      );
    }

    // An entry that breaks the shape, under a file MAC that no longer matches: still corrupt, and
    // reported before the key is even looked for.
    writeFileSync(file, text.replace(first.nonce, 'not*base64'));
    await failsWithoutChange(root, 'SecretStoreCorrupt', () =>
      openSecretStore({ root, env: {} }).list(),
    );
    rmSync(path.join(root, '.triggerbox/master.key'));
    await failsWithoutChange(root, 'SecretStoreCorrupt', () =>
      openSecretStore({ root, env: {} }).list(),
    );
  });

  it('a store object reads the file again once it changed, and verifies what changed', async () => {
    const root = await appWithSecrets({ one: 'value-1' });
    const reader = openSecretStore({ root, env: {} });
    assert.equal(await reader.resolve('one'), 'value-1');
    // Another process (another store object) changes it: the next read sees the change.
    await openSecretStore({ root, env: {} }).update('one', { value: 'value-2' });
    assert.equal(await reader.resolve('one'), 'value-2');
    // Altered under the same store object: the change is verified, not served from before.
    const file = path.join(root, STORE);
    const text = readFileSync(file, 'utf8');
    const at = text.indexOf('"ciphertext": "') + '"ciphertext": "'.length;
    writeFileSync(file, text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1));
    await failsWithoutChange(root, 'SecretStoreTampered', () => reader.resolve('one'));
  });

  it('create keeps the signed bytes and appends: the file is exactly the whole document rendered, whatever came before', async () => {
    const root = await appWithSecrets({ one: 'value-1' });
    const file = path.join(root, STORE);
    /** The file as the whole document renders, with its file MAC recomputed by node:crypto. */
    const rendered = (text: string): string => {
      const { file_mac: _, ...unsigned } = JSON.parse(text) as StoreDocument;
      const body = JSON.stringify(unsigned, null, 1).slice(0, -2);
      return `${body},\n "file_mac": "${fileMacByHand(root, unsigned.store_id, body)}"\n}\n`;
    };
    const store = openSecretStore({ root, env: {} });
    const steps: [string, () => Promise<unknown>][] = [
      ['a create after a create', () => store.create('two', 'value-2')],
      [
        'a create after an update',
        async () => {
          await store.update('one', { name: 'uno', value: 'valor-1' });
          await store.create('three', 'value-3 "quoted" \\ \u00e9\u4e16\n');
        },
      ],
      [
        'a create after a delete',
        async () => {
          await store.delete(['two']);
          await store.create('four', 'value-4');
        },
      ],
      [
        'a create after an older, unsigned copy',
        async () => {
          const { file_mac: _, ...unsigned } = readStore(root);
          writeFileSync(file, `${JSON.stringify(unsigned, null, 1)}\n`);
          await store.create('five', 'value-5');
        },
      ],
      [
        'a create after a copy with a member unknown to this version, an array, before `mac`',
        async () => {
          const { mac, file_mac: _, ...rest } = readStore(root);
          writeFileSync(file, JSON.stringify({ ...rest, extra: ['x'], mac }, null, 1));
          await store.update('three', { value: 'value-3b' });
          await store.create('three_b', 'value-3c');
          assert.deepEqual(readStore(root)['extra' as keyof StoreDocument], ['x']);
          assert.equal(await openSecretStore({ root, env: {} }).resolve('three_b'), 'value-3c');
        },
      ],
      [
        'a create after a reformatted copy',
        async () => {
          writeFileSync(file, JSON.stringify(readStore(root), null, 2));
          await store.create('six', 'value-6');
        },
      ],
      [
        'a create into an empty store',
        async () => {
          await store.delete(['uno', 'three', 'three_b', 'four', 'five', 'six']);
          await store.create('seven', 'value-7');
        },
      ],
    ];
    for (const [what, step] of steps) {
      await step();
      const text = readFileSync(file, 'utf8');
      assert.equal(text, rendered(text), what);
    }
    const fresh = openSecretStore({ root, env: {} });
    assert.deepEqual(
      (await fresh.list()).map((s) => s.name),
      ['seven'],
    );
    assert.equal(await fresh.resolve('seven'), 'value-7');
  });

  it('key file: created with mode 0600 on the first create, and kept out of git', async () => {
    const root = await appWithSecrets({ a: 'value-a' });
    const keyFile = path.join(root, '.triggerbox/master.key');
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    assert.match(
      readFileSync(path.join(root, '.gitignore'), 'utf8'),
      /^\.triggerbox\/master\.key$/m,
    );
  });

  it("key: TRIGGERBOX_MASTER_KEY (environment, then the app's .env) wins over the key file", async () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    const root = tempApp({ '.env': `TRIGGERBOX_MASTER_KEY=${key}\n` });
    await openSecretStore({ root, env: {} }).create('s', 'from-dotenv-key');
    assert.equal(existsSync(path.join(root, '.triggerbox/master.key')), false);
    assert.equal(
      await openSecretStore({ root, env: { TRIGGERBOX_MASTER_KEY: key } }).resolve('s'),
      'from-dotenv-key',
    );
    const other = Buffer.alloc(32, 9).toString('hex');
    await failsWithoutChange(root, 'SecretKeyWrong', () =>
      openSecretStore({ root, env: { TRIGGERBOX_MASTER_KEY: other } }).list(),
    );
  });
});

describe('secret store damage', () => {
  it('keys: a wrong, a missing and a malformed key are distinct errors that change nothing', async () => {
    const root = await appWithSecrets({ a: 'value-a' });
    const wrong = Buffer.alloc(32, 1).toString('base64');
    const error = await failsWithoutChange(root, 'SecretKeyWrong', () =>
      openSecretStore({ root, env: { TRIGGERBOX_MASTER_KEY: wrong } }).list(),
    );
    assert.match(error.hint ?? '', /store id [0-9a-f]{32}/);
    await failsWithoutChange(root, 'SecretKeyInvalid', () =>
      openSecretStore({ root, env: { TRIGGERBOX_MASTER_KEY: 'short' } }).list(),
    );
    const keyFile = path.join(root, '.triggerbox/master.key');
    const key = readFileSync(keyFile, 'utf8');
    writeFileSync(keyFile, '');
    await failsWithoutChange(root, 'SecretKeyInvalid', () =>
      openSecretStore({ root, env: {} }).create('b', 'x'),
    );
    (await import('node:fs')).unlinkSync(keyFile);
    const missing = await failsWithoutChange(root, 'SecretKeyMissing', () =>
      openSecretStore({ root, env: {} }).create('b', 'value'),
    );
    assert.match(missing.hint ?? '', /TRIGGERBOX_MASTER_KEY/);
    writeFileSync(keyFile, key);
    assert.equal(await openSecretStore({ root, env: {} }).resolve('a'), 'value-a');
  });

  it('tampering: changing any part of the file is detected, and nothing changes', async () => {
    const root = await appWithSecrets({ a: 'value-a', b: 'value-b', c: 'value-c' });
    const original = readStore(root);
    const flip = (text: string): string => (text[0] === 'A' ? 'B' : 'A') + text.slice(1);
    const mutations: [string, (d: StoreDocument) => void, string][] = [
      ['store_id', (d) => void (d.store_id = otherId(d.store_id)), 'SecretStoreTampered'],
      ['key_check', (d) => void (d.key_check = flip(d.key_check)), 'SecretStoreTampered'],
      ['key_id', (d) => void (d.key_id = flip(d.key_id ?? '')), 'SecretStoreTampered'],
      ['mac', (d) => void (d.mac = flip(d.mac)), 'SecretStoreTampered'],
      ['an id', (d) => void (d.secrets[1]!.id = '0'.repeat(24)), 'SecretStoreTampered'],
      ['a name', (d) => void (d.secrets[1]!.name = 'renamed'), 'SecretStoreTampered'],
      [
        'a nonce',
        (d) => void (d.secrets[1]!.nonce = flip(d.secrets[1]!.nonce)),
        'SecretStoreTampered',
      ],
      [
        'a ciphertext',
        (d) => void (d.secrets[1]!.ciphertext = flip(d.secrets[1]!.ciphertext)),
        'SecretStoreTampered',
      ],
      [
        'swapped ciphertexts',
        (d) => {
          const [x, y] = [d.secrets[0]!, d.secrets[1]!];
          [x.ciphertext, y.ciphertext, x.nonce, y.nonce] = [
            y.ciphertext,
            x.ciphertext,
            y.nonce,
            x.nonce,
          ];
        },
        'SecretStoreTampered',
      ],
      ['a removed entry', (d) => void d.secrets.splice(1, 1), 'SecretStoreTampered'],
      ['reordered entries', (d) => void d.secrets.reverse(), 'SecretStoreTampered'],
      [
        'a duplicated entry',
        (d) => void d.secrets.push({ ...d.secrets[0]!, id: '1'.repeat(24), name: 'copy' }),
        'SecretStoreTampered',
      ],
      ['the version', (d) => void (d.triggerbox_secret_store = 2), 'SecretStoreCorrupt'],
      [
        'a missing field',
        (d) => void delete (d as Partial<StoreDocument>).mac,
        'SecretStoreCorrupt',
      ],
      ['bad base64', (d) => void (d.secrets[0]!.ciphertext = '%%%'), 'SecretStoreCorrupt'],
    ];
    for (const [what, mutate, code] of mutations) {
      const doc = structuredClone(original);
      mutate(doc);
      writeStore(root, doc);
      const store = openSecretStore({ root, env: {} });
      const error = await failsWithoutChange(root, code, () => store.list()).catch((e: unknown) => {
        throw new Error(`${what}: ${String(e)}`);
      });
      assert.match(error.hint ?? '', /restore|key/, what);
      await failsWithoutChange(root, code, () => store.create('new', 'value'));
    }
    writeFileSync(path.join(root, STORE), '{not json');
    await failsWithoutChange(root, 'SecretStoreCorrupt', () =>
      openSecretStore({ root, env: {} }).list(),
    );
    writeStore(root, original);
    assert.equal(await openSecretStore({ root, env: {} }).resolve('b'), 'value-b');
  });

  it('tampering: a rolled-back entry (an older ciphertext of the same secret) is detected', async () => {
    const root = await appWithSecrets({ a: 'version-1' });
    const old = readStore(root).secrets[0]!;
    await openSecretStore({ root, env: {} }).update('a', { value: 'version-2' });
    const doc = readStore(root);
    doc.secrets[0] = old;
    writeStore(root, doc);
    await failsWithoutChange(root, 'SecretStoreTampered', () =>
      openSecretStore({ root, env: {} }).resolve('a'),
    );
  });
});

describe('secrets commands', () => {
  it('secrets create/list: the appservices messages, table and -f json lines', async () => {
    const root = tempApp({});
    assert.equal(
      (await runCli(['secrets', 'list'], root)).stdout,
      'No available secrets to show\n',
    );
    const created = await runCli(['secrets', 'create', '--name', 'apiKey', '--value', 'v1'], root);
    assert.equal(created.code, 0, created.stderr);
    const id = /^Successfully created secret, id: ([0-9a-f]{24})\n$/.exec(created.stdout)?.[1];
    assert.ok(id, created.stdout);
    await runCli(['secrets', 'create', '-n', 'dbPassword', '-v', 'v2'], root);
    const list = await runCli(['secrets', 'ls'], root);
    const lines = list.stdout.split('\n');
    assert.equal(lines[0], 'Found 2 secrets');
    // Every cell padded to its column, as appservices prints tables (trailing spaces kept).
    assert.equal(lines[1], '  ID                        Name      ');
    assert.equal(lines[2], '  ------------------------  ----------');
    assert.equal(lines[3], `  ${id}  apiKey    `);
    const json = JSON.parse(
      (await runCli(['secrets', 'list', '-f', 'json'], root)).stdout,
    ) as Record<string, unknown>;
    assert.equal(json['level'], 'info');
    assert.equal(json['message'], 'Found 2 secrets');
    assert.deepEqual(json['headers'], ['ID', 'Name']);
    assert.deepEqual((json['data'] as Record<string, string>[])[0], { ID: id, Name: 'apiKey' });
    assert.match(String(json['time']), /^\d{4}-\d{2}-\d{2}T/);
  });

  it('secrets commands: --local, --app and --env as for every command; a function file that does not parse does not stop them', async () => {
    // The secrets commands read only the app's head (loadAppHead), not its functions.
    const root = tempApp({ 'functions/broken.js': 'exports = function ( {' });
    const created = await runCli(['secrets', 'create', '-n', 'k', '-v', 'v', '--local', root], '/');
    assert.equal(created.code, 0, created.stderr);
    assert.match((await runCli(['secrets', 'list'], root)).stdout, /^Found 1 secrets\n/);
    const other = await runCli(['secrets', 'list', '--app', 'other'], root);
    assert.equal(other.code, 1);
    assert.match(other.stderr, /setup failed: failed to find app 'other'/);
    const env = await runCli(['secrets', 'list', '--env', 'staging'], root);
    assert.equal(env.code, 1);
    assert.match(env.stderr, /setup failed: .*staging/);
    const none = await runCli(['secrets', 'list'], path.dirname(root));
    assert.equal(none.code, 1);
    assert.match(none.stderr, /setup failed: no App Services app found/);
  });

  it('secrets create: the value from stdin, or from a masked prompt, never echoed', async () => {
    const root = tempApp({});
    assert.equal(
      (await runCli(['secrets', 'create', '--name', 'piped'], root, { stdin: 'from-stdin\n' }))
        .code,
      0,
    );
    const prompted = await runCli(['secrets', 'create'], root, {
      answers: ['prompted', 'from-prompt'],
    });
    assert.equal(prompted.code, 0, prompted.stderr);
    assert.match(prompted.stderr, /Secret Name: Secret Value: /);
    const store = openSecretStore({ root, env: {} });
    assert.equal(await store.resolve('piped'), 'from-stdin');
    assert.equal(await store.resolve('prompted'), 'from-prompt');
    const none = await runCli(['secrets', 'create', '--name', 'empty'], root, { stdin: '' });
    assert.equal(none.code, 1);
    assert.match(none.stderr, /missing secret value/);
  });

  it('secrets create: names and values break the platform rules with the rule quoted; duplicates are refused', async () => {
    const root = tempApp({});
    const badName = await runCli(['secrets', 'create', '--name=-bad', '--value', 'x'], root);
    assert.equal(badName.code, 1);
    assert.match(
      badName.stderr,
      /invalid secret name '-bad': names must be at most 64 characters long, contain only ASCII letters, digits, underscores \(_\) and hyphens \(-\), and start with a letter or digit/,
    );
    const long = await runCli(
      ['secrets', 'create', '--name', 'ok', '--value', 'x'.repeat(501)],
      root,
    );
    assert.equal(long.code, 1);
    assert.match(
      long.stderr,
      /the secret value is 501 characters long: secret values must be strings of at most 500 characters/,
    );
    assert.equal(
      (await runCli(['secrets', 'create', '--name', 'ok', '--value', 'x'.repeat(500)], root)).code,
      0,
    );
    const dup = await runCli(
      ['secrets', 'create', '--name', 'ok', '--value', 'y', '-f', 'json'],
      root,
    );
    assert.equal(dup.code, 1);
    const err = JSON.parse(dup.stderr) as Record<string, string>;
    assert.equal(err['level'], 'error');
    assert.match(err['err'] ?? '', /a secret named 'ok' already exists/);
    assert.equal(dup.stdout, '');
  });

  it("secrets update: by name or id, rename and/or new value; the platform's errors", async () => {
    const root = tempApp({});
    const id =
      /id: (\w+)/.exec(
        (await runCli(['secrets', 'create', '-n', 'old', '-v', 'v1'], root)).stdout,
      )?.[1] ?? '';
    const neither = await runCli(['secrets', 'update', '--secret', 'old'], root);
    assert.equal(neither.code, 1);
    assert.match(
      neither.stderr,
      /^secret update setup failed: must set either --name or --value when updating a secret\n/,
    );
    const unknown = await runCli(['secrets', 'update', '--secret', 'nope', '--value', 'x'], root);
    assert.match(unknown.stderr, /^secret update failed: unable to find secret: nope\n/);
    assert.equal(
      (await runCli(['secrets', 'update', '-s', 'old', '-n', 'renamed'], root)).stdout,
      'Successfully updated secret\n',
    );
    assert.equal((await runCli(['secrets', 'update', '-s', id, '-v', 'v2'], root)).code, 0);
    assert.equal(
      (await runCli(['secrets', 'update', '-s', 'renamed'], root, { stdin: 'v3\n' })).code,
      0,
    );
    const store = openSecretStore({ root, env: {} });
    assert.deepEqual(await store.list(), [{ id, name: 'renamed' }]);
    assert.equal(await store.resolve('renamed'), 'v3');
  });

  it('secrets delete: comma-separated and repeated, names or ids; unmatched dropped; none matched is an error', async () => {
    const root = tempApp({});
    const ids: string[] = [];
    for (const name of ['a', 'b', 'c', 'd']) {
      ids.push(
        /id: (\w+)/.exec(
          (await runCli(['secrets', 'create', '-n', name, '-v', `value-${name}`], root)).stdout,
        )?.[1] ?? '',
      );
    }
    const run = await runCli(['secrets', 'delete', '--secret', 'a,nope', '-s', ids[2] ?? ''], root);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.split('\n');
    assert.equal(lines[0], 'Deleted 2 secret(s)');
    assert.match(lines[1] ?? '', /^ {2}ID +Name +Deleted +Details *$/);
    assert.match(lines[3] ?? '', new RegExp(`^  ${ids[0]}  a +true *$`));
    assert.deepEqual(
      (await openSecretStore({ root, env: {} }).list()).map((s) => s.name),
      ['b', 'd'],
    );
    const none = await runCli(['secrets', 'delete', '-s', 'x,y'], root);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /^secrets delete failed: unable to find secrets\n/);
  });

  it('secrets rotate-key: every secret re-encrypted under a new key; the old key no longer opens the store', async () => {
    const root = tempApp({});
    await runCli(['secrets', 'create', '-n', 'a', '-v', 'value-a'], root);
    await runCli(['secrets', 'create', '-n', 'b', '-v', 'value-b'], root);
    const oldKey = readFileSync(path.join(root, '.triggerbox/master.key'), 'utf8').trim();
    const before = readStore(root);
    const run = await runCli(['secrets', 'rotate-key'], root);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /Re-encrypted 2 secret\(s\) under a new master key/);
    const after = readStore(root);
    assert.notEqual(after.store_id, before.store_id);
    assert.deepEqual(
      after.secrets.map((s) => s.id),
      before.secrets.map((s) => s.id),
    );
    assert.equal(statSync(path.join(root, '.triggerbox/master.key')).mode & 0o777, 0o600);
    assert.equal(await openSecretStore({ root, env: {} }).resolve('b'), 'value-b');
    await failsWithoutChange(root, 'SecretKeyWrong', () =>
      openSecretStore({ root, env: { TRIGGERBOX_MASTER_KEY: oldKey } }).list(),
    );
    const fromEnv = await runCli(['secrets', 'rotate-key'], root, {
      env: {
        TRIGGERBOX_MASTER_KEY: readFileSync(
          path.join(root, '.triggerbox/master.key'),
          'utf8',
        ).trim(),
      },
    });
    assert.equal(fromEnv.code, 1);
    assert.match(fromEnv.stderr, /rotate-key rotates the key file/);
  });

  it('secrets rotate-key: a rotation interrupted after the store was written is finished by the next open', async () => {
    const root = await appWithSecrets({ a: 'value-a' });
    const keyFile = path.join(root, '.triggerbox/master.key');
    const oldKey = readFileSync(keyFile, 'utf8');
    await openSecretStore({ root, env: {} }).rotateKey();
    // Simulate the crash: the new key still only in master.key.next, the old one in master.key.
    writeFileSync(path.join(root, '.triggerbox/master.key.next'), readFileSync(keyFile, 'utf8'), {
      mode: 0o600,
    });
    writeFileSync(keyFile, oldKey);
    assert.equal(await openSecretStore({ root, env: {} }).resolve('a'), 'value-a');
    assert.equal(existsSync(path.join(root, '.triggerbox/master.key.next')), false);
  });

  it('secrets import: a dotenv file comes in whole (or not at all), then says the plaintext can go', async () => {
    const root = tempApp({
      'prod.env': 'API_KEY=abc123\nDB_PASSWORD="p@ss word"\n',
      'bad.env': 'GOOD=1\nBAD NAME=2\n-x=3\n',
    });
    const run = await runCli(['secrets', 'import', '--from', 'prod.env'], root);
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stdout,
      /Imported 2 secret\(s\) from prod\.env \(2 created, 0 updated\)\. The plaintext file prod\.env is no longer needed: delete it\./,
    );
    assert.equal(await openSecretStore({ root, env: {} }).resolve('DB_PASSWORD'), 'p@ss word');
    const before = readFileSync(path.join(root, STORE), 'utf8');
    const bad = await runCli(['secrets', 'import', '--from', 'bad.env'], root);
    assert.equal(bad.code, 1);
    assert.match(
      bad.stderr,
      /bad\.env: invalid secret name 'BAD NAME' \(line 2\), '-x' \(line 3\): names must be/,
    );
    assert.equal(readFileSync(path.join(root, STORE), 'utf8'), before);
    assert.equal((await runCli(['secrets', 'import', '--from', 'missing.env'], root)).code, 1);
  });

  it('secrets import: a key that is no secret name is named with its line and the rule, and nothing comes in', async () => {
    const root = tempApp({
      'accents.env': '# comment = not a key\nOK=1\nCLÉ=1\n',
      'pem.env': 'export PEM="-----BEGIN-----\nab+c/d=\n-----END-----"\nNEXT: two\n',
    });
    const run = await runCli(['secrets', 'import', '--from', 'accents.env'], root);
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      /accents\.env: invalid secret name 'CLÉ' \(line 3\): names must be at most 64 characters long, contain only ASCII letters/,
    );
    assert.match(run.stderr, /hint: rename those keys in accents\.env; nothing was imported/);
    assert.doesNotMatch(run.stderr, /holds no KEY=value lines/);
    assert.equal(existsSync(path.join(root, STORE)), false);
    // Lines inside a quoted multi-line value are no keys.
    const pem = await runCli(['secrets', 'import', '--from', 'pem.env'], root);
    assert.equal(pem.code, 0, pem.stderr);
    const store = openSecretStore({ root, env: {} });
    assert.equal(await store.resolve('PEM'), '-----BEGIN-----\nab+c/d=\n-----END-----');
    assert.equal(await store.resolve('NEXT'), 'two');
  });

  it('canary: a secret value never appears in any command output, log line, error, or file in clear', async () => {
    const canary = 'CANARY-9f2c1e7d-s3cr3t';
    const root = tempApp({
      'values/token.json': { name: 'token', value: 'tokenSecret', from_secret: true },
      'values/copy.json': { name: 'copy', value: 'tokenSecret', from_secret: true },
      'functions/leaky.js':
        'exports = function () { const t = context.values.get("token"); console.log("token=" + t); console.error(`again ${context.values.get("copy")}`); throw new Error("failed with " + t); };',
    });
    const outputs: string[] = [];
    const run = async (args: string[], stdin?: string): Promise<void> => {
      const result = await runCli(args, root, stdin === undefined ? {} : { stdin });
      outputs.push(result.stdout, result.stderr);
    };
    await run(['secrets', 'create', '--name', 'tokenSecret'], `${canary}\n`);
    await run(['secrets', 'list']);
    await run(['secrets', 'list', '-f', 'json']);
    // A value that looks like flags must not be echoed back letter by letter by the parser.
    await run(['secrets', 'update', '--secret', 'tokenSecret', '--value', `-${canary}`]);
    await run(['secrets', 'create', '--name', 'other', '-v', `--${canary}`]);
    await run(['secrets', 'create', '--name', 'tokenSecret', '--value', canary]);
    await run(['secrets', 'update', '--secret', 'tokenSecret', '--value', canary]);
    await run([
      'secrets',
      'update',
      '--secret',
      'tokenSecret',
      '--value',
      `${canary}${'x'.repeat(500)}`,
    ]);
    await run(['values', 'list']);
    await run(['values', 'check']);
    await run(['validate']);
    await run(['function', 'run', '--name', 'leaky', '--trace-values']);
    await run(['function', 'run', '--name', 'leaky', '--trace-values', '-f', 'json']);
    await run(['secrets', 'rotate-key']);
    await run(['secrets', 'delete', '--secret', 'tokenSecret']);
    const all = outputs.join('\n');
    assert.ok(!all.includes(canary), `the canary leaked:\n${all}`);
    assert.ok(!all.includes('Unknown argument'), `the parser echoed a value:\n${all}`);
    assert.match(all, /a value that starts with '-' must be written --value=-/);
    assert.match(all, /token=\*{8}/);
    assert.match(all, /again \*{8}/);
    assert.match(all, /failed with \*{8}/);
    const files = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? files(path.join(dir, e.name)) : [path.join(dir, e.name)],
      );
    for (const file of files(root))
      assert.ok(!readFileSync(file, 'utf8').includes(canary), `${file} holds the canary`);
  });
});
