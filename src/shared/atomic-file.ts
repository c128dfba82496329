/**
 * Crash-safe file replacement: write a temp file beside the target, fsync it, rename it over
 * the target, fsync the folder. A process killed at any moment leaves the old file or the new
 * one, never a mix (the folder fsync makes the rename itself durable).
 */
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { nodeCrypto } from './lazy-crypto.js';
import path from 'node:path';

export function writeFileAtomic(
  file: string,
  data: string | Uint8Array | readonly Uint8Array[],
  mode = 0o644,
): void {
  const dir = path.dirname(file);
  const temp = path.join(
    dir,
    `.${path.basename(file)}.${process.pid}.${nodeCrypto().randomBytes(4).toString('hex')}.tmp`,
  );
  const fd = openSync(temp, 'wx', mode);
  try {
    const pieces =
      typeof data === 'string' ? [Buffer.from(data, 'utf8')] : isPieces(data) ? data : [data];
    for (const piece of pieces) {
      let written = 0;
      while (written < piece.length) written += writeSync(fd, piece, written);
    }
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    unlinkSync(temp);
    throw error;
  }
  closeSync(fd);
  try {
    renameSync(temp, file);
  } catch (error) {
    unlinkSync(temp);
    throw error;
  }
  syncDirectory(dir);
}

function isPieces(data: Uint8Array | readonly Uint8Array[]): data is readonly Uint8Array[] {
  return Array.isArray(data);
}

export function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
