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
import {
  closeSync,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  statSync,
} from 'node:fs';
import { nodeCrypto } from '../shared/lazy-crypto.js';
import path from 'node:path';
import { writeFileAtomic } from '../shared/atomic-file.js';
import type { BundlePlace } from './boundary/host-ops.js';
import { cacheDir } from './cache-dir.js';

/** Bumped when what an entry holds, or how a bundle is made, changes. */
const BUNDLE_FORMAT = 2;
const CODE_CACHE_MAGIC = Buffer.from('triggerbox-v8-cache-2\n');
/** The byte after the magic: what the code cache covers (see PackageScript). */
const CODE_CACHE_TOP_LEVEL = 0x31;
const CODE_CACHE_AFTER_RUN = 0x32;

const sha256 = (data: string | Buffer): string =>
  nodeCrypto().createHash('sha256').update(data).digest('hex');

/** A file a bundle was built from, as it was then. */
type InputStamp = [file: string, size: number, mtimeMs: number];

/**
 * The first line of a bundle entry; the code's bytes follow it, then the source map's. The map is
 * only read (and its hash checked) when a stack frame in the package needs it: parsing it with
 * the code was most of a cache hit (lodash: a 955 kB entry, 0.4 MB of it code).
 */
interface BundleEntryHeader {
  format: number;
  key: string;
  spec: string;
  inputs: InputStamp[];
  codeBytes: number;
  codeHash: string;
  mapBytes: number | null;
  mapHash: string | null;
}

export interface CachedBundle {
  code: string;
  at: BundlePlace;
  /** The source map's text, or undefined (none, or the entry's map is not whole). */
  map: () => string | undefined;
}

function stamp(file: string): InputStamp | undefined {
  try {
    const stat = statSync(file);
    return stat.isFile() ? [file, stat.size, stat.mtimeMs] : undefined;
  } catch {
    return undefined;
  }
}

/** How much of an entry is read first to find its header line (read again, larger, if longer). */
const HEADER_READ = 64 * 1024;

/** `bytes` bytes of `file` from `start`, or undefined (missing, shorter, unreadable). */
function readRange(file: string, start: number, bytes: number): Buffer | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const data = Buffer.alloc(bytes);
    return readSync(fd, data, 0, bytes, start) === bytes ? data : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * An entry's map, read when first needed: undefined when the entry has none, or when the bytes at
 * its place no longer have its hash (the entry was replaced or damaged since the code was read).
 */
function readMap(
  file: string,
  start: number,
  bytes: number | null,
  hash: string | null,
): string | undefined {
  if (bytes === null || hash === null) return undefined;
  const map = readRange(file, start, bytes);
  return map !== undefined && sha256(map) === hash ? map.toString('utf8') : undefined;
}

/**
 * The first bytes of a package script as the parent sends it: the SHA-256 of the rest, which the
 * parent computed when it bundled it (and checked, with the whole, when it read its cache entry),
 * so that the sandbox keys its code cache by it without hashing the script again. The sandbox
 * trusts its parent; a script without the header is hashed.
 */
const HASH_HEADER = '/*triggerbox:sha256=';
const HASH_HEADER_END = HASH_HEADER.length + 64;

/** `body` with the header that names its hash (on its first line: no line of the body moves). */
export function withHashHeader(body: string): string {
  return `${HASH_HEADER}${sha256(body)}*/${body}`;
}

/**
 * A script whose text was changed after its header was made (inspect mode appends the source
 * map), with the header naming the hash of its text now, so its code cache is not the plain one's.
 */
export function rehashed(code: string): string {
  const body =
    code.startsWith(HASH_HEADER) && code.startsWith('*/', HASH_HEADER_END)
      ? code.slice(HASH_HEADER_END + 2)
      : code;
  return withHashHeader(body);
}

/** The hash the header names, else the hash of the whole text. */
export function codeHashOf(code: string): string {
  return namedHashOf(code) ?? sha256(code);
}

