/**
 * Debug logging of the debugger's traffic, for diagnosing hangs: set TRIGGERBOX_INSPECTOR_LOG to
 * a file path and both halves (the relay in the runner, the session in the sandbox process, which
 * inherits the variable) append one line per event to it, with the process id and a timestamp.
 * Off (one check per event) otherwise. Appends are synchronous: a line is on disk before the next
 * step, so the last line of a hung run is where it stopped.
 */
import { appendFileSync } from 'node:fs';

const file = process.env['TRIGGERBOX_INSPECTOR_LOG'];

export const tracing = file !== undefined && file !== '';

export function trace(side: string, what: string): void {
  if (!tracing || file === undefined) return;
  const line = `${performance.timeOrigin + performance.now()} ${process.pid} ${side} ${what.slice(0, 300)}\n`;
  try {
    appendFileSync(file, line);
  } catch {
    // Diagnostics only.
  }
}

/** A CDP message shortened to what identifies it: its id and method (or the event's). */
export function brief(message: string): string {
  const id = /"id":(\d+)/.exec(message)?.[1];
  const method = /"method":"([^"]+)"/.exec(message)?.[1];
  const error = /"error":/.test(message) ? ' ERROR' : '';
  return `${id !== undefined ? `#${id} ` : ''}${method ?? '(response)'}${error}`;
}
