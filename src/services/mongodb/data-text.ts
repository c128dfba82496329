/**
 * Documents as text, for the `db` commands and seeds: namespaces (`db.coll`), document files
 * (a JSON/EJSON array, or mongoexport's one document per line), Extended JSON arguments
 * (`--filter`), and documents written back out (canonical lines, or indented for reading).
 * Every refusal names the source, line and column, and comes before anything is written.
 */
import { Double, EJSON, Long } from 'bson';
import { lineColumnAt } from '../../app/json-file.js';
import { locateJsonError } from '../../app/json-locate.js';
import { TriggerboxError } from '../../shared/errors.js';
import { isDocument, storedForm, type Doc } from './engine/bson-values.js';
import { checkNamespace } from './engine/engine-state.js';
import type { Namespace } from './engine/types.js';

/** `shop.orders` -> {db: 'shop', coll: 'orders'}; the collection may hold dots (`a.b.c`). */
export function parseNamespace(text: string): Namespace {
  const dot = text.indexOf('.');
  const ns = { db: text.slice(0, Math.max(dot, 0)), coll: dot < 0 ? '' : text.slice(dot + 1) };
  const invalid = (why: string): TriggerboxError =>
    new TriggerboxError('DbNamespaceInvalid', `invalid namespace '${text}': ${why}`, {
      hint: 'write <database>.<collection>, for example --ns shop.orders',
    });
  if (dot <= 0 || ns.coll === '') throw invalid('it is not <database>.<collection>');
  try {
    checkNamespace(ns);
  } catch {
    throw invalid(
      ns.coll.startsWith('system.')
        ? 'system collections are the server’s own'
        : 'a database name cannot hold / \\ . space " $ and is at most 63 characters; a collection name cannot hold $',
    );
  }
  return ns;
}

/** A document read from a file, with the line it starts on (for messages). */
export interface ParsedDocument {
  doc: Doc;
  line: number;
}

function malformed(where: string, message: string, hint: string): TriggerboxError {
  return new TriggerboxError('DbInputMalformed', `${where}: ${message}`, { hint });
}

const FORMATS_HINT =
  'a document file is a JSON array of documents, or one document per line (as mongoexport writes); values may be Extended JSON ({"$oid": ...}, {"$date": ...})';

function jsonReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\s*in JSON at position \d+.*$/s, '').replace(/, ".*$/s, '');
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  const bsonType = (value as { _bsontype?: unknown } | undefined)?._bsontype;
  const name =
    typeof bsonType === 'string' ? bsonType : value instanceof Date ? 'Date' : typeof value;
  return `${/^[aeiouAEIOU]/.test(name) ? 'an' : 'a'} ${name}`;
}

/** A parsed JSON value as a document with BSON values, or why not. */
function toDocument(value: unknown, where: string, what: string): Doc {
  if (!isDocument(value))
    throw malformed(
      where,
      `${what} is ${kindOf(value)}, not a document`,
      'each document is a JSON object {...}',
    );
  let decoded: unknown;
  try {
    // Canonical: {"$numberLong": "5"} stays a Long, as it would through mongoimport.
    decoded = EJSON.deserialize(value, { relaxed: false });
  } catch (error) {
    throw malformed(
      where,
      `invalid Extended JSON: ${(error as Error).message}`,
      'fix the $-keyed value (https://www.mongodb.com/docs/manual/reference/mongodb-extended-json/)',
    );
  }
  if (!isDocument(decoded))
    throw malformed(
      where,
      `${what} is ${kindOf(decoded)} in Extended JSON, not a document`,
      'wrap the value in a document: {"field": ...}',
    );
  return storedForm(decoded) as Doc;
}

/** Offsets where each element of the JSON array opening at `open` starts (the text is valid). */
function elementStarts(text: string, open: number): number[] {
  const starts: number[] = [];
  let depth = 0;
  let expecting = true;
  for (let i = open + 1; i < text.length; i++) {
    const ch = text[i] ?? '';
    if (ch === '"') {
      if (depth === 0 && expecting) {
        starts.push(i);
        expecting = false;
      }
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      continue;
    }
    if (' \t\r\n'.includes(ch)) continue;
    if (depth === 0 && ch === ']') break;
    if (depth === 0 && ch === ',') {
      expecting = true;
      continue;
    }
    if (depth === 0 && expecting) {
      starts.push(i);
      expecting = false;
    }
    if (ch === '{' || ch === '[') depth++;
    else if (ch === '}' || ch === ']') depth--;
  }
  return starts;
}

/** Whole JSON values one after the other (pretty-printed documents), or undefined. */
function concatenatedValues(text: string): { value: unknown; offset: number }[] | undefined {
  const values: { value: unknown; offset: number }[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && ' \t\r\n'.includes(text[i] ?? '')) i++;
    if (i >= text.length) break;
    if (text[i] !== '{') return undefined;
    const start = i;
    let depth = 0;
    for (; i < text.length; i++) {
      const ch = text[i];
      if (ch === '"') {
        for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      } else if (ch === '{' || ch === '[') depth++;
      else if ((ch === '}' || ch === ']') && --depth === 0) break;
    }
    i++;
    try {
      values.push({ value: JSON.parse(text.slice(start, i)) as unknown, offset: start });
    } catch {
      return undefined;
    }
  }
  return values;
}

/**
 * The documents of a file's text: a JSON array of documents, or documents one after the other
 * (one per line as mongoexport writes them, or pretty-printed). `source` names the file in
 * messages. Throws DbInputMalformed naming the line (and column) of the first problem.
 */
