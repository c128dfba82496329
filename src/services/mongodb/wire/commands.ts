/**
 * The commands the endpoint answers, each mapped onto one or a few Engine calls, with the reply
 * shapes of the server (https://www.mongodb.com/docs/manual/reference/command/). Session and
 * concern fields (lsid, txnNumber, $clusterTime, readConcern, writeConcern, $readPreference,
 * apiVersion, comment, maxTimeMS outside awaitData) are accepted and ignored: there is one node
 * and every write is durable when acknowledged. A thrown MongoError becomes {ok: 0, errmsg,
 * code, codeName}; write commands report per-statement failures as writeErrors, as the server.
 */
import { Long } from 'bson';
import { isDocument, sameValue, type Doc } from '../engine/bson-values.js';
import { MongoError, badValue, isMongoError, notSupportedLocally } from '../engine/errors.js';
import { compileFilter } from '../engine/query.js';
import type { Engine, Namespace } from '../engine/types.js';
import type { ChangeHub, ChangeStreamScope } from './change-streams.js';
import { CursorRegistry, DEFAULT_BATCH_SIZE, DocumentCursor, type WireCursor } from './cursors.js';

export interface CommandContext {
  engine: Engine;
  cursors: CursorRegistry;
  hub: ChangeHub;
  /** `$db` of the command. */
  db: string;
  hello(): Doc;
  serverStatus(): Doc;
}

type Handler = (ctx: CommandContext, cmd: Doc) => Promise<Doc> | Doc;

function num(value: unknown, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value === 'number') return value;
  if (Long.isLong(value)) return value.toNumber();
  if (isDocument(value) && typeof value.valueOf === 'function') {
    const v = value.valueOf();
    if (typeof v === 'number') return v;
  }
  throw badValue(`expected a number, got ${typeof value}`);
}

function collName(cmd: Doc, name: string): string {
  const value = cmd[name];
  if (typeof value !== 'string' || value === '')
    throw new MongoError(
      'InvalidNamespace',
      `collection name has invalid type ${value === '' ? 'empty string' : typeof value}`,
    );
  return value;
}

function ns(ctx: CommandContext, cmd: Doc, name: string): Namespace {
  return { db: ctx.db, coll: collName(cmd, name) };
}

function refuseCollation(collation: unknown): void {
  if (collation === undefined) return;
  if (isDocument(collation) && collation.locale === 'simple') return;
  throw notSupportedLocally('collation');
}

function optionalDoc(value: unknown, what: string): Doc | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isDocument(value)) throw badValue(`'${what}' must be an object`);
  return value;
}

/** A failure as a write-error entry (index, code, errmsg, plus keyPattern/keyValue for E11000). */
function writeError(index: number, error: unknown): Doc {
  if (isMongoError(error)) {
    const entry: Doc = { index, code: error.mongoCode, errmsg: error.message };
    if (error.info.keyPattern !== undefined) entry.keyPattern = error.info.keyPattern;
    if (error.info.keyValue !== undefined) entry.keyValue = error.info.keyValue;
    return entry;
  }
  return { index, code: 1, errmsg: error instanceof Error ? error.message : String(error) };
}

/** The reply of a failed command. */
export function errorReply(error: unknown): Doc {
  if (isMongoError(error)) {
    const reply: Doc = { ok: 0, errmsg: error.message, code: error.mongoCode };
    if (error.codeName) reply.codeName = error.codeName;
    if (error.info.keyPattern !== undefined) reply.keyPattern = error.info.keyPattern;
    if (error.info.keyValue !== undefined) reply.keyValue = error.info.keyValue;
    return reply;
  }
  return {
    ok: 0,
    errmsg: error instanceof Error ? error.message : String(error),
    code: 1,
    codeName: 'InternalError',
  };
}

function cursorReply(cursor: { id: Long; ns: string }, key: string, docs: Doc[], extra?: Doc) {
  return { cursor: { [key]: docs, ...extra, id: cursor.id, ns: cursor.ns } };
}

/** Registers the cursor unless its first batch already ended it. */
async function firstBatch(ctx: CommandContext, cursor: WireCursor, batchSize: number) {
  const batch = await cursor.nextBatch(batchSize, 0);
  if (batch.done) cursor.close();
  else ctx.cursors.add(cursor);
  const id = batch.done ? Long.ZERO : cursor.id;
  return cursorReply({ id, ns: cursor.ns }, 'firstBatch', batch.docs, batch.extra);
}

