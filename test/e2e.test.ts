/** A few end-to-end runs of the built binary, as a user runs it. */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { MongoClient } from 'mongodb';
import { repoRoot, tempApp } from './helpers.js';

const BIN = path.join(repoRoot, 'dist/src/cli/bin.js');

/** Whether `pid` runs (a zombie no parent reaped has ended). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function triggerbox(
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [BIN, ...args], {
    cwd,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, ...env },
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('e2e: the triggerbox binary', () => {
  it('e2e: runs the demo app at the repo root (what `npm start` shows)', () => {
    const run = triggerbox(
      [
        'function',
        'run',
        '--name',
        'orders/summary',
        '--args',
        '[{"sku":"A1","qty":2},{"sku":"B7","qty":1}]',
      ],
      repoRoot,
    );
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^Logs\n {2}2 order lines, total 29 EUR\nResult\n/);
    assert.match(run.stdout, /"total": \{\n\s+"\$numberInt": "29"/);
  });

  it('e2e: -f json failure prints one JSON object and exits 1', () => {
    const root = tempApp({ 'functions/boom.js': 'exports = () => { throw new Error("kaput"); };' });
    const run = triggerbox(['function', 'run', '--name', 'boom', '-f', 'json'], root);
    assert.equal(run.status, 1);
    assert.deepEqual(JSON.parse(run.stdout), {
      error: 'kaput',
      error_code: 'FunctionExecutionError',
      logs: [],
    });
  });

  it('e2e: a function that exhausts memory in one allocation is reported, and the process exits normally', () => {
    const root = tempApp({
      'functions/huge.js': 'exports = () => new Array(60e6).fill(1.5).length;',
    });
    const run = triggerbox(
      ['function', 'run', '--name', 'huge', '--memory', '64', '-f', 'json'],
      root,
    );
    assert.equal(run.status, 1);
    const out = JSON.parse(run.stdout) as { error: string; error_code: string };
    assert.equal(out.error_code, 'FunctionExecutionError');
    assert.match(out.error, /memory/i);
  });

  it('e2e: a reader that goes away (`function list | head -1`) ends the command quietly', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 30; i++) files[`functions/f${i}.js`] = 'exports = () => 1;';
    const root = tempApp(files);
    const child = spawn(process.execPath, [BIN, 'function', 'list'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // Close the pipe's reading end as `head -1` does once it has its line: writes get EPIPE.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(stderr, '');
    assert.equal(code, 0);
  });

  it('e2e: an isolated-vm that fails to load gives one sentence saying how to fix it', () => {
    const root = tempApp({ 'functions/ok.js': 'exports = () => 1;' });
    // A resolve hook in every process (NODE_OPTIONS reaches the forked sandbox process too) that
    // fails isolated-vm's native binding as a broken install does.
    const hook = path.join(root, 'break-isolated-vm.mjs');
    writeFileSync(
      hook,
      `import { registerHooks } from 'node:module';
registerHooks({ resolve(specifier, context, next) {
  if (specifier.endsWith('.node') || specifier === 'isolated-vm') throw new Error('No native build was found for this platform');
  return next(specifier, context);
} });`,
    );
    const run = spawnSync(process.execPath, [BIN, 'function', 'run', '--name', 'ok'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: `--import=${hook}` },
    });
    assert.equal(run.status, 1);
    assert.match(
      run.stderr,
      /^run failed: isolated-vm failed to load on Node [\d.]+ \(No native build was found for this platform\)\. triggerbox needs Node 24 or later; reinstall isolated-vm with `npm rebuild isolated-vm`/,
    );
    assert.doesNotMatch(run.stderr, /throw new Error|\n\s+at /, 'no source line, no stack');
  });

  it('e2e: db serve answers the official driver, and a write through it fires the DATABASE trigger', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'triggerbox-serve-'));
    cpSync(path.join(repoRoot, 'test/fixtures/apps/orders'), root, { recursive: true });
    const child = spawn(process.execPath, [BIN, 'db', 'serve', '--db-port', '0'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    const seen = (pattern: RegExp): Promise<RegExpMatchArray> =>
      new Promise((resolve) => {
        const check = (): void => {
          const match = pattern.exec(stdout);
          if (match) {
            child.stdout.off('data', check);
            resolve(match);
          }
        };
        child.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
          check();
        });
        check();
      });
    const [, uri] = await seen(/(mongodb:\/\/127\.0\.0\.1:\d+)/);
    const client = new MongoClient(`${uri}/?directConnection=true`);
    try {
      await client
        .db('store')
        .collection('inventory')
        .insertOne({ _id: 'A1', stock: 10 } as never);
      await client.db('store').collection('orders').insertOne({ sku: 'A1', qty: 3 });
      await seen(/--- trigger updateInventory \(insert store\.orders[\s\S]*A1: 7 left/);
      const item = await client
        .db('store')
        .collection('inventory')
        .findOne({ _id: 'A1' } as never);
      assert.equal(item?.['stock'], 7);
    } finally {
      await client.close();
    }
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 0);
  });

  it('e2e: a command ends as a natural exit, not by process.exit(), a package still bundling included', () => {
    // process.exit() can hang for ever on Node 24/26 (nodejs/node#54918): the CLI must not need
    // it. A preload in the CLI's process says so on stderr if it is called (the grace timer of
    // cli/run.ts calls it when something still holds the event loop).
    const spyDir = mkdtempSync(path.join(tmpdir(), 'triggerbox-exit-spy-'));
    const spy = path.join(spyDir, 'exit-spy.cjs');
    writeFileSync(
      spy,
      `if (/bin\\.js$/.test(process.argv[1] ?? '')) {
  const exit = process.exit;
  process.exit = function () { process.stderr.write('\\nprocess.exit() was called\\n'); return exit.apply(process, arguments); };
}`,
    );
    // An ES module package (bundled by esbuild, ahead of the call) that the function does not
    // require: its bundling (about 4 MB) is still running when the call is done.
    let esm = 'export const x = 1;\n';
    for (let i = 0; i < 90_000; i++) esm += `export function f${i}(a) { return a + ${i}; }\n`;
    const root = tempApp({
      'functions/maybe.js':
        'exports = function (n) { if (n === 42) return require("esmpkg").x; return "skipped"; };',
      'functions/node_modules/esmpkg/package.json': {
        name: 'esmpkg',
        version: '1.0.0',
        type: 'module',
        main: 'index.js',
      },
      'functions/node_modules/esmpkg/index.js': esm,
    });
    const env = {
      NODE_OPTIONS: `--require ${spy}`,
      TRIGGERBOX_CACHE_DIR: path.join(spyDir, 'cache'),
    };
    try {
      const ran = triggerbox(['function', 'run', '--name', 'maybe', '--args', '1'], root, env);
      assert.equal(ran.status, 0, ran.stderr);
      assert.match(ran.stdout, /skipped/);
      const failed = triggerbox(['function', 'run', '--name', 'nope'], root, env);
      assert.equal(failed.status, 1);
      assert.match(failed.stderr, /nope/);
      const listed = triggerbox(['function', 'list'], root, env);
      assert.equal(listed.status, 0, listed.stderr);
      for (const run of [ran, failed, listed])
        assert.doesNotMatch(run.stderr, /process\.exit\(\) was called/);
    } finally {
      rmSync(spyDir, { recursive: true, force: true });
    }
  });

  it('e2e: the sandbox process ends when the process that runs it is gone without disposing of it', async () => {
    const root = tempApp({
      'functions/ok.js': 'exports = () => 1;',
      'functions/spin.js': 'exports = () => { for (;;) {} };',
    });
    const index = pathToFileURL(path.join(repoRoot, 'dist/src/index.js')).href;
    // Gone in the middle of a call whose isolate spins: that thread cannot be stopped, and a
    // sandbox process that ended through Node's exit while it ran crashed or hung.
    const script = `import { createRunner, loadApp } from ${JSON.stringify(index)};
const runner = createRunner({ app: loadApp({ root: ${JSON.stringify(root)} }).app });
await runner.execute('ok');
void runner.execute('spin', [], { timeoutMs: 60000 }).catch(() => {});
await new Promise((resolve) => setTimeout(resolve, 500));
process.stdout.write(runner.sandboxPid + '\\n');
process.kill(process.pid, 'SIGKILL');`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    const pid = Number(run.stdout.trim());
    assert.ok(Number.isInteger(pid) && pid > 0, run.stderr);
    // Its IPC channel closed, it ends itself. A bound on the wait, not a figure: 30 s.
    for (let i = 0; i < 300 && running(pid); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(running(pid), false, `sandbox process ${pid} is still running`);
  });

  it('e2e: validate exits 1 on a broken app', () => {
    const root = tempApp({ 'values/v.json': '{"name": }' });
    const run = triggerbox(['validate'], root);
    assert.equal(run.status, 1);
    assert.match(run.stdout, /values\/v\.json:1:10: malformed JSON/);
  });
});
