/**
 * The embedded engine: MongoDB semantics over in-memory collections, made durable by the
 * journal when opened on a folder (`.triggerbox/db/`), with change events to subscribers after
 * each write is durable. Lives in the parent process: the sandbox can be killed at any time.
 */
import { mkdirSync } from 'node:fs';
import { TriggerboxError } from '../../../shared/errors.js';
import { ArrayCursor } from './array-cursor.js';
import {
  bsonTypeName,
  cloneValue,
  compareValues,
  indexKey,
  isDocument,
  type Doc,
} from './bson-values.js';
import { ChangeFeed } from './change-feed.js';
import { defaultIndexName } from './collection-store.js';
import { EngineState, Tx, checkNamespace } from './engine-state.js';
import { MongoError, badValue } from './errors.js';
import { Journal } from './journal.js';
import { project, resolvePath, runPipeline } from './query.js';
import { StoreLock } from './store-lock.js';
import type * as T from './types.js';
import { deleteDocs, insertDocs, matching, updateDocs } from './write-ops.js';
import { runBulk } from './bulk.js';

export interface OpenEngineOptions {
  /** The store's folder (created if absent); absent: an in-memory database, gone on close. */
  dir?: string | undefined;
  /** fdatasync before acknowledging a write (default true). */
  durable?: boolean | undefined;
  warn?: ((message: string) => void) | undefined;
}

/** Journals larger than this, and twice their size after the last compaction, get compacted. */
const COMPACT_MIN_BYTES = 16 * 1024 * 1024;

function resultLimit(count: number, max: number | undefined): void {
  if (max !== undefined && count > max)
    throw new MongoError(
      'BadValue',
      `query results exceed the limit of ${max.toLocaleString('en-US')} documents`,
      {
        code: 'MongoResultLimitExceeded',
        hint: 'narrow the filter or page with limit/skip (the platform caps a query at 50,000 documents)',
      },
    );
}

export class EmbeddedEngine implements T.Engine {
  private readonly state = new EngineState();
  private readonly feed: ChangeFeed;
  private closed = false;
  private compactedBytes = 0;

  private constructor(
    private readonly journal: Journal | undefined,
    private readonly lock: StoreLock | undefined,
    warn: (message: string) => void,
  ) {
    this.feed = new ChangeFeed(this.state.clock, warn);
  }

  static async open(options: OpenEngineOptions = {}): Promise<EmbeddedEngine> {
    const warn = options.warn ?? (() => {});
    if (options.dir === undefined) return new EmbeddedEngine(undefined, undefined, warn);
    mkdirSync(options.dir, { recursive: true });
    const lock = StoreLock.acquire(options.dir);
    try {
      const { journal, records } = await Journal.open({
        dir: options.dir,
        durable: options.durable,
        warn,
      });
      const engine = new EmbeddedEngine(journal, lock, warn);
      try {
        for (const record of records) engine.state.replay(record);
      } catch (error) {
        await journal.close();
        throw new TriggerboxError(
          'MongoStoreCorrupt',
          `the local database ${journal.file} does not replay: ${(error as Error).message}`,
          {
            hint: 'nothing was changed; restore the file from a backup or move it away to start empty',
            cause: error,
          },
        );
      }
      engine.compactedBytes = journal.bytes;
      journal.onIdle = () => engine.compactIfLarge();
      const live = [...engine.state.dbs.values()].reduce(
        (n, db) => n + [...db.values()].reduce((m, c) => m + c.docs.size, 0),
        0,
      );
      if (records.length > 2 * live + 1000) engine.compact();
      return engine;
    } catch (error) {
      lock.release();
      throw error;
    }
  }

  /** Rewrites the journal as the live state (at open, and when it has doubled since). */
  compact(): void {
    if (!this.journal || this.journal.busy) return;
    this.journal.rewrite(this.state.snapshot());
    this.compactedBytes = this.journal.bytes;
  }

