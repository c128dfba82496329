/**
 * What a generated event needs so that a trigger's own `match` passes: values for the
 * `fullDocument.*`, `fullDocumentBeforeChange.*` and `updateDescription.updatedFields.*` paths it
 * tests, the operation types and collection it allows. Candidate values come from the
 * conditions' own operands ($eq, $in, the bounds of $gt/$gte/$lt/$lte, $exists ...) and each
 * is checked by the query engine itself, so a value is only used when the engine agrees it
 * passes; what cannot be met this way is listed, never guessed.
 */
import { Decimal128, EJSON, Long } from 'bson';
import { compileFilter } from '../services/mongodb/engine/query.js';
import { isBsonNumber, isDocument, toJsNumber } from '../services/mongodb/engine/bson-values.js';

type Doc = Record<string, unknown>;

export interface MatchPlan {
  /** Lower-case operation types the match allows (undefined: it does not test operationType). */
  operations: string[] | undefined;
  /** Dotted paths -> values (undefined: must be absent), per part of the event. */
  fullDocument: Map<string, unknown>;
  fullDocumentBeforeChange: Map<string, unknown>;
  updatedFields: Map<string, unknown>;
  /** A whole fullDocument given by equality. */
  wholeDocument: Doc | undefined;
  coll: string | undefined;
  /** The clauses no value could be built for, as JSON, with why. */
  unmet: string[];
}

const ABSENT = Symbol('absent');

function asWritten(value: unknown): unknown {
  if (value instanceof RegExp)
    return value.flags === ''
      ? { $regex: value.source }
      : { $regex: value.source, $options: value.flags };
  if (Array.isArray(value)) return value.map(asWritten);
  if (!isDocument(value)) return value;
  const out: Doc = {};
  for (const [key, item] of Object.entries(value)) out[key] = asWritten(item);
  return out;
}

/** A condition as a trigger file writes it (relaxed Extended JSON, one line; regexes as $regex). */
export function describeCondition(condition: unknown): string {
  return EJSON.stringify(asWritten(condition) as never, { relaxed: true });
}

/** Conditions per event path, from the top-level fields and $and (first workable $or branch). */
function collect(
  clause: Doc,
  conditions: Map<string, unknown[]>,
  unmet: string[],
  operations: { list: string[] | undefined },
): void {
  for (const [key, condition] of Object.entries(clause)) {
    if (key === '$comment') continue;
    if (key === '$and' && Array.isArray(condition)) {
      for (const part of condition)
        if (isDocument(part)) collect(part, conditions, unmet, operations);
      continue;
    }
    if (key === '$or' && Array.isArray(condition)) {
      // The first branch whose conditions can all be met.
      const branch = condition.find((part) => {
        if (!isDocument(part)) return false;
        const trial = new Map<string, unknown[]>();
        const trialUnmet: string[] = [];
        collect(part, trial, trialUnmet, { list: undefined });
        return trialUnmet.length === 0 && [...trial].every(([, c]) => solve(c) !== undefined);
      });
      if (isDocument(branch)) collect(branch, conditions, unmet, operations);
      else unmet.push(`${describeCondition({ $or: condition })}: no branch can be built`);
      continue;
    }
    if (key.startsWith('$')) {
      unmet.push(`${describeCondition({ [key]: condition })}: ${key} is not built from`);
      continue;
    }
    if (key === 'operationType') {
      const allowed = ['insert', 'update', 'replace', 'delete'].filter((op) =>
        compileFilter({ v: condition })({ v: op }),
      );
      operations.list = (operations.list ?? allowed).filter((op) => allowed.includes(op));
      continue;
    }
    const list = conditions.get(key) ?? [];
    list.push(condition);
    conditions.set(key, list);
  }
}

function bounds(condition: unknown): unknown[] {
  if (!isDocument(condition)) return [];
  const out: unknown[] = [];
  for (const [op, operand] of Object.entries(condition)) {
    if (op === '$eq') out.push(operand);
    if (op === '$in' && Array.isArray(operand)) out.push(...operand);
    if (op === '$exists' && operand === false) out.push(ABSENT);
    if (op === '$exists' && operand !== false) out.push('example', 1);
    if (op === '$ne' || op === '$nin') out.push('example', 1, true);
    if (['$gt', '$gte', '$lt', '$lte'].includes(op)) {
      if (operand instanceof Date) {
        const t = operand.getTime();
        out.push(operand, new Date(t + 1), new Date(t - 1));
      } else if (isBsonNumber(operand)) {
        const n = toJsNumber(operand);
        out.push(n, n + 1, n - 1, n + 0.5, n - 0.5);
        if (operand instanceof Decimal128 || operand instanceof Long) out.push(operand);
      } else if (typeof operand === 'string') {
        out.push(operand, `${operand}~`, operand.slice(0, -1));
      }
    }
    if (op === '$type') {
      const types = Array.isArray(operand) ? operand : [operand];
      for (const type of types) {
        if (type === 'string' || type === 2) out.push('example');
        if (['number', 'int', 'double', 'long', 'decimal', 1, 16, 18, 19].includes(type as never))
          out.push(1, 1.5, Long.fromNumber(1), Decimal128.fromString('1'));
        if (type === 'bool' || type === 8) out.push(true);
        if (type === 'date' || type === 9) out.push(new Date(0));
        if (type === 'object' || type === 3) out.push({});
        if (type === 'array' || type === 4) out.push([]);
        if (type === 'null' || type === 10) out.push(null);
      }
    }
  }
  return out;
}

