/** A function's result and a trigger's firing, as `function run`, `trigger fire`, `db` and `dev` print them. */
import { parseCanonical, sortKeys } from '../runtime/ejson.js';
import { EJSON } from 'bson';
import type { ExecutionResult, FunctionExecutionFailure } from '../runtime/runner.js';
import type { TriggerFiring } from '../triggers/dispatcher.js';
import { formatValueTrace, type ValueTraceEntry } from '../runtime/value-trace.js';
import { goJson } from './render.js';

/**
 * `function run`'s text output, with appservices' headers (no colon): `Logs` and its lines
 * indented, `Error Logs` and `Result` as indented JSON (the result is canonical EJSON, keys sorted).
 * `Values` (with --trace-values) is triggerbox's own.
 */
export function logsText(logs: string[]): string {
  return `Logs\n${logs.map((line) => `  ${line}\n`).join('')}`;
}

export function traceText(trace: ValueTraceEntry[]): string {
  return `Values\n${trace.map((entry) => `  ${formatValueTrace(entry)}\n`).join('')}`;
}

export function successText(result: ExecutionResult): string {
  let text = '';
  if (result.logs.length > 0) text += logsText(result.logs);
  if (result.valueTrace.length > 0) text += traceText(result.valueTrace);
  if (result.errorLogs.length > 0) text += `Error Logs\n${goJson(result.errorLogs)}\n`;
  text += `Result\n${goJson(sortKeys(parseCanonical(result.resultEJSON)))}\n`;
  return text;
}

/** The stack frames that point at the user's files (without the message line): the sandbox's own frames are noise. */
export function userFrames(stack: string): string {
  return stack
    .split('\n')
    .slice(1)
    .filter((line) => /^\s+at /.test(line) && !/triggerbox:|<isolated-vm/.test(line))
    .join('\n');
}

// A type guard, not instanceof: this file stays free of the runner module (commands load it lazily).
const isExecutionFailure = (error: unknown): error is FunctionExecutionFailure =>
  error instanceof Error && error.name === 'FunctionExecutionFailure';

/** A document key as the user would type it: `1`, `"a"`, `{"$oid":"..."}`. */
export function keyText(key: unknown): string {
  try {
    return EJSON.stringify(key as never, { relaxed: true });
  } catch {
    return String(key);
  }
}

/** `--- trigger onOrder (insert shop.orders _id: 1, 4.2 ms)`: what fired it, and for which document. */
export function firingHeader(firing: TriggerFiring): string {
  const ns = `${firing.ns.db}.${firing.ns.coll ?? ''}`;
  const by = firing.chain.length > 1 ? `, fired by ${firing.chain.slice(0, -1).join(' -> ')}` : '';
  const ms = firing.durationMs < 10 ? firing.durationMs.toFixed(1) : Math.round(firing.durationMs);
  return `--- trigger ${firing.trigger} (${firing.operationType} ${ns} _id: ${keyText(firing.key)}${by}, ${ms} ms)\n`;
}

/** A DATABASE trigger's run after `function run`/`trigger fire` output, or in dev. */
export function firingText(firing: TriggerFiring): string {
  let text = firingHeader(firing);
  if (firing.result !== undefined) return text + successText(firing.result);
  const error = firing.error;
  if (isExecutionFailure(error)) {
    if (error.logs.length > 0) text += logsText(error.logs);
    const stack = userFrames(error.functionStack);
    text += `error: ${error.message} (${error.errorCode})${stack ? `\n${stack}` : ''}\n`;
  } else if (error !== undefined) {
    text += `error: ${error.message}\n`;
  }
  return text;
}

export function firingJson(firing: TriggerFiring): Record<string, unknown> {
  const base = {
    trigger: firing.trigger,
    operation_type: firing.operationType,
    ns: firing.ns,
    document_key: JSON.parse(EJSON.stringify({ _id: firing.key } as never, { relaxed: false })),
    chain: firing.chain,
  };
  if (firing.result !== undefined)
    return {
      ...base,
      result: sortKeys(parseCanonical(firing.result.resultEJSON)),
      logs: firing.result.logs,
    };
  const error = firing.error;
  return {
    ...base,
    error: error?.message ?? 'failed',
    error_code: isExecutionFailure(error) ? error.errorCode : (error?.code ?? 'InternalError'),
    logs: isExecutionFailure(error) ? error.logs : [],
  };
}
