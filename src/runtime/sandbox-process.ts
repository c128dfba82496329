/**
 * Supervises the sandbox process (worker.ts): forks it, restarts it when it dies or stops
 * answering, and fails the calls that were in flight with a clear error instead of hanging.
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { OpReply, ParentOpName, ParentOps, WireError } from './boundary/host-ops.js';
import { cacheDir } from './cache-dir.js';
import type { InspectorAction, InspectorEvent } from './inspector/cdp.js';
import { Outbox } from './protocol.js';
import type {
  AppPayload,
  CallOutcome,
  CallRequest,
  ChildMessage,
  LogLine,
  ParentMessage,
  ParentOpRequest,
  SandboxLimits,
} from './protocol.js';

// worker.ts as one CommonJS file (scripts/build.mjs: it starts sooner without Node's snapshot).
// Relative to dist/src/<dir>/ so that it resolves the same from the CLI bundle (dist/src/cli/).
const WORKER = fileURLToPath(new URL('../runtime/sandbox.cjs', import.meta.url));
/** How long past its own time limit a call may go before the process is deemed hung. */
export const GRACE_MS = 3000;

/**
 * `execPath`: the Node binary to run it under, when not this process's own (the debugger's
 * sandbox under Node 24 while the CLI runs on Node 26: inspector/node24.ts).
 */
function forkWorker(execPath?: string): ChildProcess {
  return fork(WORKER, [], {
    ...(execPath !== undefined && { execPath }),
    // --no-node-snapshot: isolated-vm's README requires it on Node 20+. A small young generation
    // keeps this process's own heap from growing with IPC churn (measured: RSS flat at ~90 MB
    // over 30,000 calls instead of climbing past 120 MB). --initial-heap-size=16: every
    // isolate's first full collection comes at about 13 MB instead of 40 MB (Node 24; 22 MB on
    // Node 26), below the 16 MB past which worker.ts replaces an isolate (MAX_REUSED_HEAP).
    // Without it an isolate was replaced every ~67 trivial calls, its released contexts never
    // collected: 75 isolates created for 5,000 calls instead of 5, and 20 calls in flight gave
    // 12-29% fewer calls/s with 8-20 MB more RSS. 8 did as well for calls but collected during
    // a package's first load: lodash's took 65-83 ms on Node 26 against 57-61 ms with 16.
    execArgv: ['--no-node-snapshot', '--max-semi-space-size=2', '--initial-heap-size=16'],
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    serialization: 'advanced',
    env: sandboxEnv(execPath !== undefined && execPath !== process.execPath),
  });
}

/**
 * The sandbox process's environment: the caller's, with Node's compile cache on (the CLI's own
 * folder of it) so that its modules are not compiled again at every start. `otherNode`: it runs
 * under another Node than this process's (the debugger's Node 24 under Node 26); NODE_OPTIONS is
 * then left out, as it was set for the caller's Node: an option that line knows and Node 24 does
 * not (`--webstorage`, ...) would make the sandbox exit with code 9 at its start.
 */
function sandboxEnv(otherNode: boolean): NodeJS.ProcessEnv {
  const cache = cacheDir();
  const env = { ...process.env };
  if (otherNode) delete env['NODE_OPTIONS'];
  if (cache !== undefined && env['NODE_COMPILE_CACHE'] === undefined)
    env['NODE_COMPILE_CACHE'] = path.join(cache, 'compile');
  return env;
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
  /**
   * Serves a `parent` op of the call (a secret, a package bundle, a host service op). A throw or
   * rejection becomes the op's failure. `signal` is aborted when the call settles, whatever
   * ended it (done, time limit, crash, dispose): ops still running must stop then.
   */
  onOp<K extends ParentOpName>(
    op: K,
    arg: ParentOps[K]['arg'],
    signal: AbortSignal,
  ): Promise<ParentOps[K]['result']>;
}

