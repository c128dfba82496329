/**
 * BSON values as the server orders and compares them. mingo compares Long, Decimal128 and
 * friends by their toString() (so Long(10) < Long(9)) and puts every non-JS type after all
 * others; MongoDB compares numbers by value across Int32/Long/Double/Decimal128 and orders
 * types in brackets. Everything here works on the stored values themselves, never on copies
 * with numbers converted, so no type is lost.
 */
import { Binary, Decimal128, Double, Int32, Long, ObjectId, Timestamp } from 'bson';

export type Doc = Record<string, unknown>;

/** A plain document (an object that is not a BSON value, a Date, a RegExp or an array). */
export function isDocument(value: unknown): value is Doc {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function bsonTypeTag(value: object): string | undefined {
  const tag = (value as { _bsontype?: unknown })._bsontype;
  return typeof tag === 'string' ? tag : undefined;
}

export function isBsonNumber(value: unknown): value is number | Long | Decimal128 | Int32 | Double {
  if (typeof value === 'number') return true;
  if (value === null || typeof value !== 'object') return false;
  const tag = bsonTypeTag(value);
  return tag === 'Long' || tag === 'Decimal128' || tag === 'Int32' || tag === 'Double';
}

/** The server's BSON type alias of a value, as `$type` names it. */
export function bsonTypeName(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  switch (typeof value) {
    case 'number':
      return Number.isInteger(value) &&
        value >= -(2 ** 31) &&
        value < 2 ** 31 &&
        !Object.is(value, -0)
        ? 'int'
        : 'double';
    case 'string':
      return 'string';
    case 'boolean':
      return 'bool';
    case 'bigint':
      return 'long';
    case 'function':
      return 'javascript';
  }
  if (Array.isArray(value)) return 'array';
  if (value instanceof Date) return 'date';
  if (value instanceof RegExp) return 'regex';
  if (value instanceof Uint8Array) return 'binData';
  switch (bsonTypeTag(value as object)) {
    case 'ObjectId':
      return 'objectId';
    case 'Long':
      return 'long';
    case 'Int32':
      return 'int';
    case 'Double':
      return 'double';
    case 'Decimal128':
      return 'decimal';
    case 'Binary':
      return 'binData';
    case 'Timestamp':
      return 'timestamp';
    case 'BSONRegExp':
      return 'regex';
    case 'MinKey':
      return 'minKey';
    case 'MaxKey':
      return 'maxKey';
    case 'Code':
      return 'javascript';
    case 'BSONSymbol':
      return 'symbol';
  }
  return 'object';
}

/** Canonical type order of the server's sort (numbers share one bracket, string and symbol too). */
const TYPE_ORDER: Record<string, number> = {
  minKey: 1,
  undefined: 2,
  null: 2,
  int: 3,
  long: 3,
  double: 3,
  decimal: 3,
  string: 4,
  symbol: 4,
  object: 5,
  array: 6,
  binData: 7,
  objectId: 8,
  bool: 9,
  date: 10,
  timestamp: 11,
  regex: 12,
  javascript: 13,
  maxKey: 14,
};

export function typeBracket(value: unknown): number {
  return TYPE_ORDER[bsonTypeName(value)] ?? 15;
}

/** A number as an exact decimal: coefficient and power of ten; NaN and infinities apart. */
interface Decimal {
  special?: 'nan' | 'inf' | '-inf';
  coef: bigint;
  exp: number;
}

function parseDecimal(text: string): Decimal {
  const t = text.trim();
  if (/^[+-]?nan$/i.test(t)) return { special: 'nan', coef: 0n, exp: 0 };
  if (/^\+?inf(inity)?$/i.test(t)) return { special: 'inf', coef: 0n, exp: 0 };
  if (/^-inf(inity)?$/i.test(t)) return { special: '-inf', coef: 0n, exp: 0 };
  const match = /^([+-]?)(\d*)(?:\.(\d*))?(?:e([+-]?\d+))?$/i.exec(t);
  if (!match) return { special: 'nan', coef: 0n, exp: 0 };
  const [, sign, int = '', frac = '', exp = '0'] = match;
  let coef = BigInt((int + frac).replace(/^0+(?=\d)/, '') || '0');
  let e = Number(exp) - frac.length;
  if (coef === 0n) return { coef: 0n, exp: 0 };
  while (coef % 10n === 0n) {
    coef /= 10n;
    e += 1;
  }
  return { coef: sign === '-' ? -coef : coef, exp: e };
}

export function toDecimal(value: unknown): Decimal {
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return { special: 'nan', coef: 0n, exp: 0 };
    if (!Number.isFinite(value)) return { special: value > 0 ? 'inf' : '-inf', coef: 0n, exp: 0 };
    return parseDecimal(String(value));
  }
  if (value instanceof Long) return parseDecimal(value.toString());
  if (value instanceof Decimal128) return parseDecimal(value.toString());
  if (value instanceof Int32 || value instanceof Double) return toDecimal(value.valueOf());
  if (typeof value === 'bigint') return parseDecimal(value.toString());
  return { special: 'nan', coef: 0n, exp: 0 };
}

