/**
 * The on-disk caches of npm packages for functions (issue 15): the esbuild bundle of each
 * `require(spec)` (parent process, `packages/`) and V8's code cache of each bundle (sandbox
 * process, `v8/`), under cacheDir(). Both hold code, so neither is trusted as it is read: an entry
 * names the key it was written for and the SHA-256 of what it holds, a bundle entry also the size
 * and mtime of every file it was built from; an entry that disagrees in any of these, or that
 * does not parse, is ignored and rebuilt. Writes are atomic (temp file, fsync, rename): a crash
 * leaves the old entry or the new one. A cache that cannot be read or written (read-only home,
 * full disk) only costs the time of a rebuild.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../shared/atomic-file.js';
import { cacheDir } from './cache-dir.js';

/** Bumped when what an entry holds, or how a bundle is made, changes. */
const BUNDLE_FORMAT = 1;
const CODE_CACHE_MAGIC = Buffer.from('triggerbox-v8-cache-1\n');

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

/** A file a bundle was built from, as it was then. */
type InputStamp = [file: string, size: number, mtimeMs: number];

interface BundleEntry {
  format: number;
  key: string;
  spec: string;
  inputs: InputStamp[];
  /** SHA-256 of `code`, a NUL, and `map` (or the empty string). */
  hash: string;
  code: string;
  map: string | undefined;
}

export interface CachedBundle {
  code: string;
  map: string | undefined;
}

function stamp(file: string): InputStamp | undefined {
  try {
    const stat = statSync(file);
    return stat.isFile() ? [file, stat.size, stat.mtimeMs] : undefined;
  } catch {
    return undefined;
  }
}

function contentHash(code: string, map: string | undefined): string {
  return sha256(`${code}\0${map ?? ''}`);
}

/**
 * The cache of one package bundle: `key` says what was asked (the specifier, the resolved
 * functions/node_modules, the package's own package.json, triggerbox's and esbuild's versions),
 * and the entry's input stamps say whether the files it was made from are still the same.
 */
export class BundleCache {
  private readonly file: string | undefined;

  constructor(
    private readonly key: string,
    private readonly spec: string,
  ) {
    const root = cacheDir();
    this.file = root === undefined ? undefined : path.join(root, 'packages', `${key}.json`);
  }

  /** The key of `require(spec)` from `modulesDir`, or undefined when the package has no manifest. */
  static key(spec: string, modulesDir: string, packageDir: string, toolVersions: string): string {
    let manifest: Buffer;
    try {
      manifest = readFileSync(path.join(packageDir, 'package.json'));
    } catch {
      manifest = Buffer.alloc(0);
    }
    return sha256(
      JSON.stringify([BUNDLE_FORMAT, spec, modulesDir, sha256(manifest), toolVersions]),
    );
  }

  /** The cached bundle when its entry is whole, is this key's, and its inputs are unchanged. */
  read(): CachedBundle | undefined {
    if (this.file === undefined) return undefined;
    let entry: BundleEntry;
    try {
      entry = JSON.parse(readFileSync(this.file, 'utf8')) as BundleEntry;
    } catch {
      return undefined;
    }
    if (
      typeof entry !== 'object' ||
      entry === null ||
      entry.format !== BUNDLE_FORMAT ||
      entry.key !== this.key ||
      entry.spec !== this.spec ||
      typeof entry.code !== 'string' ||
      (entry.map !== undefined && typeof entry.map !== 'string') ||
      !Array.isArray(entry.inputs) ||
      entry.hash !== contentHash(entry.code, entry.map)
    ) {
      return undefined;
    }
    for (const input of entry.inputs) {
      if (!Array.isArray(input) || typeof input[0] !== 'string') return undefined;
      const now = stamp(input[0]);
      if (now === undefined || now[1] !== input[1] || now[2] !== input[2]) return undefined;
    }
    return { code: entry.code, map: entry.map };
  }

  /**
   * Stores a bundle made from `inputFiles` (absolute paths). The package.json of every package
   * they belong to is stamped too: a reinstall at another version is a miss even when the files
   * read are the same size and time.
   */
  write(bundle: CachedBundle, inputFiles: string[]): void {
    if (this.file === undefined) return;
    const files = new Set(inputFiles);
    for (const file of inputFiles) {
      const match = /^(.*[\\/]node_modules[\\/](?:@[^\\/]+[\\/])?[^\\/]+)[\\/]/.exec(file);
      if (match?.[1] !== undefined) files.add(path.join(match[1], 'package.json'));
    }
    const inputs: InputStamp[] = [];
    for (const file of files) {
      const now = stamp(file);
      if (now !== undefined) inputs.push(now);
    }
    const entry: BundleEntry = {
      format: BUNDLE_FORMAT,
      key: this.key,
      spec: this.spec,
      inputs,
      hash: contentHash(bundle.code, bundle.map),
      code: bundle.code,
      map: bundle.map,
    };
    try {
      mkdirSync(path.dirname(this.file), { recursive: true });
      writeFileAtomic(this.file, JSON.stringify(entry));
    } catch {
      // A cache that cannot be written costs a rebuild next time, nothing else.
    }
  }
}

/**
 * V8's code cache of one script, on disk: `<magic><sha256 of the payload, hex><payload>`, named
 * by the hash of the script's text, its filename and `runtimeKey` (Node, V8 and isolated-vm
 * versions: V8 rejects a cache from another version, but it is cheaper not to try).
 */
export class CodeCacheFile {
  private readonly file: string | undefined;

  constructor(code: string, filename: string, runtimeKey: string) {
    const root = cacheDir();
    this.file =
      root === undefined
        ? undefined
        : path.join(
            root,
            'v8',
            `${sha256(JSON.stringify([runtimeKey, filename, sha256(code)]))}.bin`,
          );
  }

  /** The payload when the file is whole (its hash matches), else undefined. */
  read(): Buffer | undefined {
    if (this.file === undefined) return undefined;
    let data: Buffer;
    try {
      data = readFileSync(this.file);
    } catch {
      return undefined;
    }
    const hashEnd = CODE_CACHE_MAGIC.length + 64;
    if (
      data.length <= hashEnd ||
      !data.subarray(0, CODE_CACHE_MAGIC.length).equals(CODE_CACHE_MAGIC)
    )
      return undefined;
    const payload = data.subarray(hashEnd);
    if (data.subarray(CODE_CACHE_MAGIC.length, hashEnd).toString('latin1') !== sha256(payload))
      return undefined;
    return payload;
  }

  write(payload: Buffer): void {
    if (this.file === undefined) return;
    try {
      mkdirSync(path.dirname(this.file), { recursive: true });
      writeFileAtomic(
        this.file,
        Buffer.concat([CODE_CACHE_MAGIC, Buffer.from(sha256(payload), 'latin1'), payload]),
      );
    } catch {
      // As for bundles: a rebuild next time.
    }
  }
}
