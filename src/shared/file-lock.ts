/**
 * A lock file that serializes writers across processes: created with O_EXCL, holding the
 * owner's pid. A lock whose owner no longer runs is taken over, so a writer killed while
 * holding it does not block everyone after it.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { TriggerboxError } from './errors.js';

function ownerAlive(lockFile: string): boolean {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(lockFile, 'utf8'), 10);
  } catch {
    return true; // vanished or being written: try again shortly
  }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function tryAcquire(lockFile: string): boolean {
  try {
    const fd = openSync(lockFile, 'wx', 0o600);
    writeSync(fd, String(process.pid));
    closeSync(fd);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    if (!ownerAlive(lockFile)) {
      try {
        unlinkSync(lockFile);
      } catch {
        // another waiter removed it first
      }
    }
    return false;
  }
}

export async function withFileLock<T>(
  lockFile: string,
  action: () => T | Promise<T>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (!tryAcquire(lockFile)) {
    if (Date.now() > deadline) {
      throw new TriggerboxError('SecretStoreLocked', `timed out waiting for the lock ${lockFile}`, {
        hint: `another triggerbox process is writing the secret store; if none is running, delete ${lockFile}`,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 2 + Math.random() * 8));
  }
  try {
    return await action();
  } finally {
    try {
      unlinkSync(lockFile);
    } catch {
      // already gone: nothing to release
    }
  }
}
