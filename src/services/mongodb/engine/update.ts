/**
 * Update documents with MongoDB semantics. Written here rather than taken from mingo's updater
 * because mingo silently skips what the server refuses ($inc on a string, $set through a
 * scalar), has no $setOnInsert, writes $currentDate timestamps as numbers and does arithmetic
 * on JS numbers only; here Long and Decimal128 keep their types ($inc on a Long gives a Long).
 * Every function works on a copy: the stored document is never touched until the engine commits.
 */
import { Long, Timestamp } from 'bson';
import {
  bsonTypeName,
  cloneValue,
  compareValues,
  isBsonNumber,
  isDocument,
  sameValue,
  shellForm,
  storedForm,
  valuesEqual,
  type Doc,
} from './bson-values.js';
import { MongoError, badValue, failedToParse } from './errors.js';
import { arithmetic } from './arithmetic.js';
import { compileFilter, pipelineUpdate, refuseScripts, sortComparator } from './query.js';
import {
  compileArrayFilters,
  existingParent,
  expandPath,
  filterIdentifiers,
  getIn,
  hasIn,
  parentFor,
  removeIn,
  setIn,
  splitPath,
} from './update-paths.js';

const OPERATORS = new Set([
  '$set',
  '$unset',
  '$inc',
  '$mul',
  '$min',
  '$max',
  '$rename',
  '$push',
  '$addToSet',
  '$pull',
  '$pullAll',
  '$pop',
  '$currentDate',
  '$setOnInsert',
  '$bit',
]);

export type UpdateKind = 'operators' | 'replacement' | 'pipeline';

/** Classifies an update document as the server parses it, failing as the server fails. */
export function updateKind(update: unknown): UpdateKind {
  if (Array.isArray(update)) {
    refuseScripts(update, 'an update pipeline');
    return 'pipeline';
  }
  if (!isDocument(update))
    throw failedToParse(`Update document must be an object, not ${bsonTypeName(update)}`);
  refuseScripts(update, 'an update');
  const keys = Object.keys(update);
  if (keys.length === 0 || !keys[0]!.startsWith('$')) {
    const dollar = keys.find((k) => k.startsWith('$'));
    if (dollar !== undefined)
      throw new MongoError(
        'DollarPrefixedFieldName',
        `The dollar ($) prefixed field '${dollar}' in '${dollar}' is not allowed in the context of an update's replacement document. Consider using an aggregation pipeline with $replaceWith.`,
      );
    return 'replacement';
  }
  for (const key of keys) {
    if (!OPERATORS.has(key))
      throw failedToParse(
        `Unknown modifier: ${key}. Expected a valid update modifier or pipeline-style update specified as an array`,
      );
    const arg = update[key];
    if (!isDocument(arg))
      throw failedToParse(
        `Modifiers operate on fields but we found type ${bsonTypeName(arg)} instead. For example: {$mod: {<field>: ...}} not {${key}: ${shellForm(arg)}}`,
      );
  }
  return 'operators';
}

interface Step {
  op: string;
  path: string;
  arg: unknown;
}

interface ApplyContext {
  doc: Doc;
  positional: number | undefined;
  filters: Map<string, (element: unknown) => boolean>;
  isInsert: boolean;
  now: Date;
  nextTimestamp: () => Timestamp;
}

function idOf(doc: Doc): string {
  return `{_id: ${shellForm(doc._id)}}`;
}

function applyPush(
  ctx: ApplyContext,
  parent: Doc | unknown[],
  key: string,
  path: string,
  arg: unknown,
  unique: boolean,
): void {
  const current = getIn(parent, key);
  if (current !== undefined && !Array.isArray(current))
    throw badValue(
      `The field '${path}' must be an array but is of type ${bsonTypeName(current)} in document ${idOf(ctx.doc)}`,
    );
  const array = (current as unknown[] | undefined) ?? [];
  let items: unknown[] = [arg];
  let position: number | undefined;
  let slice: number | undefined;
  let sort: unknown;
  if (isDocument(arg) && '$each' in arg) {
    if (!Array.isArray(arg.$each))
      throw badValue(
        `The argument to $each in ${unique ? '$addToSet' : '$push'} must be an array but it was of type: ${bsonTypeName(arg.$each)}`,
      );
    items = arg.$each;
    for (const modifier of Object.keys(arg)) {
      if (modifier === '$each') continue;
      if (unique || !['$slice', '$sort', '$position'].includes(modifier))
        throw badValue(`Unrecognized clause in ${unique ? '$addToSet' : '$push'}: ${modifier}`);
    }
    if ('$position' in arg) position = Number(arg.$position);
    if ('$slice' in arg) slice = Number(arg.$slice);
    if ('$sort' in arg) sort = arg.$sort;
  }
  items = items.map((v) => storedForm(v));
  if (unique) {
    for (const item of items) if (!array.some((v) => valuesEqual(v, item))) array.push(item);
  } else {
    const at =
      position === undefined
        ? array.length
        : position < 0
          ? Math.max(0, array.length + position)
          : Math.min(position, array.length);
    array.splice(at, 0, ...items);
    if (sort !== undefined) {
      const compare = isDocument(sort)
        ? sortComparator(sort)!
        : (a: unknown, b: unknown) =>
            Number(sort) === -1 ? -compareValues(a, b) : compareValues(a, b);
      array.sort(compare as (a: unknown, b: unknown) => number);
    }
    if (slice !== undefined) {
      const kept =
        slice >= 0 ? array.slice(0, slice) : array.slice(Math.max(0, array.length + slice));
      array.length = 0;
      array.push(...kept);
    }
  }
  setIn(parent, key, array);
}

