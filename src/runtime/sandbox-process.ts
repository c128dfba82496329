/**
 * Supervises the sandbox process (worker.ts): forks it, restarts it when it dies or stops
 * answering, and fails the calls that were in flight with a clear error instead of hanging.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type {
  AppPayload,
  CallOutcome,
  CallRequest,
  ChildMessage,
  LogLine,
  ParentMessage,
  SandboxLimits,
} from './protocol.js';

// Relative to dist/src/<dir>/ so that it resolves the same from the CLI bundle (dist/src/cli/).
const WORKER = fileURLToPath(new URL('../runtime/worker.js', import.meta.url));
/** How long past its own time limit a call may go before the process is deemed hung. */
export const GRACE_MS = 3000;

function forkWorker(): ChildProcess {
  return fork(WORKER, [], {
    // --no-node-snapshot: isolated-vm's README requires it on Node 20+. A small young generation
    // keeps this process's own heap from growing with IPC churn (measured: RSS flat at ~90 MB
    // over 30,000 calls instead of climbing past 120 MB).
    execArgv: ['--no-node-snapshot', '--max-semi-space-size=2'],
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    serialization: 'advanced',
  });
}

let preforked: ChildProcess | undefined;

/**
 * Forks the sandbox process before anything else is loaded, so that its start (about as long as
 * the CLI's own) overlaps the CLI's argument parsing and app loading. The next SandboxProcess
 * adopts it.
 */
export function preforkSandbox(): void {
  preforked ??= forkWorker();
  setRef(preforked, false);
}

/** Kills a preforked sandbox process that no runner adopted (the command failed early). */
export function discardPreforked(): void {
  preforked?.kill('SIGKILL');
  preforked = undefined;
}

/** Whether the child (its process, IPC channel and stderr pipe) keeps this process alive. */
function setRef(child: ChildProcess, ref: boolean): void {
  const handles = [child, child.channel, child.stderr] as (
    { ref(): void; unref(): void } | null | undefined
  )[];
  for (const handle of handles) {
    if (ref) handle?.ref();
    else handle?.unref();
  }
}

export interface CallHandlers {
  onLog(line: LogLine): void;
  onTrace(name: string, where: string): void;
  /** Requests for what only the parent has (secrets, package bundles). Must not reject. */
  onAsk(
    what: 'secret' | 'package',
    name: string,
    where: string,
  ): Promise<{ ok: boolean; value?: string; error?: string }>;
}

interface Pending {
  request: CallRequest;
  handlers: CallHandlers;
  resolve(outcome: CallOutcome): void;
  watchdog: NodeJS.Timeout;
  started: number;
}

export class SandboxProcess {
  private child: ChildProcess | undefined;
  private app: AppPayload | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private stderrTail = '';
  /** Why the current child is being killed, for the calls that die with it. */
  private killReason: { callId: number; message: string } | undefined;
  private disposed = false;

  constructor(private readonly limits: SandboxLimits) {}