interface Pending {
  request: CallRequest;
  handlers: CallHandlers;
  resolve(outcome: CallOutcome): void;
  watchdog: NodeJS.Timeout;
  started: number;
  /**
   * Aborted when the call settles: cancels what the call's ops started in this process. Made at
   * the call's first op (most calls have none: its Error's stack was 15-20 µs of every call).
   */
  ops: AbortController | undefined;
  /** The sandbox process the call was sent to: only its exit fails the call. */
  child: ChildProcess | undefined;
}

/** The debugger relay (inspect mode, inspector/relay.ts), as the sandbox process sees it. */
export interface InspectorPeer {
  /** A new sandbox process started: `post` reaches it (and only it). */
  started(post: (action: InspectorAction) => void): void;
  received(event: InspectorEvent): void;
  /** The sandbox process is gone (exited, killed, disposed): its session with it. */
  stopped(why: string): void;
}

export class SandboxProcess {
  /** Inspect mode: the relay between the debugger and the sandbox's session. */
  inspector: InspectorPeer | undefined;
  private child: ChildProcess | undefined;
  /** What post() queued for the current child this turn (a new child gets a new outbox). */
  private outbox: Outbox<ParentMessage> | undefined;
  private app: AppPayload | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private stderrTail = '';
  /** Why the current child is being killed, for the calls that die with it. */
  private killReason: { callId: number; message: string } | undefined;
  private disposed = false;
  /** The sandbox process's live isolates as of its last answer (diagnostics, benchmarks). */
  isolates = 0;

  /** `execPath`: the Node binary the sandbox process runs under, when not this process's. */
  constructor(
    private readonly limits: SandboxLimits,
    private readonly execPath?: string,
  ) {}

