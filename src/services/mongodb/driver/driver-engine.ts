/**
 * createDriverEngine: the Engine interface over the official `mongodb` driver, so a data source
 * can be a real cluster (Atlas) with the same calls the embedded engine answers. Differences
 * from the plain driver API are deliberate and follow the engine's contract: int64 stays Long
 * (promoteLongs: false), documents passed in are never mutated (the driver adds _id to what it
 * is given), an operator-less updateOne replaces (as the server's update command), and every
 * failure is a MongoError with the server's code — its text stripped of the URI's credentials.
 */
import { BSON as EngineBSON, type Long } from 'bson';
import {
  BSON as DriverBSON,
  MongoBulkWriteError,
  MongoClient,
  MongoServerError,
  type AnyBulkWriteOperation,
  type ChangeStream,
  type ChangeStreamOptions,
  type Document,
  type MongoClientOptions,
} from 'mongodb';
import { TriggerboxError } from '../../../shared/errors.js';
import { ArrayCursor } from '../engine/array-cursor.js';
import { isDocument, type Doc } from '../engine/bson-values.js';
import { MongoError, badValue, failedToParse } from '../engine/errors.js';
import type * as T from '../engine/types.js';
import { redactText, redactUri } from './redact.js';

export interface DriverEngineOptions {
  uri: string;
  /** Extra MongoClient options (tests: serverSelectionTimeoutMS). */
  clientOptions?: MongoClientOptions | undefined;
  /** Change-stream failures that the driver could not resume from. */
  warn?: ((message: string) => void) | undefined;
}

function toNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (value && typeof (value as Long).toNumber === 'function') return (value as Long).toNumber();
  return Number(value);
}

/**
 * The driver is CommonJS and loads bson's CommonJS build; triggerbox loads its ES module build.
 * Values that cross from the driver are therefore of other classes (an ObjectId that is not
 * `instanceof ObjectId` here), so they are re-read as this side's classes through BSON. Values
 * going in need nothing: bson serializes the other build's values by their type tag.
 */
function fromDriver<V>(value: V): V {
  if (value === null || value === undefined || typeof value !== 'object') return value;
  const bytes = DriverBSON.serialize({ v: value }, { ignoreUndefined: true });
  return EngineBSON.deserialize(bytes, { promoteLongs: false }).v as V;
}

function isReplacement(update: unknown): update is Doc {
  if (!isDocument(update)) return false;
  const first = Object.keys(update)[0];
  return first === undefined || !first.startsWith('$');
}

export class DriverEngine implements T.Engine {
  private readonly client: MongoClient;
  private readonly streams = new Set<ChangeStream>();
  private readonly warn: (message: string) => void;
  /** Safe to print: the URI without credentials or options. */
  readonly target: string;

  /** @internal Use createDriverEngine. */
  constructor(private readonly options: DriverEngineOptions) {
    this.warn = options.warn ?? (() => {});
    this.target = redactUri(options.uri);
    try {
      this.client = new MongoClient(options.uri, {
        promoteLongs: false,
        ignoreUndefined: true,
        ...options.clientOptions,
      });
    } catch (error) {
      throw new TriggerboxError(
        'InvalidInput',
        `the MongoDB URI ${this.target} is not valid: ${this.redact(error)}`,
        {
          hint: 'it looks like mongodb+srv://user:password@cluster0.example.mongodb.net/ (percent-encode @ : / ? # in the user name and password)',
        },
      );
    }
  }

  private redact(error: unknown): string {
    return redactText(error instanceof Error ? error.message : String(error), this.options.uri);
  }

