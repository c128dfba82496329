/**
 * The write operations as synchronous steps inside one Tx (so bulkWrite and insertMany compose
 * them): find the targets, compute every new document on copies, then commit all at once.
 * updateMany and deleteMany are therefore all-or-nothing (the server may stop half-way; here a
 * failure changes nothing). insertMany and ordered bulkWrite follow the server: what succeeded
 * before the failing document stays.
 */
import { ObjectId } from 'bson';
import {
  bsonTypeName,
  cloneValue,
  indexKey,
  isDocument,
  sameValue,
  storedForm,
  type Doc,
} from './bson-values.js';
import type { Change } from './collection-store.js';
import type { EngineState, Tx } from './engine-state.js';
import { MongoError, badValue, failedToParse } from './errors.js';
import { compileFilter, sortComparator } from './query.js';
import { applyUpdate, checkIdUnchanged, updateKind } from './update.js';
import { positionalIndex, seedFromFilter } from './update-targets.js';
import type { Namespace } from './types.js';

/** The document as stored: _id first (generated when absent), stored forms of values. */
export function prepareInsert(doc: unknown, index = 0): Doc {
  if (!isDocument(doc))
    throw new MongoError(
      'TypeMismatch',
      `BSON field 'insert.documents.${index}' is the wrong type '${bsonTypeName(doc)}', expected type 'object'`,
    );
  const stored = storedForm(doc) as Doc;
  const id = stored._id === undefined ? new ObjectId() : stored._id;
  if (Array.isArray(id))
    throw new MongoError('InvalidIdField', "The '_id' value cannot be of type array");
  if (id instanceof RegExp)
    throw new MongoError('InvalidIdField', "The '_id' value cannot be of type regex");
  const { _id: _ignored, ...rest } = stored;
  return { _id: id, ...rest };
}

/** Documents matching a filter, in natural order, or sorted; `_id` equality is a direct lookup. */
export function matching(
  state: EngineState,
  ns: Namespace,
  filter: unknown,
  options: { sort?: unknown; stopAfter?: number } = {},
): Doc[] {
  const coll = state.collection(ns);
  if (isDocument(filter) && Object.keys(filter).length === 1 && '_id' in filter) {
    const id = filter._id;
    const direct =
      !(id instanceof RegExp) &&
      !(isDocument(id) && Object.keys(id).some((k) => k.startsWith('$')));
    // A plain _id value is the _id index's key: equal keys are equal values, no query needed.
    if (direct) {
      const doc = coll?.docs.get(indexKey(id));
      return doc ? [doc] : [];
    }
  }
  const test = compileFilter(filter);
  const compare = sortComparator(options.sort);
  if (!coll) return [];
  const stopAfter = compare ? Infinity : (options.stopAfter ?? Infinity);
  const out: Doc[] = [];
  for (const doc of coll.docs.values()) {
    if (!test(doc)) continue;
    out.push(doc);
    if (out.length >= stopAfter) break;
  }
  return compare ? out.sort(compare) : out;
}

export interface InsertOutcome {
  insertedIds: Record<number, unknown>;
  errors: { index: number; error: unknown }[];
}

export function insertDocs(
  tx: Tx,
  ns: Namespace,
  docs: unknown[],
  ordered: boolean,
): InsertOutcome {
  const outcome: InsertOutcome = { insertedIds: {}, errors: [] };
  if (!Array.isArray(docs) || docs.length === 0)
    throw new MongoError(
      'InvalidLength',
      'Write batch sizes must be between 1 and 100000. Got 0 operations.',
    );
  docs.forEach((raw, index) => {
    if (ordered && outcome.errors.length > 0) return;
    try {
      const doc = prepareInsert(raw, index);
      const coll = tx.state.ensureCollection(ns, tx);
      tx.commit(coll, [
        { operationType: 'insert', ns, id: indexKey(doc._id), before: undefined, after: doc },
      ]);
      outcome.insertedIds[index] = cloneValue(doc._id);
    } catch (error) {
      outcome.errors.push({ index, error });
    }
  });
  return outcome;
}

export interface UpdateSpec {
  ns: Namespace;
  filter: unknown;
  update: unknown;
  multi: boolean;
  /** replaceOne / findOneAndReplace: the update must be a replacement document. */
  replace: boolean;
  upsert?: boolean | undefined;
  arrayFilters?: unknown;
  sort?: unknown;
}