function compareDecimals(a: Decimal, b: Decimal): number {
  const rank = (d: Decimal) =>
    d.special === 'nan' ? 0 : d.special === '-inf' ? 1 : d.special === 'inf' ? 3 : 2;
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== 2 || rb !== 2) return Math.sign(ra - rb);
  const common = Math.min(a.exp, b.exp);
  const ca = a.coef * 10n ** BigInt(a.exp - common);
  const cb = b.coef * 10n ** BigInt(b.exp - common);
  return ca < cb ? -1 : ca > cb ? 1 : 0;
}

export function compareNumbers(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') {
    if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) ? (Number.isNaN(b) ? 0 : -1) : 1;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  return compareDecimals(toDecimal(a), toDecimal(b));
}

/** A JS number for arithmetic where precision loss is acceptable ($mod, the numeric views). */
export function toJsNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (value instanceof Long) return value.toNumber();
  if (value instanceof Decimal128) return Number.parseFloat(value.toString());
  if (value instanceof Int32 || value instanceof Double) return value.valueOf();
  return Number.NaN;
}

function bytesOf(value: unknown): Uint8Array {
  if (value instanceof Binary) return value.buffer.subarray(0, value.position);
  return value as Uint8Array;
}

/** The server's total order of BSON values (sort, $min/$max, $gt on arrays of documents). */
export function compareValues(a: unknown, b: unknown): number {
  const ta = typeBracket(a);
  const tb = typeBracket(b);
  if (ta !== tb) return ta < tb ? -1 : 1;
  switch (ta) {
    case 2:
    case 1:
    case 14:
      return 0;
    case 3:
      return compareNumbers(a, b);
    case 4: {
      const sa = String(a);
      const sb = String(b);
      return sa < sb ? -1 : sa > sb ? 1 : 0;
    }
    case 5:
      return compareDocuments(a as Doc, b as Doc);
    case 6: {
      const xa = a as unknown[];
      const xb = b as unknown[];
      for (let i = 0; i < Math.min(xa.length, xb.length); i++) {
        const c = compareValues(xa[i], xb[i]);
        if (c !== 0) return c;
      }
      return Math.sign(xa.length - xb.length);
    }
    case 7: {
      const ba = bytesOf(a);
      const bb = bytesOf(b);
      if (ba.length !== bb.length) return ba.length < bb.length ? -1 : 1;
      const sa = a instanceof Binary ? a.sub_type : 0;
      const sb = b instanceof Binary ? b.sub_type : 0;
      if (sa !== sb) return sa < sb ? -1 : 1;
      return Buffer.compare(ba, bb);
    }
    case 8:
      return Buffer.compare((a as ObjectId).id, (b as ObjectId).id);
    case 9:
      return a === b ? 0 : a ? 1 : -1;
    case 10:
      return Math.sign((a as Date).getTime() - (b as Date).getTime());
    case 11: {
      const la = a as Timestamp;
      const lb = b as Timestamp;
      return la.t !== lb.t ? (la.t < lb.t ? -1 : 1) : Math.sign(la.i - lb.i);
    }
    default: {
      const sa = String(a);
      const sb = String(b);
      return sa < sb ? -1 : sa > sb ? 1 : 0;
    }
  }
}

function compareDocuments(a: Doc, b: Doc): number {
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  for (let i = 0; i < Math.min(ka.length, kb.length); i++) {
    const va = a[ka[i]!];
    const vb = b[kb[i]!];
    const byType = typeBracket(va) - typeBracket(vb);
    if (byType !== 0) return Math.sign(byType);
    if (ka[i] !== kb[i]) return ka[i]! < kb[i]! ? -1 : 1;
    const c = compareValues(va, vb);
    if (c !== 0) return c;
  }
  return Math.sign(ka.length - kb.length);
}

/** Equality as queries see it: numbers by value across types, documents field by field in order. */
export function valuesEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if ((a === null || a === undefined) && (b === null || b === undefined)) return true;
  if (typeBracket(a) !== typeBracket(b)) return false;
  if (a instanceof RegExp || b instanceof RegExp)
    return (
      a instanceof RegExp && b instanceof RegExp && a.source === b.source && a.flags === b.flags
    );
  return compareValues(a, b) === 0;
}