function batchSizeOf(spec: unknown): number {
  const size = num(isDocument(spec) ? spec.batchSize : spec, DEFAULT_BATCH_SIZE);
  if (size < 0) throw badValue('batchSize must be non-negative');
  return size;
}

function listReply(ctx: CommandContext, name: string, docs: Doc[]) {
  return { cursor: { firstBatch: docs, id: Long.ZERO, ns: `${ctx.db}.$cmd.${name}` } };
}

async function insert(ctx: CommandContext, cmd: Doc): Promise<Doc> {
  const target = ns(ctx, cmd, 'insert');
  const documents = cmd.documents;
  if (!Array.isArray(documents)) throw badValue("'documents' must be an array");
  const ordered = cmd.ordered !== false;
  try {
    if (documents.length === 1) {
      await ctx.engine.insertOne({ ns: target, document: documents[0] as Doc });
      return { n: 1 };
    }
    const result = await ctx.engine.insertMany({ ns: target, documents, ordered });
    return { n: result.insertedCount };
  } catch (error) {
    if (!isMongoError(error)) throw error;
    if (documents.length === 1) return { n: 0, writeErrors: [writeError(0, error)] };
    if (!Array.isArray(error.info.writeErrors)) throw error;
    return { n: num(error.info.insertedCount, 0), writeErrors: error.info.writeErrors };
  }
}

async function update(ctx: CommandContext, cmd: Doc): Promise<Doc> {
  const target = ns(ctx, cmd, 'update');
  const updates = cmd.updates;
  if (!Array.isArray(updates)) throw badValue("'updates' must be an array");
  const ordered = cmd.ordered !== false;
  let n = 0;
  let nModified = 0;
  const upserted: Doc[] = [];
  const writeErrors: Doc[] = [];
  for (const [index, statement] of updates.entries()) {
    try {
      if (!isDocument(statement)) throw badValue('each update statement must be an object');
      refuseCollation(statement.collation);
      const request = {
        ns: target,
        filter: optionalDoc(statement.q, 'q') ?? {},
        update: statement.u as Doc | Doc[],
        upsert: statement.upsert === true,
        arrayFilters: statement.arrayFilters as Doc[] | undefined,
        sort: optionalDoc(statement.sort, 'sort'),
      };
      const result =
        statement.multi === true
          ? await ctx.engine.updateMany(request)
          : await ctx.engine.updateOne(request);
      n += result.matchedCount + result.upsertedCount;
      nModified += result.modifiedCount;
      if (result.upsertedId !== undefined) upserted.push({ index, _id: result.upsertedId });
    } catch (error) {
      writeErrors.push(writeError(index, error));
      if (ordered) break;
    }
  }
  const reply: Doc = { n, nModified };
  if (upserted.length > 0) reply.upserted = upserted;
  if (writeErrors.length > 0) reply.writeErrors = writeErrors;
  return reply;
}

async function remove(ctx: CommandContext, cmd: Doc): Promise<Doc> {
  const target = ns(ctx, cmd, 'delete');
  const deletes = cmd.deletes;
  if (!Array.isArray(deletes)) throw badValue("'deletes' must be an array");
  const ordered = cmd.ordered !== false;
  let n = 0;
  const writeErrors: Doc[] = [];
  for (const [index, statement] of deletes.entries()) {
    try {
      if (!isDocument(statement)) throw badValue('each delete statement must be an object');
      refuseCollation(statement.collation);
      const limit = num(statement.limit, 0);
      if (limit !== 0 && limit !== 1)
        throw badValue('The limit field in delete objects must be 0 or 1');
      const request = { ns: target, filter: optionalDoc(statement.q, 'q') ?? {} };
      const result =
        limit === 1 ? await ctx.engine.deleteOne(request) : await ctx.engine.deleteMany(request);
      n += result.deletedCount;
    } catch (error) {
      writeErrors.push(writeError(index, error));
      if (ordered) break;
    }
  }
  return writeErrors.length > 0 ? { n, writeErrors } : { n };
}

