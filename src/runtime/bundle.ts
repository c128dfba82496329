/**
 * esbuild in triggerbox: each npm package a function require()s is bundled once, from
 * functions/node_modules, into a CommonJS factory that the sandbox's require() evaluates.
 * Function files themselves run verbatim (they are scripts that assign the global `exports`,
 * which esbuild's CommonJS wrapping would lose: RUNTIME-NOTES, "the exports = trap"), so their
 * stack traces need no source map. The dependency scan reports missing packages and unsupported
 * Node built-ins with file, line and column.
 */
import { builtinModules, SourceMap, type SourceMapPayload } from 'node:module';
import path from 'node:path';
import type { App, Diagnostic } from '../app/types.js';

type Esbuild = typeof import('esbuild');
let esbuild: Esbuild | undefined;
async function loadEsbuild(): Promise<Esbuild> {
  esbuild ??= await import('esbuild');
  return esbuild;
}

/** Lines the sandbox wrapper adds before a package bundle. */
const PACKAGE_LINE_OFFSET = 1;

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

function installHint(spec: string): string {
  const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
  return `run \`npm install ${name}\` in functions/`;
}

export type PackageBundle =
  { ok: true; code: string; map: SourceMap | undefined } | { ok: false; error: string };

/** Bundles `require(spec)` from functions/node_modules into a factory script for the sandbox. */
export async function bundlePackage(
  appRoot: string,
  spec: string,
  where: string,
): Promise<PackageBundle> {
  const { build } = await loadEsbuild();
  const functionsDir = path.join(appRoot, 'functions');
  try {
    const result = await build({
      stdin: {
        contents: `module.exports = require(${JSON.stringify(spec)});`,
        resolveDir: functionsDir,
        sourcefile: 'triggerbox-require.js',
        loader: 'js',
      },
      bundle: true,
      write: false,
      platform: 'node',
      format: 'cjs',
      target: 'es2022',
      logLevel: 'silent',
      nodePaths: [path.join(functionsDir, 'node_modules')],
      // The map stays on the host: stack frames in package code are mapped back to the
      // package's own files (RUNTIME-NOTES: inline maps cost compile time in the sandbox).
      sourcemap: 'external',
      outfile: path.join(functionsDir, 'triggerbox-package.js'),
    });
    const code = result.outputFiles.find((f) => f.path.endsWith('.js'))?.text ?? '';
    const mapText = result.outputFiles.find((f) => f.path.endsWith('.map'))?.text;
    return {
      ok: true,
      // One line of wrapper before the bundle: mapped lines are shifted by PACKAGE_LINE_OFFSET.
      code: `globalThis.__tb_module = function (module, exports, require) {\n${code}\n};`,
      map:
        mapText === undefined ? undefined : new SourceMap(JSON.parse(mapText) as SourceMapPayload),
    };
  } catch (error) {
    const at = where ? `${where}: ` : '';
    const failure = error as { errors?: { text: string }[] };
    const text = failure.errors?.[0]?.text ?? String(error);
    if (/Could not resolve/.test(text)) {
      return {
        ok: false,
        error: `${at}cannot find package '${spec}' in functions/node_modules (${installHint(spec)})`,
      };
    }
    return { ok: false, error: `${at}cannot bundle package '${spec}': ${text}` };
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
                if (args.path.startsWith('.') || args.path.startsWith('/')) {
                  return {
                    errors: [
                      {
                        text: `relative require('${args.path}') is not supported: share code with context.functions.execute()`,
                      },
                    ],
                  };
                }
                const resolved = await b.resolve(args.path, {
                  kind: args.kind,
                  resolveDir: functionsDir,
                  pluginData: 'scan',
                });
                if (resolved.errors.length > 0) {
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
