/**
 * Reading files that may be anything. An app directory (and its .triggerbox folder) comes from
 * repositories people did not write, so a name that should be a file can be a FIFO (opening it
 * blocks until a writer appears: the process freezes), a device (/dev/zero never ends), a
 * directory, a dangling symlink, a symlink loop, or a symlink to a file outside the app.
 * Only regular files are read; a FIFO or a device is never opened. Every refusal is a reason,
 * never a throw, so that callers report it with their own file name and fix.
 */
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readFileSync,
  realpathSync,
  statSync,
  type Stats,
} from 'node:fs';
import path from 'node:path';

export type RegularFileRead =
  | { ok: true; text: string; stat: Stats }
  /** `missing`: nothing at all by that name (a dangling symlink is not missing: it is reported). */
  | { ok: false; missing: boolean; reason: string };

function kindOf(stat: Stats): string {
  if (stat.isDirectory()) return 'a directory';
  if (stat.isFIFO()) return 'a FIFO (named pipe)';
  if (stat.isSocket()) return 'a socket';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  if (stat.isSymbolicLink()) return 'a symlink';
  return 'not a regular file';
}

function codeOf(error: unknown): string {
  return (error as NodeJS.ErrnoException | undefined)?.code ?? 'unknown error';
}

function failure(error: unknown): string {
  const code = codeOf(error);
  if (code === 'EACCES' || code === 'EPERM') return `is not readable (permission denied, ${code})`;
  if (code === 'ELOOP') return 'is a symlink loop';
  if (code === 'EISDIR') return 'is a directory';
  return `cannot be read (${code})`;
}

function vanished(abs: string): boolean {
  try {
    lstatSync(abs);
    return false;
  } catch {
    return true;
  }
}

/** Whether `target` is `dir` or inside it (both real paths). */
export function isInside(dir: string, target: string): boolean {
  const relative = path.relative(dir, target);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

/** The real path of `dir`, or `dir` itself when it cannot be resolved. */
export function realDirectory(dir: string): string {
  try {
    return realpathSync(dir);
  } catch {
    return path.resolve(dir);
  }
}

/**
 * Where `abs` leads when it is a regular file (or a symlink to one, inside `within` when given),
 * with that file's stat, else why not.
 */
export function regularFileTarget(
  abs: string,
  within?: string,
): { ok: true; real: string; stat: Stats } | { ok: false; missing: boolean; reason: string } {
  let stat: Stats;
  try {
    stat = lstatSync(abs);
  } catch (error) {
    const code = codeOf(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') return { ok: false, missing: true, reason: '' };
    return { ok: false, missing: false, reason: failure(error) };
  }
  if (stat.isFile() && within === undefined) return { ok: true, real: abs, stat };
  if (!stat.isFile() && !stat.isSymbolicLink())
    return { ok: false, missing: false, reason: `is ${kindOf(stat)}` };
  // Resolved even for a regular file when `within` is given: a folder on the way may be a symlink.
  let real: string;
  try {
    real = realpathSync(abs);
  } catch (error) {
    const code = codeOf(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      // A file renamed away between the two looks (secrets rotate-key renames the key file) is
      // missing, not damage: only a symlink still there whose target is gone is dangling.
      if (!stat.isSymbolicLink() || vanished(abs)) return { ok: false, missing: true, reason: '' };
      return {
        ok: false,
        missing: false,
        reason: 'is a dangling symlink (its target does not exist)',
      };
    }
    return { ok: false, missing: false, reason: failure(error) };
  }
  if (within !== undefined && !isInside(realDirectory(within), real)) {
    return {
      ok: false,
      missing: false,
      reason: `${stat.isSymbolicLink() ? 'is a symlink to' : 'leads to'} ${real}, outside the app (not followed)`,
    };
  }
  try {
    stat = statSync(real);
  } catch (error) {
    if (codeOf(error) === 'ENOENT') return { ok: false, missing: true, reason: '' };
    return { ok: false, missing: false, reason: failure(error) };
  }
  if (!stat.isFile())
    return { ok: false, missing: false, reason: `is a symlink to ${kindOf(stat)}` };
  return { ok: true, real, stat };
}

/**
 * Reads `abs` as UTF-8 when it is a regular file (or a symlink to one, inside `within` when
 * given). The file is opened non-blocking and checked again through its descriptor, so that a
 * FIFO swapped in after the check cannot block the process either.
 */
export function readRegularFile(abs: string, within?: string): RegularFileRead {
  const read = readRegular(abs, within, (fd) => readFileSync(fd, 'utf8'));
  return read.ok ? { ok: true, text: read.content, stat: read.stat } : read;
}

/** readRegularFile's bytes, not decoded: for a caller that also hashes them. */
export function readRegularFileBytes(
  abs: string,
  within?: string,
): { ok: true; bytes: Buffer; stat: Stats } | { ok: false; missing: boolean; reason: string } {
  const read = readRegular(abs, within, (fd) => readFileSync(fd));
  return read.ok ? { ok: true, bytes: read.content, stat: read.stat } : read;
}

function readRegular<T>(
  abs: string,
  within: string | undefined,
  readAll: (fd: number) => T,
): { ok: true; content: T; stat: Stats } | { ok: false; missing: boolean; reason: string } {
  const target = regularFileTarget(abs, within);
  if (!target.ok) return target;
  let fd: number;
  try {
    fd = openSync(target.real, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (error) {
    const code = codeOf(error);
    if (code === 'ENOENT') return { ok: false, missing: true, reason: '' };
    return { ok: false, missing: false, reason: failure(error) };
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) return { ok: false, missing: false, reason: `is ${kindOf(stat)}` };
    return { ok: true, content: readAll(fd), stat };
  } catch (error) {
    return { ok: false, missing: false, reason: failure(error) };
  } finally {
    closeSync(fd);
  }
}
