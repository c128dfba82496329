/**
 * The one place in triggerbox that imports mingo: the embedded engine and trigger filters evaluate MongoDB's query language, projections and
 * aggregation pipelines through mingo. Three rules hold for every call that goes through here:
 *
 * - Nothing runs code: `$where`, `$function` and `$accumulator` are refused by a scan of the
 *   whole expression before mingo sees it, and they are also absent from mingo's operator table
 *   (with `scriptEnabled: false`), so a path the scan missed still cannot reach them.
 * - Numbers compare by value across Int32/Long/Double/Decimal128: the comparison query
 *   operators are replaced by versions built on bson-values.ts; expressions (`$expr`, pipelines)
 *   run on a numeric view of the documents, and the types of unchanged numbers are restored on
 *   the way out.
 * - Stages that cannot work locally fail with "not supported locally" before anything runs.
 */
import { Context } from 'mingo';
import { Aggregator } from 'mingo/aggregator';
import { Query } from 'mingo/query';
import * as accumulatorOps from 'mingo/operators/accumulator';
import * as expressionOps from 'mingo/operators/expression';
import * as pipelineOps from 'mingo/operators/pipeline';
import * as projectionOps from 'mingo/operators/projection';
import * as queryOps from 'mingo/operators/query';
import * as windowOps from 'mingo/operators/window';
import { resolve } from 'mingo/util';
import { Decimal128, Long } from 'bson';
import {
  bsonTypeName,
  compareValues,
  hasWideNumbers,
  indexKey,
  isBsonNumber,
  isDocument,
  numericView,
  toJsNumber,
  typeBracket,
  valuesEqual,
  type Doc,
} from './bson-values.js';
import { MongoError, badValue, notSupportedLocally } from './errors.js';
import { findCodeOperators } from '../../../shared/query-guard.js';

/** Stages mingo lacks or that need a server (search indexes, other outputs, cluster state). */
const UNSUPPORTED_STAGES = new Set([
  '$search',
  '$searchMeta',
  '$vectorSearch',
  '$listSearchIndexes',
  '$out',
  '$merge',
  '$changeStream',
  '$changeStreamSplitLargeEvent',
  '$collStats',
  '$indexStats',
  '$currentOp',
  '$listSessions',
  '$listLocalSessions',
  '$listSampledQueries',
  '$planCacheStats',
  '$shardedDataDistribution',
  '$querySettings',
  '$queryStats',
  '$geoNear',
]);

/**
 * Refuses code-running operators anywhere in a filter, update or pipeline, before evaluation
 * (the same scan `validate` runs on trigger files: shared/query-guard.ts).
 */
export function refuseScripts(value: unknown, where: string): void {
  const [first] = findCodeOperators(value);
  if (first === undefined) return;
  throw new MongoError(
    'BadValue',
    `${first.operator} is not allowed in ${where}: it runs JavaScript (at ${first.jsonPath})`,
    {
      code: 'MongoScriptRefused',
      hint: 'triggerbox never evaluates code from a query, update or pipeline; compute the value in the function instead',
    },
  );
}

/** A field's value by dotted path, arrays unwrapped as the query language reads them. */
export function resolvePath(doc: Doc, path: string): unknown {
  return resolve(doc, path, { unwrapArray: true });
}

const $let = (expressionOps as Record<string, unknown>)['$let'] as (
  obj: unknown,
  expr: unknown,
  options: unknown,
) => unknown;

/**
 * `$getField` as MongoDB defines it: a field of the document. mingo's own version returns
 * `input[field]`, inherited properties included (`constructor`, `__proto__`): with it an
 * expression reached the host's `Function` constructor (security issue #8).
 */
