/** Messages between the runner (parent process) and the sandbox process (worker.ts). */
import type { OpReply, ParentOpName, ParentOps } from './boundary/host-ops.js';
import type { InspectorAction, InspectorEvent } from './inspector/cdp.js';

export type ExecutionErrorCode =
  | 'FunctionExecutionError'
  | 'ExecutionTimeLimitExceeded'
  | 'FunctionNotFound'
  | 'FunctionSyntaxError';

/** What the sandbox process needs to know about the app; sent once per app generation. */
export interface AppPayload {
  generation: number;
  /** `syntaxError` is `file:line:column: message` for a file that does not parse. */
  functions: Record<
    string,
    {
      file: string;
      /** With its import declarations turned into requires (function-source.ts). */
      source: string;
      syntaxError: string | null;
      /** run_as_system: 'system'; run_as_user_id: the id; else null (see host-ops.ts `source`). */
      runAs: string | null;
      importLines: number;
      /** Inspect mode: the file's file:// URL, its scripts' url, which debuggers match breakpoints on. */
      url?: string;
    }
  >;
  /** Plain Values as JSON text; Secret-linked Values as the marker 'secret'. */
  values: Record<string, string>;
  /** JSON of `{environment, app}` given to the prelude. */
  manifest: string;
  /**
   * The app's folder, whose functions/node_modules the sandbox process loads CommonJS packages
   * from, file by file (module-files.ts); absent: every package is bundled by the parent.
   */
  modulesRoot?: string;
}

/**
 * What one call may send out of its isolate. The prelude enforces the per-item caps before a value
 * crosses out of the isolate, and worker.ts the per-call log totals, so nothing a function returns
 * or logs can grow the sandbox process or the caller past these (platform figures, SPEC section 7:
 * 18 MB responses, log lines of 512 bytes, 25 lines kept; local runs are more generous so that
 * debugging output survives, and the runner still warns where the platform would cut).
 */
export const OUTPUT_CAPS = {
  /** A result, counted in characters of its Extended JSON text. */
  resultChars: 18_000_000,
  resultLabel: '18 MB',
  /** One console line (longer lines are cut, with a marker saying so). */
  logLineChars: 65_536,
  /** An error's message, and its stack, each (cut with a marker). */
  errorChars: 65_536,
  /** All console output of one call; past it the call fails. */
  logCallChars: 4 * 1024 * 1024,
  logCallLabel: '4 MiB',
  /** Console lines of one call; past it the call fails. */
  logCallLines: 20_000,
} as const;

export interface SandboxLimits {
  memoryMb: number;
  /** Inspect mode: one inspected isolate, calls one at a time, a debugger session (inspector/). */
  inspect?: boolean;
  /** The service ops ('<service>.<op>') declared `constant` (boundary/services.ts). */
  constantOps?: string[] | undefined;
}

export interface CallRequest {
  type: 'call';
  id: number;
  generation: number;
  name: string;
  /** The arguments: plain values (JSON types and Dates) by copy, anything else as EJSON text. */
  args: Transfer;
  /** JSON of `{user, request, runAsSystem}`. */
  call: string;
  timeoutMs: number;
}

export type ParentMessage =
  | { type: 'init'; limits: SandboxLimits }
  | { type: 'app'; app: AppPayload }
  | CallRequest
  /** The answer to an `op` message: never a rejection, whatever the op did. */
  | { type: 'opReply'; id: number; reply: OpReply<unknown> }
  /** Inspect mode: from the debugger relay to the session (inspector/cdp.ts). */
  | { type: 'inspector'; action: InspectorAction }
  /**
   * The runner is about to end this process: answer 'finished' once the V8 code caches being
   * made are written (package-script.ts), so that a one-off run leaves the after-run cache.
   */
  | { type: 'finish' }
  /** Messages posted in one turn of the event loop, in order, as one IPC message (see Outbox). */
  | { type: 'batch'; messages: ParentMessage[] };

export interface LogLine {
  level: 'log' | 'info' | 'debug' | 'warn' | 'error';
  message: string;
}

/**
 * How values cross the process and isolate boundaries: plain data by structured clone (IPC uses
 * 'advanced' serialization, so Dates survive), BSON types as canonical EJSON text, and
 * `undefined` as itself. Only the parent holds the host's bson, so the sandbox process starts
 * without it.
 */
export type Transfer =
  { mode: 'copy'; value: unknown } | { mode: 'ejson'; text: string } | { mode: 'undefined' };

export type CallOutcome =
  | { ok: true; result: Transfer; durationMs: number }
  | {
      ok: false;
      code: ExecutionErrorCode;
      message: string;
      stack: string;
      durationMs: number;
    };

export type ChildMessage =
  | { type: 'ready' }
  | { type: 'log'; id: number; line: LogLine }
  /** A context.values.get call, with the `file:line:column` that made it (--trace-values). */
  | { type: 'trace'; id: number; name: string; where: string }
  /** `retiring`: the process ends itself right after this answer (worker.ts, memory watch). */
  | { type: 'done'; id: number; outcome: CallOutcome; retiring?: boolean; isolates?: number }
  /** Inspect mode: from the session to the debugger relay; pauses stop the call's watchdog. */
  | { type: 'inspector'; event: InspectorEvent }
  /** A `parent` op of host-ops.ts, for the call `callId`: what only the parent has or does. */
  | ParentOpRequest
  /** The answer to 'finish': nothing is being written any more. */
  | { type: 'finished' }
  /** Messages sent in one turn of the event loop, in order, as one IPC message (see Outbox). */
  | { type: 'batch'; messages: ChildMessage[] };

/** One `op` message per op of the ParentOps table, with that op's argument type. */
export type ParentOpRequest = {
  [K in ParentOpName]: {
    type: 'op';
    id: number;
    callId: number;
    op: K;
    arg: ParentOps[K]['arg'];
  };
}[ParentOpName];

/**
 * Messages sent in one turn of the event loop leave as one IPC message, in order, at the end of
 * that turn (setImmediate). With 20 calls in flight the answers of several calls complete in the
 * same turn (isolated-vm settles them together), and the calls sent in reply do too: one IPC
 * write and one wake-up of the other process for all of them. The profile of the sandbox process
 * at 20 in flight spent 0.08-0.18 ms of its main thread per call in writeChannelMessage alone,
 * and each wake-up of a process cost 40-300 µs on the loaded 2-core machine.
 */
export class Outbox<M extends { type: string }> {
  private queued: M[] = [];

  constructor(private readonly write: (message: M | { type: 'batch'; messages: M[] }) => void) {}

  post(message: M): void {
    this.queued.push(message);
    if (this.queued.length === 1) setImmediate(() => this.flush());
  }

  /** Sends what is queued now (also before a direct send that must follow it). */
  flush(): void {
    const messages = this.queued;
    if (messages.length === 0) return;
    this.queued = [];
    this.write(messages.length === 1 ? (messages[0] as M) : { type: 'batch', messages });
  }
}