function pullMatcher(condition: unknown): (element: unknown) => boolean {
  if (isDocument(condition)) {
    const keys = Object.keys(condition);
    if (
      keys.length > 0 &&
      keys.every((k) => k.startsWith('$') && k !== '$and' && k !== '$or' && k !== '$nor')
    ) {
      const test = compileFilter({ v: condition });
      return (element) => test({ v: element });
    }
    const test = compileFilter(condition);
    return (element) => isDocument(element) && test(element);
  }
  return (element) => valuesEqual(element, condition);
}

function applyStep(ctx: ApplyContext, step: Step, concrete: string[]): void {
  const { op, arg, path } = step;
  const needsCreate = !['$unset', '$pop', '$pull', '$pullAll', '$rename'].includes(op);
  const located = needsCreate ? parentFor(ctx.doc, concrete) : existingParent(ctx.doc, concrete);
  if (!located) return;
  const { parent, key } = located;
  const current = getIn(parent, key);
  const exists = hasIn(parent, key);
  switch (op) {
    case '$set':
      setIn(parent, key, storedForm(arg));
      return;
    case '$setOnInsert':
      if (ctx.isInsert) setIn(parent, key, storedForm(arg));
      return;
    case '$unset':
      if (exists) removeIn(parent, key);
      return;
    case '$inc':
    case '$mul': {
      if (!isBsonNumber(arg))
        throw badValue(
          `Cannot ${op === '$inc' ? 'increment' : 'multiply'} with non-numeric argument: {${path}: ${shellForm(arg)}}`,
        );
      if (!exists || current === undefined) {
        setIn(parent, key, op === '$inc' ? storedForm(arg) : arithmetic('mul', storedForm(arg), 0));
        return;
      }
      if (!isBsonNumber(current))
        throw new MongoError(
          'TypeMismatch',
          `Cannot apply ${op} to a value of non-numeric type. ${idOf(ctx.doc)} has the field '${key}' of non-numeric type ${bsonTypeName(current)}`,
        );
      setIn(parent, key, arithmetic(op === '$inc' ? 'add' : 'mul', current, storedForm(arg)));
      return;
    }
    case '$min':
    case '$max': {
      const order = exists ? compareValues(arg, current) : 0;
      if (!exists || (op === '$min' ? order < 0 : order > 0)) setIn(parent, key, storedForm(arg));
      return;
    }
    case '$currentDate': {
      const type = isDocument(arg) ? arg.$type : arg === true ? 'date' : undefined;
      if (type !== 'date' && type !== 'timestamp')
        throw badValue(
          `${shellForm(arg)} is not valid type for $currentDate. Please use a boolean ('true') or a $type expression ({$type: 'timestamp/date'}).`,
        );
      setIn(parent, key, type === 'date' ? new Date(ctx.now.getTime()) : ctx.nextTimestamp());
      return;
    }
    case '$push':
    case '$addToSet':
      applyPush(ctx, parent, key, path, arg, op === '$addToSet');
      return;
    case '$pop':
    case '$pull':
    case '$pullAll': {
      if (!exists) return;
      if (!Array.isArray(current))
        throw badValue(
          op === '$pop'
            ? `Path '${path}' contains an element of non-array type '${bsonTypeName(current)}'`
            : `Cannot apply ${op} to a non-array value`,
        );
      if (op === '$pop') {
        if (arg !== 1 && arg !== -1)
          throw failedToParse(`$pop expects 1 or -1, found: ${shellForm(arg)}`);
        if (arg === 1) current.pop();
        else current.shift();
        return;
      }
      if (op === '$pullAll' && !Array.isArray(arg))
        throw badValue(`$pullAll requires an array argument but was given a ${bsonTypeName(arg)}`);
      const remove =
        op === '$pull'
          ? pullMatcher(arg)
          : (e: unknown) => (arg as unknown[]).some((v) => valuesEqual(v, e));
      setIn(
        parent,
        key,
        current.filter((e) => !remove(e)),
      );
      return;
    }
    case '$bit': {
      if (!isDocument(arg))
        throw badValue(`The $bit modifier is not compatible with a ${bsonTypeName(arg)}.`);
      let value = exists ? current : 0;
      if (typeof value !== 'number' && !(value instanceof Long))
        throw badValue(
          `Cannot apply $bit to a value of non-integral type.${idOf(ctx.doc)} has the field ${key} of non-integer type ${bsonTypeName(value)}`,
        );
      for (const [how, operand] of Object.entries(arg)) {
        const x = value instanceof Long ? value : Long.fromNumber(value as number);
        const y = operand instanceof Long ? operand : Long.fromNumber(Number(operand));
        const r =
          how === 'and' ? x.and(y) : how === 'or' ? x.or(y) : how === 'xor' ? x.xor(y) : undefined;
        if (!r)
          throw badValue(`The $bit modifier only supports 'and', 'or', and 'xor', not '${how}'`);
        value = value instanceof Long || operand instanceof Long ? r : r.toInt();
      }
      setIn(parent, key, value);
      return;
    }
  }
}

