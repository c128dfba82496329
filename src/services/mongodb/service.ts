/**
 * `context.services.get(<data source>)` as a host service: the parent-side entry of the op table
 * for services/mongodb/guest.js. The engine lives here, in the caller's process (the sandbox
 * process can be killed at any time); the guest sends each collection call as canonical Extended
 * JSON text, so every BSON type (ObjectId, Date, Long, Decimal128, Binary ...) survives both ways,
 * and gets back either the result (EJSON text) or the MongoDB error as data (`code`, `codeName`),
 * which the guest throws as the function's Error: a plain throw here would reach the function
 * with its message only.
 *
 *   mongodb.sources         sync   the app's data source names (for get()'s check), constant
 *   mongodb.call            async  one collection method: find/aggregate read the whole cursor
 *   mongodb.collectionNames sync   db.getCollectionNames(), synchronous as on the platform
 *
 * Writes run inside `writeOrigin` with the call's origin, so that the change events they commit
 * (delivered synchronously in the write's async continuation) tell the DATABASE-trigger
 * dispatcher which trigger chain caused them.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { EJSON } from 'bson';
import type { CallOrigin, HostService, ServiceOp } from '../../runtime/boundary/services.js';
import { decodeResult } from '../../runtime/ejson.js';
import { isTriggerboxError, messageOf } from '../../shared/errors.js';
import { createMongoService, type Collection, type MongoService } from './client.js';
import { isMongoError } from './engine/errors.js';
import type { Doc, Engine } from './engine/types.js';

const writeOrigin = new AsyncLocalStorage<CallOrigin>();

/** The origin of the call whose write is committing now (undefined: not a function's write). */
export function currentWriteOrigin(): CallOrigin | undefined {
  return writeOrigin.getStore();
}

export interface MongodbServiceOptions {
  /** The engine, or how to open it on first use (a run that never touches the database never opens it). */
  engine: Engine | (() => Engine | Promise<Engine>);
  /** The app's data source names (`app.dataSources.keys()`): get() of any other name is undefined. */
  dataSources: Iterable<string>;
  /**
   * Data sources served by another engine than `engine` (real-cluster mode: a driver engine on
   * the user's cluster), by data source name, or how to open it on first use.
   */
  sources?: ReadonlyMap<string, Engine | (() => Engine | Promise<Engine>)> | undefined;
  /** Documents one find/aggregate may return (default 50,000, as the platform). */
  resultLimit?: number | undefined;
}

/** What the guest sends for one collection method. */
export interface MongoCallRequest {
  source: string;
  db: string;
  coll: string;
  method: string;
  /** The method's arguments as canonical EJSON text (an array). */
  args: string;
}

export interface MongoErrorData {
  name: string;
  message: string;
  /** MongoDB's numeric code (11000 ...), absent for errors that are not the server's. */
  code?: number;
  codeName?: string;
  /** Extra fields (keyPattern, keyValue, writeErrors ...) as canonical EJSON text. */
  info?: string;
}

export type MongoReply = { ok: true; value: string } | { ok: false; error: MongoErrorData };

type Method = (collection: Collection, args: unknown[]) => Promise<unknown>;

const opt = (v: unknown): Doc | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Doc) : undefined;

/** The collection methods a function may call; find/aggregate take the guest cursor's shape last. */
const METHODS: Record<string, Method> = {
  find: (c, [filter, projection, shape]) => {
    const { sort, skip, limit } = opt(shape) ?? {};
    let cursor = c.find(filter as Doc, projection as Doc);
    if (sort !== undefined) cursor = cursor.sort(sort as Doc);
    if (skip !== undefined) cursor = cursor.skip(skip as number);
    if (limit !== undefined) cursor = cursor.limit(limit as number);
    return cursor.toArray();
  },
  aggregate: (c, [pipeline, options, shape]) => {
    const { skip } = opt(shape) ?? {};
    let cursor = c.aggregate(pipeline as Doc[], options as Doc);
    if (skip !== undefined) cursor = cursor.skip(skip as number);
    return cursor.toArray();
  },
  findOne: (c, [q, p, o]) => c.findOne(q as Doc, p as Doc, o as Doc),
  insertOne: (c, [d]) => c.insertOne(d as Doc),
  insertMany: (c, [d, o]) => c.insertMany(d as Doc[], o as Doc),
  updateOne: (c, [q, u, o]) => c.updateOne(q as Doc, u as Doc, o as Doc),
  updateMany: (c, [q, u, o]) => c.updateMany(q as Doc, u as Doc, o as Doc),
  replaceOne: (c, [q, r, o]) => c.replaceOne(q as Doc, r as Doc, o as Doc),
  deleteOne: (c, [q]) => c.deleteOne(q as Doc),
  deleteMany: (c, [q]) => c.deleteMany(q as Doc),
  findOneAndUpdate: (c, [q, u, o]) => c.findOneAndUpdate(q as Doc, u as Doc, o as Doc),
  findOneAndReplace: (c, [q, r, o]) => c.findOneAndReplace(q as Doc, r as Doc, o as Doc),
  findOneAndDelete: (c, [q, o]) => c.findOneAndDelete(q as Doc, o as Doc),
  count: (c, [q, o]) => c.count(q as Doc, o as Doc),
  countDocuments: (c, [q, o]) => c.countDocuments(q as Doc, o as Doc),
  distinct: (c, [f, q]) => c.distinct(f as string, q as Doc),
  bulkWrite: (c, [ops, o]) => c.bulkWrite(ops as never, o as Doc),
};