async function find(ctx: CommandContext, cmd: Doc): Promise<Doc> {
  const target = ns(ctx, cmd, 'find');
  refuseCollation(cmd.collation);
  const limit = num(cmd.limit, 0);
  const skip = num(cmd.skip, 0);
  const single = cmd.singleBatch === true || limit < 0;
  let batchSize = batchSizeOf(cmd.batchSize);
  if (limit !== 0) batchSize = Math.min(batchSize, Math.abs(limit));
  const source = await ctx.engine.find({
    ns: target,
    filter: optionalDoc(cmd.filter, 'filter'),
    projection: optionalDoc(cmd.projection, 'projection'),
    sort: optionalDoc(cmd.sort, 'sort'),
    skip,
    limit: Math.abs(limit),
  });
  const cursor = new DocumentCursor(ctx.cursors.newId(), `${target.db}.${target.coll}`, source);
  if (single) {
    const batch = await cursor.nextBatch(batchSize === 0 ? DEFAULT_BATCH_SIZE : batchSize);
    cursor.close();
    return cursorReply({ id: Long.ZERO, ns: cursor.ns }, 'firstBatch', batch.docs);
  }
  return firstBatch(ctx, cursor, batchSize);
}

async function aggregate(ctx: CommandContext, cmd: Doc): Promise<Doc> {
  const pipeline = cmd.pipeline;
  if (!Array.isArray(pipeline)) throw badValue("'pipeline' option must be specified as an array");
  if (cmd.explain === true) throw notSupportedLocally('explain');
  refuseCollation(cmd.collation);
  if (!isDocument(cmd.cursor))
    throw new MongoError(
      'FailedToParse',
      "The 'cursor' option is required, except for aggregate with the explain argument",
    );
  const batchSize = batchSizeOf(cmd.cursor);
  const first = pipeline[0];
  const dbLevel = cmd.aggregate === 1;
  if (isDocument(first) && Object.hasOwn(first, '$changeStream')) {
    const stage = optionalDoc(first.$changeStream, '$changeStream') ?? {};
    let scope: ChangeStreamScope;
    if (!dbLevel) scope = { db: ctx.db, coll: collName(cmd, 'aggregate') };
    else if (stage.allChangesForCluster === true) {
      if (ctx.db !== 'admin')
        throw badValue(
          "A pipeline with a $changeStream stage with 'allChangesForCluster: true' must be run on the 'admin' database",
        );
      scope = {};
    } else scope = { db: ctx.db };
    const cursor = ctx.hub.open({
      id: ctx.cursors.newId(),
      ns: dbLevel ? `${ctx.db}.$cmd.aggregate` : `${ctx.db}.${String(cmd.aggregate)}`,
      scope,
      stage,
      pipeline: pipeline.slice(1),
    });
    // The first batch never waits: drivers send the awaitData getMores after it.
    const batch = await cursor.nextBatch(batchSize, -1).catch((error) => {
      cursor.close();
      throw error;
    });
    ctx.cursors.add(cursor);
    return cursorReply(cursor, 'firstBatch', batch.docs, batch.extra);
  }
  if (dbLevel) throw notSupportedLocally('a database-level aggregate (aggregate: 1)');
  const target = ns(ctx, cmd, 'aggregate');
  const source = await ctx.engine.aggregate({
    ns: target,
    pipeline: pipeline as Doc[],
    let: optionalDoc(cmd.let, 'let'),
  });
  return firstBatch(
    ctx,
    new DocumentCursor(ctx.cursors.newId(), `${target.db}.${target.coll}`, source),
    batchSize,
  );
}

async function getMore(ctx: CommandContext, cmd: Doc): Promise<Doc> {
  const id = cmd.getMore;
  if (!Long.isLong(id) && typeof id !== 'number')
    throw new MongoError('TypeMismatch', "Field 'getMore' must be of type long in: getMore");
  const longId = Long.isLong(id) ? id : Long.fromNumber(id);
  const cursor = ctx.cursors.take(longId);
  if (!cursor) throw new MongoError('CursorNotFound', `cursor id ${longId.toString()} not found`);
  let done = true;
  try {
    const size = cmd.batchSize === undefined ? Number.MAX_SAFE_INTEGER : batchSizeOf(cmd.batchSize);
    const batch = await cursor.nextBatch(
      size === 0 ? Number.MAX_SAFE_INTEGER : size,
      cmd.maxTimeMS === undefined ? undefined : num(cmd.maxTimeMS, 0),
    );
    done = batch.done;
    return cursorReply(
      { id: done ? Long.ZERO : cursor.id, ns: cursor.ns },
      'nextBatch',
      batch.docs,
      batch.extra,
    );
  } finally {
    ctx.cursors.release(cursor, done);
  }
}

