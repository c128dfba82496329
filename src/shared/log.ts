/** The injected logger: silent by default in the library, recording in tests, printing in the CLI. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LogEntry {
  level: LogLevel;
  message: string;
  /** For function output: the function's name. */
  tag?: string | undefined;
}

export interface Log {
  write(entry: LogEntry): void;
}

export const silentLog: Log = { write() {} };

export class RecordingLog implements Log {
  readonly entries: LogEntry[] = [];
  write(entry: LogEntry): void {
    this.entries.push(entry);
  }
}
