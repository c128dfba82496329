// Build: TypeScript -> dist/, and the two scripts that run inside the sandbox -> dist/guest/.
// Runs on `npm ci` (prepare), so a fresh clone is ready to use.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire, isBuiltin } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const require = createRequire(import.meta.url);
rmSync(path.join(root, 'dist'), { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', root], {
  stdio: 'inherit',
});
// tsc writes files without the execute bit; `npm link` (and a global install from a folder)
// points the command straight at the bin file, so it must be executable after every build, and
// start with the shebang that makes the system run it with node.
const { bin } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
for (const file of Object.values(bin)) {
  const abs = path.join(root, file);
  if (!/^#!\/usr\/bin\/env node\r?\n/.test(readFileSync(abs, 'utf8'))) {
    throw new Error(`${file} must start with '#!/usr/bin/env node' (the first line of its source)`);
  }
  chmodSync(abs, 0o755);
}
mkdirSync(path.join(root, 'dist/guest'), { recursive: true });
/**
 * bson allocates its 17 MiB serialization buffer when the module loads, and the guest loads bson
 * in every context that touches BSON or EJSON (every function using the database): zero-filling
 * it was half of that load (about 2.5 of 5 ms a call, and 17 MiB of the call's memory limit).
 * Allocated on the first BSON.serialize instead. Fails the build if bson's text changes.
 */
const lazyBsonBuffer = {
  name: 'lazy-bson-buffer',
  setup(build) {
    build.onLoad({ filter: /[\\/]bson[\\/]lib[\\/]bson\.mjs$/ }, (args) => {
      let text = readFileSync(args.path, 'utf8');
      const edits = [
        ['let buffer = ByteUtils.allocate(MAXSIZE);', 'let buffer = ByteUtils.allocate(0);'],
        [
          'function serializeWithBufferAndIndex(object, finalBuffer, options = {}) {',
          'function serializeWithBufferAndIndex(object, finalBuffer, options = {}) {\n    if (buffer.length < MAXSIZE) buffer = ByteUtils.allocate(MAXSIZE);',
        ],
      ];
      for (const [from, to] of edits) {
        if (!text.includes(from))
          throw new Error(`lazy-bson-buffer: '${from}' not found in ${args.path}`);
        text = text.replace(from, to);
      }
      return { contents: text, loader: 'js' };
    });
  },
};
for (const name of ['prelude', 'libs', 'buffer']) {
  await esbuild.build({
    entryPoints: [path.join(root, `src/runtime/guest/${name}.js`)],
    outfile: path.join(root, `dist/guest/${name}.js`),
    bundle: true,
    // The sandbox is a bare V8 isolate: the browser builds of bson and buffer fit it.
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    logLevel: 'warning',
    plugins: [lazyBsonBuffer],
  });
}
// The Node built-ins of functions (src/services/node-builtins/guest.js): a registry the sandbox
// loads on the first require of a built-in. Browser builds of Node's modules, sharing the
// sandbox's Buffer and a `process` of the platform's shape rather than bundling their own.
const builtins = path.join(root, 'src/services/node-builtins');
await esbuild.build({
  entryPoints: [path.join(builtins, 'guest.js')],
  outfile: path.join(root, 'dist/guest/builtins.js'),
  bundle: true,
  platform: 'browser',
  format: 'iife',
  target: 'es2022',
  logLevel: 'warning',
  alias: {
    buffer: path.join(builtins, 'buffer.js'),
    process: path.join(builtins, 'process-module.cjs'),
    stream: path.join(root, 'node_modules/readable-stream/lib/stream.js'),
    qs: path.join(builtins, 'qs.cjs'),
    // Its browser build reads AbortController from `self`, which a bare isolate lacks.
    'abort-controller': path.join(root, 'node_modules/abort-controller/dist/abort-controller.js'),
  },
  inject: [path.join(builtins, 'inject.js')],
  plugins: [
    {
      // whatwg-url's legacy (non-UTF-8) encodings: ~450 KB that URL outside a document never uses.
      name: 'url-utf8-only',
      setup(build) {
        build.onResolve({ filter: /^@exodus\/bytes\/(encoding|whatwg)\.js$/ }, (args) => ({
          path: path.join(
            builtins,
            args.path.endsWith('whatwg.js') ? 'url-encoding.cjs' : 'empty.cjs',
          ),
        }));
      },
    },
  ],
});
/**
 * The sandbox process as one CommonJS file: dist/src/runtime/sandbox.cjs, what
 * sandbox-process.ts forks. It starts without Node's snapshot (isolated-vm needs
 * --no-node-snapshot), so every internal module it touches is compiled at its start, and an ES
 * module entry brings in the ESM loader's: as one CommonJS file it was ready 9% sooner (186-196
 * ms against 205-214 ms; docs/runtime-notes.md). Every `import.meta.url` in it is a module of
 * dist/src/runtime/, which is where the bundle sits. isolated-vm stays outside (native).
 */