  /** The driver's failure as the engine's: server code and codeName kept, the text redacted. */
  private fail(error: unknown): never {
    if (error instanceof MongoError) throw error;
    if (error instanceof MongoBulkWriteError) {
      const writeErrors = (
        error.writeErrors instanceof Array ? error.writeErrors : [error.writeErrors]
      )
        .filter((w) => w !== undefined)
        .map((w) => ({
          index: w.index,
          code: w.code,
          errmsg: redactText(w.errmsg ?? '', this.options.uri),
        }));
      const first = writeErrors[0];
      throw new MongoError('BadValue', first?.errmsg ?? this.redact(error), {
        server: { code: first?.code ?? toNumber(error.code), codeName: error.codeName ?? '' },
        info: {
          writeErrors,
          insertedCount: error.result.insertedCount,
          insertedIds: fromDriver({ ...error.result.insertedIds }),
          result: {
            insertedCount: error.result.insertedCount,
            matchedCount: error.result.matchedCount,
            modifiedCount: error.result.modifiedCount,
            deletedCount: error.result.deletedCount,
            upsertedCount: error.result.upsertedCount,
          },
        },
      });
    }
    if (error instanceof MongoServerError) {
      const info: Record<string, unknown> = {};
      if (error.keyPattern !== undefined) info.keyPattern = fromDriver(error.keyPattern);
      if (error.keyValue !== undefined) info.keyValue = fromDriver(error.keyValue);
      throw new MongoError('BadValue', this.redact(error), {
        server: { code: toNumber(error.code), codeName: error.codeName ?? '' },
        info,
      });
    }
    const name = error instanceof Error ? error.name : '';
    // A mongodb+srv name that does not resolve fails in the SRV lookup, before the driver's
    // server selection, as a plain Error with the resolver's code.
    const syscallCode = (error as { code?: unknown } | undefined)?.code;
    const resolver =
      typeof syscallCode === 'string' &&
      /^(ENOTFOUND|EAI_AGAIN|ESERVFAIL|ETIMEOUT|ECONNREFUSED|ENODATA)$/.test(syscallCode);
    if (/Network|ServerSelection|Timeout|Topology/.test(name) || resolver)
      throw new MongoError(
        'HostUnreachable',
        `cannot reach ${this.target}: ${this.redact(error)}`,
        {
          hint: "check the URI, the network, and that this address is on the cluster's IP access list",
        },
      );
    throw new MongoError('InternalError', `${this.target}: ${this.redact(error)}`, {
      server: { code: 1, codeName: name || 'InternalError' },
    });
  }

  /** Runs a driver call: its result in this side's bson classes, its failure as the engine's. */
  private async run<R>(call: () => Promise<R>): Promise<R> {
    try {
      return fromDriver(await call());
    } catch (error) {
      this.fail(error);
    }
  }

  private coll(ns: T.Namespace) {
    return this.client.db(ns.db).collection<Document>(ns.coll);
  }

  /** Connects and pings, so a wrong URI or an unreachable cluster fails here, not on first use. */
  async connect(): Promise<void> {
    await this.run(async () => {
      await this.client.connect();
      await this.client.db('admin').command({ ping: 1 });
    });
  }

  private cursorOf(source: {
    next(): Promise<Document | null>;
    close(): Promise<void>;
  }): T.EngineCursor {
    const next = () => this.run(async () => ((await source.next()) as Doc | null) ?? null);
    const cursor: T.EngineCursor = {
      next,
      async nextBatch(size: number) {
        const batch: Doc[] = [];
        while (batch.length < Math.max(1, size)) {
          const doc = await next();
          if (doc === null) break;
          batch.push(doc);
        }
        return batch;
      },
      async toArray() {
        const all: Doc[] = [];
        for (let doc = await next(); doc !== null; doc = await next()) all.push(doc);
        return all;
      },
      close: () => source.close(),
      async *[Symbol.asyncIterator]() {
        for (let doc = await next(); doc !== null; doc = await next()) yield doc;
      },
    };
    return cursor;
  }

  /** With a cap, the result is read whole (at most cap + 1 documents) so the cap fails up front, as the engine's. */
  private async capped(docs: () => Promise<Doc[]>, max: number): Promise<T.EngineCursor> {
    const all = await this.run(docs);
    if (all.length > max)
      throw new MongoError(
        'BadValue',
        `query results exceed the limit of ${max.toLocaleString('en-US')} documents`,
        {
          code: 'MongoResultLimitExceeded',
          hint: 'narrow the filter or page with limit/skip (the platform caps a query at 50,000 documents)',
        },
      );
    return new ArrayCursor(all);
  }

  async find(request: T.FindRequest): Promise<T.EngineCursor> {
    const limit = Math.abs(request.limit ?? 0);
    const max = request.maxDocuments;
    const options = {
      projection: request.projection,
      sort: request.sort as Document | undefined,
      skip: request.skip,
    };
    if (max !== undefined) {
      const cap = limit > 0 ? Math.min(limit, max + 1) : max + 1;
      return this.capped(
        async () =>
          (await this.coll(request.ns)
            .find(request.filter ?? {}, { ...options, limit: cap })
            .toArray()) as Doc[],
        max,
      );
    }
    return this.cursorOf(this.coll(request.ns).find(request.filter ?? {}, { ...options, limit }));
  }

