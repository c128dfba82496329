/**
 * One collection in memory: documents by _id in natural (insertion) order, and its indexes.
 * Only unique indexes are maintained as key maps (they are what can fail a write); other
 * indexes are recorded so listIndexes shows them, and every query scans (fast enough at the
 * sizes a local app holds; docs/database.md has the figures). Stored documents are never
 * mutated in place: a write replaces the object, so readers and events can hold references.
 */
import { indexKey, isDocument, shellForm, type Doc } from './bson-values.js';
import { MongoError, badValue } from './errors.js';
import { compileFilter, resolvePath } from './query.js';
import type { IndexSpec, Namespace } from './types.js';

export interface Change {
  operationType: 'insert' | 'update' | 'replace' | 'delete';
  ns: Namespace;
  id: string;
  before: Doc | undefined;
  after: Doc | undefined;
}

interface IndexState {
  spec: IndexSpec;
  fields: string[];
  /** Index key -> document id key, for unique indexes only. */
  entries: Map<string, string> | undefined;
  applies: (doc: Doc) => boolean;
}

export function defaultIndexName(key: Doc): string {
  return Object.entries(key)
    .map(([field, dir]) => `${field}_${String(dir)}`)
    .join('_');
}

export class StoredCollection {
  readonly docs = new Map<string, Doc>();
  private readonly indexes: IndexState[] = [];

  constructor(readonly ns: Namespace) {
    this.indexes.push({
      spec: { v: 2, key: { _id: 1 }, name: '_id_' },
      fields: ['_id'],
      entries: undefined,
      applies: () => true,
    });
  }

  indexSpecs(): IndexSpec[] {
    return this.indexes.map((i) => ({ ...i.spec }));
  }

  /** The keys a document has in an index; arrays of a single-field index give one key each. */
  private keysOf(index: IndexState, doc: Doc): string[] {
    if (!index.applies(doc)) return [];
    const values = index.fields.map((f) => resolvePath(doc, f));
    if (index.spec.sparse && values.every((v) => v === undefined)) return [];
    if (index.fields.length === 1 && Array.isArray(values[0]) && values[0].length > 0)
      return [...new Set(values[0].map((v) => indexKey(v)))];
    return [values.map((v) => indexKey(v)).join('|')];
  }

  private duplicate(index: IndexState, doc: Doc): MongoError {
    const keyValue: Doc = {};
    for (const f of index.fields) keyValue[f] = resolvePath(doc, f) ?? null;
    const shown = index.fields.map((f) => `${f}: ${shellForm(keyValue[f])}`).join(', ');
    return new MongoError(
      'DuplicateKey',
      `E11000 duplicate key error collection: ${this.ns.db}.${this.ns.coll} index: ${index.spec.name} dup key: { ${shown} }`,
      { info: { keyPattern: { ...index.spec.key }, keyValue } },
    );
  }

  /** Throws E11000 if applying these changes together would break a unique index. */
  checkUnique(changes: Change[]): void {
    const ids = new Map<string, boolean>();
    for (const change of changes) {
      const present = ids.has(change.id) ? ids.get(change.id)! : this.docs.has(change.id);
      if (change.operationType === 'insert' && present)
        throw this.duplicate(this.indexes[0]!, change.after!);
      ids.set(change.id, change.after !== undefined);
    }
    for (const index of this.indexes) {
      if (!index.entries) continue;
      const overlay = new Map<string, string | null>();
      const owner = (key: string) =>
        overlay.has(key) ? overlay.get(key)! : (index.entries!.get(key) ?? null);
      for (const change of changes) {
        if (change.before)
          for (const key of this.keysOf(index, change.before))
            if (owner(key) === change.id) overlay.set(key, null);
        if (change.after)
          for (const key of this.keysOf(index, change.after)) {
            const holder = owner(key);
            if (holder !== null && holder !== change.id) throw this.duplicate(index, change.after);
            overlay.set(key, change.id);
          }
      }
    }
  }

  /** Applies a change already checked; natural order: a new document goes last, an update stays. */
  apply(change: Change): void {
    for (const index of this.indexes) {
      if (!index.entries) continue;
      if (change.before)
        for (const key of this.keysOf(index, change.before))
          if (index.entries.get(key) === change.id) index.entries.delete(key);
      if (change.after)
        for (const key of this.keysOf(index, change.after)) index.entries.set(key, change.id);
    }
    if (change.after) this.docs.set(change.id, change.after);
    else this.docs.delete(change.id);
  }

  /** Adds an index (building it; E11000 if existing documents break a unique one). */
  addIndex(spec: IndexSpec): string {
    const existing = this.indexes.find((i) => i.spec.name === spec.name);
    if (existing) {
      if (
        JSON.stringify(existing.spec.key) === JSON.stringify(spec.key) &&
        !!existing.spec.unique === !!spec.unique
      )
        return spec.name;
      throw new MongoError(
        'IndexKeySpecsConflict',
        `An existing index has the same name as the requested index. When index names are not specified, they are auto generated and can cause conflicts. Please refer to our documentation. Requested index: ${shellForm(spec)}, existing index: ${shellForm(existing.spec)}`,
      );
    }
    const fields = Object.keys(spec.key);
    if (fields.length === 0) throw badValue('Index keys cannot be empty.');
    for (const dir of Object.values(spec.key))
      if (
        dir !== 1 &&
        dir !== -1 &&
        !(typeof dir === 'string' && ['text', '2dsphere', 'hashed', '2d'].includes(dir))
      )
        throw new MongoError(
          'BadValue',
          `Values in the index key pattern can only be 1, -1 or a string naming an index type, not ${shellForm(dir)}`,
        );
    const partial = spec.partialFilterExpression;
    if (partial !== undefined && !isDocument(partial))
      throw badValue('partialFilterExpression must be an object');
    const index: IndexState = {
      spec,
      fields,
      entries: spec.unique ? new Map() : undefined,
      applies: partial ? compileFilter(partial) : () => true,
    };
    if (index.entries) {
      for (const [id, doc] of this.docs) {
        for (const key of this.keysOf(index, doc)) {
          if (index.entries.has(key)) throw this.duplicate(index, doc);
          index.entries.set(key, id);
        }
      }
    }
    this.indexes.push(index);
    return spec.name;
  }

  dropIndex(name: string): void {
    if (name === '_id_') throw badValue('cannot drop _id index');
    const at = this.indexes.findIndex((i) => i.spec.name === name);
    if (at < 0) throw new MongoError('IndexNotFound', `index not found with name [${name}]`);
    this.indexes.splice(at, 1);
  }
}