const isOperatorObject = (value: unknown): boolean =>
  isDocument(value) &&
  Object.keys(value).length > 0 &&
  Object.keys(value).every((k) => k.startsWith('$'));

/** A value meeting every condition on one path (ABSENT: the field must be missing), or undefined. */
function solve(conditions: unknown[]): unknown {
  const candidates: unknown[] = [];
  for (const condition of conditions) {
    if (!isOperatorObject(condition)) candidates.push(condition);
    else candidates.push(...bounds(condition));
  }
  // Midpoints between numeric bounds ({$gt: 1, $lt: 2} needs 1.5).
  const numbers = candidates.filter((c): c is number => typeof c === 'number');
  for (const a of numbers) for (const b of numbers) if (a < b) candidates.push((a + b) / 2);
  for (const candidate of candidates) {
    const doc = candidate === ABSENT ? {} : { v: candidate };
    if (conditions.every((condition) => compileFilter({ v: condition })(doc))) return candidate;
  }
  return undefined;
}

const PARTS = [
  ['fullDocumentBeforeChange.', 'fullDocumentBeforeChange'],
  ['fullDocument.', 'fullDocument'],
  ['updateDescription.updatedFields.', 'updatedFields'],
] as const;

/** `match` decoded from Extended JSON (BSON values, as the filters evaluate it). */
export function planForMatch(match: Doc | undefined): MatchPlan {
  const plan: MatchPlan = {
    operations: undefined,
    fullDocument: new Map(),
    fullDocumentBeforeChange: new Map(),
    updatedFields: new Map(),
    wholeDocument: undefined,
    coll: undefined,
    unmet: [],
  };
  if (match === undefined) return plan;
  const conditions = new Map<string, unknown[]>();
  const operations = { list: undefined as string[] | undefined };
  collect(match, conditions, plan.unmet, operations);
  plan.operations = operations.list;
  if (plan.operations?.length === 0) plan.unmet.push('operationType: no operation type passes');
  for (const [path, pathConditions] of conditions) {
    const value = solve(pathConditions);
    const shown = describeCondition(
      pathConditions.length === 1
        ? { [path]: pathConditions[0] }
        : { $and: pathConditions.map((c) => ({ [path]: c })) },
    );
    if (value === undefined) {
      plan.unmet.push(`${shown}: no value found that meets it`);
      continue;
    }
    const stored = value === ABSENT ? undefined : value;
    if (path === 'fullDocument' && isDocument(stored)) {
      plan.wholeDocument = stored;
      continue;
    }
    if (path === 'ns.coll' && typeof stored === 'string') {
      plan.coll = stored;
      continue;
    }
    const part = PARTS.find(([prefix]) => path.startsWith(prefix));
    if (part === undefined) {
      plan.unmet.push(
        `${shown}: only fullDocument, fullDocumentBeforeChange, updateDescription.updatedFields, operationType and ns.coll are built`,
      );
      continue;
    }
    plan[part[1]].set(path.slice(part[0].length), stored);
  }
  return plan;
}

/** Sets (or, for undefined, deletes) a dotted path in a document, creating objects on the way. */
export function setPath(doc: Doc, path: string, value: unknown): void {
  const keys = path.split('.');
  let target = doc;
  for (const key of keys.slice(0, -1)) {
    const next = target[key];
    if (!isDocument(next)) target[key] = {};
    target = target[key] as Doc;
  }
  const last = keys[keys.length - 1]!;
  if (value === undefined) delete target[last];
  else target[last] = value;
}

/**
 * The parts of a match an event fails, smallest first: each top-level field condition (and each
 * $and element) on its own; the whole match when every part passes alone.
 */
export function failingClause(match: Doc, event: Doc): Doc | undefined {
  if (compileFilter(match)(event)) return undefined;
  const parts: Doc[] = [];
  const split = (clause: Doc): void => {
    for (const [key, condition] of Object.entries(clause)) {
      if (key === '$and' && Array.isArray(condition))
        for (const part of condition) {
          if (isDocument(part)) split(part);
        }
      else parts.push({ [key]: condition });
    }
  };
  split(match);
  return parts.find((part) => !compileFilter(part)(event)) ?? match;
}