export interface ApplyUpdateRequest {
  /** The stored document; it is not modified. */
  doc: Doc;
  update: Doc | Doc[];
  arrayFilters?: unknown;
  /** The index the query matched in the array of a positional `$` path. */
  positional?: number | undefined;
  /** True when the update builds an upserted document ($setOnInsert applies). */
  isInsert?: boolean;
  now: Date;
  nextTimestamp: () => Timestamp;
}

function conflicts(steps: Step[]): void {
  const seen: { path: string; parts: string[] }[] = [];
  for (const step of steps) {
    const parts = step.path.split('.');
    for (const other of seen) {
      const n = Math.min(parts.length, other.parts.length);
      if (parts.slice(0, n).join('.') === other.parts.slice(0, n).join('.'))
        throw new MongoError(
          'ConflictingUpdateOperators',
          `Updating the path '${step.path}' would create a conflict at '${parts.slice(0, n).join('.')}'`,
        );
    }
    seen.push({ path: step.path, parts });
  }
}

/** The document after an operator or pipeline update; throws the server's error otherwise. */
export function applyUpdate(request: ApplyUpdateRequest): Doc {
  const { update } = request;
  if (Array.isArray(update)) {
    const out = pipelineUpdate(cloneValue(request.doc), update);
    return storedForm(out) as Doc;
  }
  const doc = cloneValue(request.doc);
  const filters = compileArrayFilters(request.arrayFilters);
  const steps: Step[] = [];
  for (const [op, fields] of Object.entries(update)) {
    for (const [path, arg] of Object.entries(fields as Doc)) {
      splitPath(path);
      if (op === '$rename') {
        if (typeof arg !== 'string')
          throw badValue(`The 'to' field for $rename must be a string: ${path}: ${shellForm(arg)}`);
        if (arg === path)
          throw badValue(`The source and target field for $rename must differ: ${path}: "${arg}"`);
        if (/\$/.test(path) || /\$/.test(arg))
          throw badValue('The source field for $rename may not be dynamic');
        steps.push({ op, path, arg }, { op: '$renameTarget', path: arg, arg: path });
      } else {
        steps.push({ op, path, arg });
      }
    }
  }
  conflicts(steps);
  const used = new Set(steps.flatMap((s) => filterIdentifiers(s.path)));
  for (const id of filters.keys())
    if (!used.has(id))
      throw failedToParse(
        `The array filter for identifier '${id}' was not used in the update ${shellForm(update)}`,
      );
  // The server applies field updates in field-name order, so new fields appear sorted.
  steps.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const ctx: ApplyContext = {
    doc,
    positional: request.positional,
    filters,
    isInsert: request.isInsert === true,
    now: request.now,
    nextTimestamp: request.nextTimestamp,
  };
  for (const step of steps) {
    if (step.op === '$rename') continue;
    // A rename lands at its target's place in field-name order, like any new field.
    if (step.op === '$renameTarget') {
      renameField(doc, splitPath(step.arg as string), splitPath(step.path));
      continue;
    }
    const expanded = expandPath(doc, splitPath(step.path), {
      positional: request.positional,
      filters,
      path: step.path,
    });
    for (const concrete of expanded) applyStep(ctx, step, concrete);
  }
  return doc;
}

function renameField(doc: Doc, from: string[], to: string[]): void {
  const source = existingParent(doc, from);
  if (!source || !hasIn(source.parent, source.key)) return;
  if (Array.isArray(source.parent)) throw badValue('The source field cannot be an array element');
  const value = getIn(source.parent, source.key);
  delete source.parent[source.key];
  const target = parentFor(doc, to);
  if (Array.isArray(target.parent))
    throw badValue('The destination field cannot be an array element');
  target.parent[target.key] = value;
}

/** Throws the server's immutable-field error when an update changed _id. */
export function checkIdUnchanged(before: Doc, after: Doc, replacement: boolean): void {
  if (sameValue(before._id, after._id)) return;
  if (replacement)
    throw new MongoError(
      'ImmutableField',
      `After applying the update, the (immutable) field '_id' was found to have been altered to _id: ${shellForm(after._id)}`,
    );
  throw new MongoError(
    'ImmutableField',
    "Performing an update on the path '_id' would modify the immutable field '_id'",
  );
}