function killCursors(ctx: CommandContext, cmd: Doc): Doc {
  const ids = cmd.cursors;
  if (!Array.isArray(ids)) throw badValue("'cursors' must be an array");
  const cursorsKilled: Long[] = [];
  const cursorsNotFound: Long[] = [];
  for (const raw of ids) {
    const id = Long.isLong(raw) ? raw : Long.fromNumber(num(raw, 0));
    (ctx.cursors.kill(id) ? cursorsKilled : cursorsNotFound).push(id);
  }
  return { cursorsKilled, cursorsNotFound, cursorsAlive: [], cursorsUnknown: [] };
}

async function count(ctx: CommandContext, cmd: Doc): Promise<Doc> {
  const target = ns(ctx, cmd, 'count');
  refuseCollation(cmd.collation);
  const filter = optionalDoc(cmd.query, 'query');
  const skip = num(cmd.skip, 0);
  const limit = Math.abs(num(cmd.limit, 0));
  if (!filter || Object.keys(filter).length === 0) {
    if (skip === 0 && limit === 0)
      return { n: await ctx.engine.estimatedDocumentCount({ ns: target }) };
  }
  return { n: await ctx.engine.countDocuments({ ns: target, filter, skip, limit }) };
}

async function distinct(ctx: CommandContext, cmd: Doc): Promise<Doc> {
  refuseCollation(cmd.collation);
  const values = await ctx.engine.distinct({
    ns: ns(ctx, cmd, 'distinct'),
    key: cmd.key as string,
    filter: optionalDoc(cmd.query, 'query'),
  });
  return { values };
}

async function findAndModify(ctx: CommandContext, cmd: Doc): Promise<Doc> {
  const target = ns(
    ctx,
    cmd,
    Object.hasOwn(cmd, 'findAndModify') ? 'findAndModify' : 'findandmodify',
  );
  refuseCollation(cmd.collation);
  const filter = optionalDoc(cmd.query, 'query') ?? {};
  const common = {
    ns: target,
    filter,
    sort: optionalDoc(cmd.sort, 'sort'),
    projection: optionalDoc(cmd.fields, 'fields'),
  };
  if (cmd.remove === true) {
    if (cmd.update !== undefined) throw badValue('Cannot specify both an update and remove=true');
    const value = await ctx.engine.findOneAndDelete(common);
    return { lastErrorObject: { n: value ? 1 : 0 }, value };
  }
  const update = cmd.update;
  if (!isDocument(update) && !Array.isArray(update))
    throw new MongoError('FailedToParse', 'Either an update or remove=true must be specified');
  const upsert = cmd.upsert === true;
  // Whether the upsert inserted is not something the engine call returns; ask before.
  const existed = upsert
    ? (await ctx.engine.countDocuments({ ns: target, filter, limit: 1 })) > 0
    : true;
  const returnDocument: 'before' | 'after' = cmd.new === true ? 'after' : 'before';
  const replacement =
    isDocument(update) &&
    Object.keys(update).length > 0 &&
    !Object.keys(update)[0]!.startsWith('$');
  const value = replacement
    ? await ctx.engine.findOneAndReplace({ ...common, replacement: update, upsert, returnDocument })
    : await ctx.engine.findOneAndUpdate({
        ...common,
        update: update as Doc | Doc[],
        upsert,
        returnDocument,
        arrayFilters: cmd.arrayFilters as Doc[] | undefined,
      });
  const matched = upsert ? existed : value !== null;
  const lastErrorObject: Doc = { n: matched || upsert ? 1 : 0, updatedExisting: matched };
  if (!existed && value) lastErrorObject.upserted = value._id;
  return { lastErrorObject, value };
}

async function listDatabases(ctx: CommandContext, cmd: Doc): Promise<Doc> {
  const filter = compileFilter(optionalDoc(cmd.filter, 'filter'));
  const all = await ctx.engine.listDatabases();
  const databases = all
    .map((d) => (cmd.nameOnly === true ? { name: d.name } : { ...d }))
    .filter((d) => filter(d));
  if (cmd.nameOnly === true) return { databases };
  return { databases, totalSize: 0, totalSizeMb: 0 };
}

