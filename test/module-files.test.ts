/**
 * CommonJS packages loaded file by file (module-files.ts): the same answers as Node's own
 * require() of the same files, checked by requiring them here with Node.
 */
import assert from 'node:assert/strict';
import { symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  createRunner,
  FunctionExecutionFailure,
  loadApp,
  type FunctionRunner,
} from '../src/index.js';
import { ModuleFiles } from '../src/runtime/module-files.js';
import { tempApp } from './helpers.js';

/** What each case returns, as JSON: run by the function in the sandbox, and here by Node. */
const CASES: Record<string, string> = {
  // "main" without its extension, a folder main with index.js, index.json.
  mainNoExt: `const m = require('main-no-ext'); return m.name;`,
  mainDir: `return require('main-dir').where;`,
  indexJson: `return require('index-json');`,
  // "exports": a string, conditions (require wins over import; nested), subpath patterns, null.
  exportsString: `return require('exp-string');`,
  exportsConditions: `return require('exp-cond');`,
  exportsNested: `return require('exp-cond/nested');`,
  exportsPattern: `return [require('exp-cond/feat/a'), require('exp-cond/feat/b')];`,
  exportsHidden: `try { require('exp-cond/hidden'); return 'loaded'; } catch (e) { return e.code ?? 'error'; }`,
  exportsInternal: `try { require('exp-cond/internal.js'); return 'loaded'; } catch (e) { return e.code ?? 'error'; }`,
  // A dependency of a dependency, and a nested version that shadows the top-level one.
  nested: `return require('uses-dep');`,
  // Relative requires up and down, JSON, a cycle's partial exports, this === module.exports.
  relative: `return require('rel-pkg');`,
  cycle: `return require('cycle-pkg');`,
  thisIsExports: `return require('this-pkg');`,
  // An optional dependency required inside a try: Node's MODULE_NOT_FOUND, the package still loads.
  optional: `return require('optional-dep');`,
  // A module that throws is loaded again by the next require (not cached half-done).
  retry: `const r = []; for (let i = 0; i < 2; i++) { try { require('throws-once'); r.push('ok'); } catch (e) { r.push(e.message); } } return r;`,
  // A #! line and a byte-order mark are stripped, as Node does.
  hashbang: `return [require('hashbang-pkg'), require('bom-pkg')];`,
  strict: `return require('strict-pkg');`,
  // A module's own names for files (__dirname, require.resolve) lead back to them; built-ins
  // resolve to their names; a name ending in / is a folder.
  ownPaths: `return require('paths-pkg');`,
  trailingSlash: `return require('slash-pkg');`,
  // Patterns with the same prefix: the longer key wins; an extensionless "main" loads as CommonJS.
  patternOrder: `return require('pat-pkg/x/a.js');`,
  extensionless: `return require('noext-pkg');`,
};

