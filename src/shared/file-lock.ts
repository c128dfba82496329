/**
 * A lock file that serializes writers across processes. The lock is created atomically with
 * its owner's pid inside (written to a temp file, then hard-linked into place: the link fails
 * if the lock exists), so a waiter never sees an empty lock. A lock whose owner no longer runs
 * is taken over, so a writer killed while holding it does not block everyone after it; the
 * takeover itself is serialized by a second lock so that two waiters cannot both remove it.
 */
import { linkSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { nodeCrypto } from './lazy-crypto.js';
import path from 'node:path';
import { TriggerboxError } from './errors.js';

/** A takeover lock older than this belongs to a process that died in the takeover itself. */
const TAKEOVER_STALE_MS = 5_000;

/** Whether a process with this pid exists (EPERM: it exists, owned by someone else). */
export function processRuns(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function unlinkQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}

/** Creates `file` holding this process's pid, atomically; false if it already exists. */
export function createExclusive(file: string): boolean {
  const temp = `${file}.${process.pid}.${nodeCrypto().randomBytes(4).toString('hex')}`;
  writeFileSync(temp, String(process.pid), { mode: 0o600 });
  try {
    linkSync(temp, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return false;
  } finally {
    unlinkQuietly(temp);
  }
}

/** The pid a lock file names, or undefined when it is gone or unreadable. */
export function ownerOf(file: string): number | undefined {
  try {
    return Number.parseInt(readFileSync(file, 'utf8'), 10);
  } catch {
    return undefined; // vanished: the next attempt may succeed
  }
}

/** Removes the lock if its owner is dead, holding the takeover lock while it checks. */
function takeOverIfStale(lockFile: string): void {
  const owner = ownerOf(lockFile);
  if (owner === undefined || processRuns(owner)) return;
  const takeover = `${lockFile}.takeover`;
  if (!createExclusive(takeover)) {
    // Another waiter is taking over; its takeover lock is stale if its owner died meanwhile.
    const taker = ownerOf(takeover);
    try {
      const old = Date.now() - statSync(takeover).mtimeMs > TAKEOVER_STALE_MS;
      if (old || (taker !== undefined && !processRuns(taker))) unlinkQuietly(takeover);
    } catch {
      // gone already
    }
    return;
  }
  try {
    if (ownerOf(lockFile) === owner) unlinkQuietly(lockFile);
  } finally {
    unlinkQuietly(takeover);
  }
}

/** Temp files of lock attempts by processes that were killed before they could remove them. */
function removeDeadTemps(lockFile: string): void {
  const base = path.basename(lockFile).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = new RegExp(`^${base}(?:\\.takeover)?\\.(\\d+)\\.[0-9a-f]+$`);
  for (const entry of readdirSync(path.dirname(lockFile))) {
    const pid = pattern.exec(entry)?.[1];
    if (pid !== undefined && !processRuns(Number(pid)))
      unlinkQuietly(path.join(path.dirname(lockFile), entry));
  }
}

export async function withFileLock<T>(
  lockFile: string,
  action: () => T | Promise<T>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (!createExclusive(lockFile)) {
    takeOverIfStale(lockFile);
    if (Date.now() > deadline) {
      throw new TriggerboxError('SecretStoreLocked', `timed out waiting for the lock ${lockFile}`, {
        hint: `another triggerbox process is writing the secret store; if none is running, delete ${lockFile}`,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 2 + Math.random() * 8));
  }
  try {
    removeDeadTemps(lockFile);
    return await action();
  } finally {
    unlinkQuietly(lockFile);
  }
}
