/** Host-side Extended JSON: what crosses into and out of the sandbox (SPEC section 2). */
import { Double, EJSON } from 'bson';

import { messageOf, TriggerboxError } from '../shared/errors.js';
import type { Transfer } from './protocol.js';

/**
 * The arguments as they cross into the sandbox: by copy when they hold only JSON types and
 * Dates (the sandbox then need not load bson), else as canonical EJSON text.
 */
export function encodeArgs(args: readonly unknown[]): Transfer {
  const text = EJSON.stringify(jsNumbersAsDoubles([...args]), { relaxed: false });
  const decoded = decodeResult(text);
  return isPlainTree(decoded) ? { mode: 'copy', value: decoded } : { mode: 'ejson', text };
}

/**
 * A JS number is a double: canonical EJSON would write an integer past Int32 as `$numberLong`,
 * and the function would get a `BSON.Long` for `--args 3000000000` (SPEC section 5).
 */
function jsNumbersAsDoubles(value: unknown): unknown {
  if (typeof value === 'number')
    return Number.isInteger(value) && Math.abs(value) > 2 ** 31 - 1 ? new Double(value) : value;
  if (Array.isArray(value)) return value.map(jsNumbersAsDoubles);
  if (value === null || typeof value !== 'object') return value;
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) out[key] = jsNumbersAsDoubles(inner);
  return out;
}

/** Canonical EJSON text of a value that crossed out of the sandbox. */
export function canonicalText(transfer: Transfer): string {
  if (transfer.mode === 'undefined') return '{"$undefined":true}';
  if (transfer.mode === 'ejson') return transfer.text;
  return EJSON.stringify(transfer.value, { relaxed: false });
}

/** The EJSON document a result crosses as: `undefined` is `{"$undefined": true}`. */
export function parseCanonical(text: string): unknown {
  return JSON.parse(text) as unknown;
}

/**
 * Decodes a canonical EJSON result into JS values: numbers become numbers (JS has no int/double
 * distinction), every other BSON type keeps its class (Long, Decimal128, ObjectId, Binary ...).
 */
export function decodeResult(text: string): unknown {
  if (text === '{"$undefined":true}') return undefined;
  return numbersToJs(EJSON.parse(text, { relaxed: false }));
}

function numbersToJs(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  const type = (value as { _bsontype?: string })._bsontype;
  if (type === 'Int32' || type === 'Double') return (value as { valueOf(): number }).valueOf();
  if (Array.isArray(value)) return value.map(numbersToJs);
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return value;
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) record[key] = numbersToJs(record[key]);
  return record;
}

export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const record = value as Record<string, unknown>;
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(record).sort()) sorted[key] = sortKeys(record[key]);
  return sorted;
}

/** True when a value holds only JSON types and Dates: it can cross into the sandbox by copy. */
export function isPlainTree(value: unknown): boolean {
  if (value === null || value === undefined) return true;
  const type = typeof value;
  if (type === 'string' || type === 'number' || type === 'boolean') return true;
  if (type !== 'object') return false;
  if (value instanceof Date) return true;
  if (Array.isArray(value)) return value.every(isPlainTree);
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return false;
  return Object.values(value as Record<string, unknown>).every(isPlainTree);
}

/**
 * Parses user-given Extended JSON (a CLI flag, a request body, an event file); a syntax error
 * is an InvalidInput error that names what was being read and how to fix it.
 */
export function parseUserEjson(text: string, what: string, hint: string): unknown {
  try {
    return decodeUserJson(text);
  } catch (error) {
    throw new TriggerboxError(
      'InvalidInput',
      `${what} is not (Extended) JSON: ${messageOf(error)}`,
      { hint },
    );
  }
}

/** A key that makes an object an Extended JSON wrapper ($oid, $date, $timestamp ...), not data. */
function isWrapper(value: object): boolean {
  return Object.keys(value).some((key) => key.startsWith('$'));
}

/**
 * Decodes user-given JSON or Extended JSON (a CLI argument, a request body, an event file). Plain
 * JSON numbers are JS numbers, as every JSON reader but canonical EJSON reads them: `3000000000`
 * reaches a function as a number, never a `BSON.Long` (SPEC section 5); explicit wrappers
 * (`{"$numberLong": "5"}`, `{"$date": ...}`, `{"$timestamp": {"t": 1, "i": 2}}`) keep their types.
 * Throws a SyntaxError for text that is not JSON, and a RangeError for a number out of a
 * double's range (`1e400`).
 */
export function decodeUserJson(text: string): unknown {
  const doubles = (value: unknown): unknown => {
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) throw new RangeError(`a number is out of range in ${text}`);
      return { $numberDouble: String(value) };
    }
    if (Array.isArray(value)) return value.map(doubles);
    if (value === null || typeof value !== 'object' || isWrapper(value)) return value;
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) out[key] = doubles(inner);
    return out;
  };
  return decodeResult(JSON.stringify(doubles(JSON.parse(text))));
}
