/**
 * The CLI: parse (yargs) -> call the library -> render. main() never exits the process and takes
 * its output streams from `io`, so tests run it in-process.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import yargs from 'yargs';
import type { Argv } from 'yargs';
import type { GlobalOptions } from './app-context.js';
import { TriggerboxError } from '../shared/errors.js';
import { didYouMean } from '../shared/suggest.js';
import { processIO, type CliIO } from './io.js';
import { Printer } from './render.js';

type Selected = (options: Record<string, unknown>) => Promise<number> | number;
type Select = (run: Selected) => void;

function globals(argv: Record<string, unknown>): GlobalOptions {
  return {
    local: argv['local'] as string | undefined,
    env: argv['env'] as string | undefined,
    app: argv['app'] as string | undefined,
    outputFormat: argv['outputFormat'] === 'json' ? 'json' : 'text',
  };
}

function positiveNumber(name: string) {
  return (value: unknown): number | undefined => {
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0)
      throw new Error(`--${name} must be a positive number, got '${String(value)}'`);
    return n;
  };
}

/** --timeout, --memory and --trace-values: every command that runs functions takes them. */
function executionOptions<T>(c: Argv<T>) {
  return c
    .option('trace-values', {
      type: 'boolean',
      describe:
        'report every context.values.get call: who asked, for what, and what it resolved to',
    })
    .option('timeout', {
      type: 'number',
      coerce: positiveNumber('timeout'),
      describe: 'wall-time limit per call in ms (default 300000)',
    })
    .option('memory', {
      type: 'number',
      coerce: positiveNumber('memory'),
      describe: 'memory limit per call in MB (default 350)',
    })
    .option('mongodb-uri', {
      type: 'string',
      describe:
        'put the data sources on this real MongoDB (default: TRIGGERBOX_MONGODB_URI; per data source: TRIGGERBOX_MONGODB_URI_<NAME>); never printed',
    });
}

/** function run and trigger fire: wait for a debugger and pause on the function's first line. */
function inspectBrkOption<T>(c: Argv<T>) {
  return c.option('inspect-brk', {
    type: 'string',
    describe:
      'open a debugger endpoint on [host:]port (default 127.0.0.1:9229), wait for Chrome DevTools or VS Code to attach, pause on the first line (Node 24)',
  });
}

/** function run and trigger fire: the triggers their writes fire run too (dev: always). */
function triggerOptions<T>(c: Argv<T>) {
  return c.option('triggers', {
    type: 'boolean',
    default: true,
    describe:
      "run the DATABASE triggers the function's writes fire and print their output (--no-triggers turns that off)",
  });
}

/** The trigger event generator's flags, as parsed. */
function eventFlagValues(argv: Record<string, unknown>) {
  return {
    name: String(argv['name']),
    op: argv['op'] as string | undefined,
    doc: argv['doc'] as string | undefined,
    before: argv['before'] as string | undefined,
    user: argv['user'] as string | undefined,
    coll: argv['coll'] as string | undefined,
    id: argv['id'] as string | undefined,
  };
}

