/**
 * Change events of the real change-stream shape, built from a committed write's before and
 * after images. The cluster clock gives every event a BSON Timestamp strictly greater than the
 * last one, across restarts too (the journal records the last one), and the resume token's
 * `_data` is derived from it, so tokens sort the way events happened.
 */
import { Timestamp } from 'bson';
import { cloneValue, isDocument, sameValue, type Doc } from './bson-values.js';
import type { ChangeEvent, Namespace, UpdateDescription } from './types.js';

/** Timestamps strictly increasing: seconds of the wall clock, a counter within one second. */
export class ClusterClock {
  private seconds = 0;
  private increment = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** Makes the clock continue after a time seen before (the last one in the journal). */
  advanceTo(last: Timestamp): void {
    if (last.t > this.seconds || (last.t === this.seconds && last.i > this.increment)) {
      this.seconds = last.t;
      this.increment = last.i;
    }
  }

  tick(): Timestamp {
    const wall = Math.floor(this.now() / 1000);
    if (wall > this.seconds) {
      this.seconds = wall;
      this.increment = 1;
    } else {
      this.increment += 1;
    }
    return new Timestamp({ t: this.seconds, i: this.increment });
  }

  last(): Timestamp {
    return new Timestamp({ t: this.seconds, i: this.increment });
  }
}

/** A resume token whose hex sorts with the cluster time (then the event's order in the write). */
export function resumeToken(time: Timestamp, sequence: number): { _data: string } {
  const hex = (n: number, width: number) => n.toString(16).toUpperCase().padStart(width, '0');
  return { _data: `82${hex(time.t, 8)}${hex(time.i, 8)}${hex(sequence, 8)}04` };
}

/**
 * updateDescription from the real before and after: nested documents are compared field by
 * field (dotted paths), an array that only grew or only had elements changed reports those
 * elements (`arr.3`), one that shrank reports truncatedArrays, anything else is set whole.
 */
export function describeUpdate(before: Doc, after: Doc): UpdateDescription {
  const updatedFields: Doc = {};
  const removedFields: string[] = [];
  const truncatedArrays: { field: string; newSize: number }[] = [];
  const diffDoc = (a: Doc, b: Doc, prefix: string) => {
    for (const key of Object.keys(a)) if (!Object.hasOwn(b, key)) removedFields.push(prefix + key);
    for (const key of Object.keys(b)) {
      const path = prefix + key;
      if (!Object.hasOwn(a, key)) updatedFields[path] = cloneValue(b[key]);
      else diffValue(a[key], b[key], path);
    }
  };
  const diffValue = (a: unknown, b: unknown, path: string) => {
    if (sameValue(a, b)) return;
    if (isDocument(a) && isDocument(b)) return diffDoc(a, b, `${path}.`);
    if (Array.isArray(a) && Array.isArray(b)) {
      const common = Math.min(a.length, b.length);
      if (b.length < a.length) truncatedArrays.push({ field: path, newSize: b.length });
      for (let i = 0; i < common; i++) diffValue(a[i], b[i], `${path}.${i}`);
      for (let i = common; i < b.length; i++) updatedFields[`${path}.${i}`] = cloneValue(b[i]);
      return;
    }
    updatedFields[path] = cloneValue(b);
  };
  diffDoc(before, after, '');
  return { updatedFields, removedFields, truncatedArrays };
}

/** One committed change of one document, as the engine records it before making events. */
export interface CommittedChange {
  operationType: 'insert' | 'update' | 'replace' | 'delete';
  ns: Namespace;
  before: Doc | undefined;
  after: Doc | undefined;
}

export function buildEvent(
  change: CommittedChange,
  time: Timestamp,
  sequence: number,
  wallTime: Date,
): ChangeEvent {
  const key = (change.after ?? change.before)!._id;
  const event: ChangeEvent = {
    _id: resumeToken(time, sequence),
    operationType: change.operationType,
    clusterTime: time,
    wallTime,
    ns: { db: change.ns.db, coll: change.ns.coll },
    documentKey: { _id: cloneValue(key) },
  };
  if (change.operationType === 'update')
    event.updateDescription = describeUpdate(change.before!, change.after!);
  return event;
}
