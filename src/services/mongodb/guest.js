// @ts-check
/**
 * `context.services.get(<data source>)` inside the sandbox: a bare V8 isolate, so only the
 * language, the BSON handed in and the host calls. Each collection method crosses to the host
 * (services/mongodb/service.ts) as canonical Extended JSON text and its result comes back the
 * same way, so ObjectId, Date, Long, Decimal128, Binary ... keep their types; a MongoDB error
 * comes back as data and is thrown here as an Error with `code` (numeric) and `codeName`.
 * find/aggregate return cursors that read the whole (capped) result on their first read.
 */

/**
 * @typedef {{ ok: true, value: string } | { ok: false, error: { name: string, message: string, code?: number, codeName?: string, info?: string } }} MongoReply
 * @typedef {(op: string, data: any) => Promise<any>} CallHostAsync
 * @typedef {(op: string, data: any) => any} CallHostSync
 * @typedef {{ Double: new (value: number) => unknown, EJSON: { stringify: (value: unknown, options?: { relaxed?: boolean }) => string, parse: (text: string, options?: { relaxed?: boolean }) => any } }} BsonLike
 */

const INT32_MAX = 2 ** 31 - 1;

const METHODS = [
  'findOne',
  'insertOne',
  'insertMany',
  'updateOne',
  'updateMany',
  'replaceOne',
  'deleteOne',
  'deleteMany',
  'findOneAndUpdate',
  'findOneAndReplace',
  'findOneAndDelete',
  'count',
  'countDocuments',
  'distinct',
  'bulkWrite',
];

/**
 * @param {CallHostAsync} callHostAsync
 * @param {CallHostSync} callHostSync
 * @param {() => Record<string, any>} loadBSON the sandbox's BSON, loaded on first use
 * @param {(message: string) => void} warn a warning line in the function's logs
 */
export function createServices(callHostAsync, callHostSync, loadBSON, warn) {
  const getBSON = () => /** @type {BsonLike} */ (/** @type {unknown} */ (loadBSON()));
  /** @type {string[] | undefined} */
  let sources;
  /** @type {Map<string, object>} */
  const clients = new Map();
  return Object.freeze({
    /** @param {unknown} name */
    get(name) {
      const key = String(name);
      const known = clients.get(key);
      if (known !== undefined) return known;
      if (sources === undefined) {
        try {
          sources = /** @type {string[]} */ (callHostSync('mongodb.sources', null));
        } catch {
          warn(
            `context.services.get('${key}'): this runner has no database service (mongodbService in createRunner({services})); returning undefined`,
          );
          return undefined;
        }
      }
      if (!sources.includes(key)) {
        warn(
          `context.services.get('${key}'): the app has no data source named '${key}' (${sources.length === 0 ? 'it has none' : `its data sources: ${sources.join(', ')}`}); returning undefined`,
        );
        return undefined;
      }
      const client = createClient(key, callHostAsync, callHostSync, getBSON);
      clients.set(key, client);
      return client;
    },
  });
}

/**
 * @param {string} source
 * @param {CallHostAsync} callHostAsync
 * @param {CallHostSync} callHostSync
 * @param {() => BsonLike} getBSON
 */