await esbuild.build({
  entryPoints: [path.join(root, 'dist/src/runtime/worker.js')],
  bundle: true,
  outfile: path.join(root, 'dist/src/runtime/sandbox.cjs'),
  platform: 'node',
  format: 'cjs',
  target: 'node24',
  logLevel: 'warning',
  external: ['isolated-vm'],
  define: { 'import.meta.url': '__triggerboxModuleUrl' },
  banner: {
    js: "const __triggerboxModuleUrl = require('node:url').pathToFileURL(__filename).href;",
  },
});
/**
 * The CLI bundled: dist/src/cli/run.js (what bin.js loads once the compile cache is on) and
 * chunks beside it (chunk-*.js), so a command reads a few files instead of resolving and reading
 * about 700 (docs/runtime-notes.md, "Starting processes"). Split at the dynamic imports (each
 * command, the database engine, the driver): a command loads only its own part; one 3.5 MB file
 * cost every command about 75 ms to read, decode and compile, even `--version`. Left out:
 * packages with native parts or optional installs, TypeScript (loaded on demand), and
 * sandbox-process.js, which bin.js loads first to fork the sandbox early and which must be the
 * same module instance for the runner to adopt that fork. The tsc output of every other module
 * stays for the library and the in-process tests.
 */
/**
 * Text replacements in a dependency's source, each made once at bundling: a version of the package
 * that no longer holds the text stops the build with what to update, rather than bundling it
 * unpatched. `patch(from, to, what)` queues one; `patch.result(source)` applies them.
 */