  private compactIfLarge(): void {
    if (
      this.journal &&
      this.journal.bytes > COMPACT_MIN_BYTES &&
      this.journal.bytes > 2 * this.compactedBytes
    )
      this.compact();
  }

  private assertOpen(): void {
    if (this.closed) throw new TriggerboxError('MongoStoreClosed', 'the local database was closed');
  }

  /** Runs a write's synchronous part, makes its records durable, then tells subscribers. */
  private async write<R>(run: (tx: Tx) => R): Promise<R> {
    this.assertOpen();
    const tx = new Tx(this.state);
    let result: R | undefined;
    let failure: unknown;
    try {
      result = run(tx);
    } catch (error) {
      failure = error ?? new Error('write failed');
    }
    if (tx.records.length > 0) {
      if (this.journal) {
        // The last cluster time rides with every commit so the clock never goes back after a restart.
        tx.record({ t: 'clock', ts: this.state.clock.last() });
        await this.journal.append(tx.records);
      }
      this.feed.emit(tx);
    }
    if (failure !== undefined) throw failure;
    return result as R;
  }

  watch(request: T.WatchRequest, listener: T.ChangeListener): T.ChangeSubscription {
    return this.feed.watch(request, listener);
  }

  async find(request: T.FindRequest): Promise<T.EngineCursor> {
    this.assertOpen();
    const skip = request.skip ?? 0;
    const limit = Math.abs(request.limit ?? 0);
    if (skip < 0) throw badValue('skip value must be non-negative');
    const cap = request.maxDocuments;
    const want = limit > 0 ? skip + limit : cap !== undefined ? skip + cap + 1 : Infinity;
    let docs = matching(this.state, request.ns, request.filter, {
      sort: request.sort,
      stopAfter: want,
    });
    docs = docs.slice(skip, limit > 0 ? skip + limit : undefined);
    resultLimit(docs.length, cap);
    return new ArrayCursor(project(docs, request.projection).map((d) => cloneValue(d)));
  }

  async aggregate(request: T.AggregateRequest): Promise<T.EngineCursor> {
    this.assertOpen();
    const coll = this.state.collection(request.ns);
    const docs = runPipeline({
      docs: coll ? [...coll.docs.values()] : [],
      pipeline: request.pipeline,
      variables: request.let,
      collection: (name) => [
        ...(this.state.collection({ db: request.ns.db, coll: name })?.docs.values() ?? []),
      ],
    });
    resultLimit(docs.length, request.maxDocuments);
    return new ArrayCursor(docs);
  }

  async countDocuments(request: T.CountRequest): Promise<number> {
    this.assertOpen();
    const skip = request.skip ?? 0;
    const limit = request.limit ?? 0;
    const docs = matching(this.state, request.ns, request.filter ?? {}, {
      stopAfter: limit > 0 ? skip + limit : Infinity,
    });
    return docs.slice(skip, limit > 0 ? skip + limit : undefined).length;
  }

  async estimatedDocumentCount(request: T.NamespacedRequest): Promise<number> {
    this.assertOpen();
    return this.state.collection(request.ns)?.docs.size ?? 0;
  }

  async distinct(request: T.DistinctRequest): Promise<unknown[]> {
    this.assertOpen();
    if (typeof request.key !== 'string')
      throw new MongoError(
        'TypeMismatch',
        `BSON field 'distinct.key' is the wrong type '${bsonTypeName(request.key)}', expected type 'string'`,
      );
    const seen = new Map<string, unknown>();
    for (const doc of matching(this.state, request.ns, request.filter ?? {})) {
      const value = resolvePath(doc, request.key);
      for (const v of Array.isArray(value) ? value : [value])
        if (v !== undefined && !seen.has(indexKey(v))) seen.set(indexKey(v), v);
    }
    return [...seen.values()].sort(compareValues).map((v) => cloneValue(v));
  }

