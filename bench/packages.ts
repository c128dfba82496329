/**
 * `npm run bench -- packages`: require() of npm packages inside a function against plain Node's
 * require() of the same package in a fresh process. The packages are bench/fixtures/packages'
 * (exact versions, lockfile), installed with `npm ci` on the first run into
 * <cacheDir>/bench/packages-<lockfile hash>/functions. triggerbox's own package caches go to a
 * fresh temporary folder for each first load, so a first load is a real first load.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRunner, loadApp } from '../src/index.js';
import { median } from './common.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURE = path.join(repoRoot, 'bench/fixtures/packages');
const PACKAGES: [spec: string, fn: string][] = [
  ['lodash', 'useLodash'],
  ['@faker-js/faker', 'useFaker'],
];

/** The fixture app, its functions/node_modules installed once per lockfile. */
function fixtureApp(): string {
  const lock = readFileSync(path.join(FIXTURE, 'package-lock.json'));
  const hash = createHash('sha256').update(lock).digest('hex').slice(0, 16);
  const base = process.env['XDG_CACHE_HOME'] || path.join(homedir(), '.cache');
  const root = path.join(base, 'triggerbox', 'bench', `packages-${hash}`);
  const functions = path.join(root, 'functions');
  if (!existsSync(path.join(functions, 'node_modules', '.package-lock.json'))) {
    mkdirSync(functions, { recursive: true });
    for (const file of ['package.json', 'package-lock.json'])
      writeFileSync(path.join(functions, file), readFileSync(path.join(FIXTURE, file)));
    console.error(`bench packages: npm ci in ${functions}`);
    execFileSync('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund'], {
      cwd: functions,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }
  writeFileSync(path.join(root, 'root_config.json'), JSON.stringify({ name: 'bench-packages' }));
  mkdirSync(path.join(root, 'values'), { recursive: true });
  writeFileSync(path.join(functions, 'trivial.js'), 'exports = () => 1;');
  writeFileSync(path.join(functions, 'unrelated.js'), `exports = () => ${Date.now()};`);
  for (const [spec, fn] of PACKAGES) {
    writeFileSync(
      path.join(functions, `${fn}.js`),
      `exports = function () { return typeof require(${JSON.stringify(spec)}); };`,
    );
  }
  return root;
}

/** Plain Node: require() of the package in a fresh process, timed inside it. */
function nodeRequire(functions: string, spec: string): number {
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    const out = spawnSync(
      process.execPath,
      [
        '-e',
        `const s = performance.now(); require(${JSON.stringify(spec)}); console.log(performance.now() - s);`,
      ],
      { cwd: functions, encoding: 'utf8' },
    );
    samples.push(Number(out.stdout.trim()));
  }
  return median(samples);
}

/** The runner's trivial call, the median of 5: what a call costs besides the require. */
async function trivialMs(runner: ReturnType<typeof createRunner>): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    const start = performance.now();
    await runner.execute('trivial');
    samples.push(performance.now() - start);
  }
  return median(samples);
}

/**
 * A call that requires the package, less the runner's trivial call measured before it. Not the
 * trivial call right after it: that one waits while the pool makes its warm isolates, and
 * subtracting it read the load as shorter than it was.
 */
async function loadTime(runner: ReturnType<typeof createRunner>, fn: string): Promise<number> {
  const trivial = await trivialMs(runner);
  const start = performance.now();
  await runner.execute(fn);
  return performance.now() - start - trivial;
}

/** Samples of each figure: first loads each with an empty cache folder and a new runner. */
const SAMPLES = 5;

export async function run(): Promise<void> {
  const root = fixtureApp();
  const functions = path.join(root, 'functions');
  const previous = process.env['TRIGGERBOX_CACHE_DIR'];
  const caches: string[] = [];
  /** A new empty folder for triggerbox's package caches, seen by the runners made after. */
  const emptyCache = (): void => {
    const cache = mkdtempSync(path.join(tmpdir(), 'triggerbox-bench-cache-'));
    caches.push(cache);
    process.env['TRIGGERBOX_CACHE_DIR'] = cache;
  };
  const rows: string[] = [];
  try {
    for (const [spec, fn] of PACKAGES) {
      const node = nodeRequire(functions, spec);
      const fresh = async (): Promise<ReturnType<typeof createRunner>> => {
        const runner = createRunner({ app: loadApp({ root }).app });
        // Its sandbox process started and its first isolate warm, as before any real call.
        await runner.execute('trivial');
        return runner;
      };
      const samples = {
        first: [] as number[],
        call: [] as number[],
        process: [] as number[],
        reload: [] as number[],
      };
      // First loads: empty caches, a new runner each (one sample of this varied by 1.5x).
      for (let i = 0; i < SAMPLES; i++) {
        emptyCache();
        const runner = await fresh();
        samples.first.push(await loadTime(runner, fn));
        runner.dispose();
      }
      // The last first load's caches stay for the rest.
      const first = await fresh();
      await first.execute(fn);
      for (let i = 0; i < SAMPLES; i++) samples.call.push(await loadTime(first, fn));
      for (let i = 0; i < SAMPLES; i++) {
        writeFileSync(path.join(functions, 'unrelated.js'), `exports = () => ${i};`);
        first.reload(loadApp({ root }).app);
        await first.execute('trivial');
        samples.reload.push(await loadTime(first, fn));
      }
      first.dispose();
      for (let i = 0; i < SAMPLES; i++) {
        const another = await fresh();
        samples.process.push(await loadTime(another, fn));
        another.dispose();
      }
      const ratio = (ms: number): string => `${ms.toFixed(0)} ms = ${(ms / node).toFixed(2)}x`;
      rows.push(
        `| ${spec} | ${node.toFixed(0)} | ${ratio(median(samples.first))} | ${ratio(median(samples.call))} | ${ratio(median(samples.process))} | ${ratio(median(samples.reload))} |`,
      );
    }
  } finally {
    if (previous === undefined) delete process.env['TRIGGERBOX_CACHE_DIR'];
    else process.env['TRIGGERBOX_CACHE_DIR'] = previous;
    for (const cache of caches) rmSync(cache, { recursive: true, force: true });
  }
  console.log(
    `\n## require() of npm packages in a function vs plain Node (fresh process), medians of ${SAMPLES}`,
  );
  console.log(
    '| package | node require ms | first load (empty cache) | another call | another process | after reloading an unrelated file |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const row of rows) console.log(row);
  console.log('targets: first load at most 1.5x, later loads at most 1.1x');
}
