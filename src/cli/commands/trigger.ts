/** `triggerbox trigger list | event | fire`. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { EJSON } from 'bson';
import { parseUserEjson } from '../../runtime/ejson.js';
import { describeTrigger, findTrigger } from '../../triggers/describe.js';
import { generateTriggerEvent } from '../../triggers/events.js';
import { applyFilters } from '../../triggers/filters.js';
import { TriggerboxError } from '../../shared/errors.js';
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

/** The generated event; its notes (match it cannot meet, placeholder collection) go to stderr. */
function eventFromFlags(
  trigger: TriggerDef,
  flags: EventFlags,
  io: CliIO,
): Record<string, unknown> | undefined {
  const { event, notes } = generateTriggerEvent(trigger, {
    op: flags.op,
    doc: jsonFlag('doc', flags.doc),
    before: jsonFlag('before', flags.before),
    user: jsonFlag('user', flags.user),
    coll: flags.coll,
  });
  for (const note of notes) io.stderr(`note: ${note}\n`);
  return event;
}

export function printEvent(
  options: GlobalOptions & EventFlags & { name: string },
  io: CliIO,
): number {
  const { app } = openApp(options, io);
  const trigger = findTrigger(app.triggers, options.name);
  const event = eventFromFlags(trigger, options, io);
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
  return runAndRender(options, io, async (runner, app) => {
    const trigger = findTrigger(app.triggers, options.name);
    let event: Record<string, unknown> | undefined;
    if (options.event !== undefined) {
      const text =
        options.event === '-'
          ? await (io.stdin?.read() ?? Promise.resolve(''))
          : readFileSync(path.resolve(io.cwd, options.event), 'utf8');
      event = jsonFlag(options.event === '-' ? 'event (stdin)' : 'event', text);
    } else if (trigger.type !== 'SCHEDULED') {
      event = eventFromFlags(trigger, options, io);
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
