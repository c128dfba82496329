/** `triggerbox trigger list | event | fire`. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { EJSON } from 'bson';
import { parseUserEjson } from '../../runtime/ejson.js';
import { describeTrigger, findTrigger } from '../../triggers/describe.js';
import { generateTriggerEvent } from '../../triggers/events.js';
import { applyFilters } from '../../triggers/filters.js';
import { LazyAppDatabase, type Engine } from '../../services/mongodb/index.js';
import { TriggerboxError } from '../../shared/errors.js';
import { databaseSettings } from '../../triggers/settings.js';
import type { TriggerDef } from '../../app/types.js';
import { openApp, type GlobalOptions } from '../app-context.js';
import type { CliIO } from '../io.js';
import { Printer } from '../render.js';
import { runAndRender, type ExecutionCommandOptions } from './function.js';

export interface EventFlags {
  op?: string | undefined;
  doc?: string | undefined;
  before?: string | undefined;
  user?: string | undefined;
  coll?: string | undefined;
  /** DATABASE: the document is the local database's document with this _id (Extended JSON). */
  id?: string | undefined;
}

function jsonFlag(flag: string, text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  const value = parseUserEjson(
    text,
    `--${flag}`,
    `pass a JSON object, e.g. --${flag} '{"status": "active"}'`,
  );
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TriggerboxError('InvalidInput', `--${flag} must be a JSON object`);
  }
  return value as Record<string, unknown>;
}

export function listTriggers(options: GlobalOptions, io: CliIO): number {
  const { app } = openApp(options, io);
  const printer = new Printer(io, options.outputFormat);
  const triggers = [...app.triggers.values()].sort((a, b) => a.name.localeCompare(b.name));
  if (triggers.length === 0) {
    printer.message('No available triggers to show');
    return 0;
  }
  printer.message(`Found ${triggers.length} triggers`, {
    headers: ['Name', 'Type', 'Function', 'Config', 'Disabled'],
    rows: triggers.map((t) => ({
      Name: t.name,
      Type: t.type,
      Function: t.functionName ?? '',
      Config: describeTrigger(t),
      Disabled: String(t.disabled),
    })),
  });
  return 0;
}

/** --id: plain text that is not JSON is a string _id (`--id abc`); JSON is Extended JSON. */
function idFlag(text: string): unknown {
  try {
    JSON.parse(text);
  } catch {
    return text;
  }
  return parseUserEjson(
    text,
    '--id',
    `pass the _id as Extended JSON, e.g. --id '{"$oid": "..."}' or --id 5`,
  );
}

/** The document --id names, from the trigger's collection (or --coll for a whole-database trigger). */
async function documentById(
  trigger: TriggerDef,
  flags: EventFlags,
  engine: Engine,
): Promise<Record<string, unknown>> {
  const settings = databaseSettings(trigger);
  if (settings === undefined) {
    throw new TriggerboxError(
      'InvalidInput',
      `--id takes a document from the database: trigger '${trigger.name}' is ${trigger.type}, not DATABASE`,
    );
  }
  if (flags.doc !== undefined)
    throw new TriggerboxError('InvalidInput', 'give either --id or --doc, not both');
  const coll = settings.collection === '' ? flags.coll : settings.collection;
  if (coll === undefined || coll === '') {
    throw new TriggerboxError(
      'InvalidInput',
      `trigger '${trigger.name}' watches the whole database ${settings.database}: name the collection the document is in with --coll`,
    );
  }
  const id = idFlag(flags.id ?? '');
  const cursor = await engine.find({
    ns: { db: settings.database, coll },
    filter: { _id: id },
    limit: 1,
  });
  const found = await cursor.next();
  await cursor.close();
  if (found === null) {
    throw new TriggerboxError(
      'InvalidInput',
      `no document with _id ${EJSON.stringify(id as never, { relaxed: true })} in ${settings.database}.${coll} (the local database)`,
      { hint: `list its documents with \`triggerbox db find --ns ${settings.database}.${coll}\`` },
    );
  }
  return found;
}

/** The generated event; its notes (match it cannot meet, placeholder collection) go to stderr. */
async function eventFromFlags(
  trigger: TriggerDef,
  flags: EventFlags,
  io: CliIO,
  engine?: () => Promise<Engine>,
): Promise<Record<string, unknown> | undefined> {
  const doc =
    flags.id !== undefined && engine !== undefined
      ? await documentById(trigger, flags, await engine())
      : jsonFlag('doc', flags.doc);
  const { event, notes } = generateTriggerEvent(trigger, {
    op: flags.op,
    doc,
    before: jsonFlag('before', flags.before),
    user: jsonFlag('user', flags.user),
    coll: flags.coll,
  });
  for (const note of notes) io.stderr(`note: ${note}\n`);
  return event;
}

export async function printEvent(
  options: GlobalOptions & EventFlags & { name: string },
  io: CliIO,
): Promise<number> {
  const { app } = openApp(options, io);
  const trigger = findTrigger(app.triggers, options.name);
  const db = new LazyAppDatabase({ root: app.root, warn: (m) => io.stderr(`warning: ${m}\n`) });
  let event: Record<string, unknown> | undefined;
  try {
    event = await eventFromFlags(trigger, options, io, () => db.open());
  } finally {
    await db.close();
  }
  if (event === undefined) {
    io.stderr(
      `trigger '${trigger.name}' is SCHEDULED: its function gets no argument, so there is no event to print\n`,
    );
    return 0;
  }
  io.stdout(`${EJSON.stringify(event, undefined, 2, { relaxed: true })}\n`);
  return 0;
}

export async function fireTrigger(
  options: ExecutionCommandOptions &
    EventFlags & { name: string; event?: string | undefined; force?: boolean | undefined },
  io: CliIO,
): Promise<number> {
  return runAndRender(options, io, async (runner, app, db) => {
    const trigger = findTrigger(app.triggers, options.name);
    // Its function's packages start bundling now, beside the sandbox process's start.
    if (trigger.functionName !== undefined && app.functions.has(trigger.functionName))
      void runner.prefetchPackages([trigger.functionName]);
    let event: Record<string, unknown> | undefined;
    if (options.event !== undefined) {
      const text =
        options.event === '-'
          ? await (io.stdin?.read() ?? Promise.resolve(''))
          : readFileSync(path.resolve(io.cwd, options.event), 'utf8');
      event = jsonFlag(options.event === '-' ? 'event (stdin)' : 'event', text);
    } else if (trigger.type !== 'SCHEDULED') {
      event = await eventFromFlags(trigger, options, io, () => db.open());
    }
    // Filtered here first so the refusal names the failed condition and how to meet it (for a
    // generated event: the flags; for a file: what must hold in it), never the same event again.
    if (event !== undefined && (!trigger.disabled || options.force === true)) {
      const outcome = applyFilters(trigger, event);
      if (!outcome.fires) {
        const source =
          options.event === undefined
            ? 'the generated event'
            : options.event === '-'
              ? 'the event on stdin'
              : `the event in ${options.event}`;
        throw new TriggerboxError(
          'TriggerEventFiltered',
          `${source} does not fire trigger '${trigger.name}': ${outcome.reason} (${outcome.stage} filter); nothing ran`,
          { hint: outcome.hint },
        );
      }
    }
    return runner.fireTrigger(trigger.name, event, {
      force: options.force,
      traceValues: options.traceValues,
    });
  });
}