  /** Forks the process now (the runner does this at creation, ahead of the first call). */
  start(): void {
    if (this.child !== undefined || this.disposed) return;
    const adopted = preforked !== undefined && preforked.exitCode === null ? preforked : undefined;
    preforked = undefined;
    const child = adopted ?? forkWorker();
    this.child = child;
    this.killReason = undefined;
    this.stderrTail = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-2000);
    });
    child.on('message', (message: ChildMessage) => this.onMessage(message));
    child.on('exit', (code, signal) => this.onExit(child, code, signal));
    child.on('error', () => {
      /* 'exit' follows and fails what was in flight */
    });
    this.post({ type: 'init', limits: this.limits });
    if (this.app !== undefined) this.post({ type: 'app', app: this.app });
    this.updateRef();
  }

  /** The sandbox process's pid (for diagnostics and memory measurements), when it runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  setApp(app: AppPayload): void {
    this.app = app;
    if (this.child !== undefined) this.post({ type: 'app', app });
  }

  call(request: Omit<CallRequest, 'type' | 'id'>, handlers: CallHandlers): Promise<CallOutcome> {
    this.start();
    const id = this.nextId++;
    const full: CallRequest = { type: 'call', id, ...request };
    return new Promise<CallOutcome>((resolve) => {
      const watchdog = setTimeout(() => {
        this.kill(
          id,
          `the sandbox process stopped responding after the ${request.timeoutMs} ms time limit`,
        );
      }, request.timeoutMs + GRACE_MS);
      this.pending.set(id, {
        request: full,
        handlers,
        resolve,
        watchdog,
        started: performance.now(),
      });
      this.updateRef();
      this.post(full);
    });
  }

  private post(message: ParentMessage): void {
    this.child?.send(message);
  }

  private kill(callId: number, message: string): void {
    if (this.child === undefined) return;
    this.killReason = { callId, message };
    this.child.kill('SIGKILL');
  }

  private settle(id: number, outcome: CallOutcome): void {
    const pending = this.pending.get(id);
    if (pending === undefined) return;
    this.pending.delete(id);
    clearTimeout(pending.watchdog);
    pending.resolve(outcome);
    this.updateRef();
  }

  private onMessage(message: ChildMessage): void {
    switch (message.type) {
      case 'log':
        this.pending.get(message.id)?.handlers.onLog(message.line);
        break;
      case 'trace':
        this.pending.get(message.id)?.handlers.onTrace(message.name, message.where);
        break;
      case 'done':
        this.settle(message.id, message.outcome);
        break;
      case 'ask': {
        const pending = this.pending.get(message.callId);
        const answer = pending
          ? pending.handlers.onAsk(message.what, message.name, message.where)
          : Promise.resolve({ ok: false, error: 'the call is no longer running' });
        void answer.then((reply) => this.post({ type: 'reply', id: message.id, ...reply }));
        break;
      }
      case 'ready':
        break;
    }
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child !== child) return;
    this.child = undefined;
    const reason = this.killReason;
    const detail = /catastrophic error: (.*)/.exec(this.stderrTail)?.[1];
    const cannotStart = /triggerbox sandbox: cannot start: (.*)/.exec(this.stderrTail)?.[1];
    for (const [id, pending] of [...this.pending]) {
      const durationMs = performance.now() - pending.started;
      if (reason !== undefined && reason.callId === id) {
        this.settle(id, {
          ok: false,
          code: 'ExecutionTimeLimitExceeded',
          message: reason.message,
          stack: '',
          durationMs,
        });
      } else {
        if (cannotStart !== undefined) {
          this.settle(id, {
            ok: false,
            code: 'FunctionExecutionError',
            message: cannotStart,
            stack: '',
            durationMs,
          });
          continue;
        }
        const why = detail
          ? `isolated-vm reported a catastrophic error (${detail}), usually one allocation too large for the ${this.limits.memoryMb} MB memory limit`
          : `the sandbox process exited (${signal ?? `code ${code}`}${lastLine(this.stderrTail)})`;
        this.settle(id, {
          ok: false,
          code: 'FunctionExecutionError',
          message: `${why} while running '${pending.request.name}'; a new sandbox was started for the next call`,
          stack: '',
          durationMs,
        });
      }
    }
    this.updateRef();
  }

  /** Keep the parent process alive only while calls are in flight. */
  private updateRef(): void {
    const child = this.child;
    if (child === undefined) return;
    setRef(child, this.pending.size > 0);
  }

  dispose(): void {
    this.disposed = true;
    for (const [id, pending] of [...this.pending]) {
      this.settle(id, {
        ok: false,
        code: 'FunctionExecutionError',
        message: 'the runner was disposed while the call was running',
        stack: '',
        durationMs: performance.now() - pending.started,
      });
    }
    const child = this.child;
    this.child = undefined;
    if (child !== undefined) {
      child.removeAllListeners('exit');
      child.kill('SIGKILL');
    }
  }
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  const line = lines.find((l) => /Error|error:/.test(l)) ?? lines[lines.length - 1] ?? '';
  return line ? `: ${line.trim()}` : '';
}
