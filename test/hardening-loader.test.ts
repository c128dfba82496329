/**
 * The loader on odd files: dangling symlinks, symlink loops, FIFOs, devices, directories and
 * unreadable files inside an app are reported (file and reason), never read, never followed
 * out of the app, and never crash or freeze a command.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { findAppRoot, formatDiagnostic, loadApp } from '../src/index.js';
import { repoRoot, runCli, runNode, tempApp } from './helpers.js';

const BIN = path.join(repoRoot, 'dist/src/cli/bin.js');

function mkfifo(file: string): void {
  execFileSync('mkfifo', [file]);
}

/** Every diagnostic as one line, for messages. */
function lines(diagnostics: { file: string; message: string }[]): string {
  return diagnostics.map((d) => `${d.file}: ${d.message}`).join('\n');
}

function diagnosticFor(
  diagnostics: { file: string; message: string }[],
  file: string,
  reason: RegExp,
): void {
  assert.ok(
    diagnostics.some((d) => d.file === file && reason.test(d.message)),
    `expected a diagnostic for ${file} matching ${String(reason)}, got:\n${lines(diagnostics)}`,
  );
}

/** Runs the built CLI; as an unprivileged user when asked and this process is root. */
function runBinary(args: string[], cwd: string, unprivileged = false) {
  return runNode([BIN, ...args], cwd, { unprivileged });
}