function $getField(obj: unknown, expr: unknown, options: unknown): unknown {
  // $let with no variables evaluates `expr` exactly as mingo evaluates operator arguments.
  const args = $let(obj, { vars: {}, in: expr }, options);
  const { field, input } =
    typeof args === 'string'
      ? { field: args, input: obj }
      : {
          field: (args as Doc | null)?.['field'],
          input: (args as Doc | null)?.['input'] ?? obj,
        };
  if (typeof field !== 'string' || input === null || typeof input !== 'object') return undefined;
  return Object.hasOwn(input, field) ? (input as Doc)[field] : undefined;
}

/** Values on the left of a comparison: the field, and for arrays its elements (and theirs, per dot). */
function candidates(lhs: unknown, selector: string): unknown[] {
  if (!Array.isArray(lhs)) return [lhs];
  const out: unknown[] = [lhs];
  let level: unknown[] = lhs;
  const depth = selector.split('.').length;
  for (let d = 0; d < depth && level.length > 0; d++) {
    const next: unknown[] = [];
    for (const v of level) {
      out.push(v);
      if (Array.isArray(v) && d + 1 < depth) next.push(...v);
    }
    level = next;
  }
  return out;
}

type Predicate = (obj: Doc) => boolean;

function fieldOperator(test: (values: unknown[], rhs: unknown, lhs: unknown) => boolean) {
  return (selector: string, rhs: unknown): Predicate =>
    (obj) => {
      const lhs = resolve(obj, selector, { unwrapArray: true });
      return test(candidates(lhs, selector), rhs, lhs);
    };
}

function equalsAny(values: unknown[], rhs: unknown): boolean {
  return values.some((v) => valuesEqual(v, rhs));
}

function compareOperator(accept: (order: number) => boolean) {
  return fieldOperator((values, rhs) =>
    values.some((v) => typeBracket(v) === typeBracket(rhs) && accept(compareValues(v, rhs))),
  );
}

function inTest(values: unknown[], rhs: unknown): boolean {
  if (!Array.isArray(rhs)) throw badValue('$in needs an array');
  return rhs.some((item) =>
    item instanceof RegExp
      ? values.some((v) => typeof v === 'string' && item.test(v))
      : equalsAny(values, item),
  );
}

const TYPE_CODES: Record<number, string> = {
  1: 'double',
  2: 'string',
  3: 'object',
  4: 'array',
  5: 'binData',
  6: 'undefined',
  7: 'objectId',
  8: 'bool',
  9: 'date',
  10: 'null',
  11: 'regex',
  13: 'javascript',
  16: 'int',
  17: 'timestamp',
  18: 'long',
  19: 'decimal',
  [-1]: 'minKey',
  127: 'maxKey',
};

function typeMatches(value: unknown, wanted: unknown): boolean {
  const name = typeof wanted === 'number' ? TYPE_CODES[wanted] : wanted;
  if (name === 'number') return isBsonNumber(value);
  return bsonTypeName(value) === name;
}

/** The comparison operators, rebuilt on the server's value order (see the module comment). */
const NUMERIC_QUERY_OPS = {
  $eq: fieldOperator(equalsAny),
  $ne: fieldOperator((values, rhs) => !equalsAny(values, rhs)),
  $gt: compareOperator((c) => c > 0),
  $gte: compareOperator((c) => c >= 0),
  $lt: compareOperator((c) => c < 0),
  $lte: compareOperator((c) => c <= 0),
  $in: fieldOperator(inTest),
  $nin: fieldOperator((values, rhs) => !inTest(values, rhs)),
  $type: fieldOperator((values, rhs, lhs) => {
    const wanted = Array.isArray(rhs) ? rhs : [rhs];
    const pool = Array.isArray(lhs) ? [lhs, ...lhs] : [lhs];
    return lhs !== undefined && pool.some((v) => wanted.some((w) => typeMatches(v, w)));
  }),
  $mod: fieldOperator((values, rhs) => {
    if (!Array.isArray(rhs) || rhs.length !== 2)
      throw badValue('malformed mod, needs to be an array');
    const divisor = Math.trunc(toJsNumber(rhs[0]));
    const remainder = Math.trunc(toJsNumber(rhs[1]));
    if (divisor === 0) throw badValue('divisor cannot be 0');
    return values.some((v) => isBsonNumber(v) && Math.trunc(toJsNumber(v)) % divisor === remainder);
  }),
};