const FILES: Record<string, string | object> = {
  'functions/node_modules/main-no-ext/package.json': { name: 'main-no-ext', main: 'lib/entry' },
  'functions/node_modules/main-no-ext/lib/entry.js': `module.exports = { name: 'entry' };`,
  'functions/node_modules/main-dir/package.json': { name: 'main-dir', main: './src' },
  'functions/node_modules/main-dir/src/index.js': `exports.where = 'src/index.js';`,
  'functions/node_modules/index-json/package.json': { name: 'index-json' },
  'functions/node_modules/index-json/index.json': { json: true, list: [1, 2] },
  'functions/node_modules/exp-string/package.json': {
    name: 'exp-string',
    main: 'wrong.js',
    exports: './right.js',
  },
  'functions/node_modules/exp-string/right.js': `module.exports = 'right';`,
  'functions/node_modules/exp-string/wrong.js': `module.exports = 'wrong';`,
  'functions/node_modules/exp-cond/package.json': {
    name: 'exp-cond',
    exports: {
      '.': { import: './esm.mjs', require: './cjs.js', default: './default.js' },
      './nested': {
        node: { require: './nested-node.js', default: './nope.js' },
        default: './nope.js',
      },
      './feat/*': { require: './features/*.js' },
      './hidden': null,
    },
  },
  'functions/node_modules/exp-cond/esm.mjs': `export default 'esm';`,
  'functions/node_modules/exp-cond/cjs.js': `module.exports = 'cjs';`,
  'functions/node_modules/exp-cond/default.js': `module.exports = 'default';`,
  'functions/node_modules/exp-cond/nested-node.js': `module.exports = 'nested-node';`,
  'functions/node_modules/exp-cond/nope.js': `module.exports = 'nope';`,
  'functions/node_modules/exp-cond/features/a.js': `module.exports = 'feature a';`,
  'functions/node_modules/exp-cond/features/b.js': `module.exports = 'feature b';`,
  'functions/node_modules/exp-cond/hidden.js': `module.exports = 'hidden';`,
  'functions/node_modules/exp-cond/internal.js': `module.exports = 'internal';`,
  'functions/node_modules/dep/package.json': { name: 'dep', version: '2.0.0' },
  'functions/node_modules/dep/index.js': `module.exports = 'top-level dep 2';`,
  'functions/node_modules/uses-dep/package.json': { name: 'uses-dep' },
  'functions/node_modules/uses-dep/index.js': `module.exports = [require('dep'), require('other')];`,
  'functions/node_modules/uses-dep/node_modules/dep/package.json': {
    name: 'dep',
    version: '1.0.0',
  },
  'functions/node_modules/uses-dep/node_modules/dep/index.js': `module.exports = 'nested dep 1';`,
  'functions/node_modules/other/package.json': { name: 'other' },
  'functions/node_modules/other/index.js': `module.exports = 'other: ' + require('dep');`,
  'functions/node_modules/rel-pkg/package.json': { name: 'rel-pkg', main: 'lib/a/main.js' },
  'functions/node_modules/rel-pkg/lib/a/main.js': `const up = require('../b/up');\nconst data = require('../../data.json');\nmodule.exports = { up, data, self: require('./').name };`,
  'functions/node_modules/rel-pkg/lib/a/index.js': `exports.name = 'a/index';`,
  'functions/node_modules/rel-pkg/lib/b/up.js': `module.exports = 'up';`,
  'functions/node_modules/rel-pkg/data.json': { n: 1 },
  'functions/node_modules/cycle-pkg/package.json': { name: 'cycle-pkg' },
  'functions/node_modules/cycle-pkg/index.js': `exports.early = 'a-early';\nconst b = require('./b');\nexports.late = 'a-late';\nmodule.exports.seenByB = b.sawA;`,
  'functions/node_modules/cycle-pkg/b.js': `const a = require('./index');\nexports.sawA = Object.keys(a).join(',');`,
  'functions/node_modules/this-pkg/package.json': { name: 'this-pkg' },
  'functions/node_modules/this-pkg/index.js': `this.viaThis = true;\nexports.same = this === module.exports && exports === module.exports;\nexports.viaThis = this.viaThis;`,
  'functions/node_modules/optional-dep/package.json': { name: 'optional-dep' },
  'functions/node_modules/optional-dep/index.js': `let code;\ntry { require('not-installed-anywhere'); } catch (e) { code = e.code; }\nmodule.exports = code;`,
  'functions/node_modules/throws-once/package.json': { name: 'throws-once' },
  'functions/node_modules/throws-once/index.js': `const state = require('./state');\nstate.n = (state.n || 0) + 1;\nif (state.n === 1) throw new Error('first load fails');\nmodule.exports = 'second';`,
  'functions/node_modules/throws-once/state.js': `module.exports = {};`,
  'functions/node_modules/hashbang-pkg/package.json': { name: 'hashbang-pkg' },
  'functions/node_modules/hashbang-pkg/index.js': `#!/usr/bin/env node\nmodule.exports = 'hashbang';`,
  'functions/node_modules/bom-pkg/package.json': { name: 'bom-pkg' },
  'functions/node_modules/bom-pkg/index.js': `\uFEFFmodule.exports = 'bom';`,
  'functions/node_modules/paths-pkg/package.json': { name: 'paths-pkg' },
  'functions/node_modules/paths-pkg/index.js': `module.exports = [require(require.resolve('./x')), require(__dirname + '/d.json').d, require.resolve('util')];`,
  'functions/node_modules/paths-pkg/x.js': `module.exports = 'x';`,
  'functions/node_modules/paths-pkg/d.json': { d: 'json by path' },
  'functions/node_modules/slash-pkg/package.json': { name: 'slash-pkg' },
  'functions/node_modules/slash-pkg/index.js': `module.exports = [require('./lib'), require('./lib/')];`,
  'functions/node_modules/slash-pkg/lib.js': `module.exports = 'lib.js';`,
  'functions/node_modules/slash-pkg/lib/index.js': `module.exports = 'lib/index.js';`,
  'functions/node_modules/pat-pkg/package.json': {
    name: 'pat-pkg',
    exports: { './x/*': './gen/*.js', './x/*.js': './js/*.js' },
  },
  'functions/node_modules/pat-pkg/gen/a.js.js': `module.exports = 'gen a.js.js';`,
  'functions/node_modules/pat-pkg/js/a.js': `module.exports = 'js a';`,
  'functions/node_modules/noext-pkg/package.json': { name: 'noext-pkg', main: 'bin/entry' },
  'functions/node_modules/noext-pkg/bin/entry': `module.exports = 'no extension';`,
  'functions/node_modules/strict-pkg/package.json': { name: 'strict-pkg' },
  'functions/node_modules/strict-pkg/index.js': `'use strict';\nmodule.exports = (function () { return this === undefined; })();`,
};