describe('loader on odd files', () => {
  it('loader: dangling symlinks, symlink loops, FIFOs, devices and directories are reported with file and reason', async () => {
    const root = tempApp({
      'functions/good.js': 'exports = () => "good";',
      'functions/config.json': [{ name: 'good' }],
      'values/plain.json': { name: 'plain', value: 1 },
      'triggers/t.json': {
        name: 't',
        type: 'SCHEDULED',
        config: { schedule: '*/5 * * * *' },
        event_processors: { FUNCTION: { config: { function_name: 'good' } } },
      },
    });
    const fn = (name: string): string => path.join(root, 'functions', name);
    symlinkSync('nowhere.js', fn('dangling.js'));
    symlinkSync('loop.js', fn('loop.js'));
    mkfifo(fn('pipe.js'));
    execFileSync('mknod', [fn('zero.js'), 'c', '1', '5']);
    mkfifo(path.join(root, 'values/pipe.json'));
    mkdirSync(path.join(root, 'values/dir.json'));
    symlinkSync('missing.json', path.join(root, 'triggers/dangling.json'));
    // A folder symlinked to its own parent: followed once at most, never forever.
    symlinkSync('.', fn('again'));

    const { app, diagnostics } = loadApp({ root });
    assert.deepEqual([...app.functions.keys()], ['good']);
    assert.deepEqual([...app.values.keys()], ['plain']);
    assert.deepEqual([...app.triggers.keys()], ['t']);
    diagnosticFor(diagnostics, 'functions/dangling.js', /dangling symlink/);
    diagnosticFor(diagnostics, 'functions/loop.js', /symlink loop/);
    diagnosticFor(diagnostics, 'functions/pipe.js', /FIFO/);
    diagnosticFor(diagnostics, 'functions/zero.js', /character device/);
    diagnosticFor(diagnostics, 'values/pipe.json', /FIFO/);
    diagnosticFor(diagnostics, 'values/dir.json', /directory/);
    diagnosticFor(diagnostics, 'triggers/dangling.json', /dangling symlink/);
    diagnosticFor(diagnostics, 'functions/again', /symlink loop|already read/);
    for (const d of diagnostics) assert.ok(d.hint, formatDiagnostic(d));

    const validate = await runCli(['validate'], root);
    assert.equal(validate.code, 1, validate.stderr);
    assert.match(validate.stdout, /error: functions\/pipe\.js: .*FIFO/);
    assert.match(validate.stdout, /error: functions\/dangling\.js: .*dangling symlink/);
    assert.doesNotMatch(validate.stderr, /\n\s+at /, 'no stack trace');
  });

  it('loader: a symlink to a regular file inside the app is read; one leading outside the app is reported, not followed', () => {
    const outside = path.join(tempApp({}, false), 'secret.js');
    writeFileSync(outside, 'exports = () => "outside";');
    const root = tempApp({
      'functions/own.js': 'exports = () => "own";',
      'lib/shared.js': 'exports = () => "shared";',
      'lib/plain.json': { name: 'linked', value: 2 },
    });
    symlinkSync('../lib/shared.js', path.join(root, 'functions/shared.js'), 'file');
    mkdirSync(path.join(root, 'values'));
    symlinkSync('../lib/plain.json', path.join(root, 'values/linked.json'));
    symlinkSync(outside, path.join(root, 'functions/escape.js'));
    symlinkSync('/etc/hostname', path.join(root, 'values/host.json'));
    const { app, diagnostics } = loadApp({ root });
    assert.deepEqual([...app.functions.keys()].sort(), ['own', 'shared']);
    assert.equal(app.functions.get('shared')?.source, 'exports = () => "shared";');
    assert.deepEqual([...app.values.keys()], ['linked']);
    assert.equal(app.functions.has('escape'), false);
    diagnosticFor(diagnostics, 'functions/escape.js', /outside the app/);
    diagnosticFor(diagnostics, 'values/host.json', /outside the app/);
    assert.ok(!diagnostics.some((d) => d.message.includes('"outside"')));
  });

  it('loader: a FIFO or a directory as the root config, a function config or an environment file is reported, never read', async () => {
    const root = tempApp({ 'functions/a.js': 'exports = () => 1;' }, false);
    mkfifo(path.join(root, 'root_config.json'));
    mkfifo(path.join(root, 'functions/config.json'));
    mkdirSync(path.join(root, 'environments/development.json'), { recursive: true });
    const { diagnostics } = loadApp({ root, environment: 'development' });
    diagnosticFor(diagnostics, 'root_config.json', /FIFO/);
    diagnosticFor(diagnostics, 'functions/config.json', /FIFO/);
    diagnosticFor(diagnostics, 'environments/development.json', /directory/);
    // Walking up for the root never reads a FIFO named like a legacy config either.
    const nested = path.join(root, 'functions/legacy');
    mkdirSync(nested);
    mkfifo(path.join(nested, 'config.json'));
    assert.equal(findAppRoot(nested), root);
  });

  it('loader: a `values` or `functions` that is a file, not a folder, is reported', () => {
    const root = tempApp({ values: 'not a folder', functions: 'not a folder either' });
    const { diagnostics } = loadApp({ root });
    diagnosticFor(diagnostics, 'values', /not a folder|is not a directory/);
    diagnosticFor(diagnostics, 'functions', /not a folder|is not a directory/);
  });

  it('loader: an unreadable file or folder (permission denied) is reported by `validate`', async () => {
    const root = tempApp({
      'functions/good.js': 'exports = () => 1;',
      'functions/locked.js': 'exports = () => 2;',
      'values/locked.json': { name: 'locked', value: 1 },
      'triggers/private/x.json': {},
    });
    chmodSync(path.join(root, 'functions/locked.js'), 0o000);
    chmodSync(path.join(root, 'values/locked.json'), 0o000);
    chmodSync(path.join(root, 'triggers'), 0o300);
    // mkdtemp folders are 0700: let the unprivileged user in.
    chmodSync(root, 0o755);
    chmodSync(path.join(root, 'functions'), 0o755);
    const result = await runBinary(['validate'], root, true);
    chmodSync(path.join(root, 'triggers'), 0o755);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stdout, /error: functions\/locked\.js: .*permission denied/);
    assert.match(result.stdout, /error: values\/locked\.json: .*permission denied/);
    assert.match(result.stdout, /error: triggers: .*permission denied/);
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  });

  it('dev: a FIFO in functions/ is reported at start, and SIGINT stops the server', async () => {
    const root = tempApp({ 'functions/hello.js': 'exports = () => "hi";' });
    mkfifo(path.join(root, 'functions/pipe.js'));
    const child = spawn(process.execPath, [BIN, 'dev', '--port', '0', '--no-schedules'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (output.includes('Ctrl-C to stop')) resolve();
      };
      child.stdout.on('data', check);
      child.on('exit', () => resolve());
    });
    child.kill('SIGINT');
    assert.equal(await exited, 0, output);
    assert.match(output, /functions\/pipe\.js: .*FIFO/);
    assert.match(output, /triggerbox dev: stopped/);
  });
});
