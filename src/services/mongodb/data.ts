/**
 * Data at hand (issue #11): where an app's local database lives (`<app>/.triggerbox/db/`), and
 * what the `db` commands and `dev` do with it: import, export, find, reset, list, and seeds
 * (`.triggerbox/seed/<db>/<coll>.json`, committed by the team). Every operation checks all of
 * its input before it writes anything.
 */
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ignoreInGit } from '../../app/gitignore.js';
import { readRegularFile } from '../../app/regular-file.js';
import { TriggerboxError } from '../../shared/errors.js';
import { canonicalLine, parseDocuments, type ParsedDocument } from './data-text.js';
import type { Doc } from './engine/bson-values.js';
import { EmbeddedEngine } from './engine/embedded-engine.js';
import { checkNamespace } from './engine/engine-state.js';
import { MongoError } from './engine/errors.js';
import type { Engine, Namespace } from './engine/types.js';

/** The app's local database, relative to the app root. */
export const DB_DIR = '.triggerbox/db';
/** The seed folder, relative to the app root: `<db>/<coll>.json` files. */
export const SEED_DIR = '.triggerbox/seed';

export interface OpenAppDatabaseOptions {
  /** The app root. */
  root: string;
  /** fdatasync before acknowledging a write (default true). */
  durable?: boolean | undefined;
  /** Where the engine's warnings go (a journal tail cut after a crash, a listener that threw). */
  warn?: ((message: string) => void) | undefined;
}

