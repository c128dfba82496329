/** `triggerbox function run` and `triggerbox function list`. */
import { formatDiagnostic } from '../../app/load-app.js';
import { decodeUserJson, parseCanonical, sortKeys } from '../../runtime/ejson.js';
import type { App } from '../../app/types.js';
import {
  createRunner,
  FunctionExecutionFailure,
  type ExecutionResult,
  type FunctionRunner,
} from '../../runtime/runner.js';
import { openSecretStore } from '../../secrets/store.js';
import { builtinServices } from '../../services/builtin.js';
// The database's modules one by one, not through services/mongodb/index.js: a one-off run loads
// the embedded engine only when a function first uses it (LazyAppDatabase), and the official
// driver only for a data source with a cluster URI (about 110 ms of each run otherwise).
import { clusterUris } from '../../services/mongodb/cluster-uris.js';
import type { DriverEngine } from '../../services/mongodb/driver/driver-engine.js';
import { LazyAppDatabase } from '../../services/mongodb/lazy.js';
import { mongodbService } from '../../services/mongodb/service.js';
import type { TriggerDispatcher, TriggerFiring } from '../../triggers/dispatcher.js';
import { isTriggerboxError, TriggerboxError } from '../../shared/errors.js';
import { didYouMean } from '../../shared/suggest.js';
import { openApp, setupFailure, type GlobalOptions } from '../app-context.js';
import { selectOne } from '../select.js';
import { openDebugger, sandboxNodeForDebugger } from '../inspect.js';
import type { InspectorServer } from '../../dev/inspector-server.js';
import type { CliIO } from '../io.js';
import { Printer } from '../render.js';
import {
  firingText,
  firingJson,
  logsText,
  successText,
  traceText,
  userFrames,
} from '../render-result.js';

export interface RunOptions extends ExecutionCommandOptions {
  /** Asked for on a terminal when absent (`Select Function`), as appservices does. */
  name?: string | undefined;
  args: string[];
  user?: string | undefined;
}

/**
 * appservices' argument parsing (realm-cli `internal/commands/function/run.go`), exactly:
 * - JSON when Go's `json.Unmarshal` takes it as an object, an array or `null` (surrounding JSON
 *   whitespace allowed); Extended JSON wrappers such as `{"$oid": ...}` become their BSON types,
 *   and plain numbers stay JS numbers (never `BSON.Long`);
 * - else an integer when `strconv.Atoi` takes it (optional sign, ASCII digits, no spaces: `-0` is 0);
 * - else a float when `strconv.ParseFloat` takes it (`1e3`, `.5`, `Inf`, `NaN`, hex `0x1p-2`;
 *   out of range is not a float); NaN and infinities then fail the run, as Go's JSON encoder does;
 * - else the string itself, untrimmed (`--args=true` is "true", `--args -x` is "-x").
 */
export function parseCliArg(text: string): unknown {
  const json = goJsonArgument(text);
  if (json.ok) return json.value;
  // Go's int has no negative zero: `-0` is 0.
  if (/^[+-]?[0-9]+$/.test(text)) return Number(text) + 0;
  const float = goParseFloat(text);
  if (float !== undefined) {
    if (!Number.isFinite(float)) {
      throw new TriggerboxError(
        'InvalidInput',
        `json: unsupported value: ${Number.isNaN(float) ? 'NaN' : float > 0 ? '+Inf' : '-Inf'}`,
        {
          hint: `--args ${text} reads as a number JSON cannot carry; pass '"${text}"' for the string`,
        },
      );
    }
    return float;
  }
  return text;
}

function goJsonArgument(text: string): { ok: true; value: unknown } | { ok: false } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { ok: false };
  }
  if (parsed === null) return { ok: true, value: null };
  if (typeof parsed !== 'object') return { ok: false };
  try {
    // Go decodes JSON numbers as float64 (one out of its range makes the text not JSON);
    // Extended JSON wrappers become their BSON types.
    return { ok: true, value: decodeUserJson(text) };
  } catch {
    return { ok: false };
  }
}

