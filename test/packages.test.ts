import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  createRunner,
  FunctionExecutionFailure,
  loadApp,
  scanDependencies,
  type FunctionRunner,
} from '../src/index.js';
import { tempApp } from './helpers.js';

describe('npm packages', () => {
  let root: string;
  let runner: FunctionRunner;
  before(() => {
    root = tempApp({
      'functions/package.json': { dependencies: { 'tiny-greeter': '1.0.0' } },
      'functions/node_modules/tiny-greeter/package.json': {
        name: 'tiny-greeter',
        version: '1.0.0',
        main: 'lib/index.js',
      },
      'functions/node_modules/tiny-greeter/lib/index.js':
        'const { shout } = require("./shout");\nconst { Buffer } = require("buffer");\nmodule.exports = (name) => shout("hello " + name) + " " + Buffer.from(name).toString("hex");',
      'functions/node_modules/tiny-greeter/lib/shout.js': 'exports.shout = (s) => s.toUpperCase();',
      'functions/node_modules/thrower/package.json': {
        name: 'thrower',
        version: '1.0.0',
        main: 'index.js',
      },
      'functions/node_modules/thrower/index.js':
        'const helper = require("./helper");\nmodule.exports = (x) => helper.check(x);',
      'functions/node_modules/thrower/helper.js':
        'exports.check = function check(x) {\n  if (x < 0) {\n    throw new RangeError("negative: " + x);\n  }\n  return x;\n};',
      'functions/usesThrower.js': 'exports = function (x) {\n  return require("thrower")(x);\n};',
      'functions/greet.js':
        'exports = function (name) {\n  const greet = require("tiny-greeter");\n  return greet(name);\n};',
      'functions/twice.js':
        'exports = function () { return require("tiny-greeter") === require("tiny-greeter"); };',
      'functions/missing.js':
        'exports = function () {\n  const x = 1;\n  return require("not-installed")(x);\n};',
      'functions/unsupported.js': 'exports = function () {\n  return require("child_process");\n};',
    });
    runner = createRunner({ app: loadApp({ root }).app });
  });
  after(() => runner.dispose());

  it('require: a package from functions/node_modules is bundled with its own files and runs', async () => {
    assert.equal((await runner.execute('greet', ['ada'])).result, 'HELLO ADA 616461');
  });

  it('require: a package is evaluated once per call (cached like Node modules)', async () => {
    assert.equal((await runner.execute('twice')).result, true);
  });

  it("require: stack frames inside package code are mapped back to the package's own files", async () => {
    await assert.rejects(runner.execute('usesThrower', [-1]), (error: unknown) => {
      assert.ok(error instanceof FunctionExecutionFailure);
      assert.equal(error.message, 'negative: -1');
      assert.match(
        error.functionStack,
        /at (Object\.)?check \(functions\/node_modules\/thrower\/helper\.js:3:11\)/,
      );
      assert.match(error.functionStack, /functions\/usesThrower\.js:2:\d+/);
      return true;
    });
  });

  it('require: a missing package fails with the file and line of the require and how to fix it', async () => {
    await assert.rejects(runner.execute('missing'), (error: unknown) => {
      assert.ok(error instanceof FunctionExecutionFailure);
      assert.match(
        error.message,
        /^functions\/missing\.js:3:\d+: cannot find package 'not-installed' in functions\/node_modules \(run `npm install not-installed` in functions\/\)$/,
      );
      return true;
    });
  });

  it("require: a missing package's error has Node's code MODULE_NOT_FOUND, its message unchanged", async () => {
    const app = tempApp({
      'functions/missingCaught.js':
        'exports = function () {\n  try { require("not-installed"); } catch (e) { return [e.code, e.message]; }\n};',
    });
    const caught = createRunner({ app: loadApp({ root: app }).app });
    try {
      const [code, message] = (await caught.execute('missingCaught')).result as [string, string];
      assert.equal(code, 'MODULE_NOT_FOUND');
      assert.match(
        message,
        /^functions\/missingCaught\.js:2:\d+: cannot find package 'not-installed' in functions\/node_modules \(run `npm install not-installed` in functions\/\)$/,
      );
    } finally {
      caught.dispose();
    }
  });

  it('prefetchPackages: the ES module packages functions require are bundled before the call that loads them', async () => {
    const app = tempApp({
      // An ES module package: esbuild bundles it (a CommonJS one is read file by file).
      'functions/node_modules/early-bird/package.json': {
        name: 'early-bird',
        version: '1.0.0',
        type: 'module',
        main: 'index.js',
      },
      'functions/node_modules/early-bird/index.js': 'export const early = (s) => "early " + s;',
      'functions/usesEarly.js': 'exports = (s) => require("early-bird").early(s);',
      'functions/usesBuiltin.js': 'exports = () => typeof require("buffer").Buffer;',
      'functions/missing.js':
        'exports = function () {\n  const x = 1;\n  return require("not-installed")(x);\n};',
    });
    const early = createRunner({ app: loadApp({ root: app }).app });
    try {
      // Settles (never rejects) though one function requires a package that is not installed.
      await early.prefetchPackages();
      // Bundled already: the call no longer needs the package's files.
      rmSync(path.join(app, 'functions/node_modules/early-bird'), { recursive: true });
      assert.equal((await early.execute('usesEarly', ['x'])).result, 'early x');
      assert.equal((await early.execute('usesBuiltin')).result, 'function');
      // The missing package is reported by the call that requires it, as without the prefetch.
      await assert.rejects(
        early.execute('missing'),
        /functions\/missing\.js:3:\d+: cannot find package 'not-installed'/,
      );
    } finally {
      early.dispose();
    }
    // Without it, the same removal fails the call: what the prefetch changed is real.
    const late = createRunner({ app: loadApp({ root: app }).app });
    try {
      await assert.rejects(late.execute('usesEarly', ['x']), /cannot find package 'early-bird'/);
    } finally {
      late.dispose();
    }
  });

  it('scanDependencies: reports missing packages and unsupported built-ins with file, line and column, without running', async () => {
    const diagnostics = await scanDependencies(loadApp({ root }).app);
    const lines = diagnostics.map((d) => `${d.file}:${d.line}:${d.column}: ${d.message}`).sort();
    assert.deepEqual(lines, [
      "functions/missing.js:3:18: cannot find package 'not-installed' in functions/node_modules (run `npm install not-installed` in functions/)",
      "functions/unsupported.js:2:18: Node built-in 'child_process' is not supported by App Services functions",
    ]);
  });
});