function createClient(source, callHostAsync, callHostSync, getBSON) {
  /**
   * @param {MongoReply} reply
   * @returns {any}
   */
  const unwrap = (reply) => {
    const BSON = getBSON();
    if (reply.ok) return jsNumbers(BSON.EJSON.parse(reply.value, { relaxed: false }));
    const { message, code, codeName, info } = reply.error;
    const error = /** @type {Error & Record<string, unknown>} */ (new Error(message));
    if (info !== undefined) {
      const extra = jsNumbers(BSON.EJSON.parse(info, { relaxed: false }));
      for (const field of Object.keys(extra)) error[field] = extra[field];
    }
    if (code !== undefined) {
      error.code = code;
      error.codeName = codeName;
    }
    return Promise.reject(error);
  };
  /**
   * @param {string} db
   * @param {string} coll
   * @param {string} method
   * @param {unknown[]} args
   */
  const call = async (db, coll, method, args) => {
    const BSON = getBSON();
    let end = args.length;
    while (end > 0 && args[end - 1] === undefined) end--;
    let text;
    try {
      text = BSON.EJSON.stringify(wideIntegersAsDoubles(args.slice(0, end), BSON), {
        relaxed: false,
      });
    } catch (error) {
      throw new TypeError(
        `collection.${method}: the arguments cannot be sent as BSON: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    return unwrap(await callHostAsync('mongodb.call', { source, db, coll, method, args: text }));
  };

  /**
   * @param {string} db
   * @param {string} coll
   */
  const collection = (db, coll) => {
    /** @type {Record<string, unknown>} */
    const c = {
      /**
       * @param {unknown} [query]
       * @param {unknown} [projection]
       */
      find(query, projection) {
        return cursor('find', (shape) => call(db, coll, 'find', [query, projection, shape]));
      },
      /**
       * @param {unknown} pipeline
       * @param {unknown} [options]
       */
      aggregate(pipeline, options) {
        return cursor('aggregate', (shape) =>
          call(db, coll, 'aggregate', [pipeline, options, shape]),
        );
      },
    };
    for (const method of METHODS) {
      c[method] = (/** @type {unknown[]} */ ...args) => call(db, coll, method, args);
    }
    return Object.freeze(c);
  };

  return Object.freeze({
    /** @param {unknown} dbName */
    db(dbName) {
      if (typeof dbName !== 'string' || dbName === '')
        throw new TypeError('db() needs a database name');
      return Object.freeze({
        name: dbName,
        /** @param {unknown} collName */
        collection(collName) {
          if (typeof collName !== 'string' || collName === '')
            throw new TypeError('collection() needs a collection name');
          return collection(dbName, collName);
        },
        /** @returns {string[]} the platform's signature is synchronous */
        getCollectionNames() {
          const reply = callHostSync('mongodb.collectionNames', { source, db: dbName });
          if (reply.ok) return unwrapSync(reply, getBSON());
          const error = /** @type {Error & Record<string, unknown>} */ (
            new Error(reply.error.message)
          );
          if (reply.error.code !== undefined) {
            error.code = reply.error.code;
            error.codeName = reply.error.codeName;
          }
          throw error;
        },
      });
    },
  });
}

/**
 * @param {{ value: string }} reply
 * @param {BsonLike} BSON
 */
function unwrapSync(reply, BSON) {
  return jsNumbers(BSON.EJSON.parse(reply.value, { relaxed: false }));
}

/**
 * A cursor as the platform's: sort/skip/limit chain before the first read, then toArray(),
 * next() (undefined when exhausted) and for await.
 * @param {'find' | 'aggregate'} kind
 * @param {(shape: { sort?: unknown, skip?: number, limit?: number }) => Promise<unknown[]>} read
 */
function cursor(kind, read) {
  /** @type {{ sort?: unknown, skip?: number, limit?: number }} */
  const shape = {};
  /** @type {Promise<unknown[]> | undefined} */
  let documents;
  let position = 0;
  /** @param {string} method */
  const beforeRead = (method) => {
    if (documents !== undefined)
      throw new Error(`cannot call ${method}() after documents were read from the cursor`);
  };
  const load = () => (documents ??= read(shape));
  const self = {
    /** @param {unknown} sort */
    sort(sort) {
      beforeRead('sort');
      if (kind !== 'find') throw new Error('an aggregate cursor has no sort(); add a $sort stage');
      shape.sort = sort;
      return self;
    },
    /** @param {unknown} amount */
    skip(amount) {
      beforeRead('skip');
      if (typeof amount !== 'number' || !Number.isInteger(amount) || amount < 0)
        throw new Error('skip value must be a non-negative integer');
      shape.skip = amount;
      return self;
    },
    /** @param {unknown} amount */
    limit(amount) {
      beforeRead('limit');
      if (kind !== 'find')
        throw new Error('an aggregate cursor has no limit(); add a $limit stage');
      if (typeof amount !== 'number' || !Number.isInteger(amount))
        throw new Error('limit value must be an integer');
      shape.limit = amount;
      return self;
    },
    async toArray() {
      const all = await load();
      const rest = all.slice(position);
      position = all.length;
      return rest;
    },
    async next() {
      const all = await load();
      return position < all.length ? all[position++] : undefined;
    },
    async hasNext() {
      const all = await load();
      return position < all.length;
    },
    async *[Symbol.asyncIterator]() {
      const all = await load();
      while (position < all.length) yield all[position++];
    },
  };
  return self;
}

/**
 * JS numbers are doubles: canonical EJSON would write an integer past Int32 as $numberLong, and
 * the database would store a Long where the driver stores a double.
 * @param {unknown} value
 * @param {BsonLike} BSON
 * @returns {unknown}
 */
function wideIntegersAsDoubles(value, BSON) {
  if (typeof value === 'number')
    return Number.isInteger(value) && Math.abs(value) > INT32_MAX ? new BSON.Double(value) : value;
  if (Array.isArray(value)) return value.map((v) => wideIntegersAsDoubles(v, BSON));
  if (value === null || typeof value !== 'object') return value;
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const [key, inner] of Object.entries(value)) out[key] = wideIntegersAsDoubles(inner, BSON);
  return out;
}

/**
 * Int32 and Double wrappers as JS numbers (as documents reach functions on the platform); Long,
 * Decimal128 and the other BSON types keep their class.
 * @param {any} value
 * @returns {any}
 */
function jsNumbers(value) {
  if (value === null || typeof value !== 'object') return value;
  const type = value._bsontype;
  if (type === 'Int32' || type === 'Double') return value.valueOf();
  if (Array.isArray(value)) return value.map(jsNumbers);
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  for (const key of Object.keys(value)) value[key] = jsNumbers(value[key]);
  return value;
}
