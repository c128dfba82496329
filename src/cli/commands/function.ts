/** `triggerbox function run` and `triggerbox function list`. */
import { formatDiagnostic } from '../../app/load-app.js';
import { decodeResult, parseCanonical, sortKeys } from '../../runtime/ejson.js';
import type { App } from '../../app/types.js';
import {
  createRunner,
  FunctionExecutionFailure,
  type ExecutionResult,
  type FunctionRunner,
} from '../../runtime/runner.js';
import { openSecretStore } from '../../secrets/store.js';
import { isTriggerboxError, TriggerboxError } from '../../shared/errors.js';
import { openApp, type GlobalOptions } from '../app-context.js';
import type { CliIO } from '../io.js';
import { logsText, Printer, successText, traceText, userFrames } from '../render.js';

export interface RunOptions extends ExecutionCommandOptions {
  name: string;
  args: string[];
  user?: string | undefined;
}

/**
 * appservices argument parsing: a JSON object or array (read as Extended JSON) if it is one,
 * else an integer, else a float, else the string itself (`--args=true` is the string "true").
 */
export function parseCliArg(text: string): unknown {
  const trimmed = text.trim();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      return decodeResult(trimmed);
    } catch {
      // Not JSON after all: falls through to a string, as the platform's CLI does.
    }
  }
  if (/^[-+]?\d+$/.test(trimmed)) {
    const n = Number(trimmed);
    if (Number.isSafeInteger(n)) return n;
  }
  if (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(trimmed)) return Number(trimmed);
  return text;
}

export interface ExecutionCommandOptions extends GlobalOptions {
  timeout?: number | undefined;
  memory?: number | undefined;
  traceValues?: boolean | undefined;
}

/**
 * What `function run` and `trigger fire` share: load the app, create a runner wired to the
 * secret store, run, and render the outcome (text, or exactly one JSON object with -f json).
 */
export async function runAndRender(
  options: ExecutionCommandOptions,
  io: CliIO,
  action: (runner: FunctionRunner, app: App) => Promise<ExecutionResult>,
): Promise<number> {
  const printer = new Printer(io, options.outputFormat);
  const json = options.outputFormat === 'json';
  let runner: FunctionRunner | undefined;
  try {
    const { app, diagnostics } = openApp(options, io);
    const errors = diagnostics.filter((d) => d.severity === 'error');
    if (errors.length > 0) {
      printer.warn(
        `the app has ${errors.length} problem(s) (see \`triggerbox validate\`); running anyway`,
      );
      for (const d of errors) printer.warn(formatDiagnostic(d));
    }
    const store = openSecretStore({ root: app.root, env: io.env });
    runner = createRunner({
      app,
      secrets: { resolve: (name) => store.resolve(name), names: () => store.names() },
      timeoutMs: options.timeout,
      memoryMb: options.memory,
    });
    const result = await action(runner, app);
    for (const warning of result.warnings) printer.warn(warning);
    if (json) io.stdout(`${JSON.stringify(successJson(result, options.traceValues === true))}\n`);
    else io.stdout(successText(result));
    return 0;
  } catch (error) {
    if (json) {
      io.stdout(`${JSON.stringify(failureJson(error, options.traceValues === true))}\n`);
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
      return 1;
    }
    printer.error(error);
    return 1;
  } finally {
    runner?.dispose();
  }
}

export function runFunction(options: RunOptions, io: CliIO): Promise<number> {
  return runAndRender(options, io, (runner) =>
    runner.execute(options.name, options.args.map(parseCliArg), {
      user: options.user,
      traceValues: options.traceValues,
    }),
  );
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
