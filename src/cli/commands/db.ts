/**
 * `triggerbox db ...`: the app's local database at hand (import, export, find, reset, seed,
 * list) and its data sources. Each command opens `.triggerbox/db/` for its own run (one process
 * owns it at a time: `dev` holding it is reported with its pid), and closes it.
 */
import path from 'node:path';
import { readRegularFile, regularFileTarget } from '../../app/regular-file.js';
import {
  DB_DIR,
  exportDocuments,
  findDocuments,
  importDocuments,
  listCollections,
  mongodbService,
  openAppDatabase,
  serveAppDatabase,
  parseDocumentArgument,
  parseNamespace,
  canonicalLine,
  readableDocument,
  resetDatabase,
  SEED_DIR,
  seedDatabase,
  type EmbeddedEngine,
  type Namespace,
} from '../../services/mongodb/index.js';
import { writeFileAtomic } from '../../shared/atomic-file.js';
import { TriggerboxError } from '../../shared/errors.js';
import { openApp, setupFailure, type GlobalOptions } from '../app-context.js';
import type { CliIO } from '../io.js';
import { Printer } from '../render.js';
import { firingText } from '../render-result.js';

/** Runs `work` with the app's local database open, and closes it whatever happens. */
async function withDatabase<T>(
  options: GlobalOptions,
  io: CliIO,
  work: (engine: EmbeddedEngine, root: string, printer: Printer) => Promise<T>,
): Promise<T> {
  const { app } = openApp(options, io);
  const printer = new Printer(io, options.outputFormat);
  const engine = await openAppDatabase({ root: app.root, warn: (m) => printer.warn(m) });
  try {
    return await work(engine, app.root, printer);
  } finally {
    await engine.close();
  }
}

function namespace(text: string): Namespace {
  try {
    return parseNamespace(text);
  } catch (error) {
    throw setupFailure(error);
  }
}

