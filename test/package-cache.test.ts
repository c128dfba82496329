import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createRunner, loadApp } from '../src/index.js';
import { codeHashOf, readBundleAt, withHashHeader } from '../src/runtime/package-cache.js';
import { runCli, tempApp } from './helpers.js';

/** Runs `fn` once in a new runner (a new sandbox process), as another command would. */
async function runOnce(root: string, fn: string): Promise<unknown> {
  const runner = createRunner({ app: loadApp({ root }).app });
  try {
    return (await runner.execute(fn)).result;
  } finally {
    runner.dispose();
  }
}

function entries(cache: string, kind: 'packages' | 'v8'): string[] {
  try {
    return readdirSync(path.join(cache, kind))
      .filter((name) => !name.startsWith('.'))
      .map((name) => path.join(cache, kind, name));
  } catch {
    return [];
  }
}

/** The code cache is written just after the call that compiled it: wait for the file. */
async function settledEntries(cache: string, kind: 'packages' | 'v8'): Promise<string[]> {
  for (let i = 0; i < 200 && entries(cache, kind).length === 0; i++)
    await new Promise((resolve) => setTimeout(resolve, 25));
  return entries(cache, kind);
}

/** What a code cache file covers: the byte after its magic line (package-cache.ts). */
function codeCacheKind(file: string): 'top-level' | 'after-run' | 'unknown' {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch {
    return 'unknown';
  }
  const kind = data[data.indexOf(0x0a) + 1];
  return kind === 0x31 ? 'top-level' : kind === 0x32 ? 'after-run' : 'unknown';
}