async function listCollections(ctx: CommandContext, cmd: Doc): Promise<Doc> {
  const filter = compileFilter(optionalDoc(cmd.filter, 'filter'));
  const names = await ctx.engine.listCollections({ db: ctx.db });
  const docs = names
    .map((c): Doc =>
      cmd.nameOnly === true
        ? { name: c.name, type: c.type }
        : {
            name: c.name,
            type: c.type,
            options: {},
            info: { readOnly: false },
            idIndex: { v: 2, key: { _id: 1 }, name: '_id_' },
          },
    )
    .filter((d) => filter(d));
  return listReply(ctx, 'listCollections', docs);
}

async function create(ctx: CommandContext, cmd: Doc): Promise<Doc> {
  const target = ns(ctx, cmd, 'create');
  for (const option of ['capped', 'viewOn', 'timeseries', 'clusteredIndex', 'validator'])
    if (cmd[option] !== undefined && cmd[option] !== false)
      throw notSupportedLocally(`create with '${option}'`);
  await ctx.engine.createCollection({ ns: target });
  return {};
}

async function drop(ctx: CommandContext, cmd: Doc): Promise<Doc> {
  const target = ns(ctx, cmd, 'drop');
  let nIndexesWas = 0;
  try {
    nIndexesWas = (await ctx.engine.listIndexes({ ns: target })).length;
  } catch {
    // A collection that does not exist: drop succeeds anyway, as on servers since 7.0.
  }
  await ctx.engine.dropCollection({ ns: target });
  return { nIndexesWas, ns: `${target.db}.${target.coll}` };
}

async function dropDatabase(ctx: CommandContext): Promise<Doc> {
  await ctx.engine.dropDatabase({ db: ctx.db });
  return { dropped: ctx.db };
}

async function collectionExists(ctx: CommandContext, target: Namespace): Promise<boolean> {
  return (await ctx.engine.listCollections({ db: target.db })).some((c) => c.name === target.coll);
}

async function createIndexes(ctx: CommandContext, cmd: Doc): Promise<Doc> {
  const target = ns(ctx, cmd, 'createIndexes');
  const indexes = cmd.indexes;
  if (!Array.isArray(indexes) || indexes.length === 0)
    throw badValue('Must specify at least one index to create');
  const existed = await collectionExists(ctx, target);
  const before = existed ? (await ctx.engine.listIndexes({ ns: target })).length : 1;
  for (const spec of indexes) {
    if (!isDocument(spec) || !isDocument(spec.key))
      throw badValue("The 'key' field of an index specification must be an object");
    refuseCollation(spec.collation);
    await ctx.engine.createIndex({
      ns: target,
      key: spec.key,
      name: typeof spec.name === 'string' ? spec.name : undefined,
      unique: spec.unique === true,
      sparse: spec.sparse === true,
      partialFilterExpression: optionalDoc(spec.partialFilterExpression, 'partialFilterExpression'),
    });
  }
  const after = (await ctx.engine.listIndexes({ ns: target })).length;
  return {
    numIndexesBefore: before,
    numIndexesAfter: after,
    createdCollectionAutomatically: !existed,
  };
}

async function listIndexes(ctx: CommandContext, cmd: Doc): Promise<Doc> {
  const target = ns(ctx, cmd, 'listIndexes');
  const specs = await ctx.engine.listIndexes({ ns: target });
  return {
    cursor: {
      firstBatch: specs,
      id: Long.ZERO,
      ns: `${target.db}.$cmd.listIndexes.${target.coll}`,
    },
  };
}

async function dropIndexes(ctx: CommandContext, cmd: Doc): Promise<Doc> {
  const target = ns(ctx, cmd, Object.hasOwn(cmd, 'dropIndexes') ? 'dropIndexes' : 'deleteIndexes');
  const specs = await ctx.engine.listIndexes({ ns: target });
  const which = cmd.index;
  let names: string[];
  if (which === '*') names = specs.map((s) => s.name).filter((n) => n !== '_id_');
  else if (typeof which === 'string') names = [which];
  else if (Array.isArray(which)) names = which.map(String);
  else if (isDocument(which)) {
    const spec = specs.find((s) => sameValue(s.key, which));
    if (!spec)
      throw new MongoError('IndexNotFound', `can't find index with key: ${JSON.stringify(which)}`);
    names = [spec.name];
  } else throw badValue("'index' must be a name, a key pattern, a list of names or '*'");
  for (const name of names) {
    if (name === '_id_') throw badValue('cannot drop _id index');
    await ctx.engine.dropIndex({ ns: target, name });
  }
  return { nIndexesWas: specs.length };
}