/** Go's `strconv.ParseFloat(s, 64)`: the value, or undefined where Go returns an error. */
function goParseFloat(text: string): number | undefined {
  const special = /^([+-]?)(inf|infinity)$/i.exec(text);
  if (special) return special[1] === '-' ? -Infinity : Infinity;
  if (/^nan$/i.test(text)) return NaN;
  let value: number;
  if (/^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$/.test(text)) {
    value = Number(text);
  } else {
    const hex = /^([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?[pP]([+-]?[0-9]+)$/.exec(text);
    if (!hex || (hex[2] ?? '') + (hex[3] ?? '') === '') return undefined;
    const digits = (hex[2] ?? '') + (hex[3] ?? '');
    const mantissa = Number.parseInt(digits, 16) / 16 ** (hex[3] ?? '').length;
    value = (hex[1] === '-' ? -1 : 1) * mantissa * 2 ** Number(hex[4]);
  }
  // Go reports a magnitude past the largest double as a range error: not a float.
  return Number.isFinite(value) ? value : undefined;
}

export interface ExecutionCommandOptions extends GlobalOptions {
  timeout?: number | undefined;
  memory?: number | undefined;
  traceValues?: boolean | undefined;
  /** Run the DATABASE triggers the call's writes fire, and print them (default true). */
  triggers?: boolean | undefined;
  /** Real-cluster mode: the URI of every data source without its own TRIGGERBOX_MONGODB_URI_<NAME>. */
  mongodbUri?: string | undefined;
  /** `--inspect-brk[=[host:]port]`: wait for a debugger, then pause on the function's first line. */
  inspectBrk?: string | undefined;
}

/**
 * What `function run` and `trigger fire` share: load the app, create a runner wired to the
 * secret store, run, and render the outcome (text, or exactly one JSON object with -f json).
 */
export async function runAndRender(
  options: ExecutionCommandOptions,
  io: CliIO,
  action: (runner: FunctionRunner, app: App, db: LazyAppDatabase) => Promise<ExecutionResult>,
): Promise<number> {
  const printer = new Printer(io, options.outputFormat);
  const json = options.outputFormat === 'json';
  let runner: FunctionRunner | undefined;
  let db: LazyAppDatabase | undefined;
  let dispatcher: TriggerDispatcher | undefined;
  let debuggerEndpoint: InspectorServer | undefined;
  const clusters = new Map<string, DriverEngine>();
  // Firings in the order they started (a cascade's trigger after the one whose write fired it).
  const firings: TriggerFiring[] = [];
  const slots = new Map<number, number>();
  /** Waits until the triggers the call's writes fired (and theirs) have run. */
  const settle = async (): Promise<TriggerFiring[]> => {
    await dispatcher?.settled();
    dispatcher?.close();
    return firings;
  };
  try {
    const inspectAddress =
      options.inspectBrk === undefined
        ? undefined
        : (await import('../../dev/inspector-server.js')).parseInspectAddress(options.inspectBrk);
    const { app, diagnostics } = openApp(options, io);
    const errors = diagnostics.filter((d) => d.severity === 'error');
    if (errors.length > 0) {
      printer.warn(
        `the app has ${errors.length} problem(s) (see \`triggerbox validate\`); running anyway`,
      );
      for (const d of errors) printer.warn(formatDiagnostic(d));
    }
    // Under Node 26 the debugger's sandbox runs under a Node 24: found or fetched before anything
    // starts (InspectorUnsupported when none can be had).
    const inspectNode = inspectAddress === undefined ? undefined : await sandboxNodeForDebugger(io);
    const store = openSecretStore({ root: app.root, env: io.env });
    const database = new LazyAppDatabase({ root: app.root, warn: (m) => printer.warn(m) });
    db = database;
    // Real-cluster mode: those data sources read and write the cluster (connected on first use;
    // the URI is never printed: the engine's errors carry it redacted).
    const uris = clusterUris({
      root: app.root,
      dataSources: app.dataSources.keys(),
      uri: options.mongodbUri,
      env: io.env,
    });
    if (uris.size > 0) {
      const { createDriverEngine } = await import('../../services/mongodb/driver/driver-engine.js');
      for (const [name, uri] of uris)
        clusters.set(
          name,
          createDriverEngine({ uri, clientOptions: { serverSelectionTimeoutMS: 10_000 } }),
        );
    }
    const sources = new Map(
      [...clusters].map(([name, engine]) => [
        name,
        async () => {
          await engine.connect();
          return engine;
        },
      ]),
    );
    const names = [...app.dataSources.keys()];
    const created = createRunner({
      app,
      secrets: { resolve: (name) => store.resolve(name), names: () => store.names() },
      timeoutMs: options.timeout,
      memoryMb: options.memory,
      inspect: inspectAddress !== undefined,
      inspectNode: inspectNode?.path,
      services: [
        ...builtinServices(),
        mongodbService({
          engine: () => database.open(),
          dataSources: app.dataSources.keys(),
          sources,
        }),
      ],
    });
    runner = created;
    if (options.triggers !== false) {
      database.onOpen(async (engine) => {
        const { TriggerDispatcher } = await import('../../triggers/dispatcher.js');
        dispatcher = new TriggerDispatcher({
          engine,
          runner: created,
          triggers: () => app.triggers.values(),
          // A cluster's triggers are dev's business (its change streams), not a one-off run's.
          serves: (service) => {
            const source = service ?? (names.length === 1 ? names[0] : undefined);
            return source === undefined || !clusters.has(source);
          },
          warn: (m) => printer.warn(m),
          onStart: (firing) => {
            slots.set(firing.id, firings.length);
            firings.push({ ...firing, durationMs: 0 });
          },
          onFiring: (done) => {
            const slot = slots.get(done.id);
            if (slot !== undefined) firings[slot] = done;
          },
        });
      });
    }
    if (inspectAddress !== undefined && created.inspector !== undefined) {
      const relay = created.inspector;
      debuggerEndpoint = await openDebugger(relay, inspectAddress, io, app.info.name);
      io.stderr('Waiting for the debugger to attach...\n');
      await relay.waitForDebugger();
      relay.breakAtStart();
    }
    const result = await action(created, app, database);
    const fired = await settle();
    for (const warning of result.warnings) printer.warn(warning);
    if (json)
      io.stdout(
        `${JSON.stringify({ ...successJson(result, options.traceValues === true), ...triggersJson(fired) })}\n`,
      );
    else io.stdout(successText(result) + fired.map(firingText).join(''));
    return 0;
  } catch (error) {
    const fired = await settle().catch(() => firings);
    if (json) {
      io.stdout(
        `${JSON.stringify({ ...failureJson(error, options.traceValues === true), ...triggersJson(fired) })}\n`,
      );
      return 1;
    }
    if (error instanceof FunctionExecutionFailure) {
      if (error.logs.length > 0) io.stdout(logsText(error.logs));
      if (error.valueTrace.length > 0) io.stdout(traceText(error.valueTrace));
      const frames = userFrames(error.functionStack);
      const withStack = frames ? `\n${frames}` : '';
      printer.error(
        new TriggerboxError(error.errorCode, `${error.message} (${error.errorCode})${withStack}`, {
          hint: error.hint,
        }),
      );
      io.stdout(fired.map(firingText).join(''));
      return 1;
    }
    printer.error(error);
    return 1;
  } finally {
    dispatcher?.close();
    await debuggerEndpoint?.close();
    // A one-off run ends here: the after-run code cache of a package it loaded is written first.
    await runner?.finish();
    await db?.close();
    await Promise.all([...clusters.values()].map((engine) => engine.close().catch(() => {})));
  }
}

function triggersJson(fired: TriggerFiring[]): Record<string, unknown> {
  return fired.length === 0 ? {} : { triggers: fired.map(firingJson) };
}

export function runFunction(options: RunOptions, io: CliIO): Promise<number> {
  return runAndRender(options, io, async (runner, app) => {
    const name = options.name ?? (await chooseFunction(app, io));
    if (!app.functions.has(name)) {
      // appservices checks the name against the app's functions before running anything.
      const suggestion = didYouMean(name, app.functions.keys());
      throw new TriggerboxError('FunctionNotFound', `failed to find function '${name}'`, {
        hint: suggestion || "the app's functions are listed by `triggerbox function list`",
      });
    }
    // Its packages start bundling now, beside the sandbox process's start.
    void runner.prefetchPackages([name]);
    return runner.execute(name, options.args.map(parseCliArg), {
      user: options.user,
      traceValues: options.traceValues,
    });
  });
}

/** appservices picks the only function, or asks `Select Function` on a terminal. */
async function chooseFunction(app: App, io: CliIO): Promise<string> {
  const names = [...app.functions.keys()].sort();
  if (names.length === 0) {
    throw setupFailure(
      new TriggerboxError('FunctionNotFound', 'no functions available to run', {
        hint: `add a function file under ${app.root}/functions/`,
      }),
    );
  }
  if (names.length === 1 && names[0] !== undefined) return names[0];
  return selectOne(io, 'Select Function', names, '--name', {
    listCommand: 'triggerbox function list',
  });
}

function successJson(result: ExecutionResult, trace: boolean): Record<string, unknown> {
  return {
    result: sortKeys(parseCanonical(result.resultEJSON)),
    logs: result.logs,
    error_logs: result.errorLogs,
    stats: { execution_time_ms: Number(result.stats.durationMs.toFixed(3)) },
    ...(trace ? { value_trace: result.valueTrace } : {}),
  };
}

function failureJson(error: unknown, trace: boolean): Record<string, unknown> {
  if (error instanceof FunctionExecutionFailure) {
    return {
      error: error.message,
      error_code: error.errorCode,
      logs: error.logs,
      ...(trace ? { value_trace: error.valueTrace } : {}),
    };
  }
  const message = error instanceof Error ? error.message : String(error);
  return {
    error: message,
    error_code: isTriggerboxError(error) ? error.code : 'InternalError',
    logs: [],
  };
}

export function listFunctions(options: GlobalOptions, io: CliIO): number {
  const printer = new Printer(io, options.outputFormat);
  const { app } = openApp(options, io);
  const rows = [...app.functions.values()]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((fn) => ({
      Name: fn.name,
      Private: String(fn.private),
      System: String(fn.runAsSystem),
      File: fn.file,
    }));
  if (rows.length === 0) {
    printer.message('No available functions to show');
    return 0;
  }
  printer.message(`Found ${rows.length} functions`, {
    headers: ['Name', 'Private', 'System', 'File'],
    rows,
  });
  return 0;
}