  /** Forks the process now (the runner does this at creation, ahead of the first call). */
  start(): void {
    if (this.child !== undefined || this.disposed) return;
    // A preforked process runs under this process's Node: not the one asked for another.
    if (this.execPath !== undefined) discardPreforked();
    const adopted = preforked !== undefined && preforked.exitCode === null ? preforked : undefined;
    preforked = undefined;
    const child = adopted ?? forkWorker(this.execPath);
    this.child = child;
    const outbox = new Outbox<ParentMessage>((message) => {
      if (child.connected) child.send(message);
    });
    this.outbox = outbox;
    this.killReason = undefined;
    this.stderrTail = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-2000);
    });
    child.on('message', (message: ChildMessage) => this.onMessage(child, message));
    child.on('exit', (code, signal) => this.onExit(child, code, signal));
    child.on('error', () => {
      /* 'exit' follows and fails what was in flight */
    });
    this.post({ type: 'init', limits: this.limits });
    if (this.app !== undefined) this.post({ type: 'app', app: this.app });
    this.inspector?.started((action) => {
      // Through the outbox, behind 'init': a new process handed Debugger.enable before its
      // init had no session to give it to, and its calls never paused.
      if (this.child === child) outbox.post({ type: 'inspector', action });
    });
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
      const watchdog = this.watchdog(id, request.timeoutMs);
      this.pending.set(id, {
        request: full,
        handlers,
        resolve,
        watchdog,
        started: performance.now(),
        ops: undefined,
        child: this.child,
      });
      this.updateRef();
      this.post(full);
    });
  }

  private watchdog(id: number, timeoutMs: number): NodeJS.Timeout {
    return setTimeout(() => {
      this.kill(id, `the sandbox process stopped responding after the ${timeoutMs} ms time limit`);
    }, timeoutMs + GRACE_MS);
  }

  private post(message: ParentMessage): void {
    if (this.child !== undefined) this.outbox?.post(message);
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
    pending.ops?.abort(new Error(`the call of '${pending.request.name}' ended`));
    pending.resolve(outcome);
    this.updateRef();
  }

  private onMessage(child: ChildProcess, message: ChildMessage): void {
    switch (message.type) {
      case 'batch':
        for (const one of message.messages) this.onMessage(child, one);
        break;
      case 'log':
        this.pending.get(message.id)?.handlers.onLog(message.line);
        break;
      case 'trace':
        this.pending.get(message.id)?.handlers.onTrace(message.name, message.where);
        break;
      case 'done':
        // A process that answers a call and ends itself (a memory failure it cannot stop): the
        // next call goes to a new process rather than to one about to exit.
        if (message.retiring === true && this.child === child) this.child = undefined;
        if (message.isolates !== undefined) this.isolates = message.isolates;
        this.settle(message.id, message.outcome);
        break;
      case 'op':
        // Op ids are per sandbox process: a reply never goes to the process that replaced it.
        void this.serveOp(message).then((reply) => {
          if (this.child === child) child.send({ type: 'opReply', id: message.id, reply });
        });
        break;
      case 'ready':
        break;
      case 'finished':
        this.finished?.();
        break;
      case 'inspector':
        // A call paused in the debugger is not hung: its watchdog starts again on resume (a
        // backstop; the sandbox process keeps the exact time limit, less the time paused).
        if (message.event.kind === 'paused') {
          for (const [id, pending] of this.pending) {
            clearTimeout(pending.watchdog);
            if (!message.event.paused)
              pending.watchdog = this.watchdog(id, pending.request.timeoutMs);
          }
        }
        this.inspector?.received(message.event);
        break;
    }
  }

  /** Never rejects: whatever the op does, the sandbox process gets a reply. */
  private async serveOp(message: ParentOpRequest): Promise<OpReply<unknown>> {
    const pending = this.pending.get(message.callId);
    if (pending !== undefined) pending.ops ??= new AbortController();
    const signal = pending?.ops?.signal;
    if (pending === undefined || signal === undefined || signal.aborted) {
      return { ok: false, error: { name: 'Error', message: 'the call is no longer running' } };
    }
    try {
      const value = await pending.handlers.onOp(message.op, message.arg as never, signal);
      return { ok: true, value };
    } catch (error) {
      return { ok: false, error: wireError(error) };
    }
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    const current = this.child === child;
    if (current) this.child = undefined;
    if (current)
      this.inspector?.stopped(`the sandbox process exited (${signal ?? `code ${code}`})`);
    const reason = current ? this.killReason : undefined;
    const detail = /catastrophic error: (.*)/.exec(this.stderrTail)?.[1];
    const cannotStart = /triggerbox sandbox: cannot start: (.*)/.exec(this.stderrTail)?.[1];
    for (const [id, pending] of [...this.pending]) {
      if (pending.child !== child) continue;
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

  private finished: (() => void) | undefined;

  /**
   * dispose(), once the sandbox process has written the V8 code caches it is making (an after-run
   * cache is made just after the call that loaded a package, package-script.ts): waits at most
   * `maxWaitMs`, and not at all when no process runs.
   */
  async finish(maxWaitMs: number): Promise<void> {
    const child = this.child;
    if (child !== undefined && child.connected && !this.disposed && this.pending.size === 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.finished = resolve;
        timer = setTimeout(resolve, maxWaitMs);
        child.once('exit', () => resolve());
        this.post({ type: 'finish' });
      });
      clearTimeout(timer);
      this.finished = undefined;
    }
    this.dispose();
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
    this.inspector?.stopped('the runner was disposed');
    if (child !== undefined) {
      child.removeAllListeners('exit');
      child.kill('SIGKILL');
      // Its end is nothing to wait for: a one-off command's process exits once its event loop
      // is empty (cli/run.ts) without waiting for the kernel to tear the sandbox process down.
      setRef(child, false);
    }
  }
}

function wireError(error: unknown): WireError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string'
      ? { name: error.name, message: error.message, code }
      : { name: error.name, message: error.message };
  }
  return { name: 'Error', message: String(error) };
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  const line = lines.find((l) => /Error|error:/.test(l)) ?? lines[lines.length - 1] ?? '';
  return line ? `: ${line.trim()}` : '';
}
