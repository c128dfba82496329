/**
 * CommonJS packages loaded file by file (module-files.ts): the same answers as Node's own
 * require() of the same files, checked by requiring them here with Node.
 */
import assert from 'node:assert/strict';
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
  'functions/node_modules/strict-pkg/package.json': { name: 'strict-pkg' },
  'functions/node_modules/strict-pkg/index.js': `'use strict';\nmodule.exports = (function () { return this === undefined; })();`,
};

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
    const r = createRunner({ app: loadApp({ root: app }).app });
    try {
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
    } finally {
      r.dispose();
    }
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
      'functions/esm.js': 'exports = () => require("esm-only").answer;',
      'functions/cjsEsm.js': 'exports = () => require("cjs-uses-esm");',
      'functions/mixed.js': 'exports = () => require("mixed");',
    });
    const files = new ModuleFiles(app);
    assert.deepEqual(files.resolve('esm-only', '', ''), { kind: 'bundle', spec: 'esm-only' });
    assert.deepEqual(files.resolve('mixed', '', ''), { kind: 'bundle', spec: 'mixed' });
    assert.equal(files.resolve('cjs-uses-esm', '', '').kind, 'bundle');
    const r = createRunner({ app: loadApp({ root: app }).app });
    try {
      assert.equal((await r.execute('esm')).result, 42);
      assert.equal((await r.execute('cjsEsm')).result, 43);
      assert.equal((await r.execute('mixed')).result, 'from an .mjs file');
    } finally {
      r.dispose();
    }
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
    });
    const r = createRunner({ app: loadApp({ root: app }).app });
    try {
      await assert.rejects(
        r.execute('req', ['native']),
        /binding\.node is a native addon, which the sandbox cannot load/,
      );
      await assert.rejects(
        r.execute('req', ['closed/secret.js']),
        /closed\/package\.json does not export '\.\/secret\.js' for require\(\)/,
      );
      assert.equal((await r.execute('req', ['closed'])).result, 1);
    } finally {
      r.dispose();
    }
  });
});
