/** Output in the appservices CLI's shapes: messages, tables, `-f json` lines, errors. */
import { formatCanonical } from '../runtime/ejson.js';
import type { ExecutionResult } from '../runtime/runner.js';
import { formatValueTrace, type ValueTraceEntry } from '../runtime/value-trace.js';
import { isTriggerboxError } from '../shared/errors.js';
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
      if (table) {
        line['headers'] = table.headers;
        line['data'] = table.rows;
      }
      this.io.stdout(`${JSON.stringify(line)}\n`);
      return;
    }
    this.io.stdout(`${message}\n`);
    if (table) this.io.stdout(formatTable(table.headers, table.rows));
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

  /** An error on stderr: the message, then how to fix it, then details. */
  error(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
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
    let text = `error: ${message}\n`;
    for (const detail of details) text += `  ${detail}\n`;
    if (hint) text += `hint: ${hint}\n`;
    if (!isTriggerboxError(error) && error instanceof Error && error.stack) {
      // Not a user error: a bug or a system failure. The stack helps whoever reports it.
      text += `${error.stack}\n`;
    }
    this.io.stderr(text);
  }
}

/** Two-space indent, columns padded and separated by two spaces, a dash row under the headers. */
export function formatTable(headers: string[], rows: Record<string, string>[]): string {
  const widths = headers.map((header) =>
    Math.max(header.length, ...rows.map((row) => (row[header] ?? '').length)),
  );
  const line = (cells: string[]): string =>
    `  ${cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ')}`.trimEnd() + '\n';
  return (
    line(headers) +
    line(widths.map((width) => '-'.repeat(width))) +
    rows.map((row) => line(headers.map((header) => row[header] ?? ''))).join('')
  );
}

/** `function run`'s text output: Logs, Values (with --trace-values), Result, Error Logs. */
export function logsText(logs: string[]): string {
  return `Logs:\n${logs.map((line) => `  ${line.replace(/\n/g, '\n  ')}\n`).join('')}`;
}

export function traceText(trace: ValueTraceEntry[]): string {
  return `Values:\n${trace.map((entry) => `  ${formatValueTrace(entry)}\n`).join('')}`;
}

export function successText(result: ExecutionResult): string {
  let text = '';
  if (result.logs.length > 0) text += logsText(result.logs);
  if (result.valueTrace.length > 0) text += traceText(result.valueTrace);
  text += `Result:\n${formatCanonical(result.resultEJSON)}\n`;
  if (result.errorLogs.length > 0) {
    text += `Error Logs:\n${result.errorLogs.map((line) => `  ${line}\n`).join('')}`;
  }
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