  async aggregate(request: T.AggregateRequest): Promise<T.EngineCursor> {
    const source = () => this.coll(request.ns).aggregate(request.pipeline, { let: request.let });
    const max = request.maxDocuments;
    if (max !== undefined)
      return this.capped(async () => {
        const out: Doc[] = [];
        for await (const doc of source()) {
          out.push(doc as Doc);
          if (out.length > max) break;
        }
        return out;
      }, max);
    return this.cursorOf(source());
  }

  async countDocuments(request: T.CountRequest): Promise<number> {
    return this.run(async () =>
      toNumber(
        await this.coll(request.ns).countDocuments(request.filter ?? {}, {
          ...(request.skip ? { skip: request.skip } : {}),
          ...(request.limit ? { limit: request.limit } : {}),
        }),
      ),
    );
  }

  async estimatedDocumentCount(request: T.NamespacedRequest): Promise<number> {
    return this.run(async () => toNumber(await this.coll(request.ns).estimatedDocumentCount()));
  }

  async distinct(request: T.DistinctRequest): Promise<unknown[]> {
    return this.run(() => this.coll(request.ns).distinct(request.key, request.filter ?? {}));
  }

  async insertOne(request: T.InsertOneRequest): Promise<T.InsertOneResult> {
    if (!isDocument(request.document)) throw badValue('insertOne needs a document');
    const result = await this.run(() => this.coll(request.ns).insertOne({ ...request.document }));
    return { insertedId: result.insertedId };
  }

  async insertMany(request: T.InsertManyRequest): Promise<T.InsertManyResult> {
    const documents = request.documents.map((d) => (isDocument(d) ? { ...d } : d)) as Document[];
    const result = await this.run(() =>
      this.coll(request.ns).insertMany(documents, { ordered: request.ordered !== false }),
    );
    return { insertedCount: result.insertedCount, insertedIds: { ...result.insertedIds } };
  }

  private static updateResult(result: {
    matchedCount: number;
    modifiedCount: number;
    upsertedCount: number;
    upsertedId: unknown;
  }): T.UpdateResult {
    const out: T.UpdateResult = {
      matchedCount: result.matchedCount,
      modifiedCount: result.modifiedCount,
      upsertedCount: result.upsertedCount,
    };
    if (result.upsertedId !== null && result.upsertedId !== undefined)
      out.upsertedId = result.upsertedId;
    return out;
  }

  async updateOne(request: T.UpdateRequest): Promise<T.UpdateResult> {
    if (isReplacement(request.update))
      return this.replaceOne({ ...request, replacement: request.update });
    const result = await this.run(() =>
      this.coll(request.ns).updateOne(request.filter, request.update as Document, {
        upsert: request.upsert,
        arrayFilters: request.arrayFilters,
        ...(request.sort ? { sort: request.sort as Document } : {}),
      }),
    );
    return DriverEngine.updateResult(result);
  }

  async updateMany(request: T.UpdateRequest): Promise<T.UpdateResult> {
    if (isReplacement(request.update))
      throw failedToParse('multi update is not supported for replacement-style update');
    const result = await this.run(() =>
      this.coll(request.ns).updateMany(request.filter, request.update as Document, {
        upsert: request.upsert,
        arrayFilters: request.arrayFilters,
      }),
    );
    return DriverEngine.updateResult(result);
  }

  async replaceOne(request: T.ReplaceRequest): Promise<T.UpdateResult> {
    const result = await this.run(() =>
      this.coll(request.ns).replaceOne(
        request.filter,
        { ...request.replacement },
        {
          upsert: request.upsert,
          ...(request.sort ? { sort: request.sort as Document } : {}),
        },
      ),
    );
    return DriverEngine.updateResult(result);
  }

  async deleteOne(request: T.DeleteRequest): Promise<T.DeleteResult> {
    const result = await this.run(() => this.coll(request.ns).deleteOne(request.filter));
    return { deletedCount: result.deletedCount };
  }