function withoutKeys<T extends object>(ops: T, names: string[]): T {
  const copy = { ...ops } as Record<string, unknown>;
  for (const name of names) delete copy[name];
  return copy as T;
}

/** mingo's $lookup puts `undefined` in `as` for array elements of localField with no match. */
type LazyDocs = { map(fn: (doc: Doc) => Doc): LazyDocs };
const lookupOp = (
  pipelineOps as unknown as Record<string, (c: unknown, e: Doc, o: unknown) => LazyDocs>
).$lookup!;
const $lookup = (coll: unknown, expr: Doc, options: unknown): LazyDocs =>
  lookupOp(coll, expr, options).map((doc) => {
    const as = String(expr.as);
    const joined = doc[as];
    return Array.isArray(joined) ? { ...doc, [as]: joined.filter((d) => d !== undefined) } : doc;
  });

/**
 * mingo's $sample draws with replacement: the same document more than once, and `size` of them
 * from a smaller collection. MongoDB's are distinct, and at most every document once.
 */
type Transformable = { transform(f: (docs: Doc[]) => Iterator<Doc>): unknown };
const $sample = (coll: Transformable, expr: Doc): unknown => {
  const raw = isDocument(expr) ? expr.size : undefined;
  const size = isBsonNumber(raw) ? toJsNumber(raw) : raw;
  if (typeof size !== 'number' || Number.isNaN(size))
    throw new MongoError('Location28746', 'size argument to $sample must be a number');
  if (size < 0)
    throw new MongoError('Location28747', 'size argument to $sample must not be negative');
  return coll.transform((docs) => {
    const picked = [...docs];
    const n = Math.min(Math.trunc(size), picked.length);
    for (let i = 0; i < n; i++) {
      const j = i + Math.floor(Math.random() * (picked.length - i));
      [picked[i], picked[j]] = [picked[j]!, picked[i]!];
    }
    return picked.slice(0, n).values();
  });
};

const CONTEXT = Context.init({
  query: { ...withoutKeys(queryOps, ['$where']), ...NUMERIC_QUERY_OPS } as never,
  expression: { ...withoutKeys(expressionOps, ['$function']), $getField } as never,
  accumulator: withoutKeys(accumulatorOps, ['$accumulator']) as never,
  pipeline: { ...withoutKeys(pipelineOps, [...UNSUPPORTED_STAGES]), $lookup, $sample } as never,
  projection: projectionOps as never,
  window: windowOps as never,
});

function mingoOptions(extra: Record<string, unknown> = {}) {
  return { context: CONTEXT, scriptEnabled: false, useStrictMode: true, ...extra };
}

/** mingo's errors in the server's words and codes, so callers' error handling sees MongoDB. */
export function asMongoError(error: unknown): unknown {
  if (error instanceof MongoError || !(error instanceof Error)) return error;
  const message = error.message;
  let m = /unknown query operator (\$\w+)/.exec(message);
  if (m) return badValue(`unknown operator: ${m[1]}`);
  m = /unknown top level operator: (\$\w+)/.exec(message);
  if (m)
    return badValue(
      `unknown top level operator: ${m[1]}. If you have a field name that starts with a '$' symbol, consider using $getField or $setField.`,
    );
  m = /unregistered pipeline operator (\$\w+)/.exec(message);
  if (m) return new MongoError('Location40324', `Unrecognized pipeline stage name: '${m[1]}'`);
  if (/jsonSchema/i.test(message)) return notSupportedLocally('$jsonSchema');
  if (error.constructor.name === 'MingoError' || error instanceof TypeError)
    return badValue(message);
  return error;
}

function guarded<T>(run: () => T): T {
  try {
    return run();
  } catch (error) {
    throw asMongoError(error);
  }
}

