/** Output in the appservices CLI's shapes: messages, tables, `-f json` lines, errors. */
import { parseCanonical, sortKeys } from '../runtime/ejson.js';
import { EJSON } from 'bson';
import type { ExecutionResult, FunctionExecutionFailure } from '../runtime/runner.js';
import type { TriggerFiring } from '../triggers/dispatcher.js';
import { formatValueTrace, type ValueTraceEntry } from '../runtime/value-trace.js';
import { isTriggerboxError } from '../shared/errors.js';
import { isSetupFailure } from './app-context.js';
import type { CliIO } from './io.js';

export type OutputFormat = 'text' | 'json';

export class Printer {
  constructor(
    readonly io: CliIO,
    readonly format: OutputFormat,
  ) {}

  /** An informational message, optionally with a table. */
  message(message: string, table?: { headers: string[]; rows: Record<string, string>[] }): void {
    if (this.format === 'json') {
      const line: Record<string, unknown> = {
        time: new Date().toISOString(),
        level: 'info',
        message,
      };
      // appservices' key order for a table line: time, level, message, data, headers.
      if (table) {
        line['data'] = table.rows;
        line['headers'] = table.headers;
      }
      this.io.stdout(`${JSON.stringify(line)}\n`);
      return;
    }
    this.io.stdout(`${message}\n`);
    if (table) this.io.stdout(formatTable(table.headers, table.rows, this.bold));
  }

  warn(message: string): void {
    if (this.format === 'json') {
      this.io.stderr(
        `${JSON.stringify({ time: new Date().toISOString(), level: 'warn', message })}\n`,
      );
    } else {
      this.io.stderr(`warning: ${message}\n`);
    }
  }

  /** Table headers are bold on a terminal, as appservices prints them, unless colours are off. */
  private get bold(): boolean {
    return this.format === 'text' && this.io.stdoutIsTTY === true && this.io.disableColors !== true;
  }

  /**
   * An error on stderr, as appservices prints one: `<command> failed: <message>` (or
   * `<command> setup failed: ...` when the command could not resolve its inputs), then the
   * details and how to fix it.
   */
  error(error: unknown): void {
    const raw = error instanceof Error ? error.message : String(error);
    const command = this.io.command;
    const message =
      command === undefined
        ? raw
        : `${command} ${isSetupFailure(error) ? 'setup failed' : 'failed'}: ${raw}`;
    const hint = isTriggerboxError(error) ? error.hint : undefined;
    const details = isTriggerboxError(error) ? error.details : [];
    if (this.format === 'json') {
      const line: Record<string, unknown> = {
        time: new Date().toISOString(),
        level: 'error',
        err: message,
      };
      if (hint) line['hint'] = hint;
      if (details.length > 0) line['details'] = details;
      this.io.stderr(`${JSON.stringify(line)}\n`);
      return;
    }
    let text = `${command === undefined ? 'error: ' : ''}${message}\n`;
    for (const detail of details) text += `  ${detail}\n`;
    if (hint) text += `hint: ${hint}\n`;
    if (!isTriggerboxError(error) && error instanceof Error && error.stack) {
      // Not a user error: a bug or a system failure. The stack helps whoever reports it.
      text += `${error.stack}\n`;
    }
    this.io.stderr(text);
  }
}

/** Bytes of UTF-8, as appservices pads its columns (a plain loop: no call into Buffer for ASCII). */
function width(text: string): number {
  for (let i = 0; i < text.length; i++)
    if (text.charCodeAt(i) > 0x7f) return Buffer.byteLength(text, 'utf8');
  return text.length;
}

/**
 * appservices' tables: two-space indent, every cell padded to its column's width (trailing spaces
 * kept) and separated by two spaces, a dash row under the headers. Widths count UTF-8 bytes, as
 * the Go CLI's `len()` does.
 */
export function formatTable(
  headers: string[],
  rows: Record<string, string>[],
  boldHeaders = false,
): string {
  const cells = rows.map((row) => headers.map((header) => row[header] ?? ''));
  const cellWidths = cells.map((row) => row.map(width));
  const widths = headers.map((header, i) =>
    cellWidths.reduce((most, row) => Math.max(most, row[i] ?? 0), width(header)),
  );
  const pad = (cell: string, i: number, own = width(cell)): string =>
    cell + ' '.repeat(Math.max(0, (widths[i] ?? 0) - own));
  const line = (row: string[]): string => `  ${row.join('  ')}\n`;
  const head = headers.map((header, i) =>
    boldHeaders ? `\x1b[1m${header}\x1b[22m${pad('', i).slice(width(header))}` : pad(header, i),
  );
  return (
    line(head) +
    line(widths.map((w) => '-'.repeat(w))) +
    cells.map((row, r) => line(row.map((cell, i) => pad(cell, i, cellWidths[r]?.[i])))).join('')
  );
}

/**
 * JSON as the Go CLI prints it (`json.MarshalIndent`): two-space indent, and `<`, `>`, `&`,
 * U+2028 and U+2029 escaped.
 */
export function goJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

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

// A type guard, not instanceof: render.ts stays free of the runner module (commands load it lazily).
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