function parser(io: CliIO, select: Select): Argv {
  return yargs()
    .scriptName('triggerbox')
    .usage('$0 <command> [options]\n\nRun MongoDB Atlas App Services functions locally.')
    .option('local', {
      type: 'string',
      describe: 'the app directory (default: found by walking up from here)',
    })
    .option('env', {
      type: 'string',
      describe:
        "environment tag to use instead of the app's (development, testing, qa, production)",
    })
    .option('app', {
      type: 'string',
      describe:
        'the app name or id (accepted for appservices compatibility; must match the local app)',
    })
    .option('output-format', {
      alias: 'f',
      choices: ['text', 'json'],
      default: 'text',
      describe: 'output format',
    })
    .option('output-target', {
      alias: 'o',
      type: 'string',
      describe: 'write the output to this file (appended) instead of stdout',
    })
    .option('disable-colors', { type: 'boolean', describe: 'no output styling' })
    .option('yes', { alias: 'y', type: 'boolean', hidden: true })
    .option('profile', { type: 'string', hidden: true })
    .option('telemetry', { type: 'string', hidden: true })
    .option('project', { type: 'string', hidden: true })
    .command(['function', 'functions'], 'run and list functions', (y) =>
      y
        .command(
          'run',
          'run a function and print its logs and result',
          (c) =>
            executionOptions(
              inspectBrkOption(triggerOptions(c))
                .option('name', {
                  type: 'string',
                  describe: 'the function to run (asked for on a terminal when absent)',
                })
                .option('args', {
                  type: 'string',
                  array: true,
                  default: [],
                  describe:
                    'an argument (repeatable): JSON object/array, integer, float, or string',
                })
                .option('user', {
                  type: 'string',
                  describe: 'run as the user with this id (default: the system user)',
                }),
            ),
          (argv) =>
            select(async () => {
              const { runFunction } = await import('./commands/function.js');
              return runFunction(
                {
                  ...globals(argv),
                  name: argv.name,
                  args: (argv.args ?? []).map(String),
                  user: argv.user,
                  timeout: argv.timeout,
                  memory: argv.memory,
                  traceValues: argv.traceValues,
                  triggers: argv.triggers,
                  mongodbUri: argv['mongodbUri'] as string | undefined,
                  inspectBrk: argv['inspectBrk'] as string | undefined,
                },
                io,
              );
            }),
        )
        .command('list', "list the app's functions", {}, (argv) =>
          select(async () =>
            (await import('./commands/function.js')).listFunctions(globals(argv), io),
          ),
        )
        .demandCommand(1, 'name a function subcommand: run or list'),
    )
    .command(
      ['secrets', 'secret'],
      'manage the encrypted local secret store (.triggerbox/secrets.json)',
      (y) =>
        y
          .command(
            'create',
            'create a secret (value from --value, stdin, or a masked prompt)',
            (c) =>
              c
                .option('name', { alias: 'n', type: 'string', describe: 'the secret name' })
                .option('value', {
                  alias: 'v',
                  type: 'string',
                  // Take the next word as the value even when it starts with '-': otherwise yargs
                  // parses it as flags and echoes its letters in an "Unknown arguments" error.
                  nargs: 1,
                  describe:
                    'the secret value (prefer stdin or the prompt: --value stays in shell history)',
                }),
            (argv) =>
              select(async () =>
                (await import('./commands/secrets.js')).createSecret(
                  { ...globals(argv), name: argv.name, value: argv.value },
                  io,
                ),
              ),
          )
          .command(['list', 'ls'], 'list the secrets (ids and names, never values)', {}, (argv) =>
            select(async () =>
              (await import('./commands/secrets.js')).listSecrets(globals(argv), io),
            ),
          )
          .command(
            'update',
            'rename a secret or change its value',
            (c) =>
              c
                .option('secret', {
                  alias: 's',
                  type: 'string',
                  describe: 'the secret name or id (asked for on a terminal when absent)',
                })
                .option('name', { alias: 'n', type: 'string', describe: 'a new name' })
                .option('value', {
                  alias: 'v',
                  type: 'string',
                  // Take the next word as the value even when it starts with '-': otherwise yargs
                  // parses it as flags and echoes its letters in an "Unknown arguments" error.
                  nargs: 1,
                  describe: 'a new value (or pipe it on stdin)',
                }),
            (argv) =>
              select(async () =>
                (await import('./commands/secrets.js')).updateSecret(
                  { ...globals(argv), secret: argv.secret, name: argv.name, value: argv.value },
                  io,
                ),
              ),
          )
          .command(
            'delete',
            'delete secrets',
            (c) =>
              c.option('secret', {
                alias: 's',
                type: 'string',
                array: true,
                describe:
                  'names or ids, comma-separated and/or repeated (asked for on a terminal when absent)',
              }),
            (argv) =>
              select(async () =>
                (await import('./commands/secrets.js')).deleteSecrets(
                  { ...globals(argv), secret: argv.secret?.map(String) },
                  io,
                ),
              ),
          )
          .command(
            'rotate-key',
            're-encrypt every secret under a new master key, atomically',
            {},
            (argv) =>
              select(async () =>
                (await import('./commands/secrets.js')).rotateKey(globals(argv), io),
              ),
          )
          .command(
            'import',
            'bring the entries of a plaintext dotenv file into the encrypted store',
            (c) =>
              c.option('from', { type: 'string', demandOption: true, describe: 'the dotenv file' }),
            (argv) =>
              select(async () =>
                (await import('./commands/secrets.js')).importSecrets(
                  { ...globals(argv), from: argv.from },
                  io,
                ),
              ),
          )
          .demandCommand(
            1,
            'name a secrets subcommand: create, list, update, delete, rotate-key or import',
          ),
    )
    .command('values', "list and check the app's Values", (y) =>
      y
        .command(
          'list',
          'list every Value with its kind (plain or linked to a Secret)',
          {},
          (argv) =>
            select(async () =>
              (await import('./commands/values.js')).listValues(globals(argv), io),
            ),
        )
        .command(
          'check',
          'report context.values.get names that match no Value, Values linked to missing Secrets, unread Values',
          {},
          (argv) =>
            select(async () =>
              (await import('./commands/values.js')).checkValues(globals(argv), io),
            ),
        )
        .demandCommand(1, 'name a values subcommand: list or check'),
    )
    .command('trigger', 'list triggers, generate their events, fire them', (y) => {
      const eventFlags = (c: Argv): Argv =>
        c
          .option('op', {
            type: 'string',
            describe:
              'DATABASE: insert, update, replace or delete; AUTHENTICATION: LOGIN, CREATE or DELETE',
          })
          .option('doc', {
            type: 'string',
            describe: 'DATABASE: the document (Extended JSON); _id added when missing',
          })
          .option('before', {
            type: 'string',
            describe: 'DATABASE: the document before the change (update, replace, delete)',
          })
          .option('user', {
            type: 'string',
            describe: 'AUTHENTICATION: user fields (JSON) merged over a sample user',
          })
          .option('coll', {
            type: 'string',
            describe:
              'DATABASE on a whole database ("collection": ""): the collection written (ns.coll)',
          })
          .option('id', {
            type: 'string',
            describe:
              'DATABASE: take the document from the local database by this _id (Extended JSON: 5, \'"a"\', \'{"$oid": ...}\')',
          });
      return y
        .command(
          'list',
          'list the triggers with their type, function, configuration and state',
          {},
          (argv) =>
            select(async () =>
              (await import('./commands/trigger.js')).listTriggers(globals(argv), io),
            ),
        )
        .command(
          'event',
          'print a realistic event for a trigger (Extended JSON: save it, edit it, fire it)',
          (c) =>
            eventFlags(
              c.option('name', { type: 'string', demandOption: true, describe: 'the trigger' }),
            ),
          (argv) =>
            select(async () =>
              (await import('./commands/trigger.js')).printEvent(
                { ...globals(argv), ...eventFlagValues(argv) },
                io,
              ),
            ),
        )
        .command(
          'fire',
          "run a trigger's function as the platform would, with a generated or given event",
          (c) =>
            executionOptions(
              eventFlags(
                inspectBrkOption(
                  triggerOptions(
                    c.option('name', {
                      type: 'string',
                      demandOption: true,
                      describe: 'the trigger',
                    }),
                  ),
                ),
              )
                .option('event', {
                  type: 'string',
                  describe: 'an event file (Extended JSON), or - for stdin',
                })
                .option('force', { type: 'boolean', describe: 'fire a disabled trigger' }),
            ),
          (argv) =>
            select(async () =>
              (await import('./commands/trigger.js')).fireTrigger(
                {
                  ...globals(argv),
                  ...eventFlagValues(argv),
                  event: argv['event'] as string | undefined,
                  force: argv['force'] as boolean | undefined,
                  traceValues: argv['traceValues'] as boolean | undefined,
                  timeout: argv['timeout'] as number | undefined,
                  memory: argv['memory'] as number | undefined,
                  triggers: argv['triggers'] as boolean | undefined,
                  mongodbUri: argv['mongodbUri'] as string | undefined,
                  inspectBrk: argv['inspectBrk'] as string | undefined,
                },
                io,
              ),
            ),
        )
        .demandCommand(1, 'name a trigger subcommand: list, event or fire');
    })
    .command(
      'dev',
      'serve the app locally with hot reload on every save',
      (c) =>
        executionOptions(
          c
            .option('port', {
              type: 'number',
              default: 8787,
              describe: 'HTTP port of the invoke endpoint (0: any free port)',
            })
            .option('host', {
              type: 'string',
              default: '127.0.0.1',
              describe: 'address to listen on',
            })
            .option('run', {
              type: 'string',
              describe: 're-run this function after every reload and print its logs and result',
            })
            .option('args', {
              type: 'string',
              array: true,
              default: [],
              describe: 'arguments for --run (as in function run)',
            })
            .option('user', {
              type: 'string',
              describe: 'run --run as this user id (default: the system user)',
            })
            .option('schedules', {
              type: 'boolean',
              default: true,
              describe: 'run SCHEDULED triggers on their CRON (--no-schedules turns that off)',
            })
            .option('inspect', {
              type: 'string',
              describe:
                'open a debugger endpoint on [host:]port (default 127.0.0.1:9229) for Chrome DevTools or VS Code (Node 24)',
            })
            .option('db-port', {
              type: 'number',
              describe:
                'port of the MongoDB endpoint on 127.0.0.1 (default 27027, or any free one when taken; 0: any)',
            }),
        ),
      (argv) =>
        select(async () => {
          const [{ dev }, { parseCliArg }] = await Promise.all([
            import('./commands/dev.js'),
            import('./commands/function.js'),
          ]);
          return dev(
            {
              ...globals(argv),
              port: argv.port,
              host: argv.host,
              run: argv.run,
              args: (argv.args ?? []).map((a) => parseCliArg(String(a))),
              user: argv.user,
              traceValues: argv.traceValues,
              timeout: argv.timeout,
              memory: argv.memory,
              schedules: argv.schedules as boolean | undefined,
              dbPort: argv['dbPort'] as number | undefined,
              mongodbUri: argv['mongodbUri'] as string | undefined,
              inspect: argv['inspect'] as string | undefined,
            },
            io,
          );
        }),
    )
    .command('db', "the app's local database (.triggerbox/db) and its data sources", (y) =>
      y
        .command(['list', 'ls'], 'list databases, collections and document counts', {}, (argv) =>
          select(async () => (await import('./commands/db.js')).listDatabase(globals(argv), io)),
        )
        .command('sources', 'list the data sources context.services.get() answers to', {}, (argv) =>
          select(async () => (await import('./commands/db.js')).listSources(globals(argv), io)),
        )
        .command(
          'import',
          'insert the documents of a file (JSON/EJSON array, or one per line): all or none',
          (c) =>
            c
              .option('ns', { type: 'string', demandOption: true, describe: 'database.collection' })
              .option('file', {
                type: 'string',
                demandOption: true,
                describe: 'the documents file, or - for stdin',
              })
              .option('drop', { type: 'boolean', describe: 'replace the collection' }),
          (argv) =>
            select(async () =>
              (await import('./commands/db.js')).importData(
                { ...globals(argv), ns: argv.ns, file: argv.file, drop: argv.drop },
                io,
              ),
            ),
        )
        .command(
          'export',
          'print a collection as canonical Extended JSON, one document per line (as mongoexport)',
          (c) =>
            c
              .option('ns', { type: 'string', demandOption: true, describe: 'database.collection' })
              .option('out', { type: 'string', describe: 'write to this file (replaced)' })
              .option('array', { type: 'boolean', describe: 'one JSON array instead of lines' }),
          (argv) =>
            select(async () =>
              (await import('./commands/db.js')).exportData(
                { ...globals(argv), ns: argv.ns, out: argv.out, array: argv.array },
                io,
              ),
            ),
        )
        .command(
          'find',
          'print the documents of a collection that match a filter',
          (c) =>
            c
              .option('ns', { type: 'string', demandOption: true, describe: 'database.collection' })
              .option('filter', { type: 'string', describe: 'a query (Extended JSON)' })
              .option('projection', { type: 'string', describe: 'fields to show (Extended JSON)' })
              .option('sort', { type: 'string', describe: 'sort order, e.g. \'{"total": -1}\'' })
              .option('limit', {
                type: 'number',
                describe: 'at most this many documents (default 20; 0: all)',
              }),
          (argv) =>
            select(async () =>
              (await import('./commands/db.js')).findData(
                {
                  ...globals(argv),
                  ns: argv.ns,
                  filter: argv.filter,
                  projection: argv.projection,
                  sort: argv.sort,
                  limit: argv.limit,
                },
                io,
              ),
            ),
        )
        .command(
          'reset',
          'delete one collection (--ns) or the whole local database (asks first; -y skips)',
          (c) => c.option('ns', { type: 'string', describe: 'only this database.collection' }),
          (argv) =>
            select(async () =>
              (await import('./commands/db.js')).resetData(
                { ...globals(argv), ns: argv.ns, yes: argv['yes'] as boolean | undefined },
                io,
              ),
            ),
        )
        .command(
          'seed',
          'load .triggerbox/seed/<db>/<coll>.json, replacing those collections',
          {},
          (argv) =>
            select(async () => (await import('./commands/db.js')).seedData(globals(argv), io)),
        )
        .command(
          'serve',
          'serve the local database on a loopback MongoDB endpoint (writes fire DATABASE triggers)',
          (c) =>
            c
              .option('db-port', {
                type: 'number',
                describe: 'port on 127.0.0.1 (default 27027, or any free one when taken; 0: any)',
              })
              .option('triggers', {
                type: 'boolean',
                default: true,
                describe: 'run DATABASE triggers on writes (--no-triggers: serve the data only)',
              }),
          (argv) =>
            select(async () =>
              (await import('./commands/db.js')).serveData(
                {
                  ...globals(argv),
                  dbPort: argv['dbPort'] as number | undefined,
                  triggers: argv['triggers'] as boolean | undefined,
                },
                io,
              ),
            ),
        )
        .demandCommand(
          1,
          'name a db subcommand: list, sources, import, export, find, reset, seed or serve',
        ),
    )
    .command(
      'types',
      "write a .d.ts of the app's context, Values, functions and data sources for editors",
      (c) =>
        c.option('out', {
          type: 'string',
          describe: 'where to write it (default <app>/triggerbox-env.d.ts)',
        }),
      (argv) =>
        select(async () =>
          (await import('./commands/types.js')).types(
            { ...globals(argv), out: argv['out'] as string | undefined },
            io,
          ),
        ),
    )
    .command(
      'validate',
      'check the app directory and report every problem',
      (c) =>
        c.option('types', {
          type: 'boolean',
          describe: 'also type-check the function files against the app types (needs typescript)',
        }),
      (argv) =>
        select(async () =>
          (await import('./commands/validate.js')).validate(
            { ...globals(argv), types: argv['types'] === true },
            io,
          ),
        ),
    )
    .demandCommand(1, 'name a command')
    .epilogue(
      'appservices flags: -y/--yes, --profile, --telemetry and --project are accepted by every command and mean nothing locally; -o/--output-target and --disable-colors work as in appservices. triggerbox -v prints the version.',
    )
    .strict()
    .help()
    .alias('help', 'h')
    .version(false)
    .wrap(100);
}