  async deleteMany(request: T.DeleteRequest): Promise<T.DeleteResult> {
    const result = await this.run(() => this.coll(request.ns).deleteMany(request.filter));
    return { deletedCount: result.deletedCount };
  }

  private static findOneAndOptions(request: T.FindOneAndRequest) {
    return {
      includeResultMetadata: false as const,
      returnDocument: request.returnDocument ?? 'before',
      upsert: request.upsert,
      arrayFilters: request.arrayFilters,
      ...(request.sort ? { sort: request.sort as Document } : {}),
      ...(request.projection ? { projection: request.projection } : {}),
    };
  }

  async findOneAndUpdate(request: T.FindOneAndUpdateRequest): Promise<Doc | null> {
    if (isReplacement(request.update))
      return this.findOneAndReplace({ ...request, replacement: request.update });
    return this.run(
      async () =>
        (await this.coll(request.ns).findOneAndUpdate(
          request.filter,
          request.update as Document,
          DriverEngine.findOneAndOptions(request),
        )) as Doc | null,
    );
  }

  async findOneAndReplace(request: T.FindOneAndReplaceRequest): Promise<Doc | null> {
    return this.run(
      async () =>
        (await this.coll(request.ns).findOneAndReplace(
          request.filter,
          { ...request.replacement },
          DriverEngine.findOneAndOptions(request),
        )) as Doc | null,
    );
  }

  async findOneAndDelete(request: T.FindOneAndRequest): Promise<Doc | null> {
    const { sort, projection } = DriverEngine.findOneAndOptions(request);
    return this.run(
      async () =>
        (await this.coll(request.ns).findOneAndDelete(request.filter, {
          includeResultMetadata: false,
          ...(sort ? { sort } : {}),
          ...(projection ? { projection } : {}),
        })) as Doc | null,
    );
  }

  async bulkWrite(request: T.BulkWriteRequest): Promise<T.BulkWriteResult> {
    if (!Array.isArray(request.operations) || request.operations.length === 0)
      throw new MongoError('InvalidLength', 'Invalid BulkOperation, Batch cannot be empty');
    const operations = request.operations.map((op) =>
      'insertOne' in op ? { insertOne: { document: { ...op.insertOne.document } } } : op,
    ) as AnyBulkWriteOperation<Document>[];
    const result = await this.run(() =>
      this.coll(request.ns).bulkWrite(operations, { ordered: request.ordered !== false }),
    );
    return {
      insertedCount: result.insertedCount,
      matchedCount: result.matchedCount,
      modifiedCount: result.modifiedCount,
      deletedCount: result.deletedCount,
      upsertedCount: result.upsertedCount,
      insertedIds: { ...result.insertedIds },
      upsertedIds: { ...result.upsertedIds },
    };
  }