function errorData(error: unknown): MongoErrorData {
  if (isMongoError(error)) {
    const data: MongoErrorData = {
      name: 'MongoServerError',
      message: error.message,
      code: error.mongoCode,
      codeName: error.codeName,
    };
    if (Object.keys(error.info).length > 0)
      data.info = EJSON.stringify(error.info, { relaxed: false });
    return data;
  }
  const hint = isTriggerboxError(error) && error.hint ? ` (${error.hint})` : '';
  return {
    name: error instanceof Error ? error.name : 'Error',
    message: `${messageOf(error)}${hint}`,
  };
}

/** The 'mongodb' host service over one engine: every data source of the app is served by it. */
export function mongodbService(options: MongodbServiceOptions): HostService {
  const names = [...options.dataSources];
  const openings = new Map<string, Promise<MongoService>>();
  const service = (source: string): Promise<MongoService> => {
    // One service per engine: the embedded one is shared by every data source not elsewhere.
    const key = options.sources?.has(source) === true ? `source:${source}` : '';
    let opening = openings.get(key);
    if (opening === undefined) {
      const open = options.sources?.get(source) ?? options.engine;
      opening = (async () => {
        const engine = typeof open === 'function' ? await open() : open;
        return createMongoService({ engine, resultLimit: options.resultLimit });
      })();
      openings.set(key, opening);
      // A database that would not open (locked by dev, damaged, a cluster unreachable) is
      // tried again on the next call.
      opening.catch(() => openings.delete(key));
    }
    return opening;
  };
  const checkSource = (source: unknown): void => {
    if (typeof source !== 'string' || !names.includes(source))
      throw new Error(`the app has no data source named '${String(source)}'`);
  };

  // Constant: the sandbox process answers it after the first time (one parent trip per context).
  const sources: ServiceOp<null, string[]> = { mode: 'sync', constant: true, run: () => names };

  const call: ServiceOp<MongoCallRequest, MongoReply> = {
    mode: 'async',
    run: async (request, { signal, origin }) => {
      try {
        checkSource(request.source);
        const method = Object.hasOwn(METHODS, request.method) ? METHODS[request.method] : undefined;
        if (method === undefined) throw new Error(`collection.${request.method} is not supported`);
        const decoded = decodeResult(request.args);
        const args = (Array.isArray(decoded) ? decoded : []).map((a: unknown) =>
          a === null ? undefined : a,
        );
        const collection = (await service(request.source)).db(request.db).collection(request.coll);
        signal.throwIfAborted();
        const value = await writeOrigin.run(origin ?? {}, () => method(collection, args));
        return { ok: true, value: EJSON.stringify(value ?? null, { relaxed: false }) };
      } catch (error) {
        return { ok: false, error: errorData(error) };
      }
    },
  };

  const collectionNames: ServiceOp<{ source: string; db: string }, MongoReply> = {
    mode: 'sync',
    run: async (request) => {
      try {
        checkSource(request.source);
        const names = await (await service(request.source)).db(request.db).getCollectionNames();
        return { ok: true, value: EJSON.stringify(names, { relaxed: false }) };
      } catch (error) {
        return { ok: false, error: errorData(error) };
      }
    },
  };

  return { name: 'mongodb', ops: { sources, call, collectionNames } };
}
