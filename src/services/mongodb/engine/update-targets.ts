/**
 * What an update applies to beyond the document itself: the seed of an upserted document (the
 * filter's equality fields) and the array element a positional `$` stands for.
 */
import { cloneValue, isDocument, storedForm, type Doc } from './bson-values.js';
import { compileFilter } from './query.js';
import { parentFor, setIn } from './update-paths.js';

/** The equality fields of a filter, as an upsert seeds its new document with them. */
export function seedFromFilter(filter: Doc | undefined): Doc {
  const seed: Doc = {};
  const visit = (f: Doc) => {
    for (const [key, value] of Object.entries(f)) {
      if (key === '$and' && Array.isArray(value)) {
        for (const part of value) if (isDocument(part)) visit(part);
        continue;
      }
      if (key.startsWith('$')) continue;
      let equal: unknown;
      if (isDocument(value) && Object.keys(value).some((k) => k.startsWith('$'))) {
        if (!('$eq' in value)) continue;
        equal = value.$eq;
      } else if (value instanceof RegExp) {
        continue;
      } else {
        equal = value;
      }
      const parts = key.split('.');
      const { parent, key: last } = parentFor(seed, parts);
      setIn(parent, last, storedForm(equal));
    }
  };
  if (filter) visit(filter);
  return seed;
}

/** The index of the first element of `arrayPath` that the filter's conditions on it accept. */
export function positionalIndex(
  doc: Doc,
  filter: Doc | undefined,
  update: Doc | Doc[],
): number | undefined {
  if (Array.isArray(update)) return undefined;
  const paths = Object.values(update).flatMap((fields) =>
    isDocument(fields) ? Object.keys(fields) : [],
  );
  const withDollar = paths.find((p) => p.split('.').includes('$'));
  if (withDollar === undefined || !filter) return undefined;
  const arrayPath = withDollar.split('.').slice(0, withDollar.split('.').indexOf('$')).join('.');
  const array = arrayPath
    .split('.')
    .reduce<unknown>((v, part) => (isDocument(v) ? v[part] : undefined), doc);
  if (!Array.isArray(array)) return undefined;
  const conditions: Doc[] = [];
  const collect = (f: Doc) => {
    for (const [key, value] of Object.entries(f)) {
      if (key === '$and' && Array.isArray(value)) value.forEach((v) => isDocument(v) && collect(v));
      else if (key === arrayPath || key.startsWith(`${arrayPath}.`))
        conditions.push({ [key]: value });
    }
  };
  collect(filter);
  if (conditions.length === 0) return undefined;
  const tests = conditions.map((c) => compileFilter(c));
  const parts = arrayPath.split('.');
  for (let i = 0; i < array.length; i++) {
    const probe = cloneValue(doc);
    const { parent, key } = parentFor(probe, parts);
    setIn(parent, key, [array[i]]);
    if (tests.every((t) => t(probe))) return i;
  }
  return undefined;
}