export interface UpdateOutcome {
  matchedCount: number;
  modifiedCount: number;
  upsertedId?: unknown;
  /** First target before and after (findOneAnd*). */
  before?: Doc | undefined;
  after?: Doc | undefined;
}

function replacementOf(before: Doc | undefined, replacement: Doc): Doc {
  const { _id, ...rest } = storedForm(replacement) as Doc;
  const id = before ? before._id : _id;
  const next: Doc = id === undefined ? { _id: new ObjectId(), ...rest } : { _id: id, ...rest };
  if (before && _id !== undefined) checkIdUnchanged(before, { _id }, true);
  return next;
}

export function updateDocs(tx: Tx, spec: UpdateSpec): UpdateOutcome {
  const kind = updateKind(spec.update);
  if (spec.replace && kind !== 'replacement')
    throw failedToParse(
      kind === 'pipeline'
        ? 'Replacement document must not be an array'
        : 'Replacement document must not contain update operators',
    );
  if (spec.multi && kind === 'replacement')
    throw failedToParse('multi update is not supported for replacement-style update');
  if (spec.arrayFilters !== undefined && kind !== 'operators' && spec.arrayFilters !== null)
    throw failedToParse('arrayFilters may not be specified for pipeline-style updates');
  const update = spec.update as Doc | Doc[];
  const now = new Date();
  const nextTimestamp = () => tx.state.clock.tick();
  const targets = matching(tx.state, spec.ns, spec.filter, {
    sort: spec.sort,
    stopAfter: spec.multi ? Infinity : 1,
  });
  const chosen = spec.multi ? targets : targets.slice(0, 1);
  const filter = isDocument(spec.filter) ? spec.filter : undefined;
  if (chosen.length === 0) {
    if (!spec.upsert) return { matchedCount: 0, modifiedCount: 0 };
    let doc: Doc;
    if (kind === 'replacement') {
      const seed = seedFromFilter(filter);
      const replacement = update as Doc;
      doc = replacementOf(
        undefined,
        '_id' in replacement || seed._id === undefined
          ? replacement
          : { _id: seed._id, ...replacement },
      );
    } else {
      doc = applyUpdate({
        doc: seedFromFilter(filter),
        update,
        arrayFilters: spec.arrayFilters,
        isInsert: true,
        now,
        nextTimestamp,
      });
    }
    doc = prepareInsert(doc);
    const coll = tx.state.ensureCollection(spec.ns, tx);
    tx.commit(coll, [
      {
        operationType: 'insert',
        ns: spec.ns,
        id: indexKey(doc._id),
        before: undefined,
        after: doc,
      },
    ]);
    return { matchedCount: 0, modifiedCount: 0, upsertedId: cloneValue(doc._id), after: doc };
  }
  const changes: Change[] = [];
  let first: { before: Doc; after: Doc } | undefined;
  for (const before of chosen) {
    let after: Doc;
    if (kind === 'replacement') {
      after = replacementOf(before, update as Doc);
    } else {
      const positional = positionalIndex(before, filter, update);
      after = applyUpdate({
        doc: before,
        update,
        arrayFilters: spec.arrayFilters,
        positional,
        now,
        nextTimestamp,
      });
      checkIdUnchanged(before, after, false);
    }
    first ??= { before, after };
    if (!sameValue(before, after))
      changes.push({
        operationType: kind === 'replacement' ? 'replace' : 'update',
        ns: spec.ns,
        id: indexKey(before._id),
        before,
        after,
      });
  }
  tx.commit(tx.state.collection(spec.ns)!, changes);
  return {
    matchedCount: chosen.length,
    modifiedCount: changes.length,
    before: first?.before,
    after: first?.after,
  };
}

export function deleteDocs(
  tx: Tx,
  ns: Namespace,
  filter: unknown,
  multi: boolean,
  sort?: unknown,
): { deletedCount: number; before?: Doc } {
  if (filter === undefined || filter === null)
    throw badValue('a delete needs a filter ({} deletes every document)');
  const targets = matching(tx.state, ns, filter, { sort, stopAfter: multi ? Infinity : 1 });
  const chosen = multi ? targets : targets.slice(0, 1);
  if (chosen.length === 0) return { deletedCount: 0 };
  tx.commit(
    tx.state.collection(ns)!,
    chosen.map((before) => ({
      operationType: 'delete',
      ns,
      id: indexKey(before._id),
      before,
      after: undefined,
    })),
  );
  return { deletedCount: chosen.length, before: chosen[0] };
}