function mentions(value: unknown, key: string): boolean {
  if (Array.isArray(value)) return value.some((v) => mentions(v, key));
  if (!isDocument(value)) return false;
  return Object.keys(value).some((k) => k === key || mentions(value[k], key));
}

/**
 * The filter with every `$expr` operand in the numeric view too: the document's Long/Decimal128
 * become JS numbers there, so a Long/Decimal128 constant must as well, or `$eq`/`$gt` would
 * compare a number with an object (mingo orders by type) and never match by value.
 */
function exprOperandsViewed(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(exprOperandsViewed);
  if (!isDocument(value)) return value;
  const out: Doc = {};
  for (const [key, operand] of Object.entries(value))
    out[key] = key === '$expr' ? numericView(operand) : exprOperandsViewed(operand);
  return out;
}

/** A compiled filter. `$expr` is an expression, so it sees the numeric view of the document. */
export function compileFilter(filter: unknown): Predicate {
  if (filter === undefined || filter === null) return () => true;
  if (!isDocument(filter))
    throw badValue(`query filter must be an object, not ${bsonTypeName(filter)}`);
  refuseScripts(filter, 'a query');
  if (Object.keys(filter).length === 0) return () => true;
  const viaView = mentions(filter, '$expr');
  const query = guarded(
    () => new Query(viaView ? (exprOperandsViewed(filter) as Doc) : filter, mingoOptions()),
  );
  return (doc) =>
    guarded(() => query.test(viaView && hasWideNumbers(doc) ? (numericView(doc) as Doc) : doc));
}

/** Projects documents (find's projection, findOneAnd*'s projection option). */
export function project(docs: Doc[], projection: unknown): Doc[] {
  if (projection === undefined || projection === null) return docs;
  if (!isDocument(projection)) throw badValue('projection must be an object');
  if (Object.keys(projection).length === 0) return docs;
  refuseScripts(projection, 'a projection');
  const out = guarded(() => new Query({}, mingoOptions()).find(docs, projection).all() as Doc[]);
  return out.map((doc, i) => inSourceOrder(doc, docs[i]!));
}

/** mingo appends `_id` last; the server keeps the stored document's field order. */
function inSourceOrder(doc: Doc, source: Doc): Doc {
  const ordered: Doc = {};
  for (const key of Object.keys(source)) if (Object.hasOwn(doc, key)) ordered[key] = doc[key];
  for (const key of Object.keys(doc)) if (!Object.hasOwn(ordered, key)) ordered[key] = doc[key];
  return ordered;
}

/** The value a document sorts by for one key: arrays sort by their smallest (or largest) element. */
function sortValue(doc: Doc, path: string, descending: boolean): unknown {
  const value = resolve(doc, path, { unwrapArray: true });
  if (!Array.isArray(value)) return value;
  if (value.length === 0) return undefined;
  return value.reduce((best, v) => {
    const order = compareValues(v, best);
    return descending ? (order > 0 ? v : best) : order < 0 ? v : best;
  });
}

/** A comparator for a sort specification, in the server's value order; ties keep natural order. */
export function sortComparator(sort: unknown): ((a: Doc, b: Doc) => number) | undefined {
  if (sort === undefined || sort === null) return undefined;
  if (!isDocument(sort)) throw badValue('sort must be an object');
  const keys = Object.entries(sort).map(([path, dir]) => {
    const d = isBsonNumber(dir) ? toJsNumber(dir) : Number.NaN;
    if (d !== 1 && d !== -1) {
      if (isDocument(dir) && '$meta' in dir) throw notSupportedLocally('sorting by $meta');
      throw badValue(`$sort key ordering must be 1 (for ascending) or -1 (for descending)`);
    }
    return { path, descending: d === -1 };
  });
  if (keys.length === 0) return undefined;
  return (a, b) => {
    for (const { path, descending } of keys) {
      const order = compareValues(sortValue(a, path, descending), sortValue(b, path, descending));
      if (order !== 0) return descending ? -order : order;
    }
    return 0;
  };
}