const nsText = (ns: Namespace): string => `${ns.db}.${ns.coll}`;
const plural = (n: number, word: string): string =>
  `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;

async function collectionExists(engine: EmbeddedEngine, ns: Namespace): Promise<boolean> {
  return (await engine.listCollections({ db: ns.db })).some((c) => c.name === ns.coll);
}

/** `db sources`: the names context.services.get() answers to. */
export function listSources(options: GlobalOptions, io: CliIO): number {
  const { app } = openApp(options, io);
  const sources = [...app.dataSources.values()];
  new Printer(io, options.outputFormat).message(
    `Found ${plural(sources.length, 'data source')} (all served by the local database ${DB_DIR})`,
    {
      headers: ['Name', 'Type', 'Cluster', 'File'],
      rows: sources.map((s) => ({
        Name: s.name,
        Type: s.type,
        Cluster: s.clusterName ?? '',
        File: s.file ?? '(implicit: the app defines no data source)',
      })),
    },
  );
  return 0;
}

/** `db list`: databases, collections and their document counts. */
export async function listDatabase(options: GlobalOptions, io: CliIO): Promise<number> {
  return withDatabase(options, io, async (engine, _root, printer) => {
    const collections = await listCollections({ engine });
    if (collections.length === 0) {
      printer.message(`The local database (${DB_DIR}) is empty`);
      return 0;
    }
    printer.message(`Found ${plural(collections.length, 'collection')} in ${DB_DIR}`, {
      headers: ['Database', 'Collection', 'Documents'],
      rows: collections.map((c) => ({
        Database: c.db,
        Collection: c.coll,
        Documents: String(c.count),
      })),
    });
    return 0;
  });
}

export interface ImportCommandOptions extends GlobalOptions {
  ns: string;
  file: string;
  drop?: boolean | undefined;
}

async function readInput(file: string, io: CliIO): Promise<{ text: string; source: string }> {
  if (file === '-') {
    if (io.stdin === undefined || io.stdin.isTTY)
      throw setupFailure(
        new TriggerboxError('DbFileUnreadable', '--file - reads stdin, and stdin is a terminal', {
          hint: 'pipe the documents in (cat orders.json | triggerbox db import --ns shop.orders --file -), or pass a file',
        }),
      );
    return { text: await io.stdin.read(), source: 'stdin' };
  }
  const read = readRegularFile(path.resolve(io.cwd, file));
  if (!read.ok)
    throw setupFailure(
      new TriggerboxError(
        'DbFileUnreadable',
        `the file ${file} ${read.missing ? 'does not exist' : read.reason}; nothing was imported`,
        { hint: 'pass a regular file holding the documents, or --file - to read stdin' },
      ),
    );
  return { text: read.text, source: file };
}

/** `db import --ns db.coll --file f.json [--drop]`: all documents or none. */
export async function importData(options: ImportCommandOptions, io: CliIO): Promise<number> {
  const ns = namespace(options.ns);
  const { text, source } = await readInput(options.file, io);
  return withDatabase(options, io, async (engine, _root, printer) => {
    const result = await importDocuments({ engine, ns, text, source, drop: options.drop });
    printer.message(
      `Imported ${plural(result.inserted, 'document')} into ${nsText(ns)}${options.drop ? ` (replacing ${plural(result.dropped, 'document')})` : ''}`,
    );
    return 0;
  });
}

export interface ExportCommandOptions extends GlobalOptions {
  ns: string;
  out?: string | undefined;
  array?: boolean | undefined;
}

/** `db export --ns db.coll [--out file] [--array]`: canonical Extended JSON. */
export async function exportData(options: ExportCommandOptions, io: CliIO): Promise<number> {
  const ns = namespace(options.ns);
  const out = options.out === undefined ? undefined : path.resolve(io.cwd, options.out);
  if (out !== undefined) {
    const target = regularFileTarget(out);
    if (!target.ok && !target.missing)
      throw setupFailure(
        new TriggerboxError('DbFileUnreadable', `--out ${options.out} ${target.reason}`, {
          hint: 'name a regular file (it is replaced) or a new one',
        }),
      );
  }
  return withDatabase(options, io, async (engine, _root, printer) => {
    if (!(await collectionExists(engine, ns)))
      printer.warn(`${nsText(ns)} does not exist in the local database (db list shows them)`);
    const { text, count } = await exportDocuments({ engine, ns, array: options.array });
    if (out === undefined) {
      io.stdout(text);
      return 0;
    }
    writeFileAtomic(out, text);
    printer.message(
      `Exported ${plural(count, 'document')} from ${nsText(ns)} to ${options.out ?? ''}`,
    );
    return 0;
  });
}

export interface FindCommandOptions extends GlobalOptions {
  ns: string;
  filter?: string | undefined;
  projection?: string | undefined;
  sort?: string | undefined;
  limit?: number | undefined;
}

/** How many documents `db find` shows without --limit: a screenful, not a flood. */
export const DEFAULT_FIND_LIMIT = 20;

/** `db find`: indented relaxed Extended JSON to read; `-f json`: canonical, one per line. */
export async function findData(options: FindCommandOptions, io: CliIO): Promise<number> {
  const ns = namespace(options.ns);
  const parse = (text: string | undefined, flag: string) => {
    try {
      return text === undefined ? undefined : parseDocumentArgument(text, flag);
    } catch (error) {
      throw setupFailure(error);
    }
  };
  const filter = parse(options.filter, '--filter');
  const projection = parse(options.projection, '--projection');
  const sort = parse(options.sort, '--sort');
  const limit = options.limit ?? DEFAULT_FIND_LIMIT;
  if (!Number.isInteger(limit) || limit < 0)
    throw setupFailure(
      new TriggerboxError('InvalidInput', `--limit must be a whole number, got ${String(limit)}`, {
        hint: '--limit 0 shows every document',
      }),
    );
  return withDatabase(options, io, async (engine, _root, printer) => {
    if (!(await collectionExists(engine, ns))) {
      printer.warn(`${nsText(ns)} does not exist in the local database (db list shows them)`);
      return 0;
    }
    const { documents, matched } = await findDocuments({
      engine,
      ns,
      filter,
      projection,
      sort,
      limit,
    });
    if (options.outputFormat === 'json') {
      for (const doc of documents) io.stdout(`${canonicalLine(doc)}\n`);
      return 0;
    }
    const which = filter === undefined ? '' : ' matching the filter';
    printer.message(
      documents.length < matched
        ? `Showing ${documents.length} of ${plural(matched, 'document')} in ${nsText(ns)}${which} (--limit 0 shows all)`
        : `Found ${plural(matched, 'document')} in ${nsText(ns)}${which}`,
    );
    for (const doc of documents) io.stdout(`${readableDocument(doc)}\n`);
    return 0;
  });
}

export interface ResetCommandOptions extends GlobalOptions {
  ns?: string | undefined;
  yes?: boolean | undefined;
}

async function confirm(io: CliIO, question: string): Promise<boolean> {
  if (io.stdin?.isTTY !== true || io.prompt === undefined)
    throw setupFailure(
      new TriggerboxError(
        'DbConfirmationRequired',
        'deleting data needs a confirmation, and there is no terminal to ask on',
        { hint: 'pass -y (--yes) to delete without being asked' },
      ),
    );
  // End of input (Ctrl-D) answers no, as an empty answer does.
  const answer = ((await io.prompt(`? ${question} (y/N) `, false)) ?? '').trim().toLowerCase();
  return answer === 'y' || answer === 'yes';
}

/** `db reset [--ns db.coll]`: drops one collection or the whole local database. */
export async function resetData(options: ResetCommandOptions, io: CliIO): Promise<number> {
  const ns = options.ns === undefined ? undefined : namespace(options.ns);
  return withDatabase(options, io, async (engine, _root, printer) => {
    const all = await listCollections({ engine });
    const doomed = ns === undefined ? all : all.filter((c) => c.db === ns.db && c.coll === ns.coll);
    if (doomed.length === 0) {
      printer.message(
        ns === undefined
          ? 'The local database is already empty'
          : `Nothing to delete: ${nsText(ns)} does not exist`,
      );
      return 0;
    }
    const docs = plural(
      doomed.reduce((n, c) => n + c.count, 0),
      'document',
    );
    const what =
      ns === undefined
        ? `the whole local database (${plural(doomed.length, 'collection')}, ${docs})`
        : `${nsText(ns)} (${docs})`;
    if (options.yes !== true && !(await confirm(io, `Delete ${what}?`))) {
      printer.message('Nothing was deleted');
      return 0;
    }
    await resetDatabase({ engine, ns });
    printer.message(`Deleted ${what}`);
    return 0;
  });
}

/** `db seed`: loads `.triggerbox/seed/<db>/<coll>.json`, replacing those collections. */
export async function seedData(options: GlobalOptions, io: CliIO): Promise<number> {
  return withDatabase(options, io, async (engine, root, printer) => {
    const { loaded } = await seedDatabase({ engine, root });
    printer.message(
      `Loaded ${plural(loaded.length, 'seed file')} from ${SEED_DIR} (those collections were replaced)`,
      {
        headers: ['Namespace', 'Documents', 'File'],
        rows: loaded.map((s) => ({
          Namespace: nsText(s.ns),
          Documents: String(s.count),
          File: s.file,
        })),
      },
    );
    return 0;
  });
}

export interface ServeOptions extends GlobalOptions {
  dbPort?: number | undefined;
  /** Run DATABASE triggers on writes (default true): it is the same database dev serves. */
  triggers?: boolean | undefined;
}

/**
 * `db serve`: the endpoint alone, until Ctrl-C. Writes through it are the app's writes, so the
 * DATABASE triggers fire as in dev (`--no-triggers` serves the data only).
 */
export async function serveData(
  options: ServeOptions,
  io: CliIO,
  stop?: Promise<unknown>,
): Promise<number> {
  const [{ untilSignal }, { createRunner }, { openSecretStore }, { builtinServices }] =
    await Promise.all([
      import('./dev.js'),
      import('../../runtime/runner.js'),
      import('../../secrets/store.js'),
      import('../../services/builtin.js'),
    ]);
  const { TriggerDispatcher } = await import('../../triggers/dispatcher.js');
  const until = stop ?? untilSignal();
  return withDatabase(options, io, async (engine, root, printer) => {
    const { app } = openApp(options, io);
    const store = openSecretStore({ root, env: io.env });
    const runner = createRunner({
      app,
      secrets: { resolve: (name) => store.resolve(name), names: () => store.names() },
      services: [
        ...builtinServices(),
        mongodbService({ engine, dataSources: app.dataSources.keys() }),
      ],
    });
    const dispatcher =
      options.triggers === false
        ? undefined
        : new TriggerDispatcher({
            engine,
            runner,
            triggers: () => app.triggers.values(),
            warn: (m) => printer.warn(m),
            onFiring: (firing) => io.stdout(firingText(firing)),
          });
    const served = await serveAppDatabase({
      engine,
      port: options.dbPort,
      log: { write: (e) => (e.level === 'warn' ? printer.warn(e.message) : undefined) },
    });
    try {
      if (served.warning !== undefined) printer.warn(served.warning);
      io.stdout(
        `triggerbox db serve: ${served.uri} (the app's local database ${DB_DIR}; loopback only, no authentication)${dispatcher ? '; writes fire DATABASE triggers' : ''}; Ctrl-C to stop\n`,
      );
      await until;
      return 0;
    } finally {
      await served.endpoint.close();
      dispatcher?.close();
      runner.dispose();
      io.stdout('triggerbox db serve: stopped\n');
    }
  });
}