describe('package cache (TRIGGERBOX_CACHE_DIR)', () => {
  let cache: string;
  let previous: string | undefined;
  let root: string;
  const pkg = (version: string, body: string): Record<string, string | object> => ({
    // An ES module package: esbuild bundles it, and its bundle is what the cache keeps (a
    // CommonJS package is read file by file, module-files.ts, and needs no bundle).
    'functions/node_modules/counter-pkg/package.json': {
      name: 'counter-pkg',
      version,
      type: 'module',
      main: 'index.js',
    },
    'functions/node_modules/counter-pkg/index.js': body,
  });

  before(() => {
    previous = process.env['TRIGGERBOX_CACHE_DIR'];
    cache = mkdtempSync(path.join(tmpdir(), 'triggerbox-cache-test-'));
    process.env['TRIGGERBOX_CACHE_DIR'] = cache;
    root = tempApp({
      ...pkg('1.0.0', 'export default () => "v1";'),
      'functions/usePkg.js': 'exports = function () { return require("counter-pkg").default(); };',
    });
  });
  after(() => {
    if (previous === undefined) delete process.env['TRIGGERBOX_CACHE_DIR'];
    else process.env['TRIGGERBOX_CACHE_DIR'] = previous;
    rmSync(cache, { recursive: true, force: true });
  });

  it('package cache: a bundle and its code cache are stored, and a later process uses them unchanged', async () => {
    assert.equal(await runOnce(root, 'usePkg'), 'v1');
    const [bundle] = await settledEntries(cache, 'packages');
    const [code] = await settledEntries(cache, 'v8');
    assert.ok(bundle !== undefined && code !== undefined);
    // A process that lives on after the package ran replaces the code cache, once, by the one made
    // after the run (package-script.ts); then a hit writes nothing.
    const runner = createRunner({ app: loadApp({ root }).app });
    try {
      assert.equal((await runner.execute('usePkg')).result, 'v1');
      for (let i = 0; i < 400 && codeCacheKind(code) !== 'after-run'; i++)
        await new Promise((resolve) => setTimeout(resolve, 25));
    } finally {
      runner.dispose();
    }
    assert.equal(codeCacheKind(code), 'after-run');
    const bundleStat = statSync(bundle);
    const codeStat = statSync(code);
    assert.equal(await runOnce(root, 'usePkg'), 'v1');
    // A hit reads the entries and writes nothing: same files (inode), same times.
    assert.equal(statSync(bundle).ino, bundleStat.ino);
    assert.equal(statSync(bundle).mtimeMs, bundleStat.mtimeMs);
    assert.equal(statSync(code).ino, codeStat.ino);
  });

  it('package cache: a corrupted bundle entry is ignored and rebuilt', async () => {
    const [bundle] = entries(cache, 'packages');
    assert.ok(bundle !== undefined);
    const entry = readFileSync(bundle, 'utf8');
    // Same shape and length, altered code: the code's hash no longer matches, so it must not run.
    assert.match(entry, /"v1"/);
    writeFileSync(bundle, entry.replace('"v1"', '"v9"'));
    assert.equal(await runOnce(root, 'usePkg'), 'v1');
    assert.doesNotMatch(readFileSync(bundle, 'utf8'), /"v9"/);
    writeFileSync(bundle, '{"format": 2, "key"');
    assert.equal(await runOnce(root, 'usePkg'), 'v1');
    const header = readFileSync(bundle, 'utf8').split('\n')[0] ?? '';
    assert.doesNotThrow(() => JSON.parse(header));
  });

  it('package cache: an entry written for another key is not used', async () => {
    const [bundle] = entries(cache, 'packages');
    assert.ok(bundle !== undefined);
    const other = tempApp({
      ...pkg('1.0.0', 'export default () => "other app";'),
      'functions/usePkg.js': 'exports = function () { return require("counter-pkg").default(); };',
    });
    assert.equal(await runOnce(other, 'usePkg'), 'other app');
    // The other app's entry, copied over this app's: whole, but for another key.
    const otherEntry = entries(cache, 'packages').find((file) => file !== bundle);
    assert.ok(otherEntry !== undefined);
    writeFileSync(bundle, readFileSync(otherEntry));
    assert.equal(await runOnce(root, 'usePkg'), 'v1');
  });

  it('package cache: a corrupted code cache is ignored and rewritten', async () => {
    for (const file of entries(cache, 'v8')) {
      const data = readFileSync(file);
      data[data.length - 1] = (data[data.length - 1] ?? 0) ^ 0xff;
      writeFileSync(file, data);
    }
    assert.equal(await runOnce(root, 'usePkg'), 'v1');
  });

  it('package cache: a new version of the package invalidates its entry', async () => {
    writeFileSync(
      path.join(root, 'functions/node_modules/counter-pkg/package.json'),
      JSON.stringify({ name: 'counter-pkg', version: '2.0.0', type: 'module', main: 'index.js' }),
    );
    writeFileSync(
      path.join(root, 'functions/node_modules/counter-pkg/index.js'),
      'export default () => "v2";',
    );
    assert.equal(await runOnce(root, 'usePkg'), 'v2');
  });

  it('package cache: an edited package file is a miss even at the same version', async () => {
    const file = path.join(root, 'functions/node_modules/counter-pkg/index.js');
    writeFileSync(file, 'export default () => "v2, patched";');
    assert.equal(await runOnce(root, 'usePkg'), 'v2, patched');
  });

  it('package cache: stack frames in package code are mapped from a cache hit too (the map read on use)', async () => {
    const app = tempApp({
      'functions/node_modules/thrower/package.json': {
        name: 'thrower',
        version: '1.0.0',
        type: 'module',
        main: 'index.js',
      },
      'functions/node_modules/thrower/index.js':
        'export default function check(x) {\n  if (x < 0) {\n    throw new RangeError("negative: " + x);\n  }\n  return x;\n};',
      'functions/useThrower.js':
        'exports = function (x) { return require("thrower").default(x); };',
    });
    for (let i = 0; i < 2; i++) {
      const runner = createRunner({ app: loadApp({ root: app }).app });
      try {
        await assert.rejects(runner.execute('useThrower', [-1]), (error: unknown) => {
          assert.match(
            String((error as { functionStack?: string }).functionStack),
            /functions\/node_modules\/thrower\/index\.js:3:11/,
          );
          return true;
        });
      } finally {
        runner.dispose();
      }
    }
  });

  it('package cache: a call that needs no package completes while another call loads a package', async () => {
    // A package of 4 MB of code, as an ES module (bundled on its first load, empty cache) and as
    // CommonJS (read file by file and compiled in the calling isolate): either takes far longer
    // than a trivial call. Order of completion, not time: the trivial call, started after the
    // load began, ends first, in the same sandbox process.
    for (const esm of [true, false]) {
      const lines: string[] = [];
      for (let i = 0; i < 40_000; i++)
        lines.push(
          esm
            ? `export function f${i}(x) { return x + ${i}; }`
            : `exports.f${i} = function f${i}(x) { return x + ${i}; };`,
        );
      const app = tempApp({
        'functions/node_modules/big-pkg/package.json': {
          name: 'big-pkg',
          version: '1.0.0',
          ...(esm && { type: 'module' }),
          main: 'index.js',
        },
        'functions/node_modules/big-pkg/index.js': lines.join('\n'),
        'functions/useBig.js': 'exports = function () { return require("big-pkg").f7(1); };',
        'functions/trivial.js': 'exports = function () { return "trivial"; };',
      });
      const runner = createRunner({ app: loadApp({ root: app }).app });
      try {
        assert.equal((await runner.execute('trivial')).result, 'trivial');
        const order: string[] = [];
        const loading = runner.execute('useBig').then((outcome) => {
          order.push('package');
          return outcome.result;
        });
        const trivial = runner.execute('trivial').then((outcome) => {
          order.push('trivial');
          return outcome.result;
        });
        assert.deepEqual(await Promise.all([loading, trivial]), [8, 'trivial']);
        assert.deepEqual(order, ['trivial', 'package'], esm ? 'ES module' : 'CommonJS');
      } finally {
        runner.dispose();
      }
    }
  });

  it('package cache: a large bundle reaches the sandbox from its cache entry, and an entry replaced since the check is not run', async () => {
    // Over 256 KiB of code: the sandbox process reads it from the entry (runner.ts PACKAGE_BY_FILE),
    // after the build that wrote it and on a later process's hit.
    const filler = `/* ${'x'.repeat(300 * 1024)} */`;
    const app = tempApp({
      'functions/node_modules/wide-pkg/package.json': {
        name: 'wide-pkg',
        version: '1.0.0',
        type: 'module',
        main: 'index.js',
      },
      'functions/node_modules/wide-pkg/index.js': `const pad = ${JSON.stringify(filler)};\nexport default () => "wide " + pad.length;`,
      'functions/useWide.js': 'exports = function () { return require("wide-pkg").default(); };',
    });
    const expected = `wide ${filler.length}`;
    assert.equal(await runOnce(app, 'useWide'), expected);
    assert.equal(await runOnce(app, 'useWide'), expected);
    // The sandbox's read: the code at the place the parent checked, only while it still names the
    // hash the parent checked; else nothing (and the sandbox asks for the code over IPC).
    const place = { file: path.join(cache, 'probe.bundle'), start: 0, bytes: 0 };
    const code = withHashHeader('module.exports = 1;');
    writeFileSync(place.file, code);
    place.bytes = Buffer.byteLength(code);
    const hash = codeHashOf(code);
    assert.equal(readBundleAt(place, hash), code);
    writeFileSync(place.file, withHashHeader('module.exports = 2;'));
    assert.equal(readBundleAt(place, hash), undefined);
    rmSync(place.file);
    assert.equal(readBundleAt(place, hash), undefined);
  });

  it('package cache: a cache folder that cannot be written (TRIGGERBOX_CACHE_DIR names a file) only costs a rebuild', async () => {
    // Earlier cases edited the package: what it answers now, with a working cache.
    const expected = await runOnce(root, 'usePkg');
    assert.match(String(expected), /^v/);
    const blocker = path.join(cache, 'not-a-folder');
    writeFileSync(blocker, 'keep me');
    process.env['TRIGGERBOX_CACHE_DIR'] = blocker;
    try {
      assert.equal(await runOnce(root, 'usePkg'), expected);
      assert.equal(await runOnce(root, 'usePkg'), expected);
    } finally {
      process.env['TRIGGERBOX_CACHE_DIR'] = cache;
    }
    assert.equal(readFileSync(blocker, 'utf8'), 'keep me');
  });
});