export function parseDocuments(rawText: string, source: string): ParsedDocument[] {
  const text = rawText.charCodeAt(0) === 0xfeff ? rawText.slice(1) : rawText;
  const first = text.search(/\S/);
  if (first < 0) return [];
  if (text[first] === '[') {
    let array: unknown[];
    try {
      array = JSON.parse(text) as unknown[];
    } catch (error) {
      const { line, column } = lineColumnAt(text, locateJsonError(text));
      throw malformed(
        `${source}:${line}:${column}`,
        `malformed JSON: ${jsonReason(error)}`,
        FORMATS_HINT,
      );
    }
    if (!Array.isArray(array))
      throw malformed(source, 'the file is not a JSON array of documents', FORMATS_HINT);
    const starts = elementStarts(text, first);
    return array.map((value, index) => {
      const at = lineColumnAt(text, starts[index] ?? first);
      return {
        doc: toDocument(value, `${source}:${at.line}:${at.column}`, `element ${index}`),
        line: at.line,
      };
    });
  }
  const parsed: { value: unknown; line: number; column: number }[] = [];
  let failure: TriggerboxError | undefined;
  const lines = text.split('\n');
  for (const [index, raw] of lines.entries()) {
    const lineText = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (lineText.trim() === '') continue;
    try {
      parsed.push({
        value: JSON.parse(lineText) as unknown,
        line: index + 1,
        column: lineText.search(/\S/) + 1,
      });
    } catch (error) {
      failure = malformed(
        `${source}:${index + 1}:${locateJsonError(lineText) + 1}`,
        `malformed JSON: ${jsonReason(error)}`,
        FORMATS_HINT,
      );
      break;
    }
  }
  if (failure !== undefined) {
    // Not one document per line: perhaps pretty-printed documents one after the other.
    const values = concatenatedValues(text);
    if (values === undefined) throw failure;
    parsed.length = 0;
    for (const { value, offset } of values) parsed.push({ value, ...lineColumnAt(text, offset) });
  }
  return parsed.map(({ value, line, column }) => ({
    doc: toDocument(value, `${source}:${line}:${column}`, `the document on line ${line}`),
    line,
  }));
}

/** An Extended JSON document given on the command line (`--filter '{"n": {"$gt": 1}}'`). */
export function parseDocumentArgument(text: string, flag: string): Doc {
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (error) {
    const { line, column } = lineColumnAt(text, locateJsonError(text));
    throw malformed(
      `${flag} ${line > 1 ? `line ${line} ` : ''}column ${column}`,
      `malformed JSON: ${jsonReason(error)}`,
      `pass a JSON object in single quotes, for example ${flag} '{"status": "paid"}'`,
    );
  }
  return toDocument(value, flag, 'the value');
}

/**
 * JS numbers that are integers beyond Int32 are doubles in BSON; canonical EJSON would write
 * them as $numberLong, and an export/import round trip would turn them into Longs.
 */
function integralDoubles(value: unknown): unknown {
  if (typeof value === 'number')
    return Number.isInteger(value) && Math.abs(value) > 2 ** 31 - 1 ? new Double(value) : value;
  if (Array.isArray(value)) return value.map(integralDoubles);
  if (!isDocument(value)) return value;
  const out: Doc = {};
  for (const [key, inner] of Object.entries(value)) out[key] = integralDoubles(inner);
  return out;
}

/** One document as canonical Extended JSON on one line: every BSON type survives a re-import. */
export function canonicalLine(doc: Doc): string {
  return EJSON.stringify(integralDoubles(doc), { relaxed: false });
}

/** A Long that relaxed EJSON would print as an inexact number is kept as {"$numberLong"}. */
function exactLongs(value: unknown): unknown {
  if (value instanceof Long)
    return Number.isSafeInteger(value.toNumber()) ? value : { $numberLong: value.toString() };
  if (Array.isArray(value)) return value.map(exactLongs);
  if (!isDocument(value)) return value;
  const out: Doc = {};
  for (const [key, inner] of Object.entries(value)) out[key] = exactLongs(inner);
  return out;
}

/** `{"$oid": ...}`, `{"$date": ...}`: an Extended JSON value, printed on one line. */
function isWrapper(value: unknown): boolean {
  if (!isDocument(value)) return false;
  const keys = Object.keys(value);
  return keys.length > 0 && keys.every((key) => key.startsWith('$'));
}

function indented(value: unknown, indent: string): string {
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    const inner = `${indent}  `;
    return `[\n${value.map((v) => inner + indented(v, inner)).join(',\n')}\n${indent}]`;
  }
  if (isDocument(value) && !isWrapper(value)) {
    const entries = Object.entries(value);
    if (entries.length === 0) return '{}';
    const inner = `${indent}  `;
    return `{\n${entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${indented(v, inner)}`).join(',\n')}\n${indent}}`;
  }
  return oneLine(value);
}

function oneLine(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(oneLine).join(', ')}]`;
  if (isDocument(value))
    return `{${Object.entries(value)
      .map(([k, v]) => `${JSON.stringify(k)}: ${oneLine(v)}`)
      .join(', ')}}`;
  return JSON.stringify(value);
}

/**
 * One document as a developer reads it: indented relaxed Extended JSON (plain numbers, ISO
 * dates), each BSON value on one line (`"_id": {"$oid": "..."}`), field order as stored.
 */
export function readableDocument(doc: Doc): string {
  return indented(EJSON.serialize(exactLongs(doc), { relaxed: true }), '');
}