const BUILD_INFO = {
  version: '8.0.0',
  gitVersion: 'triggerbox',
  versionArray: [8, 0, 0, 0],
  modules: [] as string[],
  allocator: 'system',
  javascriptEngine: 'none',
  sysInfo: 'deprecated',
  bits: 64,
  debug: false,
  maxBsonObjectSize: 16 * 1024 * 1024,
  storageEngines: ['triggerbox'],
};

const noop: Handler = () => ({});

/**
 * CommandNotSupported (115), not IllegalOperation (20): the driver reads 20 on a write as
 * "this deployment has no retryable writes" and replaces the message.
 */
function transactionsRefused(): never {
  throw new MongoError(
    'CommandNotSupported',
    'Transactions are not supported by the triggerbox local endpoint',
    { code: 'MongoNotSupportedLocally' },
  );
}

export const COMMANDS: Record<string, Handler> = {
  hello: (ctx) => ctx.hello(),
  ismaster: (ctx) => ctx.hello(),
  isMaster: (ctx) => ctx.hello(),
  ping: noop,
  buildInfo: () => ({ ...BUILD_INFO }),
  buildinfo: () => ({ ...BUILD_INFO }),
  getParameter: (_ctx, cmd) =>
    cmd.featureCompatibilityVersion !== undefined
      ? { featureCompatibilityVersion: { version: '8.0' } }
      : {},
  serverStatus: (ctx) => ctx.serverStatus(),
  hostInfo: () => ({
    system: { currentTime: new Date(), hostname: '127.0.0.1', numCores: 1 },
    os: { type: process.platform },
    extra: {},
  }),
  getCmdLineOpts: () => ({ argv: ['triggerbox'], parsed: {} }),
  getLog: (_ctx, cmd) =>
    cmd.getLog === '*' ? { names: ['startupWarnings'] } : { totalLinesWritten: 0, log: [] },
  connectionStatus: () => ({
    authInfo: { authenticatedUsers: [], authenticatedUserRoles: [] },
  }),
  whatsmyuri: () => ({ you: '127.0.0.1' }),
  listDatabases,
  listCollections,
  create,
  drop,
  dropDatabase,
  insert,
  update,
  delete: remove,
  find,
  getMore,
  killCursors,
  aggregate,
  count,
  distinct,
  findAndModify,
  findandmodify: findAndModify,
  createIndexes,
  listIndexes,
  dropIndexes,
  deleteIndexes: dropIndexes,
  dbStats: async (ctx) => {
    const colls = await ctx.engine.listCollections({ db: ctx.db });
    let objects = 0;
    for (const c of colls)
      objects += await ctx.engine.estimatedDocumentCount({ ns: { db: ctx.db, coll: c.name } });
    return {
      db: ctx.db,
      collections: colls.length,
      views: 0,
      objects,
      dataSize: 0,
      storageSize: 0,
      indexes: 0,
      indexSize: 0,
    };
  },
  endSessions: noop,
  killSessions: noop,
  refreshSessions: noop,
  logout: noop,
  abortTransaction: noop,
  commitTransaction: transactionsRefused,
  saslStart: () => {
    throw new MongoError(
      'AuthenticationFailed',
      'the triggerbox local endpoint has no authentication: connect without credentials (mongodb://127.0.0.1:<port>)',
    );
  },
};
COMMANDS.saslContinue = COMMANDS.saslStart!;
COMMANDS.authenticate = COMMANDS.saslStart!;

/** Runs one command: {ok: 1, ...reply} or the error reply; never throws. */
export async function runCommand(ctx: CommandContext, cmd: Doc): Promise<Doc> {
  const name = Object.keys(cmd)[0];
  try {
    if (name === undefined) throw new MongoError('FailedToParse', 'no command given');
    const handler = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
    if (!handler) throw new MongoError('CommandNotFound', `no such command: '${name}'`);
    if (cmd.startTransaction === true) transactionsRefused();
    const reply = await handler(ctx, cmd);
    return { ...reply, ok: 1 };
  } catch (error) {
    return errorReply(error);
  }
}
