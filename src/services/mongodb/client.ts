/**
 * The collection API as Atlas Functions see it (`context.services.get(name)`), over any Engine.
 * Shapes follow docs-app-services `source/functions/mongodb/api.txt` (2025): `insertMany`
 * resolves to `{insertedIds: [...]}` (an array in argument order), `updateOne/Many` to
 * `{matchedCount, modifiedCount}` plus `upsertedId` only when an upsert inserted, `bulkWrite` to
 * null, `find`/`aggregate` return cursors whose `next()` resolves to undefined when exhausted;
 * the find cursor takes `sort/skip/limit` (the aggregate cursor `skip`) before the first read.
 * Results are capped at 50,000 documents, the platform's limit for a query (SPEC section 7).
 */
import { TriggerboxError } from '../../shared/errors.js';
import { isDocument, type Doc } from './engine/bson-values.js';
import { badValue } from './engine/errors.js';
import type { BulkOperation, Engine, EngineCursor, Namespace } from './engine/types.js';

/** The platform's limit on the documents one query returns. */
export const RESULT_LIMIT = 50_000;

export interface MongoServiceOptions {
  engine: Engine;
  /** Documents one find/aggregate may return (default 50,000, as the platform). */
  resultLimit?: number | undefined;
}

function filterOf(query: unknown): Doc {
  if (query === undefined || query === null) return {};
  if (!isDocument(query)) throw badValue('the query must be an object');
  return query;
}

function optionsOf(options: unknown): Doc {
  if (options === undefined || options === null) return {};
  if (!isDocument(options)) throw badValue('the options must be an object');
  return options;
}

export class ServiceCursor {
  private source: Promise<EngineCursor> | undefined;
  private sortSpec: Doc | undefined;
  private skipCount = 0;
  private limitCount = 0;

  /** @internal Made by Collection.find/aggregate. */
  constructor(
    private readonly open: (shape: {
      sort?: Doc;
      skip: number;
      limit: number;
    }) => Promise<EngineCursor>,
    private readonly kind: 'find' | 'aggregate',
  ) {}

  private beforeRead(method: string): void {
    if (this.source)
      throw badValue(`cannot call ${method}() after documents were read from the cursor`);
  }

  sort(sort: Doc): this {
    this.beforeRead('sort');
    if (this.kind !== 'find')
      throw badValue('an aggregate cursor has no sort(); add a $sort stage');
    this.sortSpec = sort;
    return this;
  }

  skip(amount: number): this {
    this.beforeRead('skip');
    if (!Number.isInteger(amount) || amount < 0)
      throw badValue('skip value must be a non-negative integer');
    this.skipCount = amount;
    return this;
  }

  limit(amount: number): this {
    this.beforeRead('limit');
    if (this.kind !== 'find')
      throw badValue('an aggregate cursor has no limit(); add a $limit stage');
    if (!Number.isInteger(amount)) throw badValue('limit value must be an integer');
    this.limitCount = amount;
    return this;
  }

  private cursor(): Promise<EngineCursor> {
    this.source ??= this.open({
      ...(this.sortSpec ? { sort: this.sortSpec } : {}),
      skip: this.skipCount,
      limit: this.limitCount,
    });
    return this.source;
  }

  /** The next document, or undefined when there is none (as the platform documents it). */
  async next(): Promise<Doc | undefined> {
    return (await (await this.cursor()).next()) ?? undefined;
  }

  async toArray(): Promise<Doc[]> {
    return (await this.cursor()).toArray();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Doc> {
    yield* await this.cursor();
  }
}

export class Collection {
  /** @internal */
  constructor(
    private readonly engine: Engine,
    readonly ns: Namespace,
    private readonly resultLimit: number,
  ) {}

  find(query?: Doc, projection?: Doc, _options?: Doc): ServiceCursor {
    const filter = filterOf(query);
    return new ServiceCursor(
      (shape) =>
        this.engine.find({
          ns: this.ns,
          filter,
          projection,
          ...shape,
          maxDocuments: this.resultLimit,
        }),
      'find',
    );
  }

  async findOne(query?: Doc, projection?: Doc, options?: Doc): Promise<Doc | null> {
    const { sort } = optionsOf(options);
    const cursor = await this.engine.find({
      ns: this.ns,
      filter: filterOf(query),
      projection,
      sort: sort as Doc | undefined,
      limit: 1,
    });
    return cursor.next();
  }

  aggregate(pipeline: Doc[], options?: Doc): ServiceCursor {
    optionsOf(options);
    if (!Array.isArray(pipeline)) throw badValue("'pipeline' must be an array of stages");
    return new ServiceCursor(
      ({ skip }) =>
        this.engine.aggregate({
          ns: this.ns,
          pipeline: skip > 0 ? [...pipeline, { $skip: skip }] : pipeline,
          maxDocuments: this.resultLimit,
        }),
      'aggregate',
    );
  }

  async insertOne(document: Doc): Promise<{ insertedId: unknown }> {
    const { insertedId } = await this.engine.insertOne({ ns: this.ns, document });
    return { insertedId };
  }

  async insertMany(documents: Doc[], options?: Doc): Promise<{ insertedIds: unknown[] }> {
    if (!Array.isArray(documents)) throw badValue('insertMany needs an array of documents');
    const { ordered } = optionsOf(options);
    const { insertedIds } = await this.engine.insertMany({
      ns: this.ns,
      documents,
      ordered: ordered !== false,
    });
    return {
      insertedIds: documents.map((_, i) => insertedIds[i]).filter((id) => id !== undefined),
    };
  }

