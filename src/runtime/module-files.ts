/**
 * npm packages loaded as Node loads CommonJS: file by file, in the sandbox process, without
 * esbuild. `require('lodash')` read and compiled lodash.js (545 KB) in about twice the time plain
 * Node takes, where starting esbuild and bundling took 7 times as long (docs/runtime-notes.md,
 * "Packages in functions").
 *
 * A function's `require(spec)` of a package is resolved here with Node's CommonJS rules
 * (node_modules folders, package.json "exports" with the require/node/default conditions, "main",
 * index files, the .js and .json extensions), confined to functions/node_modules exactly as
 * bundle.ts confines esbuild: every file is reached through its real path inside it (symlinks
 * followed), is a regular file (opened non-blocking and checked through its descriptor: a FIFO
 * never blocks), of a known kind, and within the size caps. Before a package runs, the files its
 * literal require() calls reach are read and checked; a package any of whose files is an ES
 * module, TypeScript or uses "imports" (#specifiers), or whose graph is past the caps below, is
 * left to bundle.ts (esbuild), whole, as before. A nested require() that cannot be resolved, or
 * that breaks the confinement, fails when it runs, as Node's would, with the file that asked.
 *
 * Everything here is synchronous: the sandbox process serves it while the isolate that asked
 * waits, and other isolates' host calls wait too. The caps bound that work.
 */
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readFileSync,
  realpathSync,
} from 'node:fs';
import path from 'node:path';
import type { ModuleResolution } from './boundary/host-ops.js';

/**
 * What loading packages may read and take (RUNTIME-NOTES / issue #8: `require("/dev/zero")`
 * grew esbuild to 5 GB and never returned). The largest files of real packages are a few MB.
 */
export const PACKAGE_CAPS = {
  fileBytes: 32 * 1024 * 1024,
  fileLabel: '32 MiB',
  /** The files (package.json included) one package reaches. */
  totalBytes: 128 * 1024 * 1024,
  totalLabel: '128 MiB',
  /** A package.json is read while resolving; at most this much. */
  manifestBytes: 1024 * 1024,
} as const;

/** All packages of one app generation together: the sandbox process's memory. */
const GENERATION_BYTES = 4 * PACKAGE_CAPS.totalBytes;
/**
 * A package whose literal requires reach more files, or name more modules, than this is bundled
 * instead (esbuild works in the parent, asynchronously, with its own time cap). Real packages are
 * far below: @faker-js/faker reaches 81 files, aws-sdk v2 about 1,000.
 */
const GRAPH_FILES = 5000;
const GRAPH_REQUIRES = 20_000;
/**
 * Bounds on the synchronous work of one resolve() (the sandbox's other calls wait for it):
 * filesystem lookups, folder depth below functions/node_modules, a module's require() name, and
 * the answers kept. Past the lookups, a package is bundled instead; the rest are refused.
 */
const LOOKUPS = 50_000;
const MAX_DEPTH = 64;
const MAX_SPEC = 1000;
const KEPT_ANSWERS = 10_000;
/** package.json text kept (only main, exports and type of each) for one app generation. */
const MANIFEST_BYTES = 8 * 1024 * 1024;

/** The package name of a bare specifier: `@scope/name` or `name`. */
export function packageNameOf(spec: string): string {
  const parts = spec.split('/');
  return (spec.startsWith('@') ? parts.slice(0, 2) : parts.slice(0, 1)).join('/');
}

/** `run npm install <name> in functions/`. */
export function installHint(spec: string): string {
  return `run \`npm install ${packageNameOf(spec)}\` in functions/`;
}

/** Whether `file` is strictly inside `dir` (not `dir` itself). */
export function isInside(file: string, dir: string): boolean {
  const relative = path.relative(dir, file);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}

/** Where module files are named: their `__filename`, stack frames and `require.resolve()`. */
export const MODULES_PREFIX = 'functions/node_modules/';

class Refusal extends Error {
  constructor(
    message: string,
    readonly notFound = false,
    /** Node's error code when it is not MODULE_NOT_FOUND. */
    readonly code?: string,
  ) {
    super(message);
  }
}

/** A file that needs esbuild, or a lookup past the budget: the package is bundled instead. */
class NeedsBundle extends Error {}
const TOO_MANY_LOOKUPS = 'too many lookups';

type Format = 'cjs' | 'json' | 'bundle';