/** Equality that also tells types apart (Long(1) is not 1): what makes an update a change. */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (bsonTypeName(a) !== bsonTypeName(b)) return false;
  if (Array.isArray(a)) {
    const xb = b as unknown[];
    return a.length === xb.length && a.every((v, i) => sameValue(v, xb[i]));
  }
  if (isDocument(a)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b as Doc);
    return (
      ka.length === kb.length && ka.every((k, i) => k === kb[i] && sameValue(a[k], (b as Doc)[k]))
    );
  }
  return valuesEqual(a, b);
}

/** A deep copy that keeps BSON types; immutable BSON values are shared, mutable ones copied. */
export function cloneValue<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(cloneValue) as T;
  if (value instanceof Date) return new Date(value.getTime()) as T;
  if (value instanceof RegExp) return new RegExp(value.source, value.flags) as T;
  if (value instanceof Binary) return new Binary(Buffer.from(bytesOf(value)), value.sub_type) as T;
  if (isDocument(value)) {
    const out: Doc = {};
    for (const key of Object.keys(value)) out[key] = cloneValue(value[key]);
    return out as T;
  }
  return value;
}

/**
 * The value as it will be stored and read back: Int32/Double wrappers become JS numbers and
 * undefined is dropped from documents (null in arrays), as a BSON round trip does, so what a
 * caller reads right after a write equals what it reads after a restart.
 */
export function storedForm(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : storedForm(v)));
  if (value instanceof Int32 || value instanceof Double) return value.valueOf();
  if (isDocument(value)) {
    const out: Doc = {};
    for (const key of Object.keys(value)) {
      const v = value[key];
      if (v !== undefined && typeof v !== 'function') out[key] = storedForm(v);
    }
    return out;
  }
  return cloneValue(value);
}

/** A string that is equal for values the _id index treats as equal (1, Long(1), 1.0 ...). */
export function indexKey(value: unknown): string {
  if (value === undefined || value === null) return 'z';
  if (typeof value === 'string') return `s${value}`;
  if (isBsonNumber(value)) {
    const d = toDecimal(value);
    return d.special ? `n${d.special}` : `n${d.coef}e${d.exp}`;
  }
  if (value instanceof ObjectId) return `o${value.toHexString()}`;
  if (value instanceof Date) return `d${value.getTime()}`;
  if (typeof value === 'boolean') return value ? 'bt' : 'bf';
  if (Array.isArray(value)) return `a[${value.map(indexKey).join(',')}]`;
  if (isDocument(value))
    return `{${Object.keys(value)
      .map((k) => `${JSON.stringify(k)}:${indexKey(value[k])}`)
      .join(',')}}`;
  if (value instanceof Binary || value instanceof Uint8Array)
    return `x${Buffer.from(bytesOf(value)).toString('hex')}`;
  return `${bsonTypeName(value)}:${String(value)}`;
}

/** The value as mongosh prints it, for error messages ("dup key: { _id: ObjectId('...') }"). */
export function shellForm(value: unknown): string {
  if (value === undefined || value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value instanceof ObjectId) return `ObjectId('${value.toHexString()}')`;
  if (value instanceof Date) return `new Date(${value.getTime()})`;
  if (value instanceof Long) return value.toString();
  if (value instanceof Decimal128) return `Decimal128("${value.toString()}")`;
  if (Array.isArray(value)) return `[ ${value.map(shellForm).join(', ')} ]`;
  if (isDocument(value)) {
    const keys = Object.keys(value);
    return keys.length === 0
      ? '{}'
      : `{ ${keys.map((k) => `${k}: ${shellForm(value[k])}`).join(', ')} }`;
  }
  return String(value);
}

/** A copy with every number-like BSON value as a JS number: what mingo's expressions compute on. */
export function numericView(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(numericView);
  if (value instanceof Date) return new Date(value.getTime());
  if (isBsonNumber(value)) return toJsNumber(value);
  if (isDocument(value)) {
    const out: Doc = {};
    for (const key of Object.keys(value)) out[key] = numericView(value[key]);
    return out;
  }
  return value;
}

/** Whether a value holds Long/Decimal128 anywhere (only those need type restoring after mingo). */
export function hasWideNumbers(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return value.some(hasWideNumbers);
  if (isDocument(value)) return Object.values(value).some(hasWideNumbers);
  return value instanceof Long || value instanceof Decimal128;
}
