/**
 * Update paths: dotted field paths with the positional parts `$`, `$[]` and `$[<identifier>]`,
 * expanded against one document into concrete paths, and the walks that read, create and remove
 * fields along them with the server's errors (PathNotViable when a path runs into a scalar).
 */
import { compileFilter } from './query.js';
import { isDocument, shellForm, type Doc } from './bson-values.js';
import { MongoError, badValue } from './errors.js';

export type Container = Doc | unknown[];

const isIndex = (part: string) => /^\d+$/.test(part);

export function splitPath(path: string): string[] {
  if (path === '') throw new MongoError('BadValue', 'An empty update path is not valid.');
  const parts = path.split('.');
  if (parts.some((p) => p === ''))
    throw new MongoError(
      'BadValue',
      `The update path '${path}' contains an empty field name, which is not allowed.`,
    );
  return parts;
}

export interface ExpandOptions {
  /** The element index the query matched, for `$`. */
  positional?: number | undefined;
  /** arrayFilters, by identifier. */
  filters: Map<string, (element: unknown) => boolean>;
  path: string;
}

/** Compiles arrayFilters into one element test per identifier (`{'e.q': {$gt: 2}}` -> e). */
export function compileArrayFilters(
  arrayFilters: unknown,
): Map<string, (element: unknown) => boolean> {
  const out = new Map<string, (element: unknown) => boolean>();
  if (arrayFilters === undefined || arrayFilters === null) return out;
  if (!Array.isArray(arrayFilters)) throw badValue('arrayFilters must be an array of objects');
  for (const filter of arrayFilters) {
    if (!isDocument(filter) || Object.keys(filter).length === 0)
      throw new MongoError(
        'FailedToParse',
        'Cannot use an expression without a top-level field name in arrayFilters',
      );
    const ids = new Set(Object.keys(filter).map((k) => k.split('.')[0]!));
    if (ids.size !== 1)
      throw new MongoError(
        'FailedToParse',
        `Error parsing array filter :: caused by :: Expected a single top-level field name, found '${[...ids].join("' and '")}'`,
      );
    const id = [...ids][0]!;
    if (out.has(id))
      throw new MongoError(
        'FailedToParse',
        `Found multiple array filters with the same top-level field name ${id}`,
      );
    const test = compileFilter(filter);
    out.set(id, (element) => test({ [id]: element }));
  }
  return out;
}

/** Concrete paths (lists of keys/indexes) that one update path names in this document. */
export function expandPath(doc: Doc, parts: string[], options: ExpandOptions): string[][] {
  const results: string[][] = [];
  const walk = (value: unknown, i: number, prefix: string[]) => {
    if (i === parts.length) {
      results.push(prefix);
      return;
    }
    const part = parts[i]!;
    if (part === '$') {
      if (options.positional === undefined)
        throw badValue('The positional operator did not find the match needed from the query.');
      const next = Array.isArray(value) ? value[options.positional] : undefined;
      walk(next, i + 1, [...prefix, String(options.positional)]);
      return;
    }
    const filtered = /^\$\[(\w*)\]$/.exec(part);
    if (filtered) {
      if (!Array.isArray(value))
        throw badValue(
          `The path '${prefix.join('.')}' must exist in the document in order to apply array updates.`,
        );
      const id = filtered[1]!;
      const test = id === '' ? () => true : options.filters.get(id);
      if (!test)
        throw badValue(`No array filter found for identifier '${id}' in path '${options.path}'`);
      value.forEach((element, index) => {
        if (test(element)) walk(element, i + 1, [...prefix, String(index)]);
      });
      return;
    }
    const next = Array.isArray(value)
      ? isIndex(part)
        ? value[Number(part)]
        : undefined
      : isDocument(value)
        ? value[part]
        : undefined;
    walk(next, i + 1, [...prefix, part]);
  };
  walk(doc, 0, []);
  return results;
}

/** Whether an update path uses `$[]` or `$[<id>]`, so the identifiers in use can be checked. */
export function filterIdentifiers(path: string): string[] {
  return [...path.matchAll(/\$\[(\w+)\]/g)].map((m) => m[1]!);
}

function childOf(container: unknown, key: string): unknown {
  if (Array.isArray(container)) return isIndex(key) ? container[Number(key)] : undefined;
  if (isDocument(container)) return Object.hasOwn(container, key) ? container[key] : undefined;
  return undefined;
}

/** The value at a concrete path, or undefined. */
export function getAt(doc: Doc, path: string[]): unknown {
  let value: unknown = doc;
  for (const part of path) value = childOf(value, part);
  return value;
}

function notViable(part: string, parentPath: string[], parent: unknown): MongoError {
  const shown =
    parentPath.length === 0
      ? 'the document'
      : `{${parentPath[parentPath.length - 1]}: ${shellForm(parent)}}`;
  return new MongoError('PathNotViable', `Cannot create field '${part}' in element ${shown}`);
}

/** The container that holds the last part, creating documents on the way (for $set and kin). */
export function parentFor(doc: Doc, path: string[]): { parent: Container; key: string } {
  let current: unknown = doc;
  for (let i = 0; i < path.length - 1; i++) {
    const part = path[i]!;
    let next = childOf(current, part);
    if (next === undefined || next === null) {
      if (Array.isArray(current)) {
        if (!isIndex(part)) throw notViable(part, path.slice(0, i), current);
        const index = Number(part);
        while (current.length < index) current.push(null);
        next = {};
        current[index] = next;
      } else if (isDocument(current)) {
        if (next === null) throw notViable(path[i + 1]!, path.slice(0, i + 1), null);
        next = {};
        current[part] = next;
      }
    }
    if (!isDocument(next) && !Array.isArray(next))
      throw notViable(path[i + 1]!, path.slice(0, i + 1), next);
    if (Array.isArray(next) && !isIndex(path[i + 1]!))
      throw notViable(path[i + 1]!, path.slice(0, i + 1), next);
    current = next;
  }
  return { parent: current as Container, key: path[path.length - 1]! };
}

/** The container that holds the last part if the whole way exists (for $unset, $pop ...). */
export function existingParent(
  doc: Doc,
  path: string[],
): { parent: Container; key: string } | undefined {
  let current: unknown = doc;
  for (let i = 0; i < path.length - 1; i++) {
    current = childOf(current, path[i]!);
    if (!isDocument(current) && !Array.isArray(current)) return undefined;
  }
  return { parent: current as Container, key: path[path.length - 1]! };
}

export function setIn(parent: Container, key: string, value: unknown): void {
  if (Array.isArray(parent)) {
    if (!isIndex(key))
      throw new MongoError(
        'PathNotViable',
        `Cannot create field '${key}' in element {${shellForm(parent)}}`,
      );
    const index = Number(key);
    while (parent.length < index) parent.push(null);
    parent[index] = value;
  } else {
    parent[key] = value;
  }
}

export function hasIn(parent: Container, key: string): boolean {
  return Array.isArray(parent)
    ? isIndex(key) && Number(key) < parent.length
    : Object.hasOwn(parent, key);
}

export function getIn(parent: Container, key: string): unknown {
  return childOf(parent, key);
}

/** Removes a field; an array element becomes null, as $unset does on the server. */
export function removeIn(parent: Container, key: string): void {
  if (Array.isArray(parent)) {
    if (isIndex(key) && Number(key) < parent.length) parent[Number(key)] = null;
  } else {
    delete parent[key];
  }
}
