/** Messages between the runner (parent process) and the sandbox process (worker.ts). */

export type ExecutionErrorCode =
  | 'FunctionExecutionError'
  | 'ExecutionTimeLimitExceeded'
  | 'FunctionNotFound'
  | 'FunctionSyntaxError';

/** What the sandbox process needs to know about the app; sent once per app generation. */
export interface AppPayload {
  generation: number;
  /** `syntaxError` is `file:line:column: message` for a file that does not parse. */
  functions: Record<string, { file: string; source: string; syntaxError: string | null }>;
  /** Plain Values as JSON text; Secret-linked Values as the marker 'secret'. */
  values: Record<string, string>;
  /** JSON of `{environment, app}` given to the prelude. */
  manifest: string;
}

export interface SandboxLimits {
  memoryMb: number;
}

export interface CallRequest {
  type: 'call';
  id: number;
  generation: number;
  name: string;
  /** Canonical EJSON array of the arguments. */
  args: string;
  /** JSON of `{user, request, runAsSystem}`. */
  call: string;
  timeoutMs: number;
}

export type ParentMessage =
  | { type: 'init'; limits: SandboxLimits }
  | { type: 'app'; app: AppPayload }
  | CallRequest
  | { type: 'reply'; id: number; ok: boolean; value?: string; error?: string };

export interface LogLine {
  level: 'log' | 'info' | 'debug' | 'warn' | 'error';
  message: string;
}

export type CallOutcome =
  | { ok: true; result: string; durationMs: number }
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
  | { type: 'done'; id: number; outcome: CallOutcome }
  /** The sandbox asks the parent for something only the parent has (secrets, package bundles). */
  | {
      type: 'ask';
      id: number;
      callId: number;
      what: 'secret' | 'package';
      name: string;
      where: string;
    };