  async insertOne(request: T.InsertOneRequest): Promise<T.InsertOneResult> {
    return this.write((tx) => {
      const outcome = insertDocs(tx, request.ns, [request.document], true);
      if (outcome.errors[0]) throw outcome.errors[0].error;
      return { insertedId: outcome.insertedIds[0] };
    });
  }

  async insertMany(request: T.InsertManyRequest): Promise<T.InsertManyResult> {
    return this.write((tx) => {
      const outcome = insertDocs(tx, request.ns, request.documents, request.ordered !== false);
      const insertedCount = Object.keys(outcome.insertedIds).length;
      if (outcome.errors.length > 0) {
        const first = outcome.errors[0]!.error;
        const message = first instanceof Error ? first.message : String(first);
        throw new MongoError('BadValue', message, {
          like: first,
          info: {
            writeErrors: outcome.errors.map(({ index, error }) => ({
              index,
              code: error instanceof MongoError ? error.mongoCode : 2,
              errmsg: error instanceof Error ? error.message : String(error),
            })),
            insertedCount,
            insertedIds: outcome.insertedIds,
          },
        });
      }
      return { insertedCount, insertedIds: outcome.insertedIds };
    });
  }

  private updateResult(outcome: {
    matchedCount: number;
    modifiedCount: number;
    upsertedId?: unknown;
  }): T.UpdateResult {
    const result: T.UpdateResult = {
      matchedCount: outcome.matchedCount,
      modifiedCount: outcome.modifiedCount,
      upsertedCount: 0,
    };
    if (outcome.upsertedId !== undefined) {
      result.upsertedCount = 1;
      result.upsertedId = outcome.upsertedId;
    }
    return result;
  }

  async updateOne(request: T.UpdateRequest): Promise<T.UpdateResult> {
    return this.write((tx) =>
      this.updateResult(updateDocs(tx, { ...request, multi: false, replace: false })),
    );
  }

  async updateMany(request: T.UpdateRequest): Promise<T.UpdateResult> {
    return this.write((tx) =>
      this.updateResult(updateDocs(tx, { ...request, multi: true, replace: false })),
    );
  }

  async replaceOne(request: T.ReplaceRequest): Promise<T.UpdateResult> {
    return this.write((tx) =>
      this.updateResult(
        updateDocs(tx, { ...request, update: request.replacement, multi: false, replace: true }),
      ),
    );
  }

  async deleteOne(request: T.DeleteRequest): Promise<T.DeleteResult> {
    return this.write((tx) => ({
      deletedCount: deleteDocs(tx, request.ns, request.filter, false).deletedCount,
    }));
  }

  async deleteMany(request: T.DeleteRequest): Promise<T.DeleteResult> {
    return this.write((tx) => ({
      deletedCount: deleteDocs(tx, request.ns, request.filter, true).deletedCount,
    }));
  }

  private returned(doc: Doc | undefined, projection: Doc | undefined): Doc | null {
    if (!doc) return null;
    return cloneValue(project([doc], projection)[0] ?? null);
  }

  async findOneAndUpdate(request: T.FindOneAndUpdateRequest): Promise<Doc | null> {
    return this.write((tx) => {
      const outcome = updateDocs(tx, { ...request, multi: false, replace: false });
      return this.returned(
        request.returnDocument === 'after' ? outcome.after : outcome.before,
        request.projection,
      );
    });
  }

  async findOneAndReplace(request: T.FindOneAndReplaceRequest): Promise<Doc | null> {
    return this.write((tx) => {
      const outcome = updateDocs(tx, {
        ...request,
        update: request.replacement,
        multi: false,
        replace: true,
      });
      return this.returned(
        request.returnDocument === 'after' ? outcome.after : outcome.before,
        request.projection,
      );
    });
  }

  async findOneAndDelete(request: T.FindOneAndRequest): Promise<Doc | null> {
    return this.write((tx) =>
      this.returned(
        deleteDocs(tx, request.ns, request.filter, false, request.sort).before,
        request.projection,
      ),
    );
  }

