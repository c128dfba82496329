/**
 * The npm package as a user gets it: `npm pack` of the built project, installed into a fresh
 * project, run there with `npx triggerbox`, and imported as a library. Uses the normal npm cache
 * with --prefer-offline, so only the first run on a machine downloads the dependencies.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { repoRoot } from './helpers.js';

const windows = process.platform === 'win32';

// The npm running `npm test` (npm_execpath) under this test's Node; `npm`/`npx` from PATH when
// the test is run by `node --test` directly.
const npmCli = process.env.npm_execpath;
const clis =
  npmCli !== undefined && /npm-cli\.js$/.test(npmCli)
    ? { npm: npmCli, npx: path.join(path.dirname(npmCli), 'npx-cli.js') }
    : undefined;

// What `npm test` exports to its scripts (npm_lifecycle_*, npm_package_*, npm_config_local_prefix
// pointing at this repository ...) would make the npm commands below act on this repository
// instead of the fresh project: keep only the settings a user's own shell could carry.
const KEEP_NPM_CONFIG = new Set([
  'cache',
  'userconfig',
  'globalconfig',
  'registry',
  'nodedir',
  'proxy',
  'https_proxy',
  'noproxy',
  'cafile',
  'strict_ssl',
]);
const env: Record<string, string | undefined> = {};
for (const [key, value] of Object.entries(process.env)) {
  const lower = key.toLowerCase();
  if (lower === 'init_cwd') continue;
  if (lower.startsWith('npm_') && !KEEP_NPM_CONFIG.has(lower.replace(/^npm_config_/, ''))) {
    continue;
  }
  env[key] = value;
}
// `npm test` also puts this repository's node_modules/.bin first on PATH.
const pathKey = Object.keys(env).find((key) => key.toLowerCase() === 'path') ?? 'PATH';
env[pathKey] = (env[pathKey] ?? '')
  .split(path.delimiter)
  .filter((dir) => !dir.startsWith(repoRoot))
  .join(path.delimiter);

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(command: 'npm' | 'npx' | 'node', args: string[], cwd: string): Run {
  let file: string = command;
  let argv = args;
  if (command === 'node') file = process.execPath;
  else if (clis) {
    file = process.execPath;
    argv = [clis[command], ...args];
  }
  const result = spawnSync(file, argv, {
    cwd,
    env,
    encoding: 'utf8',
    shell: windows && file === command,
  });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function ok(result: Run, what: string): Run {
  assert.equal(result.status, 0, `${what} failed:\n${result.stdout}\n${result.stderr}`);
  return result;
}

function write(root: string, files: Record<string, string | object>): void {
  for (const [file, content] of Object.entries(files)) {
    const abs = path.join(root, file);
    mkdirSync(path.dirname(abs), { recursive: true });
    writeFileSync(abs, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  }
}

describe('npm package', () => {
  let work: string;
  let project: string;
  let packed: string[];

  before(() => {
    work = mkdtempSync(path.join(tmpdir(), 'triggerbox-package-'));
    // --ignore-scripts: `prepare` would rebuild dist/ under the tests running beside this one;
    // `npm test` has just built it.
    const pack = ok(
      run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], repoRoot),
      'npm pack',
    );
    const [info] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
    assert.ok(info);
    packed = info.files.map((file) => file.path);

    project = path.join(work, 'project');
    write(project, {
      'package.json': {
        name: 'consumer',
        private: true,
        // What README's Install section tells a project to add for npm 11/12.
        allowScripts: { 'isolated-vm': true, esbuild: true },
      },
      'root_config.json': { name: 'tiny', environment: '' },
      'values/greeting.json': { name: 'greeting', value: 'hello', private: false },
      'functions/config.json': [{ name: 'greet', private: false }],
      // require() of a package from functions/node_modules goes through esbuild.
      'functions/greet.js':
        'exports = function (name) {\n  console.log("greeting", name);\n  const shout = require("shout");\n  return { text: shout(context.values.get("greeting") + " " + name), n: 2 };\n};',
      'functions/package.json': { dependencies: { shout: '1.0.0' } },
      'functions/node_modules/shout/package.json': {
        name: 'shout',
        version: '1.0.0',
        main: 'index.js',
      },
      'functions/node_modules/shout/index.js': 'module.exports = (s) => s.toUpperCase();',
    });
    ok(
      run(
        'npm',
        [
          'install',
          '--save-dev',
          '--prefer-offline',
          '--no-audit',
          '--no-fund',
          path.join(work, info.filename),
        ],
        project,
      ),
      'npm install of the packed tarball',
    );
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('package: the tarball holds the runtime files and no tests, bench, sources or demo app', () => {
    for (const file of [
      'package.json',
      'README.md',
      'LICENSE',
      'dist/src/index.js',
      'dist/src/index.d.ts',
      'dist/src/cli/bin.js',
      'dist/src/runtime/worker.js',
      'dist/src/runtime/sandbox.cjs',
      'dist/guest/prelude.js',
      'dist/guest/libs.js',
      'dist/guest/buffer.js',
    ]) {
      assert.ok(packed.includes(file), `${file} is missing from the tarball`);
    }
    const allowed =
      /^(package\.json|README\.md|LICENSE|docs\/[^/]+\.md|dist\/guest\/[^/]+\.js|dist\/src\/.+\.(js|cjs|d\.ts))$/;
    assert.deepEqual(
      packed.filter((file) => !allowed.test(file)),
      [],
    );
  });

  it('package: the built bin is executable, as `npm link` uses it', { skip: windows }, () => {
    const bin = path.join(repoRoot, 'dist/src/cli/bin.js');
    assert.notEqual(statSync(bin).mode & 0o111, 0, `${bin} is not executable`);
    assert.match(readFileSync(bin, 'utf8'), /^#!\/usr\/bin\/env node\n/);
  });

  it(
    'package: the installed bin is executable and linked into node_modules/.bin',
    { skip: windows },
    () => {
      const bin = path.join(project, 'node_modules/triggerbox/dist/src/cli/bin.js');
      assert.notEqual(statSync(bin).mode & 0o111, 0, `${bin} is not executable`);
      assert.ok(statSync(path.join(project, 'node_modules/.bin/triggerbox')).isFile());
    },
  );

  it('package: npx triggerbox function run works in the installing project', () => {
    const result = ok(
      run(
        'npx',
        ['--no', 'triggerbox', 'function', 'run', '--name', 'greet', '--args', 'Ada', '-f', 'json'],
        project,
      ),
      'npx triggerbox function run',
    );
    const out = JSON.parse(result.stdout) as { result: unknown; logs: string[] };
    assert.deepEqual(out.result, { text: 'HELLO ADA', n: { $numberInt: '2' } });
    assert.deepEqual(out.logs, ['greeting Ada']);
  });

  it('package: the main entry loads with import and with require', () => {
    const names = (code: string, type: 'module' | 'commonjs'): string[] => {
      const result = ok(run('node', [`--input-type=${type}`, '-e', code], project), `${type} load`);
      return JSON.parse(result.stdout) as string[];
    };
    const imported = names(
      "const m = await import('triggerbox'); console.log(JSON.stringify(Object.keys(m).sort()));",
      'module',
    );
    const required = names(
      "const m = require('triggerbox'); console.log(JSON.stringify(Object.keys(m).filter((k) => k !== '__esModule' && k !== 'module.exports').sort()));",
      'commonjs',
    );
    for (const name of ['createRunner', 'loadApp', 'openSecretStore', 'startDevServer']) {
      assert.ok(imported.includes(name), `import: ${name} is not exported`);
    }
    assert.deepEqual(required, imported);
  });
});
