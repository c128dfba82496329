/**
 * Output in the appservices CLI's shapes: messages, tables, `-f json` lines, errors. What shows a
 * function's result or a trigger's firing is in render-result.ts: it needs bson, which every
 * other command would load for nothing (about 8 ms of each start).
 */
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
  // Column by column, in plain loops: a command formats its table once, before V8 optimises
  // anything (10,000 rows took 34-38 ms with a map and closures per row, 24-30 ms this way).
  const columns = headers.map((header) => rows.map((row) => row[header] ?? ''));
  const widths = headers.map(width);
  const cellWidths = columns.map((cells, i) => {
    const own = new Array<number>(cells.length);
    let most = widths[i] ?? 0;
    for (let r = 0; r < cells.length; r++) {
      const w = width(cells[r] ?? '');
      own[r] = w;
      if (w > most) most = w;
    }
    widths[i] = most;
    return own;
  });
  const spaces = ' '.repeat(Math.max(0, ...widths));
  const pad = (cell: string, i: number, own: number): string =>
    cell + spaces.slice(0, Math.max(0, (widths[i] ?? 0) - own));
  const head = headers.map((header, i) =>
    boldHeaders
      ? `\x1b[1m${header}\x1b[22m${pad('', i, width(header))}`
      : pad(header, i, width(header)),
  );
  const lines = [`  ${head.join('  ')}\n`, `  ${widths.map((w) => '-'.repeat(w)).join('  ')}\n`];
  for (let r = 0; r < rows.length; r++) {
    let line = '  ';
    for (let i = 0; i < headers.length; i++) {
      if (i > 0) line += '  ';
      line += pad(columns[i]?.[r] ?? '', i, cellWidths[i]?.[r] ?? 0);
    }
    lines.push(`${line}\n`);
  }
  return lines.join('');
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