  private static updateShape(result: {
    matchedCount: number;
    modifiedCount: number;
    upsertedId?: unknown;
  }) {
    const shape: { matchedCount: number; modifiedCount: number; upsertedId?: unknown } = {
      matchedCount: result.matchedCount,
      modifiedCount: result.modifiedCount,
    };
    if (result.upsertedId !== undefined) shape.upsertedId = result.upsertedId;
    return shape;
  }

  /**
   * An update document without operators replaces the document, as the server's update
   * command does (the platform passes updateOne to the server; the Node driver alone refuses it).
   */
  async updateOne(query: Doc, update: Doc | Doc[], options?: Doc) {
    const { upsert, arrayFilters } = optionsOf(options);
    return Collection.updateShape(
      await this.engine.updateOne({
        ns: this.ns,
        filter: filterOf(query),
        update,
        upsert: upsert === true,
        arrayFilters: arrayFilters as Doc[] | undefined,
      }),
    );
  }

  async updateMany(query: Doc, update: Doc | Doc[], options?: Doc) {
    const { upsert, arrayFilters } = optionsOf(options);
    return Collection.updateShape(
      await this.engine.updateMany({
        ns: this.ns,
        filter: filterOf(query),
        update,
        upsert: upsert === true,
        arrayFilters: arrayFilters as Doc[] | undefined,
      }),
    );
  }

  async replaceOne(query: Doc, replacement: Doc, options?: Doc) {
    const { upsert } = optionsOf(options);
    return Collection.updateShape(
      await this.engine.replaceOne({
        ns: this.ns,
        filter: filterOf(query),
        replacement,
        upsert: upsert === true,
      }),
    );
  }

  async deleteOne(query: Doc): Promise<{ deletedCount: number }> {
    return {
      deletedCount: (await this.engine.deleteOne({ ns: this.ns, filter: filterOf(query) }))
        .deletedCount,
    };
  }

  async deleteMany(query: Doc): Promise<{ deletedCount: number }> {
    return {
      deletedCount: (await this.engine.deleteMany({ ns: this.ns, filter: filterOf(query) }))
        .deletedCount,
    };
  }

  private static findOneAndOptions(options: unknown) {
    const o = optionsOf(options);
    return {
      sort: o.sort as Doc | undefined,
      projection: o.projection as Doc | undefined,
      upsert: o.upsert === true,
      arrayFilters: o.arrayFilters as Doc[] | undefined,
      // returnNewDocument is the platform's option; returnDocument: 'after' is the driver's.
      returnDocument: (o.returnNewDocument === true || o.returnDocument === 'after'
        ? 'after'
        : 'before') as 'after' | 'before',
    };
  }

  findOneAndUpdate(query: Doc, update: Doc | Doc[], options?: Doc): Promise<Doc | null> {
    return this.engine.findOneAndUpdate({
      ns: this.ns,
      filter: filterOf(query),
      update,
      ...Collection.findOneAndOptions(options),
    });
  }

  findOneAndReplace(query: Doc, replacement: Doc, options?: Doc): Promise<Doc | null> {
    return this.engine.findOneAndReplace({
      ns: this.ns,
      filter: filterOf(query),
      replacement,
      ...Collection.findOneAndOptions(options),
    });
  }

  findOneAndDelete(query: Doc, options?: Doc): Promise<Doc | null> {
    const { sort, projection } = Collection.findOneAndOptions(options);
    return this.engine.findOneAndDelete({ ns: this.ns, filter: filterOf(query), sort, projection });
  }

  count(query?: Doc, options?: Doc): Promise<number> {
    const { skip, limit } = optionsOf(options);
    return this.engine.countDocuments({
      ns: this.ns,
      filter: filterOf(query),
      skip: skip as number | undefined,
      limit: limit as number | undefined,
    });
  }

  countDocuments(query?: Doc, options?: Doc): Promise<number> {
    return this.count(query, options);
  }

  distinct(field: string, query?: Doc): Promise<unknown[]> {
    return this.engine.distinct({ ns: this.ns, key: field, filter: filterOf(query) });
  }

  /** Resolves to null, as the platform documents it; failures reject with the write errors. */
  async bulkWrite(operations: BulkOperation[], options?: Doc): Promise<null> {
    const { ordered } = optionsOf(options);
    await this.engine.bulkWrite({ ns: this.ns, operations, ordered: ordered !== false });
    return null;
  }
}

export class Database {
  /** @internal */
  constructor(
    private readonly engine: Engine,
    readonly name: string,
    private readonly resultLimit: number,
  ) {}

  collection(name: string): Collection {
    if (typeof name !== 'string' || name === '')
      throw badValue('collection() needs a collection name');
    return new Collection(this.engine, { db: this.name, coll: name }, this.resultLimit);
  }

  /** The platform's signature is synchronous (string[]); the sandbox presents it that way. */
  async getCollectionNames(): Promise<string[]> {
    return (await this.engine.listCollections({ db: this.name })).map((c) => c.name);
  }
}

export interface MongoService {
  db(name: string): Database;
}

export function createMongoService(options: MongoServiceOptions): MongoService {
  const { engine } = options;
  const limit = options.resultLimit ?? RESULT_LIMIT;
  if (!engine) throw new TriggerboxError('InvalidInput', 'createMongoService needs an engine');
  return {
    db(name: string) {
      if (typeof name !== 'string' || name === '') throw badValue('db() needs a database name');
      return new Database(engine, name, limit);
    },
  };
}