  async bulkWrite(request: T.BulkWriteRequest): Promise<T.BulkWriteResult> {
    return this.write((tx) => runBulk(tx, request));
  }

  async listDatabases(): Promise<T.DatabaseInfo[]> {
    this.assertOpen();
    return [...this.state.dbs.entries()]
      .map(([name, colls]) => ({
        name,
        sizeOnDisk: 0,
        empty: [...colls.values()].every((c) => c.docs.size === 0),
      }))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  async listCollections(request: { db: string }): Promise<T.CollectionInfo[]> {
    this.assertOpen();
    return [...(this.state.dbs.get(request.db)?.keys() ?? [])]
      .sort()
      .map((name) => ({ name, type: 'collection' as const }));
  }

  async createCollection(request: T.NamespacedRequest): Promise<void> {
    await this.write((tx) => {
      if (this.state.collection(request.ns))
        throw new MongoError(
          'NamespaceExists',
          `Collection ${request.ns.db}.${request.ns.coll} already exists.`,
        );
      this.state.ensureCollection(request.ns, tx);
    });
  }

  async dropCollection(request: T.NamespacedRequest): Promise<boolean> {
    return this.write((tx) => {
      const db = this.state.dbs.get(request.ns.db);
      if (!db?.has(request.ns.coll)) return false;
      db.delete(request.ns.coll);
      tx.record({ t: 'drop', db: request.ns.db, c: request.ns.coll });
      tx.otherEvents.push(this.feed.dropEvent({ ...request.ns }, 'drop'));
      return true;
    });
  }

  async dropDatabase(request: { db: string }): Promise<void> {
    await this.write((tx) => {
      const db = this.state.dbs.get(request.db);
      if (!db) return;
      for (const coll of db.keys())
        tx.otherEvents.push(this.feed.dropEvent({ db: request.db, coll }, 'drop'));
      this.state.dbs.delete(request.db);
      tx.record({ t: 'dropdb', db: request.db });
      tx.otherEvents.push(this.feed.dropEvent({ db: request.db }, 'dropDatabase'));
    });
  }

  async createIndex(request: T.CreateIndexRequest): Promise<string> {
    return this.write((tx) => {
      checkNamespace(request.ns);
      if (!isDocument(request.key)) throw badValue('index key pattern must be an object');
      const spec: T.IndexSpec = {
        v: 2,
        key: { ...request.key },
        name: request.name ?? defaultIndexName(request.key),
      };
      if (request.unique) spec.unique = true;
      if (request.sparse) spec.sparse = true;
      if (request.partialFilterExpression)
        spec.partialFilterExpression = request.partialFilterExpression;
      const coll = this.state.ensureCollection(request.ns, tx);
      const before = coll.indexSpecs().length;
      const name = coll.addIndex(spec);
      if (coll.indexSpecs().length > before)
        tx.record({ t: 'index', db: request.ns.db, c: request.ns.coll, spec });
      return name;
    });
  }

  async listIndexes(request: T.NamespacedRequest): Promise<T.IndexSpec[]> {
    this.assertOpen();
    const coll = this.state.collection(request.ns);
    if (!coll)
      throw new MongoError(
        'NamespaceNotFound',
        `ns does not exist: ${request.ns.db}.${request.ns.coll}`,
      );
    return coll.indexSpecs();
  }

  async dropIndex(request: T.NamespacedRequest & { name: string }): Promise<void> {
    await this.write((tx) => {
      const coll = this.state.collection(request.ns);
      if (!coll)
        throw new MongoError(
          'NamespaceNotFound',
          `ns not found ${request.ns.db}.${request.ns.coll}`,
        );
      coll.dropIndex(request.name);
      tx.record({ t: 'dropindex', db: request.ns.db, c: request.ns.coll, name: request.name });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.feed.clear();
    if (this.journal) {
      await this.journal.close();
      this.lock?.release();
    }
  }
}