/** Runs `use` with a runner of the app at `root`, disposed after. */
async function withRunner(
  root: string,
  use: (runner: FunctionRunner) => Promise<void>,
): Promise<void> {
  const runner = createRunner({ app: loadApp({ root }).app });
  try {
    await use(runner);
  } finally {
    runner.dispose();
  }
}

describe('packages file by file (module-files.ts)', () => {
  let root: string;
  let runner: FunctionRunner;
  before(() => {
    const functions: Record<string, string> = {};
    for (const [name, body] of Object.entries(CASES))
      functions[`functions/${name}.js`] = `exports = function () { ${body} };`;
    root = tempApp({ ...FILES, ...functions });
    runner = createRunner({ app: loadApp({ root }).app });
  });
  after(() => runner.dispose());

  it("answers as Node's own require() of the same files, case by case", async () => {
    const nodeRequire = createRequire(path.join(root, 'functions', 'index.js'));
    for (const [name, body] of Object.entries(CASES)) {
      const expected = new Function('require', body)(nodeRequire) as unknown;
      const { result } = await runner.execute(name);
      assert.deepEqual(result, JSON.parse(JSON.stringify(expected)), name);
    }
  });

  it('the files are loaded by the sandbox, not bundled: ModuleFiles resolves each case as Node does', () => {
    const files = new ModuleFiles(root);
    const nodeRequire = createRequire(path.join(root, 'functions', 'index.js'));
    for (const spec of [
      'main-no-ext',
      'main-dir',
      'index-json',
      'exp-string',
      'exp-cond',
      'exp-cond/feat/a',
      'rel-pkg',
    ]) {
      const resolved = files.resolve(spec, '', '');
      assert.equal(resolved.kind, 'file', spec);
      assert.equal(
        path.join(root, 'functions/node_modules', resolved.kind === 'file' ? resolved.id : ''),
        nodeRequire.resolve(spec),
        spec,
      );
    }
  });

  it('stack frames name the package file and line; a syntax error names the file', async () => {
    const app = tempApp({
      'functions/node_modules/deep/package.json': { name: 'deep', main: 'lib/x.js' },
      'functions/node_modules/deep/lib/x.js': `module.exports = function fail() {\n  throw new Error('boom');\n};`,
      'functions/node_modules/broken/package.json': { name: 'broken' },
      'functions/node_modules/broken/index.js': `module.exports = {;`,
      'functions/fail.js': 'exports = function () { require("deep")(); };',
      'functions/broken.js': 'exports = function () { return require("broken"); };',
    });
    await withRunner(app, async (r) => {
      await assert.rejects(r.execute('fail'), (error: unknown) => {
        assert.ok(error instanceof FunctionExecutionFailure);
        assert.match(
          error.functionStack,
          /at fail \(functions\/node_modules\/deep\/lib\/x\.js:2:9\)/,
        );
        return true;
      });
      await assert.rejects(
        r.execute('broken'),
        /functions\/node_modules\/broken\/index\.js: .*Unexpected token/,
      );
    });
  });

  it('a package with an ES module anywhere in it is bundled whole by esbuild, also when a CommonJS package requires it', async () => {
    const app = tempApp({
      'functions/node_modules/esm-only/package.json': {
        name: 'esm-only',
        type: 'module',
        main: 'index.js',
      },
      'functions/node_modules/esm-only/index.js': `export const answer = 42;`,
      'functions/node_modules/cjs-uses-esm/package.json': { name: 'cjs-uses-esm' },
      'functions/node_modules/cjs-uses-esm/index.js': `module.exports = require('esm-only').answer + 1;`,
      'functions/node_modules/mixed/package.json': { name: 'mixed' },
      'functions/node_modules/mixed/index.js': `module.exports = require('./part.mjs').value;`,
      'functions/node_modules/mixed/part.mjs': `export const value = 'from an .mjs file';`,
      // Minified: the export statement follows a semicolon on the same line.
      'functions/node_modules/minified/package.json': { name: 'minified', main: 'index.js' },
      'functions/node_modules/minified/index.js': `const a={v:'minified'};export{a as default};`,
      'functions/minified.js': 'exports = () => require("minified").default.v;',
      'functions/esm.js': 'exports = () => require("esm-only").answer;',
      'functions/cjsEsm.js': 'exports = () => require("cjs-uses-esm");',
      'functions/mixed.js': 'exports = () => require("mixed");',
    });
    const files = new ModuleFiles(app);
    assert.deepEqual(files.resolve('esm-only', '', ''), { kind: 'bundle', spec: 'esm-only' });
    assert.deepEqual(files.resolve('mixed', '', ''), { kind: 'bundle', spec: 'mixed' });
    assert.deepEqual(files.resolve('minified', '', ''), { kind: 'bundle', spec: 'minified' });
    assert.equal(files.resolve('cjs-uses-esm', '', '').kind, 'bundle');
    await withRunner(app, async (r) => {
      assert.equal((await r.execute('esm')).result, 42);
      assert.equal((await r.execute('cjsEsm')).result, 43);
      assert.equal((await r.execute('mixed')).result, 'from an .mjs file');
      assert.equal((await r.execute('minified')).result, 'minified');
    });
  });

  it('a native addon or a subpath a package does not export is refused with what to do', async () => {
    const app = tempApp({
      'functions/node_modules/native/package.json': { name: 'native', main: 'binding' },
      'functions/node_modules/native/binding.node': 'not really a binary',
      'functions/node_modules/closed/package.json': {
        name: 'closed',
        exports: { '.': './index.js' },
      },
      'functions/node_modules/closed/index.js': `module.exports = 1;`,
      'functions/node_modules/closed/secret.js': `module.exports = 2;`,
      'functions/req.js': 'exports = (spec) => require(spec);',
      'functions/other.js': 'exports = function (spec) {\n  return require(spec);\n};',
    });
    await withRunner(app, async (r) => {
      const message = (pattern: RegExp) => (error: unknown) => {
        assert.match(String((error as Error).message), pattern);
        return true;
      };
      await assert.rejects(
        r.execute('req', ['native']),
        message(
          /^functions\/req\.js:1:\d+: require\('native'\): functions\/node_modules\/native\/binding\.node is a native addon, which the sandbox cannot load$/,
        ),
      );
      // The same refusal from another call site names that one.
      await assert.rejects(
        r.execute('other', ['native']),
        message(/^functions\/other\.js:2:\d+: require\('native'\)/),
      );
      await assert.rejects(
        r.execute('req', ['closed/secret.js']),
        /closed\/package\.json does not export '\.\/secret\.js' for require\(\)/,
      );
      assert.equal((await r.execute('req', ['closed'])).result, 1);
    });
  });

  it('an ES module package a CommonJS package requires by a computed name: bundled from the top level, refused from a nested install', () => {
    const app = tempApp({
      'functions/node_modules/esm-dep/package.json': {
        name: 'esm-dep',
        type: 'module',
        version: '1.0.0',
      },
      'functions/node_modules/esm-dep/index.js': `export const v = 1;`,
      'functions/node_modules/host/package.json': { name: 'host' },
      'functions/node_modules/host/index.js': `module.exports = (n) => require(n);`,
      'functions/node_modules/host/node_modules/esm-dep/package.json': {
        name: 'esm-dep',
        type: 'module',
        version: '2.0.0',
      },
      'functions/node_modules/host/node_modules/esm-dep/index.js': `export const v = 2;`,
      'functions/node_modules/other/package.json': { name: 'other' },
      'functions/node_modules/other/index.js': `module.exports = (n) => require(n);`,
    });
    const files = new ModuleFiles(app);
    assert.deepEqual(files.resolve('esm-dep', 'other/index.js', ''), {
      kind: 'bundle',
      spec: 'esm-dep',
    });
    const nested = files.resolve('esm-dep', 'host/index.js', '');
    assert.equal(nested.kind, 'error');
    assert.match(
      nested.kind === 'error' ? nested.message : '',
      /installed elsewhere; install it at the top level/,
    );
  });

  it('a package whose literal requires reach past the caps is bundled; a name required a million times resolves once', () => {
    const distinct: string[] = [];
    for (let i = 0; i < 20_001; i++) distinct.push(`require('./m${i}');`);
    const app = tempApp({
      'functions/node_modules/many/package.json': { name: 'many' },
      'functions/node_modules/many/index.js': `if (0) { ${distinct.join('\n')} }\nmodule.exports = 1;`,
      'functions/node_modules/same/package.json': { name: 'same' },
      'functions/node_modules/same/index.js': `if (0) { ${"require('./x');".repeat(1_000_000)} }\nmodule.exports = 2;`,
      'functions/node_modules/same/x.js': `module.exports = 3;`,
    });
    const files = new ModuleFiles(app);
    assert.deepEqual(files.resolve('many', '', ''), { kind: 'bundle', spec: 'many' });
    assert.equal(files.resolve('same', '', '').kind, 'file');
  });

  it('a symlink out of functions/node_modules is refused with one message whether its target exists or not', async () => {
    const outside = tempApp({ 'exists.js': 'module.exports = "outside";' }, false);
    const app = tempApp({
      'functions/node_modules/probe/package.json': { name: 'probe' },
      'functions/node_modules/probe/index.js': `module.exports = (n) => { try { require(n); return 'loaded'; } catch (e) { return e.message.replace(/'[^']*'/g, "''"); } };`,
      'functions/probe.js': 'exports = (n) => require("probe")(n);',
    });
    symlinkSync(
      path.join(outside, 'exists.js'),
      path.join(app, 'functions/node_modules/probe/there.js'),
    );
    symlinkSync(
      path.join(outside, 'missing.js'),
      path.join(app, 'functions/node_modules/probe/nothere.js'),
    );
    // A folder on the way that is a symlink out: the same answer for what exists behind it.
    symlinkSync(outside, path.join(app, 'functions/node_modules/probe/linkdir'));
    await withRunner(app, async (r) => {
      const there = (await r.execute('probe', ['./there'])).result;
      const nothere = (await r.execute('probe', ['./nothere'])).result;
      assert.match(String(there), /outside functions\/node_modules/);
      assert.equal(there, nothere);
      for (const spec of [
        './linkdir/exists',
        './linkdir/exists.js',
        './linkdir/nope',
        './linkdir/nodir/',
      ])
        assert.equal((await r.execute('probe', [spec])).result, there, spec);
    });
  });

  it('a require from a folder more than 64 levels below functions/node_modules is refused, not walked', () => {
    const deep = Array.from({ length: 70 }, (_, i) => `d${i}`).join('/');
    const app = tempApp({
      'functions/node_modules/deep/package.json': { name: 'deep', main: `${deep}/index.js` },
      [`functions/node_modules/deep/${deep}/index.js`]: `module.exports = require('missing');`,
    });
    const files = new ModuleFiles(app);
    const entry = files.resolve('deep', '', '');
    assert.equal(entry.kind, 'file');
    const nested = files.resolve('missing', entry.kind === 'file' ? entry.id : '', '');
    assert.equal(nested.kind, 'error');
    assert.match(nested.kind === 'error' ? nested.message : '', /over 64 levels deep/);
  });

  it('an ES module is told by its syntax as Node 24 tells it, and CommonJS that only mentions the words is not', () => {
    const esm = [
      'import x from "y";',
      'import {a} from "b";',
      'import * as c from "d";',
      "import 'side-effect';",
      'export default 1;',
      'export const a = 1;',
      'export { a };',
      'export * from "x";',
      'var a=1;export{a as default}',
      'if(x){}export default 2',
      'const u = import.meta.url;',
    ];
    const cjs = [
      'var importsKeys = 1; module.exports = importsKeys;',
      'const x = () => import("y"); module.exports = x;',
      'exports.a = 1;',
      'function exporter() {} module.exports = exporter;',
      'const o = {}; o.import = 1; o.export = 2; module.exports = o;',
      '// import x from "y" in a comment\nmodule.exports = 1;',
    ];
    const files: Record<string, string | object> = {};
    [...esm, ...cjs].forEach((text, i) => {
      files[`functions/node_modules/p${i}/index.js`] = text;
    });
    const app = tempApp(files);
    const modules = new ModuleFiles(app);
    esm.forEach((text, i) => assert.equal(modules.resolve(`p${i}`, '', '').kind, 'bundle', text));
    cjs.forEach((text, i) =>
      assert.equal(modules.resolve(`p${esm.length + i}`, '', '').kind, 'file', text),
    );
  });
});