/** `--event -` (stdin) would reach yargs as an option without value and a stray `-`. */
function joinDashValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg.startsWith('--') && !arg.includes('=') && argv[i + 1] === '-') {
      out.push(`${arg}=-`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

const NOUN_ALIASES: Record<string, string> = { functions: 'function', secret: 'secrets' };
const VERB_ALIASES: Record<string, string> = { ls: 'list' };
/** Where appservices names a command other than `<noun> <verb>` in its errors. */
const DISPLAY: Record<string, string> = {
  'function run': 'run',
  'secrets update': 'secret update',
};
const COMMANDS = new Set([
  'function run',
  'function list',
  'secrets create',
  'secrets list',
  'secrets update',
  'secrets delete',
  'secrets rotate-key',
  'secrets import',
  'values list',
  'values check',
  'trigger list',
  'trigger event',
  'trigger fire',
  'dev',
  'types',
  'validate',
  'db list',
  'db sources',
  'db import',
  'db export',
  'db find',
  'db reset',
  'db seed',
  'db serve',
]);

/** The command words of argv (`functions ls` -> ['function', 'list']), flags and values left out. */
function commandPath(positionals: unknown[]): string[] {
  const [noun, verb] = positionals.map(String);
  if (noun === undefined) return [];
  const canonical = NOUN_ALIASES[noun] ?? noun;
  if (['dev', 'types', 'validate'].includes(canonical) || verb === undefined) return [canonical];
  return [canonical, VERB_ALIASES[verb] ?? verb];
}

/** `-o/--output-target <file>`: output is appended to that file, as appservices does. */
function withOutputTarget(io: CliIO, target: unknown): CliIO {
  if (typeof target !== 'string' || target === '') return io;
  return {
    ...io,
    stdout: (text) => appendFileSync(path.resolve(io.cwd, target), text, { mode: 0o660 }),
    stdoutIsTTY: false,
  };
}

/**
 * yargs ends its help text with the failure message; the message is printed once, below the
 * help, with a "did you mean" for a mistyped command or flag (taken from that same help text).
 * `english` is yargs' message in English, whatever the locale, for telling the failures apart;
 * `message` is the one yargs printed (translated under LANG=de_DE ...).
 */
function usageFailure(
  english: string,
  message: string,
  help: string,
  argv: string[],
): TriggerboxError {
  const helpOnly = help.endsWith(message) ? help.slice(0, -message.length).trimEnd() : help;
  const unknown = /^Unknown arguments?: (.*)$/.exec(english);
  if (/following: value/.test(english)) {
    return new TriggerboxError('InvalidInput', message, {
      hint: "a value that starts with '-' must be written --value=-..., or piped on stdin",
    });
  }
  if (unknown === null) return new TriggerboxError('InvalidInput', message);
  const words = (unknown[1] ?? '').split(', ');
  const flags = [
    ...new Set([...helpOnly.matchAll(/(?:^|\s)--([a-z][a-z-]*)/g)].map((m) => m[1] ?? '')),
  ];
  const commands = [
    ...new Set(
      [...helpOnly.matchAll(/^ {2}triggerbox (?:[a-z-]+ )*?([a-z-]+)(?= {2}|\s*$| \[)/gm)].map(
        (m) => m[1] ?? '',
      ),
    ),
  ];
  const first = words[0] ?? '';
  const asFlag = argv.some(
    (a) => a === `--${first}` || a.startsWith(`--${first}=`) || a === `-${first}`,
  );
  if (asFlag) {
    const suggestion = didYouMean(first, flags);
    return new TriggerboxError('InvalidInput', `unknown flag --${first}`, {
      hint: suggestion ? suggestion.replace(/'([^']+)'/g, "'--$1'") : 'see the flags above',
    });
  }
  const suggestion = didYouMean(first, commands);
  return new TriggerboxError('InvalidInput', `unknown command '${first}'`, {
    hint: suggestion || 'see the commands above',
  });
}

/**
 * yargs renders the whole help text after every command's handler (`usage.cacheHelpMessage`, kept
 * in case an async handler fails later): 40-100 ms of string-width and wrap-ansi on each run. Ours
 * only select the command, and main() prints every failure itself, so the cache is never read;
 * help for --help and for usage errors is rendered when asked for, as before.
 */
function skipHelpCache(cli: Argv): void {
  type Internals = { getInternalMethods?: () => { getUsageInstance?: () => UsageInternals } };
  type UsageInternals = { cacheHelpMessage?: () => void } | undefined;
  const usage = (cli as unknown as Internals).getInternalMethods?.().getUsageInstance?.();
  if (typeof usage?.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => undefined;
}

/** Parses `argv` with `cli`: yargs' failure, if any, and the text it produced (help, failure). */
function parseWith(cli: Argv, argv: string[]): Promise<{ failure?: Error; output: string }> {
  return new Promise((resolve) => {
    void cli.parse(argv, {}, (error: Error | undefined, _argv: unknown, text: string) => {
      resolve(
        error === undefined || error === null ? { output: text } : { failure: error, output: text },
      );
    });
  });
}

/**
 * yargs' failure message in English. yargs translates its messages by LC_ALL/LC_MESSAGES/LANG
 * (`Unbekanntes Argument: nmae`), and they are the only sign of which failure it was: under
 * another locale the same argv is parsed again by an English parser (nothing runs: its handlers
 * only select), then the locale yargs shares between parsers is put back.
 */
async function englishFailure(
  cli: Argv,
  io: CliIO,
  argv: string[],
  failure: Error,
): Promise<string> {
  const locale = cli.locale();
  if (/^en(_|$)/i.test(locale)) return failure.message;
  const english = parser(io, () => undefined).locale('en');
  skipHelpCache(english);
  try {
    return (await parseWith(english, argv)).failure?.message ?? failure.message;
  } finally {
    english.locale(locale);
  }
}

/** Runs the CLI with `argv` (without node and script) and returns the exit code. */
export async function main(rawArgv: string[], baseIO: CliIO = processIO()): Promise<number> {
  const argv = joinDashValues(rawArgv);
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
    baseIO.stdout(`${packageVersion()}\n`);
    return 0;
  }
  // One CliIO that main() completes once it knows the command (its name for errors, colours).
  const io: CliIO = { ...baseIO };
  let selected: Selected | undefined;
  const cli = parser(io, (run) => {
    selected = run;
  });
  skipHelpCache(cli);
  const { failure, output } = await parseWith(cli, argv);
  const parsed = (cli.parsed as { argv?: Record<string, unknown> } | false) || undefined;
  const flags = parsed?.argv ?? {};
  const format =
    flags['outputFormat'] === 'json' || /(^|\s)(-f|--output-format)[ =]json\b/.test(argv.join(' '))
      ? 'json'
      : 'text';
  const words = commandPath((flags['_'] as unknown[] | undefined) ?? []);
  const key = words.join(' ');
  if (COMMANDS.has(key)) io.command = DISPLAY[key] ?? key;
  io.disableColors = flags['disableColors'] === true;
  if (failure !== undefined) {
    const english = await englishFailure(cli, io, argv, failure);
    const error = usageFailure(english, failure.message, output, argv);
    if (format === 'json' && (key === 'function run' || key === 'trigger fire')) {
      // These two print exactly one JSON object on stdout with -f json, whatever happens.
      io.stdout(`${JSON.stringify({ error: error.message, error_code: error.code, logs: [] })}\n`);
      return 1;
    }
    if (format === 'text' && output) {
      const help = output.endsWith(failure.message)
        ? output.slice(0, -failure.message.length).trimEnd()
        : output;
      io.stderr(`${help}\n\n`);
    }
    new Printer(io, format).error(error);
    return 1;
  }
  if (selected === undefined) {
    // --help and friends: yargs produced the text.
    if (output) io.stdout(`${output}\n`);
    return 0;
  }
  // The handlers hold this same object: from here on their output goes to --output-target.
  Object.assign(io, withOutputTarget(io, flags['outputTarget']));
  try {
    return await selected({});
  } catch (error) {
    new Printer(io, format).error(error);
    return 1;
  }
}

let version: string | undefined;
function packageVersion(): string {
  version ??= (
    JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    }
  ).version;
  return version;
}