/** The hash the header names, if the text has one (nothing is hashed). */
export function namedHashOf(code: string): string | undefined {
  if (code.startsWith(HASH_HEADER) && code.startsWith('*/', HASH_HEADER_END)) {
    const hash = code.slice(HASH_HEADER.length, HASH_HEADER_END);
    if (/^[0-9a-f]{64}$/.test(hash)) return hash;
  }
  return undefined;
}

/**
 * A bundle's code read from its cache entry (BundlePlace) by the sandbox process, which was told
 * its hash by the parent that checked it: undefined when the bytes there no longer name that hash
 * (the entry was replaced since), and the sandbox asks for the code itself.
 */
export function readBundleAt(at: BundlePlace, hash: string): string | undefined {
  const code = readRange(at.file, at.start, at.bytes)?.toString('utf8');
  return code !== undefined && namedHashOf(code) === hash ? code : undefined;
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
    this.file = root === undefined ? undefined : path.join(root, 'packages', `${key}.bundle`);
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

  /**
   * The cached bundle when its entry is whole, is this key's, and its inputs are unchanged. Only
   * the header and the code are read: the map (as large as the code) is read when a stack frame
   * first needs it, and checked against its hash then (for @faker-js/faker, 4.2 MB of a 10.4 MB
   * entry were read and copied on every hit for an error that seldom comes).
   */
  read(): CachedBundle | undefined {
    if (this.file === undefined) return undefined;
    const file = this.file;
    let fd: number | undefined;
    try {
      fd = openSync(file, 'r');
      const size = fstatSync(fd).size;
      // The header: its first line, a JSON object of a few kB (one stamp per input file).
      let head = Buffer.alloc(Math.min(size, HEADER_READ));
      let headerEnd = -1;
      for (;;) {
        const read = readSync(fd, head, 0, head.length, 0);
        headerEnd = head.subarray(0, read).indexOf(0x0a);
        if (headerEnd >= 0 || read < head.length || head.length >= size) break;
        head = Buffer.alloc(Math.min(size, head.length * 4));
      }
      if (headerEnd < 0) return undefined;
      const entry = JSON.parse(head.toString('utf8', 0, headerEnd)) as BundleEntryHeader;
      const codeStart = headerEnd + 1;
      if (
        typeof entry !== 'object' ||
        entry === null ||
        entry.format !== BUNDLE_FORMAT ||
        entry.key !== this.key ||
        entry.spec !== this.spec ||
        !Array.isArray(entry.inputs) ||
        !Number.isSafeInteger(entry.codeBytes) ||
        typeof entry.codeHash !== 'string' ||
        codeStart + entry.codeBytes + (entry.mapBytes ?? 0) !== size
      ) {
        return undefined;
      }
      for (const input of entry.inputs) {
        if (!Array.isArray(input) || typeof input[0] !== 'string') return undefined;
        const now = stamp(input[0]);
        if (now === undefined || now[1] !== input[1] || now[2] !== input[2]) return undefined;
      }
      const codeBytes = Buffer.alloc(entry.codeBytes);
      if (readSync(fd, codeBytes, 0, codeBytes.length, codeStart) !== codeBytes.length)
        return undefined;
      if (sha256(codeBytes) !== entry.codeHash) return undefined;
      const mapStart = codeStart + entry.codeBytes;
      const { mapBytes, mapHash } = entry;
      let mapText: string | undefined | null = null;
      const code = codeBytes.toString('utf8');
      return {
        code,
        at: { file, start: codeStart, bytes: codeBytes.length },
        map: () => {
          if (mapText !== null) return mapText;
          mapText = readMap(file, mapStart, mapBytes, mapHash);
          // Another process rewrote the entry since (same key, other stamps: the map moved): its
          // map serves if its code is this code.
          if (mapText === undefined && mapBytes !== null) {
            const again = this.read();
            if (again !== undefined && again.code === code) mapText = again.map();
          }
          return mapText;
        },
      };
    } catch {
      return undefined;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  /**
   * Stores a bundle made from `inputFiles` (absolute paths). The package.json of every package
   * they belong to is stamped too: a reinstall at another version is a miss even when the files
   * read are the same size and time. Answers where the code now lies (undefined: not written).
   */
  write(code: string, map: string | undefined, inputFiles: string[]): BundlePlace | undefined {
    if (this.file === undefined) return undefined;
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
    const codeBytes = Buffer.from(code, 'utf8');
    const mapBytes = map === undefined ? undefined : Buffer.from(map, 'utf8');
    const header: BundleEntryHeader = {
      format: BUNDLE_FORMAT,
      key: this.key,
      spec: this.spec,
      inputs,
      codeBytes: codeBytes.length,
      codeHash: sha256(codeBytes),
      mapBytes: mapBytes?.length ?? null,
      mapHash: mapBytes === undefined ? null : sha256(mapBytes),
    };
    const parts = [Buffer.from(`${JSON.stringify(header)}\n`), codeBytes];
    if (mapBytes !== undefined) parts.push(mapBytes);
    try {
      mkdirSync(path.dirname(this.file), { recursive: true });
      writeFileAtomic(this.file, Buffer.concat(parts));
      return { file: this.file, start: parts[0]?.length ?? 0, bytes: codeBytes.length };
    } catch {
      // A cache that cannot be written costs a rebuild next time, nothing else.
      return undefined;
    }
  }
}

/** A code cache as read from disk, and whether it was made after the script ran. */
export interface CodeCachePayload {
  payload: Buffer;
  afterRun: boolean;
}

/**
 * V8's code cache of one script, on disk: `<magic><kind><sha256 of kind and payload, hex>
 * <payload>`, named by the SHA-256 of the script's text (`codeHash`), its filename and
 * `runtimeKey` (Node, V8 and isolated-vm versions: V8 rejects a cache from another version, but it
 * is cheaper not to try). The kind says whether the cache was made right after the first compile
 * (top-level code only) or after the script had run (every function it called, compiled).
 */
export class CodeCacheFile {
  private readonly file: string | undefined;

  constructor(codeHash: string, filename: string, runtimeKey: string) {
    const root = cacheDir();
    this.file =
      root === undefined
        ? undefined
        : path.join(root, 'v8', `${sha256(JSON.stringify([runtimeKey, filename, codeHash]))}.bin`);
  }

  /** The payload when the file is whole (its hash matches), else undefined. */
  read(): CodeCachePayload | undefined {
    if (this.file === undefined) return undefined;
    let data: Buffer;
    try {
      data = readFileSync(this.file);
    } catch {
      return undefined;
    }
    const kindAt = CODE_CACHE_MAGIC.length;
    const hashEnd = kindAt + 1 + 64;
    if (data.length <= hashEnd || !data.subarray(0, kindAt).equals(CODE_CACHE_MAGIC))
      return undefined;
    const kind = data[kindAt];
    if (kind !== CODE_CACHE_TOP_LEVEL && kind !== CODE_CACHE_AFTER_RUN) return undefined;
    const payload = data.subarray(hashEnd);
    const hash = nodeCrypto()
      .createHash('sha256')
      .update(data.subarray(kindAt, kindAt + 1))
      .update(payload);
    if (data.subarray(kindAt + 1, hashEnd).toString('latin1') !== hash.digest('hex'))
      return undefined;
    return { payload, afterRun: kind === CODE_CACHE_AFTER_RUN };
  }

  write(payload: Buffer, afterRun: boolean): void {
    if (this.file === undefined) return;
    const kind = Buffer.of(afterRun ? CODE_CACHE_AFTER_RUN : CODE_CACHE_TOP_LEVEL);
    const hash = nodeCrypto().createHash('sha256').update(kind).update(payload).digest('hex');
    try {
      mkdirSync(path.dirname(this.file), { recursive: true });
      writeFileAtomic(
        this.file,
        Buffer.concat([CODE_CACHE_MAGIC, kind, Buffer.from(hash, 'latin1'), payload]),
      );
    } catch {
      // As for bundles: a rebuild next time.
    }
  }
}