function patcher(file, pkg) {
  const queued = [];
  const patch = (from, to, what) => queued.push([from, to, what]);
  patch.result = (source) => {
    for (const [from, to, what] of queued) {
      if (!source.includes(from))
        throw new Error(`${file}: ${pkg} no longer ${what}; update scripts/build.mjs`);
      source = source.replace(from, to);
    }
    return source;
  };
  return patch;
}
const cliDir = path.join(root, 'dist/src/cli');
const sandboxProcess = path.join(root, 'dist/src/runtime/sandbox-process.js');
const cliBundle = await esbuild.build({
  entryPoints: [path.join(cliDir, 'run.js')],
  bundle: true,
  write: false,
  splitting: true,
  outdir: cliDir,
  chunkNames: 'chunk-[hash]',
  platform: 'node',
  format: 'esm',
  target: 'node24',
  logLevel: 'warning',
  minifyWhitespace: true,
  external: [
    'esbuild',
    'typescript',
    'isolated-vm',
    'fsevents',
    // mongodb's optional peers, required inside try/catch when a connection needs them.
    'kerberos',
    'snappy',
    '@mongodb-js/zstd',
    'mongodb-client-encryption',
    'gcp-metadata',
    'socks',
    'aws4',
    '@aws-sdk/credential-providers',
  ],
  // Bundled CommonJS packages call require() for built-ins and optional peers.
  banner: {
    js: "import { createRequire as __triggerboxCreateRequire } from 'node:module'; const require = __triggerboxCreateRequire(import.meta.url);",
  },
  plugins: [
    {
      // yargs, cliui and wrap-ansi import string-width, whose module creates an Intl.Segmenter
      // and compiles Unicode-property regular expressions when it loads: 35-70 ms of every
      // command, though only help and usage errors measure text. Each import gets a stand-in
      // that loads the real module (bundled, evaluated on demand) at its first call.
      name: 'lazy-string-width',
      setup(build) {
        build.onResolve({ filter: /^string-width$/ }, (args) => ({
          path: createRequire(args.importer).resolve('string-width'),
          namespace: 'lazy-string-width',
        }));
        build.onLoad({ filter: /.*/, namespace: 'lazy-string-width' }, (args) => ({
          contents: `let real;
export default function stringWidth(text, options) {
  real ??= require(${JSON.stringify(args.path)}).default;
  return real(text, options);
}`,
          loader: 'js',
          resolveDir: path.dirname(args.path),
        }));
      },
    },
    {
      // yargs finds its translations next to its own module; bundled, that is next to run.js.
      // It is pointed at the installed yargs package instead (help in the user's language, as
      // with yargs unbundled).
      name: 'yargs-locales',
      setup(build) {
        build.onLoad({ filter: /yargs[\\/]lib[\\/]platform-shims[\\/]esm\.mjs$/ }, (args) => {
          const source = readFileSync(args.path, 'utf8');
          const patch = patcher(args.path, 'yargs');
          patch(
            "resolve(__dirname, '../../../locales')",
            "resolve(dirname(require.resolve('yargs/package.json')), 'locales')",
            "names its locales as resolve(__dirname, '../../../locales')",
          );
          // Its two assertions without node:assert (about 4.5 ms of every command): one fails in
          // every run, inside a try (yargs guessing its caller's package.json, which a bundle
          // does not have), so they throw a plain Error; yargs' checks never rely on the class.
          patch(
            "import { notStrictEqual, strictEqual } from 'assert'",
            `const notStrictEqual = (actual, expected, message) => {
  if (Object.is(actual, expected))
    throw new Error(message ?? \`Expected values to be strictly unequal: \${String(actual)}\`);
};
const strictEqual = (actual, expected, message) => {
  if (!Object.is(actual, expected))
    throw new Error(message ?? \`Expected values to be strictly equal: \${String(actual)} !== \${String(expected)}\`);
};`,
            "imports notStrictEqual and strictEqual from 'assert'",
          );
          return { contents: patch.result(source), loader: 'js' };
        });
      },
    },
    {
      // bson picks its random-bytes source when it loads, by reading globalThis.crypto: that
      // getter loads Node's WebCrypto (about 12 ms of every command that renders a result or
      // touches the database), though only a new ObjectId or UUID needs random bytes. The same
      // choice is made at the first call instead.
      name: 'bson-lazy-random',
      setup(build) {
        let patched = false;
        // A bson that moved or renamed the file would otherwise be bundled unpatched, silently.
        build.onEnd(() => {
          if (!patched)
            throw new Error(
              'bson/lib/bson.node.mjs was not bundled: update the bson patch in scripts/build.mjs',
            );
        });
        build.onLoad({ filter: /bson[\\/]lib[\\/]bson\.node\.mjs$/ }, (args) => {
          patched = true;
          const patch = patcher(args.path, 'bson');
          // Each choice, an immediately called function, becomes one called at the first use.
          for (const [name, next] of [
            ['nodejsRandomBytes', 'const nodeJsByteUtils'],
            ['webRandomBytes', 'const HEX_DIGIT'],
          ]) {
            patch(
              `const ${name} = (() => {`,
              `let ${name}Chosen;\nconst ${name} = (byteLength) => (${name}Chosen ??= (() => {`,
              `chooses ${name} with a function called when it loads`,
            );
            patch(`})();\n${next}`, `})())(byteLength);\n${next}`, `ends ${name} before ${next}`);
          }
          return { contents: patch.result(readFileSync(args.path, 'utf8')), loader: 'js' };
        });
      },
    },
    {
      // An ESM import of a built-in builds its ESM facade, which reads every export: node:http's
      // lazy WebSocket/fetch getters then load undici (about 40 ms of every command). Built-ins
      // are taken with require() instead, their exports read where they are used.
      name: 'builtins-by-require',
      setup(build) {
        build.onResolve({ filter: /^[a-z_:/]+$/ }, (args) => {
          if (!isBuiltin(args.path)) return undefined;
          // The require() inside the stand-in itself: the real built-in.
          if (args.namespace === 'builtin-by-require') return { path: args.path, external: true };
          return { path: args.path, namespace: 'builtin-by-require' };
        });
        // node:util is not the module itself but a view that forwards each property: an ESM
        // import of it goes through esbuild's __toESM, which reads every property's descriptor,
        // and that alone materialises util's lazy properties (TextDecoder and the rest: 33 more
        // internal modules, worker_threads among them, about 5 ms of every command). Only util:
        // a view has no prototype, no symbols and another identity (process.on would be lost).
        build.onLoad({ filter: /.*/, namespace: 'builtin-by-require' }, (args) => ({
          contents:
            args.path === 'util' || args.path === 'node:util'
              ? `const real = require(${JSON.stringify(args.path)});
const view = {};
for (const key of Object.getOwnPropertyNames(real))
  Object.defineProperty(view, key, {
    get: () => real[key],
    set: (value) => { real[key] = value; },
    enumerable: true,
  });
module.exports = view;`
              : `module.exports = require(${JSON.stringify(args.path)});`,
          loader: 'js',
        }));
      },
    },
    {
      name: 'shared-sandbox-process',
      setup(build) {
        build.onResolve({ filter: /sandbox-process\.js$/ }, (args) => {
          const resolved = path.resolve(args.resolveDir, args.path);
          if (resolved !== sandboxProcess) return undefined;
          return { path: '../runtime/sandbox-process.js', external: true };
        });
      },
    },
  ],
});
for (const file of cliBundle.outputFiles) writeFileSync(file.path, file.contents);
