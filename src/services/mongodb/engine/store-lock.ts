/**
 * One process owns a store at a time. The store's LOCK file holds the owner's pid, created
 * atomically (temp file hard-linked into place), held for as long as the engine is open. A lock
 * whose owner no longer runs (killed) is taken over; a live owner gets the second opener a clear
 * error. shared/file-lock.ts serializes short critical sections; this lock lasts a session.
 */
import { unlinkSync } from 'node:fs';
import path from 'node:path';
import { createExclusive, ownerOf, processRuns } from '../../../shared/file-lock.js';
import { TriggerboxError } from '../../../shared/errors.js';

export class StoreLock {
  private constructor(private readonly file: string) {}

  static acquire(dir: string): StoreLock {
    const file = path.join(dir, 'LOCK');
    for (let attempt = 0; attempt < 3; attempt++) {
      if (createExclusive(file)) return new StoreLock(file);
      const owner = ownerOf(file);
      if (owner !== undefined && processRuns(owner)) {
        throw new TriggerboxError(
          'MongoStoreLocked',
          `the local database ${dir} is open in another process (pid ${owner}${owner === process.pid ? ', this one' : ''})`,
          {
            hint: 'stop the other triggerbox (dev, db ...) first; one process owns the database at a time',
          },
        );
      }
      // The owner died without closing: its lock is stale. Remove it only if it is still that one.
      if (ownerOf(file) === owner) {
        try {
          unlinkSync(file);
        } catch {
          // another opener took it over first; the next attempt finds out who won
        }
      }
    }
    throw new TriggerboxError('MongoStoreLocked', `could not lock the local database ${dir}`, {
      hint: `if no triggerbox process is running, delete ${file}`,
    });
  }

  release(): void {
    if (ownerOf(this.file) !== process.pid) return;
    try {
      unlinkSync(this.file);
    } catch {
      // already gone
    }
  }
}