/** Puts Long/Decimal128 values back where the output still holds the same number at the same path. */
function restoreTypes(out: unknown, original: unknown): unknown {
  if (isBsonNumber(original) && typeof out === 'number') {
    return (original instanceof Long || original instanceof Decimal128) &&
      valuesEqual(out, original)
      ? original
      : out;
  }
  if (Array.isArray(out) && Array.isArray(original)) {
    for (let i = 0; i < out.length; i++) out[i] = restoreTypes(out[i], original[i]);
  } else if (isDocument(out) && isDocument(original)) {
    for (const key of Object.keys(out))
      if (key in original) out[key] = restoreTypes(out[key], original[key]);
  }
  return out;
}

export interface PipelineRequest {
  docs: Doc[];
  pipeline: unknown;
  /** Documents of another collection of the same database ($lookup, $unionWith, $graphLookup). */
  collection?: (name: string) => Doc[];
  variables?: Doc;
}

/** Runs an aggregation pipeline over stored documents; never changes them. */
export function runPipeline(request: PipelineRequest): Doc[] {
  const { pipeline } = request;
  if (!Array.isArray(pipeline)) throw badValue("'pipeline' option must be specified as an array");
  const stages = [...(pipeline as unknown[])];
  for (const stage of stages) {
    if (!isDocument(stage) || Object.keys(stage).length !== 1)
      throw new MongoError(
        'Location40324',
        'A pipeline stage specification object must contain exactly one field.',
      );
    const name = Object.keys(stage)[0]!;
    // Compass asks for $collStats and falls back to no statistics only when the server says it
    // does not know the stage, in the server's words (data-service's isNotSupportedPipelineStage).
    if (name === '$collStats')
      throw new MongoError(
        'Location40324',
        "Unrecognized pipeline stage name: '$collStats' (collection statistics are not supported locally)",
        { hint: 'count documents with countDocuments or estimatedDocumentCount instead' },
      );
    if (UNSUPPORTED_STAGES.has(name)) throw notSupportedLocally(`the ${name} stage`);
  }
  refuseScripts(stages, 'an aggregation pipeline');
  let docs = request.docs;
  // A leading $match runs on the stored documents, so only the matches are copied into views.
  const first = stages[0] as Doc | undefined;
  if (first && '$match' in first && !mentions(first.$match, '$expr')) {
    const test = compileFilter(first.$match);
    docs = docs.filter(test);
    stages.shift();
  }
  const originals = new Map<string, Doc>();
  for (const doc of docs) if (hasWideNumbers(doc)) originals.set(indexKey(doc._id), doc);
  const views = docs.map((doc) => numericView(doc) as Doc);
  const resolver = request.collection
    ? (name: string) => request.collection!(name).map((d) => numericView(d) as Doc)
    : undefined;
  const output = guarded(
    () =>
      new Aggregator(
        stages as Doc[],
        mingoOptions({ collectionResolver: resolver, variables: request.variables }),
      ).run(views) as Doc[],
  );
  if (originals.size === 0) return output;
  return output.map((doc) => {
    const source = isDocument(doc) ? originals.get(indexKey(doc._id)) : undefined;
    return source ? (restoreTypes(doc, source) as Doc) : doc;
  });
}

/** Evaluates an aggregation expression against one document (pipeline-style updates use it). */
export function pipelineUpdate(doc: Doc, stages: Doc[]): Doc {
  const allowed = new Set([
    '$addFields',
    '$set',
    '$project',
    '$unset',
    '$replaceRoot',
    '$replaceWith',
  ]);
  for (const stage of stages) {
    const name = isDocument(stage) ? Object.keys(stage)[0] : undefined;
    if (name === undefined || !allowed.has(name))
      throw new MongoError(
        'Location40324',
        `${name ?? 'stage'} is not allowed to be used within an update`,
      );
  }
  const [out] = runPipeline({ docs: [doc], pipeline: stages });
  if (!isDocument(out)) throw badValue('the pipeline update did not produce a document');
  return out;
}
