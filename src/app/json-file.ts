import { locateJsonError } from './json-locate.js';
import { readRegularFile } from './regular-file.js';
import type { Diagnostic } from './types.js';

export type JsonRead = { ok: true; value: unknown } | { ok: false; diagnostic: Diagnostic };

/** 1-based line and column of a character offset. */
export function lineColumnAt(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/** Parses JSON text; a syntax error becomes a diagnostic with line and column. */
export function parseJsonText(text: string, file: string): JsonRead {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const offset = locateJsonError(text);
    const { line, column } = lineColumnAt(text, offset);
    const reason = message.replace(/\s*in JSON at position \d+.*$/s, '').replace(/, ".*$/s, '');
    return {
      ok: false,
      diagnostic: {
        severity: 'error',
        file,
        line,
        column,
        message: `malformed JSON: ${reason}`,
        hint: `fix the JSON syntax at ${file}:${line}:${column}`,
      },
    };
  }
}

/**
 * Reads and parses a JSON file of the app. Only a regular file is read (a FIFO would block, a
 * device would never end); a symlink is followed only to a regular file inside `within`.
 */
export function readJsonFile(absPath: string, file: string, within?: string): JsonRead {
  const read = readRegularFile(absPath, within);
  if (!read.ok) {
    return {
      ok: false,
      diagnostic: {
        severity: 'error',
        file,
        message: `this file ${read.missing ? 'does not exist' : read.reason}; it was not read`,
        hint: read.missing
          ? `create ${file}`
          : 'make it a regular file (a symlink may lead to one inside the app), or remove it',
      },
    };
  }
  return parseJsonText(read.text, file);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