function lockOwner(dir: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path.join(dir, 'LOCK'), 'utf8'), 10);
    return Number.isInteger(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The owner's command line (Linux), so the message can say "triggerbox dev" rather than a bare pid. */
function commandOf(pid: number): string | undefined {
  try {
    const words = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    const script = words.findIndex(
      (word) => path.basename(word) === 'triggerbox' || word.endsWith('/cli/bin.js'),
    );
    const shown = script >= 0 ? ['triggerbox', ...words.slice(script + 1)] : words;
    return shown.length > 0 ? shown.join(' ').slice(0, 120) : undefined;
  } catch {
    return undefined;
  }
}

/** `.triggerbox` and `.triggerbox/db` must be real folders of the app (or absent). */
function checkFolders(root: string): boolean {
  let exists = true;
  for (const folder of ['.triggerbox', DB_DIR]) {
    let stat;
    try {
      stat = lstatSync(path.join(root, folder));
    } catch {
      exists = false;
      break;
    }
    if (!stat.isDirectory())
      throw new TriggerboxError(
        'DbFolderInvalid',
        `the local database folder ${path.join(root, folder)} is ${stat.isSymbolicLink() ? 'a symlink' : 'not a folder'}; it was not opened`,
        {
          hint: `move ${folder} away: triggerbox keeps the app's local database in a real folder ${DB_DIR}/ inside the app`,
        },
      );
  }
  return exists;
}

/**
 * Keeps the local database out of version control: the data is each developer's own (seeds
 * in .triggerbox/seed/ are what a team commits). Written when the folder is first created.
 */
function ignoreDatabase(root: string, warn: (message: string) => void): void {
  const problem = ignoreInGit(
    root,
    [`${DB_DIR}/`],
    `triggerbox local database: each developer's own data (commit seeds in ${SEED_DIR}/ instead)`,
    // Ignoring all of .triggerbox covers the database too.
    (line) => {
      const entry = line.trim().replace(/^\//, '');
      return [DB_DIR, `${DB_DIR}/`, '.triggerbox', '.triggerbox/'].includes(entry);
    },
  );
  if (problem !== undefined) warn(`the app's .gitignore ${problem}: add ${DB_DIR}/ to it yourself`);
}

/**
 * Opens the app's local database (`<root>/.triggerbox/db/`, created and git-ignored on first
 * use). One process owns it at a time: a second one gets MongoStoreLocked naming the owner.
 * The caller closes it.
 */
export async function openAppDatabase(options: OpenAppDatabaseOptions): Promise<EmbeddedEngine> {
  const root = path.resolve(options.root);
  const warn = options.warn ?? (() => {});
  const dir = path.join(root, DB_DIR);
  if (!checkFolders(root)) ignoreDatabase(root, warn);
  try {
    return await EmbeddedEngine.open({ dir, durable: options.durable, warn });
  } catch (error) {
    if (!(error instanceof TriggerboxError) || error.code !== 'MongoStoreLocked') throw error;
    const owner = lockOwner(dir);
    if (owner === undefined) throw error;
    const command = owner === process.pid ? undefined : commandOf(owner);
    throw new TriggerboxError(
      'MongoStoreLocked',
      owner === process.pid
        ? `the app's local database ${DB_DIR} is already open in this process`
        : `the app's local database ${DB_DIR} is in use by another process: pid ${owner}${command ? ` (${command})` : ''}`,
      {
        hint:
          owner === process.pid
            ? 'close the open database first (one owner at a time)'
            : `one process owns the database at a time: stop that one (Ctrl-C in its terminal, or kill ${owner}) and run this again; while \`triggerbox dev\` runs, change data through your functions`,
        cause: error,
      },
    );
  }
}

/** The engine's failure of a write as the document's line in the file. */
function atLine(error: unknown, docs: ParsedDocument[], source: string): unknown {
  if (!(error instanceof MongoError)) return error;
  const writeErrors = error.info['writeErrors'];
  const index = Array.isArray(writeErrors)
    ? (writeErrors[0] as { index?: unknown } | undefined)?.index
    : undefined;
  const line = typeof index === 'number' ? docs[index]?.line : undefined;
  if (line === undefined) return error;
  return new TriggerboxError('DbInputMalformed', `${source}:${line}: ${error.message}`, {
    hint: 'nothing was imported; fix or remove that document (or pass --drop to replace the collection)',
    cause: error,
  });
}

/**
 * Inserts into a scratch in-memory copy of the collection first: insertMany keeps what it
 * wrote before a failing document (as the server does), and an import must be all or nothing.
 */
async function rehearse(
  engine: Engine,
  ns: Namespace,
  docs: ParsedDocument[],
  drop: boolean,
  source: string,
): Promise<void> {
  const scratch = await EmbeddedEngine.open();
  try {
    const exists = (await engine.listCollections({ db: ns.db })).some((c) => c.name === ns.coll);
    if (exists && !drop) {
      for (const spec of await engine.listIndexes({ ns })) {
        if (spec.name === '_id_') continue;
        await scratch.createIndex({
          ns,
          key: spec.key,
          name: spec.name,
          unique: spec.unique,
          sparse: spec.sparse,
          partialFilterExpression: spec.partialFilterExpression,
        });
      }
      const existing = await (await engine.find({ ns })).toArray();
      if (existing.length > 0) await scratch.insertMany({ ns, documents: existing });
    }
    try {
      if (docs.length > 0) await scratch.insertMany({ ns, documents: docs.map((d) => d.doc) });
    } catch (error) {
      throw atLine(error, docs, source);
    }
  } finally {
    await scratch.close();
  }
}

export interface ImportOptions {
  engine: Engine;
  ns: Namespace;
  /** The file's text: a JSON/EJSON array, or one document per line. */
  text: string;
  /** Names the input in messages (`orders.json`, `stdin`). */
  source: string;
  /** Drop the collection (documents and indexes) first. */
  drop?: boolean | undefined;
}

export interface ImportResult {
  ns: Namespace;
  inserted: number;
  /** Documents the collection held before it was dropped (0 without drop). */
  dropped: number;
}

/** Inserts every document of `text` into `ns`, or none (the first bad one is named by line). */
export async function importDocuments(options: ImportOptions): Promise<ImportResult> {
  const { engine, ns } = options;
  const docs = parseDocuments(options.text, options.source);
  const drop = options.drop === true;
  await rehearse(engine, ns, docs, drop, options.source);
  let dropped = 0;
  if (drop) {
    dropped = await engine.countDocuments({ ns });
    await engine.dropCollection({ ns });
  }
  if (docs.length > 0) await engine.insertMany({ ns, documents: docs.map((d) => d.doc) });
  else await ensureCollection(engine, ns);
  return { ns, inserted: docs.length, dropped };
}

async function ensureCollection(engine: Engine, ns: Namespace): Promise<void> {
  const exists = (await engine.listCollections({ db: ns.db })).some((c) => c.name === ns.coll);
  if (!exists) await engine.createCollection({ ns });
}

export interface ExportOptions {
  engine: Engine;
  ns: Namespace;
  /** One JSON array instead of one document per line. */
  array?: boolean | undefined;
}

/** The collection as canonical Extended JSON: one document per line (mongoexport), or an array. */
export async function exportDocuments(
  options: ExportOptions,
): Promise<{ text: string; count: number }> {
  const docs = await (await options.engine.find({ ns: options.ns })).toArray();
  const lines = docs.map(canonicalLine);
  if (options.array)
    return {
      text: lines.length === 0 ? '[]\n' : `[\n${lines.map((l) => `  ${l}`).join(',\n')}\n]\n`,
      count: docs.length,
    };
  return { text: lines.map((line) => `${line}\n`).join(''), count: docs.length };
}

export interface FindOptions {
  engine: Engine;
  ns: Namespace;
  filter?: Doc | undefined;
  projection?: Doc | undefined;
  sort?: Doc | undefined;
  /** 0 or absent: every document. */
  limit?: number | undefined;
}

/** The matching documents (up to `limit`) and how many match in all. */
export async function findDocuments(
  options: FindOptions,
): Promise<{ documents: Doc[]; matched: number }> {
  const { engine, ns, filter } = options;
  const documents = await (
    await engine.find({
      ns,
      filter,
      projection: options.projection,
      sort: options.sort,
      limit: options.limit,
    })
  ).toArray();
  const matched =
    options.limit && documents.length >= options.limit
      ? await engine.countDocuments({ ns, filter })
      : documents.length;
  return { documents, matched };
}

export interface CollectionSummary {
  db: string;
  coll: string;
  count: number;
}

/** Every collection of the local database with its document count, by database then name. */
export async function listCollections(options: { engine: Engine }): Promise<CollectionSummary[]> {
  const { engine } = options;
  const out: CollectionSummary[] = [];
  for (const { name: db } of await engine.listDatabases()) {
    for (const { name: coll } of await engine.listCollections({ db })) {
      out.push({ db, coll, count: await engine.estimatedDocumentCount({ ns: { db, coll } }) });
    }
  }
  return out;
}

/** Drops one collection, or every database; returns what was dropped. */
export async function resetDatabase(options: {
  engine: Engine;
  ns?: Namespace | undefined;
}): Promise<CollectionSummary[]> {
  const { engine, ns } = options;
  const all = await listCollections({ engine });
  if (ns !== undefined) {
    const dropped = all.filter((c) => c.db === ns.db && c.coll === ns.coll);
    await engine.dropCollection({ ns });
    return dropped;
  }
  for (const { name } of await engine.listDatabases()) await engine.dropDatabase({ db: name });
  return all;
}

/** A seed file: `.triggerbox/seed/<db>/<coll>.json`. */
export interface SeedFile {
  ns: Namespace;
  /** Relative to the app root, with forward slashes. */
  file: string;
}

function seedFolderError(where: string, reason: string): TriggerboxError {
  return new TriggerboxError(
    'DbFileUnreadable',
    `the seed ${where} ${reason}; nothing was loaded`,
    {
      hint: `seeds are regular files ${SEED_DIR}/<database>/<collection>.json inside real folders of the app; move that one away`,
    },
  );
}

function realFolder(abs: string, rel: string): boolean {
  let stat;
  try {
    stat = lstatSync(abs);
  } catch {
    return false;
  }
  if (!stat.isDirectory())
    throw seedFolderError(
      `folder ${rel}`,
      stat.isSymbolicLink() ? 'is a symlink (not followed)' : 'is not a folder',
    );
  return true;
}

/** The seed files of the app, by namespace; [] when there is no seed folder. */
export function findSeedFiles(root: string): SeedFile[] {
  const seedDir = path.join(root, SEED_DIR);
  if (!realFolder(path.join(root, '.triggerbox'), '.triggerbox')) return [];
  if (!realFolder(seedDir, SEED_DIR)) return [];
  const seeds: SeedFile[] = [];
  for (const db of readdirSync(seedDir).sort()) {
    if (db.startsWith('.')) continue;
    const rel = `${SEED_DIR}/${db}`;
    if (!realFolder(path.join(seedDir, db), rel)) continue;
    for (const entry of readdirSync(path.join(seedDir, db)).sort()) {
      if (!entry.endsWith('.json') || entry.startsWith('.')) continue;
      const ns = { db, coll: entry.slice(0, -'.json'.length) };
      const file = `${rel}/${entry}`;
      try {
        checkNamespace(ns);
      } catch {
        throw new TriggerboxError(
          'DbNamespaceInvalid',
          `the seed file ${file} names the invalid namespace '${ns.db}.${ns.coll}'`,
          {
            hint: 'rename it: <database>/<collection>.json, names without $ (or . in the database)',
          },
        );
      }
      seeds.push({ ns, file });
    }
  }
  return seeds;
}

export interface SeedResult {
  loaded: { ns: Namespace; file: string; count: number }[];
}

/**
 * Loads every seed file, replacing those collections (documents and indexes). All files are
 * read and checked before any is loaded: one bad file loads nothing.
 */
export async function seedDatabase(options: { engine: Engine; root: string }): Promise<SeedResult> {
  const { engine, root } = options;
  const seeds = findSeedFiles(root);
  if (seeds.length === 0)
    throw new TriggerboxError('DbSeedsMissing', `no seed files in ${path.join(root, SEED_DIR)}`, {
      hint: `add ${SEED_DIR}/<database>/<collection>.json (a JSON array of documents, or one per line; \`triggerbox db export --ns db.coll --out ...\` writes one)`,
    });
  const parsed: { seed: SeedFile; docs: ParsedDocument[] }[] = [];
  for (const seed of seeds) {
    const read = readRegularFile(path.join(root, ...seed.file.split('/')), root);
    if (!read.ok)
      throw seedFolderError(
        `file ${seed.file}`,
        read.missing ? 'vanished while it was read' : read.reason,
      );
    const docs = parseDocuments(read.text, seed.file);
    await rehearse(engine, seed.ns, docs, true, seed.file);
    parsed.push({ seed, docs });
  }
  const loaded: SeedResult['loaded'] = [];
  for (const { seed, docs } of parsed) {
    await engine.dropCollection({ ns: seed.ns });
    if (docs.length > 0)
      await engine.insertMany({ ns: seed.ns, documents: docs.map((d) => d.doc) });
    else await engine.createCollection({ ns: seed.ns });
    loaded.push({ ns: seed.ns, file: seed.file, count: docs.length });
  }
  return { loaded };
}

/**
 * For `dev`'s first start: loads the seeds when the local database holds no collection at all
 * (a fresh clone, or after `db reset`), and returns what it loaded; undefined when the database
 * already has data or the app has no seeds. Throws as seedDatabase on a bad seed file.
 */
export async function seedIfEmpty(options: {
  engine: Engine;
  root: string;
}): Promise<SeedResult | undefined> {
  if ((await listCollections({ engine: options.engine })).length > 0) return undefined;
  if (findSeedFiles(options.root).length === 0) return undefined;
  return seedDatabase(options);
}