  async listDatabases(): Promise<T.DatabaseInfo[]> {
    const result = await this.run(() => this.client.db('admin').admin().listDatabases());
    return result.databases
      .map((d) => ({
        name: d.name,
        sizeOnDisk: toNumber(d.sizeOnDisk ?? 0),
        empty: d.empty === true,
      }))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  async listCollections(request: { db: string }): Promise<T.CollectionInfo[]> {
    const infos = await this.run(() =>
      this.client.db(request.db).listCollections({}, { nameOnly: true }).toArray(),
    );
    return infos
      .filter((c) => c.type === undefined || c.type === 'collection')
      .map((c) => ({ name: c.name, type: 'collection' as const }))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  async createCollection(request: T.NamespacedRequest): Promise<void> {
    await this.run(async () => {
      await this.client.db(request.ns.db).createCollection(request.ns.coll);
    });
  }

  async dropCollection(request: T.NamespacedRequest): Promise<boolean> {
    // Servers since 7.0 answer ok for a collection that is not there; the engine says false.
    const exists = (await this.listCollections({ db: request.ns.db })).some(
      (c) => c.name === request.ns.coll,
    );
    if (!exists) return false;
    await this.run(() => this.coll(request.ns).drop());
    return true;
  }

  async dropDatabase(request: { db: string }): Promise<void> {
    await this.run(() => this.client.db(request.db).dropDatabase());
  }

  async createIndex(request: T.CreateIndexRequest): Promise<string> {
    return this.run(() =>
      this.coll(request.ns).createIndex(request.key as Document, {
        ...(request.name !== undefined ? { name: request.name } : {}),
        ...(request.unique ? { unique: true } : {}),
        ...(request.sparse ? { sparse: true } : {}),
        ...(request.partialFilterExpression
          ? { partialFilterExpression: request.partialFilterExpression }
          : {}),
      }),
    );
  }

  async listIndexes(request: T.NamespacedRequest): Promise<T.IndexSpec[]> {
    const specs = await this.run(() => this.coll(request.ns).listIndexes().toArray());
    return specs.map((s) => {
      const spec: T.IndexSpec = { v: 2, key: s.key as Doc, name: s.name as string };
      if (s.unique) spec.unique = true;
      if (s.sparse) spec.sparse = true;
      if (s.partialFilterExpression)
        spec.partialFilterExpression = s.partialFilterExpression as Doc;
      return spec;
    });
  }

  async dropIndex(request: T.NamespacedRequest & { name: string }): Promise<void> {
    await this.run(() => this.coll(request.ns).dropIndex(request.name));
  }

  /**
   * A change stream on the cluster, database or collection. `ready` resolves when the server
   * has opened it (events from then on are delivered); the driver resumes by itself after
   * transient errors; what it cannot resume from goes to `warn` and ends the subscription.
   */
  watch(request: T.WatchRequest, listener: T.ChangeListener): T.ChangeSubscription {
    if (request.coll !== undefined && request.db === undefined)
      throw badValue('watch: a collection needs its database');
    const options: ChangeStreamOptions = {
      ...(request.fullDocument && request.fullDocument !== 'default'
        ? { fullDocument: request.fullDocument }
        : {}),
      ...(request.fullDocumentBeforeChange && request.fullDocumentBeforeChange !== 'off'
        ? { fullDocumentBeforeChange: request.fullDocumentBeforeChange }
        : {}),
      ...(request.resumeAfter ? { resumeAfter: request.resumeAfter } : {}),
      ...(request.startAfter ? { startAfter: request.startAfter } : {}),
    };
    const parent =
      request.db === undefined
        ? this.client
        : request.coll === undefined
          ? this.client.db(request.db)
          : this.client.db(request.db).collection(request.coll);
    const stream = parent.watch([], options);
    this.streams.add(stream);
    let settle: { resolve: () => void; reject: (e: unknown) => void } | undefined;
    const ready = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    // A subscriber that never awaits ready must not see an unhandled rejection.
    ready.catch(() => {});
    // The aggregate's empty first batch carries a postBatchResumeToken, which the driver
    // announces: from then on the server-side stream exists. (Its 'init' stays on the cursor.)
    stream.once('resumeTokenChanged', () => settle?.resolve());
    const onToken = request.onResumeToken;
    if (onToken !== undefined)
      stream.on('resumeTokenChanged', (token) => {
        const data = (token as { _data?: unknown } | undefined)?._data;
        if (typeof data === 'string') onToken({ _data: data });
      });
    stream.on('change', (event) => {
      settle?.resolve();
      try {
        listener(fromDriver(event) as unknown as T.ChangeEvent);
      } catch (error) {
        this.warn(`a change listener failed: ${(error as Error).message}`);
      }
    });
    stream.on('error', (error) => {
      const message = `the change stream on ${this.target} stopped: ${this.redact(error)}`;
      // The server's code is kept (40573: no change streams on a standalone; 286: history lost).
      let failure = new MongoError('HostUnreachable', message);
      try {
        this.fail(error);
      } catch (converted) {
        if (converted instanceof MongoError) failure = converted;
      }
      settle?.reject(failure);
      if (request.onError !== undefined) request.onError(failure);
      else this.warn(message);
      this.streams.delete(stream);
    });
    return {
      ready,
      close: () => {
        this.streams.delete(stream);
        void stream.close().catch(() => {});
      },
    };
  }

  async close(): Promise<void> {
    await Promise.all([...this.streams].map((s) => s.close().catch(() => {})));
    this.streams.clear();
    await this.client.close();
  }
}

/** An Engine on a real MongoDB (or the local endpoint) through the official driver. */
export function createDriverEngine(options: DriverEngineOptions): DriverEngine {
  if (typeof options?.uri !== 'string' || options.uri === '')
    throw new TriggerboxError('InvalidInput', 'createDriverEngine needs a MongoDB URI');
  return new DriverEngine(options);
}