describe('package cache of one-off runs (triggerbox function run)', () => {
  let cache: string;
  let previous: string | undefined;
  before(() => {
    previous = process.env['TRIGGERBOX_CACHE_DIR'];
    cache = mkdtempSync(path.join(tmpdir(), 'triggerbox-cache-oneoff-'));
    process.env['TRIGGERBOX_CACHE_DIR'] = cache;
  });
  after(() => {
    if (previous === undefined) delete process.env['TRIGGERBOX_CACHE_DIR'];
    else process.env['TRIGGERBOX_CACHE_DIR'] = previous;
    rmSync(cache, { recursive: true, force: true });
  });

  it('package cache: a one-off run ends only once the after-run code cache is written, and the next run uses it unchanged', async () => {
    const root = tempApp({
      'functions/node_modules/oneoff-pkg/package.json': {
        name: 'oneoff-pkg',
        version: '1.0.0',
        type: 'module',
        main: 'index.js',
      },
      'functions/node_modules/oneoff-pkg/index.js':
        'const table = Array.from({ length: 50 }, (_, i) => () => i); export default () => `n${table.length}`;',
      'functions/usePkg.js': 'exports = function () { return require("oneoff-pkg").default(); };',
    });
    try {
      const first = await runCli(['function', 'run', '--name', 'usePkg', '-f', 'json'], root);
      assert.equal(first.code, 0, first.stderr);
      // No polling: the command returned, so the sandbox process is gone and the cache written.
      const [code] = entries(cache, 'v8');
      assert.ok(code !== undefined, 'a code cache entry after the first run');
      assert.equal(codeCacheKind(code), 'after-run');
      const written = statSync(code);
      const second = await runCli(['function', 'run', '--name', 'usePkg', '-f', 'json'], root);
      assert.equal(second.code, 0, second.stderr);
      assert.equal(JSON.parse(second.stdout).result, 'n50');
      // The second process loaded the after-run cache and had nothing better to write.
      assert.equal(statSync(code).ino, written.ino);
      assert.equal(statSync(code).mtimeMs, written.mtimeMs);
      assert.equal(codeCacheKind(code), 'after-run');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
