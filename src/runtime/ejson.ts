/** Host-side Extended JSON: what crosses into and out of the sandbox (SPEC section 2). */
import { EJSON } from 'bson';

/** Canonical EJSON text of the arguments array (ObjectId, Date, Decimal128, Long ... survive). */
export function encodeArgs(args: readonly unknown[]): string {
  return EJSON.stringify([...args], { relaxed: false });
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

/** Indented canonical EJSON with keys sorted, as `appservices function run` prints a result. */
export function formatCanonical(text: string, indent = 2): string {
  return JSON.stringify(sortKeys(parseCanonical(text)), null, indent);
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
