/**
 * The engine's data and its write transaction. A Tx collects the changes of one request: each
 * `commit` checks them all (unique indexes, BSON size), encodes their journal records, and only
 * then applies them to memory, so a failing operation changes nothing; the engine makes the
 * records durable and emits the events after the request's synchronous part is done.
 */
import { Timestamp } from 'bson';
import { ClusterClock } from './change-events.js';
import { StoredCollection, type Change } from './collection-store.js';
import { indexKey, type Doc } from './bson-values.js';
import { MongoError } from './errors.js';
import { encodeRecord } from './journal.js';
import type { ChangeEvent, IndexSpec, Namespace } from './types.js';

/** The server's limit on one document. */
const MAX_BSON_SIZE = 16 * 1024 * 1024;

export function checkNamespace(ns: Namespace): void {
  const badDb = !ns.db || /[/\\. "$\0]/.test(ns.db) || ns.db.length > 63;
  const badColl =
    !ns.coll || ns.coll.includes('$') || ns.coll.includes('\0') || ns.coll.startsWith('system.');
  if (badDb || badColl)
    throw new MongoError('InvalidNamespace', `Invalid namespace specified '${ns.db}.${ns.coll}'`);
}

export class EngineState {
  readonly dbs = new Map<string, Map<string, StoredCollection>>();
  readonly clock = new ClusterClock();

  collection(ns: Namespace): StoredCollection | undefined {
    return this.dbs.get(ns.db)?.get(ns.coll);
  }

  /** Creates the collection (and its database) if needed, recording it in the transaction. */
  ensureCollection(ns: Namespace, tx: Tx | undefined): StoredCollection {
    const existing = this.collection(ns);
    if (existing) return existing;
    checkNamespace(ns);
    let db = this.dbs.get(ns.db);
    if (!db) {
      db = new Map();
      this.dbs.set(ns.db, db);
    }
    const created = new StoredCollection(ns);
    db.set(ns.coll, created);
    tx?.record({ t: 'coll', db: ns.db, c: ns.coll });
    return created;
  }

  /** Applies one journal record while opening the store. */
  replay(record: Doc): void {
    const ns = { db: String(record.db), coll: String(record.c) };
    switch (record.t) {
      case 'coll':
        this.ensureCollection(ns, undefined);
        return;
      case 'put': {
        const doc = record.d as Doc;
        const coll = this.ensureCollection(ns, undefined);
        const id = indexKey(doc._id);
        coll.apply({ operationType: 'replace', ns, id, before: coll.docs.get(id), after: doc });
        return;
      }
      case 'del': {
        const coll = this.collection(ns);
        const id = indexKey(record.id);
        if (coll)
          coll.apply({
            operationType: 'delete',
            ns,
            id,
            before: coll.docs.get(id),
            after: undefined,
          });
        return;
      }
      case 'drop':
        this.dbs.get(ns.db)?.delete(ns.coll);
        return;
      case 'dropdb':
        this.dbs.delete(ns.db);
        return;
      case 'index':
        this.ensureCollection(ns, undefined).addIndex(record.spec as IndexSpec);
        return;
      case 'dropindex':
        this.collection(ns)?.dropIndex(String(record.name));
        return;
      case 'clock':
        this.clock.advanceTo(record.ts as Timestamp);
        return;
    }
  }

  /** The records that rebuild the current state (compaction). */
  snapshot(): Buffer[] {
    const out: Buffer[] = [encodeRecord({ t: 'clock', ts: this.clock.last() })];
    for (const [db, colls] of this.dbs) {
      for (const [c, coll] of colls) {
        out.push(encodeRecord({ t: 'coll', db, c }));
        for (const spec of coll.indexSpecs().slice(1))
          out.push(encodeRecord({ t: 'index', db, c, spec }));
        for (const doc of coll.docs.values()) out.push(encodeRecord({ t: 'put', db, c, d: doc }));
      }
    }
    return out;
  }
}

export interface TimedChange {
  change: Change;
  time: Timestamp;
}

export class Tx {
  readonly records: Buffer[] = [];
  readonly changes: TimedChange[] = [];
  /** drop / dropDatabase events, made by the DDL operations themselves. */
  readonly otherEvents: ChangeEvent[] = [];

  constructor(readonly state: EngineState) {}

  record(record: Doc): void {
    this.records.push(encodeRecord(record));
  }

  /** Checks, encodes and applies the changes of one operation to one collection: all or nothing. */
  commit(coll: StoredCollection, changes: Change[]): void {
    if (changes.length === 0) return;
    coll.checkUnique(changes);
    const encoded = changes.map((change) => {
      const { db, coll: c } = change.ns;
      if (!change.after) return encodeRecord({ t: 'del', db, c, id: change.before!._id });
      const record = encodeRecord({ t: 'put', db, c, d: change.after });
      if (record.length > MAX_BSON_SIZE + 1024)
        throw new MongoError(
          'BSONObjectTooLarge',
          `BSONObj size: ${record.length} (0x${record.length.toString(16).toUpperCase()}) is invalid. Size must be between 0 and 16793600(16MB) First element: _id: ${String(change.after._id)}`,
        );
      return record;
    });
    for (const change of changes) {
      coll.apply(change);
      this.changes.push({ change, time: this.state.clock.tick() });
    }
    this.records.push(...encoded);
  }
}
