/**
 * esbuild in triggerbox: an npm package a function require()s that holds an ES module or
 * TypeScript (CommonJS packages are read file by file by the sandbox: module-files.ts, which
 * sends the others here) is bundled once, from functions/node_modules, into a CommonJS factory
 * that the sandbox's require() evaluates. In inspect mode every package is bundled (the bundle's
 * source map is what the debugger shows).
 * Function files themselves run verbatim (they are scripts that assign the global `exports`,
 * which esbuild's CommonJS wrapping would lose: RUNTIME-NOTES, "the exports = trap"), so their
 * stack traces need no source map. The dependency scan reports missing packages and unsupported
 * Node built-ins with file, line and column.
 */
import { constants, lstatSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { builtinModules, SourceMap, type SourceMapPayload } from 'node:module';
import path from 'node:path';
import type { Plugin } from 'esbuild';
import type { App, Diagnostic } from '../app/types.js';
import { requireSpecProblem } from './boundary/messages.js';
import type { BundlePlace } from './boundary/host-ops.js';
import { installHint, isInside, PACKAGE_CAPS, packageNameOf } from './module-files.js';
import { BundleCache, withHashHeader } from './package-cache.js';
import { stopAtProcessEnd } from '../shared/process-end.js';

type Esbuild = typeof import('esbuild');
let esbuild: Esbuild | undefined;
async function loadEsbuild(): Promise<Esbuild> {
  if (esbuild === undefined) {
    const loaded = await import('esbuild');
    esbuild = loaded;
    // Its service process, busy with a bundle ahead of a require that a one-off command will
    // not make now, would keep that command's process alive until the bundle is done.
    stopAtProcessEnd(() => loaded.stop());
  }
  return esbuild;
}

/** The caps of module-files.ts, and how long one bundling may take. */
export const BUNDLE_CAPS = { ...PACKAGE_CAPS, timeMs: 60_000 } as const;

/** The files of a package that are bundled, by extension. */
const LOADERS: Record<string, 'js' | 'jsx' | 'ts' | 'tsx' | 'json'> = {
  '.js': 'js',
  '.cjs': 'js',
  '.mjs': 'js',
  '.jsx': 'jsx',
  '.json': 'json',
  '.ts': 'ts',
  '.cts': 'ts',
  '.mts': 'ts',
  '.tsx': 'tsx',
};

/**
 * Confines a package bundle to functions/node_modules: every import must resolve (symlinks
 * followed) inside it, and only regular files with a JavaScript, TypeScript or JSON extension are
 * read, each up to the size cap. Error texts name files, never their contents.
 */
function confinePlugin(appRoot: string, modulesDir: string): Plugin {
  const shown = (file: string): string => path.relative(appRoot, file) || file;
  let totalBytes = 0;
  const RESOLVING = 'triggerbox-confine';
  return {
    name: 'triggerbox-confine',
    setup(b) {
      b.onResolve({ filter: /.*/ }, async (args) => {
        if (args.pluginData === RESOLVING) return undefined;
        const where =
          args.importer && args.importer !== '<stdin>' ? ` in ${shown(args.importer)}` : '';
        const outside = {
          errors: [
            {
              text: `require('${args.path}')${where}: '${args.path}' is not in functions/node_modules; it resolves outside functions/node_modules (through a parent folder's node_modules, a relative path or a symlink), and packages are read only from functions/node_modules`,
            },
          ],
        };
        if (!args.path.startsWith('.') && !path.isAbsolute(args.path) && !isBuiltin(args.path)) {
          // esbuild reads a package's package.json while resolving it: check it first.
          for (
            let dir = args.resolveDir;
            isInside(dir, path.dirname(modulesDir)) || dir === path.dirname(modulesDir);
            dir = path.dirname(dir)
          ) {
            const manifest = path.join(
              dir,
              'node_modules',
              packageNameOf(args.path),
              'package.json',
            );
            let stat;
            try {
              stat = statSync(manifest);
            } catch {
              continue;
            }
            if (!stat.isFile() || stat.size > 1024 * 1024) {
              return {
                errors: [{ text: `${shown(manifest)} is not a regular file of at most 1 MiB` }],
              };
            }
          }
        }
        const resolved = await b.resolve(args.path, {
          kind: args.kind,
          resolveDir: args.resolveDir,
          importer: args.importer,
          pluginData: RESOLVING,
        });
        if (resolved.errors.length > 0) return { errors: resolved.errors };
        if (resolved.external) return resolved;
        let real: string;
        try {
          real = realpathSync(resolved.path);
        } catch {
          return outside;
        }
        if (!isInside(real, modulesDir)) return outside;
        return { path: real };
      });
      b.onLoad({ filter: /.*/ }, async (args) => {
        const name = shown(args.path);
        const loader = LOADERS[path.extname(args.path).toLowerCase()];
        if (loader === undefined) {
          return {
            errors: [
              {
                text: `${name}: only .js, .cjs, .mjs, .json (and TypeScript) files of packages are bundled`,
              },
            ],
          };
        }
        let handle;
        try {
          // Non-blocking, then fstat on what was opened: a FIFO or device is refused, not read.
          // node:fs/promises here, not at the top: it loads readline's internals too (about 4 ms of
          // every start of a command that runs functions, which bundles only on a first require).
          const { open } = process.getBuiltinModule('node:fs/promises');
          handle = await open(args.path, constants.O_RDONLY | constants.O_NONBLOCK);
          const stat = await handle.stat();
          if (!stat.isFile()) return { errors: [{ text: `${name} is not a regular file` }] };
          if (stat.size > BUNDLE_CAPS.fileBytes) {
            return {
              errors: [
                {
                  text: `${name} is ${stat.size} bytes, over the ${BUNDLE_CAPS.fileLabel} cap on one package file`,
                },
              ],
            };
          }
          totalBytes += stat.size;
          if (totalBytes > BUNDLE_CAPS.totalBytes) {
            return {
              errors: [
                {
                  text: `the package's files add up to more than the ${BUNDLE_CAPS.totalLabel} cap on one package (at ${name})`,
                },
              ],
            };
          }
          const contents = Buffer.alloc(stat.size);
          const { bytesRead } = await handle.read(contents, 0, stat.size, 0);
          return { contents: contents.subarray(0, bytesRead), loader };
        } catch (error) {
          const code = (error as { code?: string }).code ?? 'unreadable';
          return { errors: [{ text: `${name} cannot be read (${code})` }] };
        } finally {
          await handle?.close();
        }
      });
    },
  };
}

/** Lines the sandbox wrapper adds before a package bundle. */
export const PACKAGE_LINE_OFFSET = 1;

/**
 * Maps the stack frames that point into package bundles (`functions/node_modules/<spec>:L:C`)
 * back to the package's own files and lines.
 */
export function mapPackageFrames(
  stack: string,
  maps: ReadonlyMap<string, SourceMap | undefined>,
): string {
  return stack.replace(
    /functions\/node_modules\/(.+?):(\d+):(\d+)/g,
    (whole, spec: string, line: string, column: string) => {
      const map = maps.get(spec);
      if (map === undefined) return whole;
      const entry = map.findEntry(Number(line) - 1 - PACKAGE_LINE_OFFSET, Number(column) - 1) as {
        originalSource?: string;
        originalLine?: number;
        originalColumn?: number;
      };
      if (entry.originalSource === undefined || entry.originalLine === undefined) return whole;
      const source = entry.originalSource.replace(/^.*?(node_modules\/)/, 'functions/$1');
      return `${source}:${entry.originalLine + 1}:${(entry.originalColumn ?? 0) + 1}`;
    },
  );
}

/** Node built-ins that App Services functions cannot use (SPEC section 2). */
export const UNSUPPORTED_BUILTINS = ['child_process', 'cluster', 'domain', 'readline', 'v8', 'vm'];

function isBuiltin(spec: string): boolean {
  const bare = spec.startsWith('node:') ? spec.slice(5) : spec;
  return builtinModules.includes(bare.split('/')[0] ?? bare) || builtinModules.includes(bare);
}

function isInsideReal(file: string, dir: string): boolean {
  try {
    return isInside(realpathSync(file), realpathSync(dir));
  } catch {
    return false;
  }
}

let toolVersions: string | undefined;
/** What a bundle depends on besides the package: triggerbox (these options) and esbuild. */
function bundleToolVersions(): string {
  if (toolVersions === undefined) {
    let manifest: { version?: string; dependencies?: Record<string, string> } = {};
    try {
      // dist/src/runtime/ (or the CLI bundle in dist/src/cli/) -> the package root.
      manifest = JSON.parse(
        readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'),
      ) as typeof manifest;
    } catch {
      // Keyed by Node's version alone then; the input stamps still guard the package's files.
    }
    toolVersions = JSON.stringify([
      manifest.version,
      manifest.dependencies?.['esbuild'],
      process.version,
    ]);
  }
  return toolVersions;
}

export type PackageBundle =
  /** `at`: where the code also lies on disk (its cache entry), when it does. */
  | { ok: true; code: string; map: SourceMap | undefined; at: BundlePlace | undefined }
  /** notFound: the package is not in functions/node_modules (require throws MODULE_NOT_FOUND). */
  | { ok: false; error: string; notFound?: true };

/**
 * A package's source map, parsed when a stack frame first needs it: Node's SourceMap decodes
 * every mapping up front (about 200 ms for lodash's), which was on the path of every first
 * require() although only an error in package code reads it.
 */
class LazySourceMap implements SourceMap {
  private parsed: SourceMap | undefined;
  /** The map's text; from a cache entry, read and checked only now. */
  constructor(private readonly text: () => string | undefined) {}
  private get map(): SourceMap {
    if (this.parsed === undefined) {
      const text = this.text();
      // A cache entry's map that is not whole: frames stay as they are.
      this.parsed = new SourceMap(
        (text === undefined
          ? { version: 3, sources: [], mappings: '' }
          : JSON.parse(text)) as SourceMapPayload,
      );
    }
    return this.parsed;
  }
  get payload(): SourceMapPayload {
    return this.map.payload;
  }
  findEntry(lineOffset: number, columnOffset: number): ReturnType<SourceMap['findEntry']> {
    return this.map.findEntry(lineOffset, columnOffset);
  }
  findOrigin(lineNumber: number, columnNumber: number): ReturnType<SourceMap['findOrigin']> {
    return this.map.findOrigin(lineNumber, columnNumber);
  }
}

function packageBundle(
  code: string,
  mapText: (() => string | undefined) | undefined,
  at: BundlePlace | undefined,
): PackageBundle {
  return {
    ok: true,
    code,
    map: mapText === undefined ? undefined : new LazySourceMap(mapText),
    at,
  };
}

/**
 * Bundles `require(spec)` from functions/node_modules into a factory script for the sandbox, or
 * takes it from the on-disk cache when the files it was made from are unchanged.
 */
export async function bundlePackage(
  appRoot: string,
  spec: string,
  where: string,
): Promise<PackageBundle> {
  const at = where ? `${where}: ` : '';
  const problem = requireSpecProblem(spec);
  if (problem !== undefined)
    return { ok: false, error: `${at}require(${JSON.stringify(spec)}): ${problem}` };
  const functionsDir = path.join(appRoot, 'functions');
  const modulesDir = path.join(functionsDir, 'node_modules');
  const notFound: PackageBundle = {
    ok: false,
    error: `${at}cannot find package '${spec}' in functions/node_modules (${installHint(spec)})`,
    notFound: true,
  };
  let realModules: string;
  try {
    // Only functions/node_modules itself: never a parent folder's node_modules (the platform
    // installs from functions/package.json alone), and never a node_modules that is a symlink.
    if (!lstatSync(modulesDir).isDirectory()) return notFound;
    lstatSync(path.join(modulesDir, packageNameOf(spec)));
    realModules = path.join(realpathSync(functionsDir), 'node_modules');
  } catch {
    return notFound;
  }
  // Bundles are kept on disk (package-cache.ts): a package bundles once, not once per runner.
  const cache = new BundleCache(
    BundleCache.key(
      spec,
      realModules,
      path.join(realModules, packageNameOf(spec)),
      bundleToolVersions(),
    ),
    spec,
  );
  const cached = cache.read();
  if (cached !== undefined) return packageBundle(cached.code, cached.map, cached.at);
  const { context } = await loadEsbuild();
  let timer: NodeJS.Timeout | undefined;
  const ctx = await context({
    stdin: {
      contents: `module.exports = require(${JSON.stringify(spec)});`,
      resolveDir: realModules,
      sourcefile: 'triggerbox-require.js',
      loader: 'js',
    },
    bundle: true,
    write: false,
    platform: 'node',
    format: 'cjs',
    target: 'es2022',
    logLevel: 'silent',
    plugins: [confinePlugin(appRoot, realModules)],
    // The map stays on the host: stack frames in package code are mapped back to the
    // package's own files (RUNTIME-NOTES: inline maps cost compile time in the sandbox).
    sourcemap: 'external',
    outfile: path.join(functionsDir, 'triggerbox-package.js'),
    // The files read, for the cache entry's stamps.
    metafile: true,
  });
  try {
    const timedOut = new Promise<'timeout'>((resolve) => {
      // Unreferenced: esbuild's service holds the process while it builds; once a one-off
      // command stopped it (process-end.ts), the cap must not keep the process alive.
      timer = setTimeout(() => resolve('timeout'), BUNDLE_CAPS.timeMs).unref();
    });
    const result = await Promise.race([ctx.rebuild(), timedOut]);
    if (result === 'timeout') {
      void ctx.cancel();
      return {
        ok: false,
        error: `${at}bundling package '${spec}' took longer than ${BUNDLE_CAPS.timeMs / 1000} s, triggerbox's cap; check functions/node_modules/${packageNameOf(spec)}`,
      };
    }
    const code = result.outputFiles?.find((f) => f.path.endsWith('.js'))?.text ?? '';
    const mapText = result.outputFiles?.find((f) => f.path.endsWith('.map'))?.text;
    // One line of wrapper before the bundle: mapped lines are shifted by PACKAGE_LINE_OFFSET.
    // Its first line also names the SHA-256 of the rest: the sandbox keys V8's code cache by it.
    const wrapped = withHashHeader(
      `globalThis.__tb_module = function (module, exports, require) {\n${code}\n};`,
    );
    const inputs = Object.keys(result.metafile?.inputs ?? {})
      .filter((file) => file !== '<stdin>')
      .map((file) => path.resolve(file));
    const place = cache.write(wrapped, mapText, inputs);
    return packageBundle(wrapped, mapText === undefined ? undefined : () => mapText, place);
  } catch (error) {
    const failure = error as { errors?: { text: string; location?: { file: string } | null }[] };
    const first = failure.errors?.[0];
    const text = first?.text ?? String(error);
    if (/Could not resolve/.test(text)) return notFound;
    // A parse error quotes the file's text: say which file and line, never what it holds.
    const location = first?.location as
      { file: string; line?: number; column?: number } | null | undefined;
    const shown =
      location &&
      !/^triggerbox:|triggerbox-confine/.test(text) &&
      /Expected|Unexpected|Unterminated|Syntax|Invalid/.test(text)
        ? `a syntax error at ${location.file}:${location.line ?? 0}:${(location.column ?? 0) + 1}`
        : text;
    return { ok: false, error: `${at}cannot bundle package '${spec}': ${shown}` };
  } finally {
    clearTimeout(timer);
    void ctx.dispose();
  }
}

/**
 * Scans every function file for require() calls and reports, with file, line and column, the
 * packages that functions/node_modules lacks and the Node built-ins App Services does not support.
 */
export async function scanDependencies(app: App): Promise<Diagnostic[]> {
  const withRequire = [...app.functions.values()].filter((fn) => fn.source.includes('require'));
  if (withRequire.length === 0) return [];
  const { build } = await loadEsbuild();
  const functionsDir = path.join(app.root, 'functions');
  const diagnostics: Diagnostic[] = [];
  for (const fn of withRequire) {
    const absFile = path.join(app.root, fn.file);
    try {
      await build({
        stdin: {
          contents: fn.source,
          resolveDir: path.dirname(absFile),
          sourcefile: fn.file,
          loader: 'js',
        },
        bundle: true,
        write: false,
        platform: 'node',
        logLevel: 'silent',
        metafile: false,
        plugins: [
          {
            name: 'triggerbox-scan',
            setup(b) {
              b.onResolve({ filter: /.*/ }, async (args) => {
                // Bare packages are marked external below, so only the function file's own requires get here.
                if (args.pluginData === 'scan') return undefined;
                if (isBuiltin(args.path)) {
                  const bare = args.path.replace(/^node:/, '').split('/')[0] ?? '';
                  if (UNSUPPORTED_BUILTINS.includes(bare)) {
                    return {
                      errors: [
                        {
                          text: `Node built-in '${bare}' is not supported by App Services functions`,
                        },
                      ],
                    };
                  }
                  return { path: args.path, external: true };
                }
                const problem = requireSpecProblem(args.path);
                if (problem !== undefined) {
                  return { errors: [{ text: `require('${args.path}'): ${problem}` }] };
                }
                const resolved = await b.resolve(args.path, {
                  kind: args.kind,
                  resolveDir: functionsDir,
                  pluginData: 'scan',
                });
                // Found only in a parent folder's node_modules: the platform would not find it.
                const modules = path.join(functionsDir, 'node_modules');
                if (
                  resolved.errors.length > 0 ||
                  (!resolved.external &&
                    !isInside(resolved.path, modules) &&
                    !isInsideReal(resolved.path, modules))
                ) {
                  return {
                    errors: [
                      {
                        text: `cannot find package '${args.path}' in functions/node_modules (${installHint(args.path)})`,
                      },
                    ],
                  };
                }
                return { path: args.path, external: true };
              });
            },
          },
        ],
      });
    } catch (error) {
      const failure = error as {
        errors?: { text: string; location?: { line: number; column: number } | null }[];
      };
      for (const message of failure.errors ?? []) {
        if (/Unexpected|Expected/.test(message.text) && !message.text.includes('require')) continue; // syntax: reported elsewhere
        diagnostics.push({
          severity: 'error',
          file: fn.file,
          line: message.location?.line,
          column: message.location ? message.location.column + 1 : undefined,
          message: message.text,
        });
      }
    }
  }
  return diagnostics;
}