/** What resolving reads of a package.json. */
interface Manifest {
  main: unknown;
  exports: unknown;
  type: unknown;
}

/** Extensions Node's CommonJS loader tries, in its order (.node: native addons, refused). */
const TRIED_EXTENSIONS = ['.js', '.json', '.node'];
/** Read and loaded here; the TypeScript and ES module extensions go to esbuild. */
const BUNDLED_EXTENSIONS = new Set(['.mjs', '.ts', '.cts', '.mts', '.tsx', '.jsx']);
/**
 * Conditions of a require() in package.json "exports" (Node 24 also matches "module-sync", whose
 * targets are ES modules: those packages would be bundled; esbuild matches "require" too).
 */
const REQUIRE_CONDITIONS = new Set(['require', 'node', 'default']);
/** A require() call with a literal specifier (quotes or a template without substitutions). */
const LITERAL_REQUIRE = /(?<![.\w$])require\s*\(\s*(['"`])([^'"`\\\n$]+)\1\s*\)/g;
/**
 * An import or export statement at the start of a line or after `;`, `{` or `}` (minified
 * code): a file Node 24 would load as an ES module by its syntax although its package does not
 * say "type": "module". A false match only sends the package to esbuild, which also loads it.
 * Found by the keywords first, then the statement's shape at each (one pattern that tried every
 * position took 6 ms over lodash.js, this 0.5 ms).
 */
const ESM_KEYWORD = /\b(?:import|export)\b/g;
const ESM_STATEMENT =
  /(?:import(?:[ \t]+[\w$*{]|[ \t]*[{*"'])|import\.meta\b|export(?:[ \t]+(?:default|const|let|var|function|class|async)\b|[ \t]*[{*]))/y;

/** `import.meta` anywhere but after a `.`: valid in ES modules only. */
const IMPORT_META = /import[ \t]*\.[ \t]*meta\b/y;

function hasEsmSyntax(text: string): boolean {
  for (const match of text.matchAll(ESM_KEYWORD)) {
    let before = match.index - 1;
    while (before >= 0 && (text[before] === ' ' || text[before] === '\t')) before--;
    const previous = before >= 0 ? (text[before] ?? '') : '\n';
    IMPORT_META.lastIndex = match.index;
    if (previous !== '.' && IMPORT_META.test(text)) return true;
    if (!'\n\r;{}'.includes(previous)) continue;
    ESM_STATEMENT.lastIndex = match.index;
    if (ESM_STATEMENT.test(text)) return true;
  }
  return false;
}
/** A character V8 keeps in a two-byte string. */
const TWO_BYTE = /[^\x00-\xff]/;
/** Node's module wrapper, on the file's first line so that no line moves. */
const WRAPPER_HEAD = '(function (exports, require, module, __filename, __dirname) {';

/**
 * The modules of one app's functions/node_modules, for one sandbox process and one app
 * generation (files are read again after a reload).
 */
export class ModuleFiles {
  /** The real path of functions/node_modules, or undefined when there is none (nothing found). */
  private readonly modulesDir: string | undefined;
  /**
   * Each file read, once: a JavaScript file as the guest evaluates it (WRAPPER_HEAD, the file,
   * the tail with its sourceURL), a JSON file as its text. One copy of each in memory.
   */
  private readonly texts = new Map<string, string>();
  /**
   * Each file's own text, of which its text in `texts` is made (no copy): what the scans for
   * requires and ES module syntax read. Scanning the wrapped text made V8 copy it into one flat
   * string first (7 ms for lodash.js, whose text is two-byte); isolated-vm copies it into the
   * isolate without that.
   */
  private readonly sources = new Map<string, string>();
  private readonly formats = new Map<string, Format>();
  private readonly resolutions = new Map<string, ModuleResolution>();
  private readonly resolvedFiles = new Map<string, string | Refusal | NeedsBundle>();
  private readonly manifests = new Map<string, Manifest | undefined>();
  /** Whether `<folder>/node_modules` exists, by folder. */
  private readonly moduleFolders = new Map<string, boolean>();
  private manifestBytes = 0;
  private lookups = 0;
  /** Set while check() reads a package: its bytes count against the package's cap. */
  private checking = false;
  /** The ids resolve() answered: the only files moduleText() serves. */
  private readonly served = new Set<string>();
  private generationBytes = 0;
  /** Bytes read since the package being checked started (its cap). */
  private packageBytes = 0;

  constructor(appRoot: string) {
    const functionsDir = path.join(appRoot, 'functions');
    try {
      // Only functions/node_modules itself: never a parent folder's node_modules (the platform
      // installs from functions/package.json alone), and never a node_modules that is a symlink.
      const modules = path.join(functionsDir, 'node_modules');
      this.modulesDir = lstatSync(modules).isDirectory()
        ? path.join(realpathSync.native(functionsDir), 'node_modules')
        : undefined;
    } catch {
      this.modulesDir = undefined;
    }
  }

  /**
   * Whether function code's `require(spec)` starts a CommonJS file: the sandbox then loads the
   * package file by file, and nothing needs bundling ahead (runner.ts prefetchPackages). Only the
   * entry is looked at: a package with an ES module deeper in it is bundled when it is required.
   */
  entryLoadsByFile(spec: string): boolean {
    if (this.modulesDir === undefined) return false;
    try {
      return this.format(this.resolveFile(spec, '')) !== 'bundle';
    } catch {
      return false;
    }
  }

  /**
   * `require(spec)` from the module `from` (an id), or from function code when `from` is ''.
   * Function code names packages only (the prelude refuses paths before asking).
   */
  resolve(spec: string, from: string, where: string): ModuleResolution {
    const key = `${from}\0${spec}`;
    let answer = this.resolutions.get(key);
    if (answer === undefined) {
      this.lookups = 0;
      answer = this.answer(spec, from);
      if (this.resolutions.size < KEPT_ANSWERS) this.resolutions.set(key, answer);
    }
    // Kept without who asked: function code's requires of one name share the answer, each error
    // naming its own call site.
    if (answer.kind !== 'error') return answer;
    const asked = from === '' ? (where ? `${where}: ` : '') : `${MODULES_PREFIX}${from}: `;
    return { ...answer, message: `${asked}${answer.message}` };
  }

  /**
   * What the guest evaluates for `id` (resolve() answered it): a JavaScript file wrapped as
   * Node wraps it, with its sourceURL; a JSON file's text, which the guest parses.
   */
  moduleText(id: string): string {
    if (!this.served.has(id)) throw new Refusal(`'${id}' is not a module require() resolved`);
    return this.load(id);
  }

  /** What `spec` resolves to from `from`; an error's message without who asked (resolve()). */
  private answer(spec: string, from: string): ModuleResolution {
    if (this.modulesDir === undefined) {
      return from === ''
        ? { kind: 'bundle', spec }
        : { kind: 'error', message: 'no functions/node_modules', notFound: true };
    }
    if (spec.length > MAX_SPEC) {
      return {
        kind: 'error',
        message: `a require() name of ${spec.length} characters, over ${MAX_SPEC}`,
        notFound: true,
      };
    }
    const bare = isBare(spec) && !spec.startsWith(MODULES_PREFIX);
    let id: string;
    try {
      id = this.resolveFile(spec, from);
      // A package is checked whole, whoever requires it; a file of the same package only itself.
      if (bare) this.check(id);
      else if (this.format(id) === 'bundle') throw new NeedsBundle();
    } catch (error) {
      if (error instanceof NeedsBundle) {
        if (error.message === TOO_MANY_LOOKUPS && !bare) {
          return {
            kind: 'error',
            message: `require('${spec}') took more than ${LOOKUPS} filesystem lookups`,
            notFound: false,
          };
        }
        return this.bundled(spec, from);
      }
      if (error instanceof Refusal) {
        // Function code's require of a package not found here: the parent answers it, with a
        // bundle it made ahead (prefetchPackages) or the same "cannot find package" error.
        if (error.notFound && from === '') return { kind: 'bundle', spec };
        return {
          kind: 'error',
          message: error.message,
          notFound: error.notFound,
          ...(error.code !== undefined && { code: error.code }),
        };
      }
      throw error;
    }
    this.served.add(id);
    return { kind: 'file', id };
  }

  /**
   * A package that needs esbuild. The parent bundles it by name from functions/node_modules, so
   * only the top-level install of it can be bundled; a file inside a CommonJS package or a
   * nested install is refused, saying so.
   */
  private bundled(spec: string, from: string): ModuleResolution {
    if (!isBare(spec) || spec.startsWith(MODULES_PREFIX)) {
      return {
        kind: 'error',
        message: `require('${spec}') names an ES module or TypeScript file inside a CommonJS package; require the package itself`,
        notFound: false,
      };
    }
    if (from !== '') {
      let topLevel = false;
      try {
        topLevel = this.resolveFile(spec, '') === this.resolveFile(spec, from);
      } catch {
        topLevel = false;
      }
      if (!topLevel) {
        return {
          kind: 'error',
          message: `require('${spec}'): an ES module or TypeScript package is bundled only from functions/node_modules/${packageNameOf(spec)}, and this one is installed elsewhere; install it at the top level (npm install ${packageNameOf(spec)} in functions/)`,
          notFound: false,
        };
      }
    }
    return { kind: 'bundle', spec };
  }

  /**
   * Reads `id` and every file its literal require() calls reach, before anything runs: a file
   * that needs esbuild, or a graph past the caps, makes the whole package a bundle (NeedsBundle).
   * Literal requires that do not resolve, or break the confinement, are left for the moment they
   * run (an optional dependency inside a try works; one in a branch never taken costs nothing).
   */
  private check(entry: string): void {
    this.packageBytes = 0;
    this.checking = true;
    try {
      this.checkGraph(entry);
    } finally {
      this.checking = false;
    }
  }

  private checkGraph(entry: string): void {
    const seen = new Set<string>([entry]);
    const pending = [entry];
    let requires = 0;
    for (let id = pending.pop(); id !== undefined; id = pending.pop()) {
      const format = this.format(id);
      if (format === 'bundle') throw new NeedsBundle();
      if (format === 'json') continue;
      const specs = new Set<string>();
      for (const match of this.source(id).matchAll(LITERAL_REQUIRE)) specs.add(match[2] ?? '');
      requires += specs.size;
      if (requires > GRAPH_REQUIRES) throw new NeedsBundle();
      for (const spec of specs) {
        if (spec.startsWith('#')) throw new NeedsBundle();
        if (isBuiltinName(spec)) continue;
        let next: string;
        try {
          next = this.resolveFile(spec, id);
        } catch (error) {
          if (error instanceof Refusal) continue;
          throw error;
        }
        if (seen.has(next)) continue;
        seen.add(next);
        if (seen.size > GRAPH_FILES) throw new NeedsBundle();
        pending.push(next);
      }
    }
  }

  /**
   * The id `spec` resolves to from `from` (Node's CommonJS algorithm, confined), by the folder
   * that asks: two files of one folder requiring the same name resolve once.
   */
  private resolveFile(spec: string, from: string): string {
    const modulesDir = this.modulesDir as string;
    const fromDir = from === '' ? '' : path.dirname(path.join(modulesDir, from));
    const key = `${fromDir}\0${spec}`;
    const known = this.resolvedFiles.get(key);
    if (known !== undefined) {
      if (typeof known === 'string') return known;
      throw known;
    }
    const keep = this.resolvedFiles.size < KEPT_ANSWERS;
    try {
      const id = this.findFile(spec, from === '' ? modulesDir : fromDir, from !== '');
      if (keep) this.resolvedFiles.set(key, id);
      return id;
    } catch (error) {
      if (keep && (error instanceof Refusal || error instanceof NeedsBundle))
        this.resolvedFiles.set(key, error);
      throw error;
    }
  }

  private findFile(spec: string, fromDir: string, fromModule: boolean): string {
    const modulesDir = this.modulesDir as string;
    if (path.relative(modulesDir, fromDir).split(path.sep).length > MAX_DEPTH)
      throw new Refusal(`require('${spec}'): asked from a folder over ${MAX_DEPTH} levels deep`);
    if (spec === '' || spec.includes('\0'))
      throw new Refusal(`require('${spec}'): not a module name`);
    // A module file's own names for files (__filename, __dirname, require.resolve()).
    if (fromModule && spec.startsWith(MODULES_PREFIX))
      return this.fileOrDirectory(path.join(modulesDir, spec.slice(MODULES_PREFIX.length)), spec);
    if (path.isAbsolute(spec) || /^[A-Za-z]:|^[A-Za-z][A-Za-z0-9+.-]*:\/\/|\\/.test(spec)) {
      throw new Refusal(
        `require('${spec}'): '${spec}' is outside functions/node_modules; packages are read only from functions/node_modules`,
      );
    }
    if (spec === '.' || spec === '..' || spec.startsWith('./') || spec.startsWith('../'))
      return this.fileOrDirectory(path.resolve(fromDir, spec), spec);
    if (spec.startsWith('#')) throw new NeedsBundle();
    const name = packageNameOf(spec);
    const subpath = spec.slice(name.length);
    for (const dir of this.nodeModulesPaths(fromDir)) {
      const packageDir = path.join(dir, name);
      if (!this.exists(packageDir)) continue;
      const manifest = this.manifest(packageDir, spec);
      const exports = manifest?.exports;
      if (exports !== undefined && exports !== null)
        return this.fromExports(packageDir, exports, `.${subpath}`, spec);
      const found = this.fileOrDirectoryOrNothing(path.join(packageDir, subpath), spec);
      if (found !== undefined) return found;
    }
    throw new Refusal(`'${spec}' is not in functions/node_modules (${installHint(spec)})`, true);
  }

  /** LOAD_AS_FILE, then LOAD_AS_DIRECTORY; a name ending in `/` is a directory only. */
  private fileOrDirectoryOrNothing(target: string, spec: string): string | undefined {
    const directoryOnly = spec.endsWith('/') || spec === '.' || spec === '..';
    return (
      (directoryOnly ? undefined : this.loadAsFile(target, spec)) ??
      this.loadAsDirectory(target, spec)
    );
  }

  private fileOrDirectory(target: string, spec: string): string {
    const found = this.fileOrDirectoryOrNothing(target, spec);
    if (found === undefined) throw new Refusal(`cannot find module '${spec}'`, true);
    return found;
  }

  /** Node's NODE_MODULES_PATHS, from `start` up to functions/node_modules and no further. */
  private nodeModulesPaths(start: string): string[] {
    const modulesDir = this.modulesDir as string;
    const dirs: string[] = [];
    for (let dir = start; isInside(dir, modulesDir); dir = path.dirname(dir)) {
      if (path.basename(dir) === 'node_modules') continue;
      let present = this.moduleFolders.get(dir);
      if (present === undefined) {
        present = this.exists(path.join(dir, 'node_modules'));
        this.moduleFolders.set(dir, present);
      }
      if (present) dirs.push(path.join(dir, 'node_modules'));
    }
    dirs.push(modulesDir);
    return dirs;
  }

  /** package.json "exports" for `subpath` ('.' or './x') with require()'s conditions. */
  private fromExports(packageDir: string, exports: unknown, subpath: string, spec: string): string {
    const shown = `${MODULES_PREFIX}${this.idOf(packageDir)}/package.json`;
    let map: Record<string, unknown>;
    if (typeof exports === 'string' || Array.isArray(exports)) map = { '.': exports };
    else if (typeof exports === 'object' && exports !== null) {
      const keys = Object.keys(exports);
      const paths = keys.filter((k) => k.startsWith('.')).length;
      if (paths > 0 && paths < keys.length) {
        throw new Refusal(
          `require('${spec}'): ${shown} mixes paths and conditions as "exports" keys`,
          false,
          'ERR_INVALID_PACKAGE_CONFIG',
        );
      }
      map = paths === 0 ? { '.': exports } : (exports as Record<string, unknown>);
    } else throw new Refusal(`${shown} has "exports" that is neither a path nor an object`);
    let target: unknown;
    let star = '';
    if (Object.hasOwn(map, subpath) && !subpath.includes('*')) target = map[subpath];
    else {
      // Node's PATTERN_KEY_COMPARE: the longest prefix before the `*`, then the longest key.
      let best = '';
      for (const key of Object.keys(map)) {
        const at = key.indexOf('*');
        if (at < 0 || key.indexOf('*', at + 1) >= 0) continue;
        const prefix = key.slice(0, at);
        const suffix = key.slice(at + 1);
        if (subpath.length < key.length || !subpath.startsWith(prefix) || !subpath.endsWith(suffix))
          continue;
        const bestAt = best.indexOf('*');
        if (best === '' || at > bestAt || (at === bestAt && key.length > best.length)) {
          best = key;
          star = subpath.slice(prefix.length, subpath.length - suffix.length);
        }
      }
      if (best !== '') target = map[best];
    }
    const resolved = this.exportTarget(packageDir, target, star, shown);
    if (resolved === undefined) {
      throw new Refusal(
        `require('${spec}'): ${shown} does not export '${subpath}' for require()`,
        false,
        'ERR_PACKAGE_PATH_NOT_EXPORTED',
      );
    }
    const real = this.confined(resolved, spec);
    if (real === undefined || !this.isFile(real, spec)) {
      throw new Refusal(
        `require('${spec}'): ${shown} names '${path.relative(packageDir, resolved)}', which does not exist`,
        true,
      );
    }
    return this.idOf(real);
  }

  /** Node's PACKAGE_TARGET_RESOLVE for require(): a path in the package, or undefined. */
  private exportTarget(
    packageDir: string,
    target: unknown,
    star: string,
    shown: string,
  ): string | undefined {
    if (typeof target === 'string') {
      if (!target.startsWith('./'))
        throw new Refusal(
          `${shown} has an "exports" target that is not a path in the package: ${target}`,
        );
      const filled = target.split('*').join(star);
      const segments = filled.slice(2).split(/[\\/]/);
      if (segments.some((s) => s === '..' || s === '.' || s === 'node_modules'))
        throw new Refusal(`${shown} has an "exports" target that leaves the package: ${target}`);
      return path.join(packageDir, filled);
    }
    if (Array.isArray(target)) {
      for (const one of target) {
        try {
          const found = this.exportTarget(packageDir, one, star, shown);
          if (found !== undefined) return found;
        } catch (error) {
          if (!(error instanceof Refusal)) throw error;
        }
      }
      return undefined;
    }
    if (typeof target === 'object' && target !== null) {
      for (const [condition, value] of Object.entries(target)) {
        if (!REQUIRE_CONDITIONS.has(condition)) continue;
        const found = this.exportTarget(packageDir, value, star, shown);
        if (found !== undefined) return found;
      }
    }
    return undefined;
  }

  /** LOAD_AS_FILE: the path itself, then with .js, .json (.node is refused). */
  private loadAsFile(target: string, spec: string): string | undefined {
    for (const candidate of [target, ...TRIED_EXTENSIONS.map((ext) => target + ext)]) {
      const real = this.confined(candidate, spec);
      if (real === undefined || !this.isFile(real, spec)) continue;
      if (path.extname(real) === '.node') throw this.nativeAddon(real, spec);
      return this.idOf(real);
    }
    return undefined;
  }

  /** LOAD_AS_DIRECTORY: package.json "main", then index.js / index.json. */
  private loadAsDirectory(target: string, spec: string): string | undefined {
    const real = this.confined(target, spec);
    if (real === undefined || !this.isDirectory(real)) return undefined;
    const manifest = this.manifest(real, spec);
    const main = manifest?.main;
    if (typeof main === 'string' && main !== '') {
      const at = path.resolve(real, main);
      const found = this.loadAsFile(at, spec) ?? this.loadIndex(at, spec);
      if (found !== undefined) return found;
    }
    return this.loadIndex(real, spec);
  }

  private loadIndex(dir: string, spec: string): string | undefined {
    for (const ext of TRIED_EXTENSIONS) {
      const real = this.confined(path.join(dir, `index${ext}`), spec);
      if (real === undefined || !this.isFile(real, spec)) continue;
      if (ext === '.node') throw this.nativeAddon(real, spec);
      return this.idOf(real);
    }
    return undefined;
  }

  private nativeAddon(real: string, spec: string): Refusal {
    return new Refusal(
      `require('${spec}'): ${this.shown(real)} is a native addon, which the sandbox cannot load`,
    );
  }

  /**
   * The real path of `candidate` when something is there, inside functions/node_modules, else
   * undefined; a Refusal for a symlink that leads out or nowhere, with one message for both, so
   * that a package cannot learn which files exist outside.
   */
  private confined(candidate: string, spec: string): string | undefined {
    const modulesDir = this.modulesDir as string;
    this.lookup();
    let real: string;
    try {
      real = realpathSync.native(candidate);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') {
        // Nothing there. Outside, or reached through a symlink (the path's own, or a folder's on
        // the way): the same answer as for a symlink to something, whatever is at the end.
        if (code === 'ELOOP' || this.leadsOut(candidate)) throw this.outside(spec);
        return undefined;
      }
      throw new Refusal(
        `require('${spec}'): ${this.shown(candidate)} cannot be read (${code ?? 'error'})`,
      );
    }
    if (!isInside(real, modulesDir)) throw this.outside(spec);
    return real;
  }

  /**
   * Whether a path with nothing at its end passes outside functions/node_modules: lexically, or
   * through a symlink (the path itself, or the real path of the nearest folder that exists).
   */
  private leadsOut(candidate: string): boolean {
    const modulesDir = this.modulesDir as string;
    if (!isInside(path.resolve(candidate), modulesDir)) return true;
    try {
      if (lstatSync(candidate).isSymbolicLink()) return true;
    } catch {
      // Not there itself.
    }
    for (let dir = path.dirname(candidate); isInside(dir, modulesDir); dir = path.dirname(dir)) {
      this.lookup();
      try {
        const real = realpathSync.native(dir);
        return real !== dir && !isInside(real, modulesDir) && real !== modulesDir;
      } catch {
        // Not there either: its parent then.
      }
    }
    return false;
  }

  /** One filesystem lookup against the budget of this resolve(). */
  private lookup(): void {
    if (++this.lookups > LOOKUPS) throw new NeedsBundle(TOO_MANY_LOOKUPS);
  }

  private outside(spec: string): Refusal {
    return new Refusal(
      `require('${spec}'): '${spec}' resolves outside functions/node_modules, or through a symlink to nothing, and packages are read only from functions/node_modules`,
    );
  }

  private exists(dir: string): boolean {
    this.lookup();
    try {
      lstatSync(dir);
      return true;
    } catch {
      return false;
    }
  }

  private isDirectory(real: string): boolean {
    this.lookup();
    try {
      return lstatSync(real).isDirectory();
    } catch {
      return false;
    }
  }

  /** A regular file: true; nothing or a folder: false; anything else (FIFO, device): refused. */
  private isFile(real: string, spec: string): boolean {
    this.lookup();
    let stat;
    try {
      stat = lstatSync(real);
    } catch {
      return false;
    }
    if (stat.isDirectory()) return false;
    if (!stat.isFile())
      throw new Refusal(`require('${spec}'): ${this.shown(real)} is not a regular file`);
    return true;
  }

  private manifest(dir: string, spec: string): Manifest | undefined {
    if (this.manifests.has(dir)) return this.manifests.get(dir);
    const file = path.join(dir, 'package.json');
    let parsed: Manifest | undefined;
    const real = this.confined(file, spec);
    if (real !== undefined && !this.isDirectory(real)) {
      const text = this.readChecked(real, PACKAGE_CAPS.manifestBytes, '1 MiB');
      this.manifestBytes += text.length;
      if (this.manifestBytes > MANIFEST_BYTES) {
        throw new Refusal(
          `the packages' package.json files add up to more than ${MANIFEST_BYTES / 1024 / 1024} MiB (at ${this.shown(real)})`,
        );
      }
      try {
        const value = JSON.parse(text) as unknown;
        // Only what resolving reads is kept (a parsed package.json holds up to 20 times its text).
        parsed =
          typeof value === 'object' && value !== null && !Array.isArray(value)
            ? {
                main: (value as Record<string, unknown>)['main'],
                exports: (value as Record<string, unknown>)['exports'],
                type: (value as Record<string, unknown>)['type'],
              }
            : undefined;
      } catch {
        throw new Refusal(
          `require('${spec}'): ${this.shown(real)} is not valid JSON`,
          false,
          'ERR_INVALID_PACKAGE_CONFIG',
        );
      }
    }
    this.manifests.set(dir, parsed);
    return parsed;
  }

  /** How `id` loads: by its extension, its package's "type", and its syntax (it is read). */
  private format(id: string): Format {
    const known = this.formats.get(id);
    if (known !== undefined) return known;
    const real = path.join(this.modulesDir as string, id);
    // Case matters, as in Node: `x.JSON` is no JSON file to it.
    const ext = path.extname(real);
    let format: Format;
    if (ext === '.json') format = 'json';
    else if (BUNDLED_EXTENSIONS.has(ext)) format = 'bundle';
    else if (ext === '.cjs') format = 'cjs';
    else if (ext === '.js' || ext === '') {
      // An extensionless file loads as CommonJS, as Node loads it (a bin script, a "main").
      format = this.packageType(path.dirname(real)) === 'module' ? 'bundle' : 'cjs';
      if (format === 'cjs' && hasEsmSyntax(this.source(id))) format = 'bundle';
    } else {
      throw new Refusal(
        `${this.shown(real)}: only .js, .cjs, .mjs, .json (and TypeScript) files of packages are loaded`,
      );
    }
    this.formats.set(id, format);
    return format;
  }

  /** "type" of the nearest package.json up to functions/node_modules (Node's lookup). */
  private packageType(dir: string): unknown {
    const modulesDir = this.modulesDir as string;
    for (let at = dir; isInside(at, modulesDir); at = path.dirname(at)) {
      if (path.basename(at) === 'node_modules') break;
      try {
        const manifest = this.manifest(at, at);
        if (manifest !== undefined) return manifest.type;
      } catch {
        return undefined;
      }
    }
    return undefined;
  }

  /** The file's text as the guest takes it (see `texts`), read once and checked. */
  private load(id: string): string {
    const known = this.texts.get(id);
    if (known !== undefined) return known;
    const real = path.join(this.modulesDir as string, id);
    const source = this.readChecked(real, PACKAGE_CAPS.fileBytes, PACKAGE_CAPS.fileLabel).replace(
      /^\uFEFF/,
      '',
    );
    this.sources.set(id, source);
    const filename = `${MODULES_PREFIX}${id}`;
    // Node strips a #! line (a byte-order mark too). Line 1 keeps its place beside the head.
    const text = isJson(id)
      ? source
      : `${WRAPPER_HEAD}${source.replace(/^#!.*/, '')}\n})\n//# sourceURL=${filename}`;
    this.texts.set(id, text);
    return text;
  }

  /** The file's own text (see `sources`), read once and checked. */
  private source(id: string): string {
    const known = this.sources.get(id);
    if (known !== undefined) return known;
    this.load(id);
    return this.sources.get(id) as string;
  }

  /**
   * A regular file's text (opened non-blocking, checked through its descriptor), capped, its
   * bytes counted against the package's and the generation's caps. Decoded by readFileSync
   * itself: Buffer#toString took twice as long for lodash.js (15 against 7 ms).
   */
  private readChecked(real: string, cap: number, capLabel: string): string {
    let fd: number;
    try {
      fd = openSync(real, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
    } catch (error) {
      throw new Refusal(
        `${this.shown(real)} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
    try {
      const stat = fstatSync(fd);
      if (!stat.isFile()) throw new Refusal(`${this.shown(real)} is not a regular file`);
      if (stat.size > cap) {
        throw new Refusal(
          `${this.shown(real)} is ${stat.size} bytes, over the ${capLabel} cap on one package file`,
        );
      }
      if (this.checking) this.packageBytes += stat.size;
      if (this.packageBytes > PACKAGE_CAPS.totalBytes) {
        throw new Refusal(
          `the package's files add up to more than the ${PACKAGE_CAPS.totalLabel} cap on one package (at ${this.shown(real)})`,
        );
      }
      this.countGeneration(stat.size, real, false);
      const text = readFileSync(fd, 'utf8');
      // In memory, a text with any character past U+00FF takes two bytes a character (a file of
      // invalid UTF-8 decodes to U+FFFD for each bad byte: twice its size): counted so.
      if (TWO_BYTE.test(text))
        this.countGeneration(Math.max(0, 2 * text.length - stat.size), real, true);
      return text;
    } finally {
      closeSync(fd);
    }
  }

  /** Bytes against the generation's cap: of files read, or what their text takes in memory. */
  private countGeneration(bytes: number, real: string, inMemory: boolean): void {
    this.generationBytes += bytes;
    if (this.generationBytes > GENERATION_BYTES) {
      const counted = inMemory ? 'take more than' : 'add up to more than';
      throw new Refusal(
        `the packages' files ${counted} ${GENERATION_BYTES / 1024 / 1024} MiB${inMemory ? ' in memory' : ''} (at ${this.shown(real)}); a reload of the app starts the count again`,
      );
    }
  }

  private idOf(real: string): string {
    return path
      .relative(this.modulesDir as string, real)
      .split(path.sep)
      .join('/');
  }

  private shown(file: string): string {
    return `${MODULES_PREFIX}${this.idOf(file)}`;
  }
}

/** A JSON module: the guest parses its text (module-files.ts answers it unwrapped). */
function isJson(id: string): boolean {
  return id.endsWith('.json');
}

function isBare(spec: string): boolean {
  return !(spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('#'));
}

/** Node's built-in module names (with or without node:), which the guest answers itself. */
function isBuiltinName(spec: string): boolean {
  return spec.startsWith('node:') || BUILTINS.has(spec) || BUILTINS.has(spec.split('/')[0] ?? '');
}

const BUILTINS = new Set(
  (process.getBuiltinModule('node:module') as typeof import('node:module')).builtinModules,
);
