/**
 * The sandbox process. The runner forks it with --no-node-snapshot (isolated-vm's README requires
 * that flag on Node 20+) and talks to it over IPC. It owns every isolate, so an isolated-vm
 * failure that would hang or kill a process (RUNTIME-NOTES: out-of-memory on one large object)
 * only takes this process down; the runner notices, fails the call in flight and forks a new one.
 */
import { readFileSync, writeSync } from 'node:fs';
import type IsolatedVm from 'isolated-vm';
import { HOST_OPS, MAX_ASYNC_OPS } from './boundary/host-ops.js';
import type {
  AsyncOpName,
  BlockingOpName,
  HostOps,
  OpReply,
  ParentOpName,
  ParentOps,
  SyncOpName,
  TransferData,
} from './boundary/host-ops.js';
import { SandboxInspector, TimeLimit } from './inspector/sandbox-inspector.js';
import { trace, tracing } from './inspector/trace.js';
import { loadIsolatedVm } from './isolated-vm.js';
import { ModuleFiles } from './module-files.js';
import { readBundleAt } from './package-cache.js';
import { PackageScript, settledCodeCaches } from './package-script.js';
import { OUTPUT_CAPS, Outbox } from './protocol.js';
import { nodeCrypto } from '../shared/lazy-crypto.js';
import type {
  AppPayload,
  CallOutcome,
  CallRequest,
  ChildMessage,
  ExecutionErrorCode,
  LogLine,
  ParentMessage,
  SandboxLimits,
} from './protocol.js';

const ivm = loadOrExplain();

/** A broken isolated-vm install ends this process with one line the runner shows as it is. */
function loadOrExplain(): ReturnType<typeof loadIsolatedVm> {
  try {
    return loadIsolatedVm();
  } catch (error) {
    writeSync(2, `triggerbox sandbox: cannot start: ${(error as Error).message}\n`);
    process.exit(70);
  }
}
type Isolate = IsolatedVm.Isolate;
type Context = IsolatedVm.Context;
type Reference<T = unknown> = IsolatedVm.Reference<T>;

/**
 * A guest bundle's text, read at its first compile: the bson + buffer bundle (237 kB) and the
 * built-in modules' (1.2 MB) are needed only by calls that use them, and reading them at start
 * was about 10 ms of this process's start-up.
 */
const guestFile = (name: string) => (): string =>
  readFileSync(new URL(`../../guest/${name}`, import.meta.url), 'utf8');
/**
 * Prepared contexts kept ready ahead of calls, beyond the calls in flight (inspect mode: one
 * isolate, Pool.wanted). Three: a caller that
 * sends its next call as soon as the last one answers finds one whose preparation finished while
 * the two before it ran (with two, a call often waited for one under load).
 */
const WARM_CONTEXTS = 3;
/**
 * How long the highest number of calls in flight is remembered: lanes up to it (plus the warm
 * ones) are kept between calls rather than disposed and created again (the sandbox process spent
 * most of its time in `new Isolate` and `dispose` when 20 calls in flight churned lanes).
 */
const PEAK_MEMORY_MS = 1000;
/**
 * The share of recent calls that used BSON, EJSON or Buffer (a moving average over about the last
 * ten) past which contexts are prepared with the bson + buffer bundle already run, off the call's
 * path: running it inside a call cost about 0.8 ms plus a trip to the host.
 */
const BSON_PRELOAD_SHARE = 0.5;
/**
 * An isolate serves this many calls (each in a fresh context) before it is replaced. Was 100:
 * creating and disposing an isolate costs the sandbox process's main thread 5-16 ms under load,
 * which at 100 calls was about 0.1-0.3 ms a call; the heap check (MAX_REUSED_HEAP) is what keeps
 * a reused isolate small.
 */
const CALLS_PER_ISOLATE = 1000;
/**
 * An isolate whose heap grew past this is replaced rather than reused (V8 collects lazily; the
 * sandbox process's --initial-heap-size keeps the released contexts' garbage under it:
 * sandbox-process.ts).
 */
const MAX_REUSED_HEAP = 16 * 1024 * 1024;
/**
 * How often a pending call's isolate is checked for having been disposed by its memory limit,
 * and how long it may stay so before the call is answered anyway (RUNTIME-NOTES, "Out of
 * memory": one C++ builtin loop such as `new Array(60e6).fill(1.5)` never checks interrupts, so
 * the call stays pending for 14-50 s after V8 gave up on it).
 */
const MEMORY_CHECK_MS = 100;
const MEMORY_GRACE_MS = 100;
const CAPS_JSON = JSON.stringify(OUTPUT_CAPS);
/** The codes a failure reported by the prelude may carry; anything else is FunctionExecutionError. */
const GUEST_CODES = new Set<ExecutionErrorCode>([
  'FunctionExecutionError',
  'FunctionNotFound',
  'FunctionSyntaxError',
]);

const outbox = new Outbox<ChildMessage>((message) => process.send?.(message));

function send(message: ChildMessage): void {
  // Inspect mode sends at once: while a call is paused in the debugger this thread may not reach
  // the end of its turn (a paused call never told the runner, and its test waited forever), and
  // calls run one at a time there, so there is nothing to batch.
  if (inspector !== undefined) {
    outbox.flush();
    process.send?.(message);
    return;
  }
  outbox.post(message);
}

/** Compiles a script with V8's code cache, produced by the first compile in this process. */
class CachedScript {
  private cachedData: IsolatedVm.ExternalCopy<ArrayBuffer> | undefined;
  private code: string | undefined;
  constructor(
    private readonly source: string | (() => string),
    private readonly filename: string,
  ) {}
  compile(isolate: Isolate): IsolatedVm.Script {
    const code = (this.code ??= typeof this.source === 'string' ? this.source : this.source());
    if (this.cachedData === undefined) {
      const script = isolate.compileScriptSync(code, {
        filename: this.filename,
        produceCachedData: true,
      }) as IsolatedVm.Script & IsolatedVm.CachedDataResult;
      if (script.cachedData) this.cachedData = script.cachedData;
      return script;
    }
    return isolate.compileScriptSync(code, {
      filename: this.filename,
      cachedData: this.cachedData,
    });
  }
}

const preludeScript = new CachedScript(guestFile('prelude.js'), 'triggerbox:prelude');
const libsScript = new CachedScript(guestFile('libs.js'), 'triggerbox:bson');
const bufferScript = new CachedScript(guestFile('buffer.js'), 'triggerbox:buffer');
const builtinsScript = new CachedScript(guestFile('builtins.js'), 'triggerbox:builtins');
/**
 * Hands a new context's host handles to the prelude's __tb_init and evaluates to the call entry.
 * worker.ts sets the globals it reads with `setIgnored` (queued, nothing waits for them), runs
 * the prelude the same way, then runs this one script: a context is prepared in two trips to the
 * isolate (this one and createContext) instead of five.
 */
const bootScript = new CachedScript(
  `(function (g) {
    const args = [g.__tb_hostSync, g.__tb_hostRef, g.__tb_manifest, g.__tb_caps, g.__tb_values,
      g.__tb_constants];
    delete g.__tb_hostSync; delete g.__tb_hostRef; delete g.__tb_manifest; delete g.__tb_caps;
    delete g.__tb_values; delete g.__tb_constants;
    return g.__tb_init(...args);
  })(globalThis)`,
  'triggerbox:boot',
);

let limits: SandboxLimits = { memoryMb: 350 };
let app: AppPayload | undefined;
/** The current app's Values as one JSON text, handed to each context it prepares. */
let valuesJSON = '{}';
/** Live isolates (lanes), reported with each answer for benchmarks (SandboxProcess.isolates). */
let isolates = 0;
/** Moving average of whether calls used BSON (see BSON_PRELOAD_SHARE). */
let bsonShare = 0;
/**
 * Bundled npm packages, by require() specifier, for the current app generation (V8's code cache
 * of each kept on disk too: package-script.ts).
 */
let packages = new Map<string, PackageScript>();
/** The current app generation's CommonJS packages, loaded file by file (module-files.ts). */
let moduleFiles: ModuleFiles | undefined;
/** Inspect mode (limits.inspect): the debugger session of the one lane. */
let inspector: SandboxInspector | undefined;

interface ActiveCall {
  request: CallRequest;
  timers: Map<number, NodeJS.Timeout>;
  /** A timer callback can still be queued in the isolate after the call: the lane is not reused. */
  usedTimers: boolean;
  /** `async` ops in flight (their replies still to come); with timers, capped at MAX_ASYNC_OPS. */
  pendingOps: number;
  logChars: number;
  logLines: number;
  /** Set when the call broke a per-call cap: the call fails with this message. */
  failure: string | undefined;
}

/** A slot is the host side of one prepared context: what its callbacks act on. */
interface Slot {
  lane: Lane;
  context: Context;
  generation: number;
  call: ActiveCall | undefined;
  /** The prelude's entry: ('call', name, argsMode, args, callJSON, source) or ('fire', timerId). */
  entry: Reference<(...args: unknown[]) => unknown>;
}

/** First answers of the service ops declared constant (SandboxLimits.constantOps). */
const constantReplies = new Map<string, OpReply<TransferData>>();
/** The JSON ones among them, as JSON text by op: handed to each new context (`__tb_constants`). */
const constantTexts: Record<string, string> = {};

/** Plain JSON data (what JSON text carries unchanged): no Dates, bytes, undefined or NaN. */
function isJsonData(value: unknown): boolean {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every(isJsonData);
  if (typeof value !== 'object' || Object.getPrototypeOf(value) !== Object.prototype) return false;
  return Object.values(value).every(isJsonData);
}
let nextOpId = 1;
const pendingParentOps = new Map<number, (reply: OpReply<unknown>) => void>();

/** Has the parent serve an op (protocol.ts `op`). Never rejects (isolated-vm issues 314, 417). */
function askParent<K extends ParentOpName>(
  callId: number,
  op: K,
  arg: ParentOps[K]['arg'],
): Promise<OpReply<ParentOps[K]['result']>> {
  const id = nextOpId++;
  return new Promise((resolve) => {
    pendingParentOps.set(id, resolve as (reply: OpReply<unknown>) => void);
    send({ type: 'op', id, callId, op, arg } as ChildMessage);
  });
}

function failure(message: string): { ok: false; error: { name: string; message: string } } {
  return { ok: false, error: { name: 'Error', message } };
}

/** Timers and async ops a call has in flight: the platform allows MAX_ASYNC_OPS. */
function asyncOpsInFlight(call: ActiveCall): number {
  return call.timers.size + call.pendingOps;
}

function tooManyAsyncOps(what: string): string {
  return `${what}: the function has ${MAX_ASYNC_OPS} asynchronous operations in flight (timers and requests), App Services' limit per call: await some before starting more`;
}

/** The sandbox process's half of the `sync` ops of host-ops.ts. */
type SyncOps = { [K in SyncOpName]: (...args: HostOps[K]['args']) => HostOps[K]['result'] };
/** Its half of the `parent` ops: checks, bookkeeping, then the IPC round trip. */
type ParentOpHandlers = {
  [K in BlockingOpName | AsyncOpName]: (
    call: ActiveCall,
    ...args: HostOps[K]['args']
  ) => Promise<OpReply<HostOps[K]['result']>>;
};

/** One isolate. It runs one call at a time, each in a fresh context. */
class Lane {
  readonly isolate: Isolate;
  calls = 0;
  /** Counted in `isolates` until disposed. */
  private counted = true;
  /** Set when this process disposed the isolate (time limit, caps, retirement), not V8's memory limit. */
  disposedByHost = false;
  /** The context being prepared or running; every host callback acts on it. */
  private slot: Slot | undefined;
  private readonly packageScripts = new Map<string, IsolatedVm.Script>();
  /** The guest bundles (bson, buffer, built-ins) compiled in this isolate, by script. */
  private readonly guestScripts = new Map<CachedScript, IsolatedVm.Script>();
  /** One compiled prelude per isolate: its compiled functions are shared by every context. */
  private prelude: IsolatedVm.Script | undefined;
  private boot_: IsolatedVm.Script | undefined;
  /** Two host handles per isolate, shared by its contexts (cheaper than a set per context). */
  private readonly syncHost: IsolatedVm.Callback;
  private readonly hostRef: Reference;

  constructor() {
    isolates++;
    this.isolate = new ivm.Isolate({
      memoryLimit: limits.memoryMb,
      inspector: inspector !== undefined,
      onCatastrophicError: (message) => {
        // RUNTIME-NOTES: after this callback the process can hang; only a kill ends it. The
        // runner sees the exit, fails the call in flight and starts a new sandbox process.
        writeSync(2, `triggerbox sandbox: isolated-vm catastrophic error: ${message}\n`);
        process.kill(process.pid, 'SIGKILL');
      },
    });
    this.syncHost = new ivm.Callback((op: string, ...args: unknown[]) => this.onSync(op, args));
    // Must never reject (isolated-vm issues 314, 417): failures travel as {ok: false} replies.
    this.hostRef = new ivm.Reference(async (op: string, ...args: unknown[]) => {
      const spec = Object.hasOwn(HOST_OPS, op) ? HOST_OPS[op as keyof typeof HOST_OPS] : undefined;
      const call = this.slot?.call;
      let reply: OpReply<unknown>;
      if (spec === undefined || spec.site !== 'parent') {
        reply = failure(`unknown host operation '${op}'`);
      } else if (call === undefined) {
        reply = failure('no call in progress');
      } else {
        const handler = this.parentOps[op as keyof ParentOpHandlers] as (
          call: ActiveCall,
          ...args: unknown[]
        ) => Promise<OpReply<unknown>>;
        reply = await handler(call, ...args).catch((error: unknown) =>
          failure(error instanceof Error ? error.message : String(error)),
        );
      }
      // applySyncPromise takes only transferable results: a copy made here, released on arrival.
      return spec?.mode === 'blocking'
        ? new ivm.ExternalCopy(reply).copyInto({ release: true })
        : reply;
    });
    inspector?.attach(this.isolate);
  }

  private onSync(op: string, args: unknown[]): unknown {
    if (!Object.hasOwn(this.syncOps, op)) throw new Error(`unknown host operation '${op}'`);
    const handler = this.syncOps[op as SyncOpName] as (...args: unknown[]) => unknown;
    return handler(...args);
  }

  private readonly syncOps: SyncOps = {
    log: (level, text) => {
      const slot = this.slot;
      const call = slot?.call;
      if (call === undefined || slot === undefined || call.failure !== undefined) return undefined;
      // The prelude already cut the line to OUTPUT_CAPS.logLineChars (plus its marker).
      const message = String(text).slice(0, OUTPUT_CAPS.logLineChars + 200);
      call.logChars += message.length;
      call.logLines++;
      if (call.logChars > OUTPUT_CAPS.logCallChars || call.logLines > OUTPUT_CAPS.logCallLines) {
        call.failure =
          call.logLines > OUTPUT_CAPS.logCallLines
            ? `the function's log output went past ${OUTPUT_CAPS.logCallLines} log lines in one call (triggerbox's cap per call; App Services keeps 25): log less, or log a summary`
            : `the function's log output went past ${OUTPUT_CAPS.logCallLabel} in one call (triggerbox's cap per call; App Services keeps 25 lines of 512 bytes): log less, or log a summary`;
        // End the call now: a function that catches errors could otherwise keep on logging.
        setImmediate(() => slot.lane.dispose());
        return undefined;
      }
      send({
        type: 'log',
        id: call.request.id,
        line: { level: level as LogLine['level'], message },
      });
      return undefined;
    },
    trace: (name, where) => {
      const call = this.slot?.call;
      if (call)
        send({
          type: 'trace',
          id: call.request.id,
          name: String(name).slice(0, 1000),
          where: String(where).slice(0, 1000),
        });
    },
    source: (name) => sourceOf(String(name)),
    libs: () => this.runGuest(libsScript),
    buffer: () => this.runGuest(bufferScript),
    builtins: () => this.runGuest(builtinsScript),
    runPackage: (spec) => {
      const slot = this.slot;
      if (slot) this.runPackage(String(spec), slot.context);
    },
    resolveModule: (spec, from, where) =>
      moduleFiles === undefined
        ? { kind: 'bundle', spec: String(spec) }
        : moduleFiles.resolve(String(spec), String(from), String(where)),
    moduleSource: (id) => {
      if (moduleFiles === undefined) return { error: 'no app is loaded' };
      try {
        return moduleFiles.moduleText(String(id));
      } catch (error) {
        return { error: error instanceof Error ? error.message : String(error) };
      }
    },
    timer: (timerId, ms, repeating) => {
      const slot = this.slot;
      const call = slot?.call;
      if (call === undefined || slot === undefined) return null;
      const repeat = Boolean(repeating);
      if (asyncOpsInFlight(call) >= MAX_ASYNC_OPS)
        return tooManyAsyncOps(repeat ? 'setInterval' : 'setTimeout');
      const id = Number(timerId);
      call.usedTimers = true;
      const fire = (): void => {
        if (!repeat) call.timers.delete(id);
        if (slot.call === call) slot.entry.applyIgnored(undefined, ['fire', id]);
      };
      call.timers.set(id, repeat ? setInterval(fire, Number(ms)) : setTimeout(fire, Number(ms)));
      return null;
    },
    clearTimer: (timerId) => {
      const call = this.slot?.call;
      const timer = call?.timers.get(Number(timerId));
      if (timer !== undefined) {
        clearTimeout(timer);
        call?.timers.delete(Number(timerId));
      }
    },
    random: (size) => new Uint8Array(nodeCrypto().randomBytes(Math.min(65536, Number(size) || 0))),
  };

  private readonly parentOps: ParentOpHandlers = {
    secret: (call, valueName) =>
      askParent(call.request.id, 'secret', { valueName: String(valueName) }),
    fetchPackage: async (call, spec, where) => {
      const name = String(spec);
      if (!packages.has(name)) {
        const ask = (inline: boolean) =>
          askParent(call.request.id, 'package', { spec: name, where: String(where), inline });
        const asked = ask(false);
        // node:crypto, for the code cache's key and check (17-20 ms to load in this process),
        // loaded while the parent answers, once the request has gone out (the outbox sends it
        // first).
        setImmediate(nodeCrypto);
        let reply = await asked;
        if (!reply.ok) return reply;
        let code =
          typeof reply.value === 'string'
            ? reply.value
            : readBundleAt(reply.value, reply.value.hash);
        // The cache entry changed since the parent checked it: the code itself, over IPC.
        if (code === undefined) {
          reply = await ask(true);
          if (!reply.ok) return reply;
          if (typeof reply.value !== 'string')
            return failure(`package '${name}' came without its code`);
          code = reply.value;
        }
        packages.set(name, new PackageScript(code, `functions/node_modules/${name}`));
      }
      return { ok: true, value: null };
    },
    service: async (call, op, data) => {
      const name = String(op);
      const known = constantReplies.get(name);
      if (known !== undefined) return known;
      const reply = await askParent(call.request.id, 'service', { op: name, mode: 'sync', data });
      if (reply.ok && limits.constantOps?.includes(name) === true) {
        constantReplies.set(name, reply);
        // Contexts prepared from now on answer it themselves, without a trip to this thread.
        if (isJsonData(reply.value)) constantTexts[name] = JSON.stringify(reply.value);
      }
      return reply;
    },
    serviceAsync: async (call, op, data) => {
      const name = String(op);
      if (asyncOpsInFlight(call) >= MAX_ASYNC_OPS) return failure(tooManyAsyncOps(name));
      call.pendingOps++;
      try {
        return await askParent(call.request.id, 'service', { op: name, mode: 'async', data });
      } finally {
        call.pendingOps--;
      }
    },
  };

  /** A guest bundle, compiled once in this isolate. */
  private guestScript(cached: CachedScript): IsolatedVm.Script {
    let script = this.guestScripts.get(cached);
    if (script === undefined) {
      script = cached.compile(this.isolate);
      this.guestScripts.set(cached, script);
    }
    return script;
  }

  /** Runs a guest bundle in the calling context (it sets its `__tb_*` global). */
  private runGuest(cached: CachedScript): void {
    const slot = this.slot;
    if (slot) this.guestScript(cached).runSync(slot.context);
  }

  private runPackage(spec: string, context: Context): void {
    let script = this.packageScripts.get(spec);
    if (script === undefined) {
      const cached = packages.get(spec);
      if (cached === undefined) throw new Error(`package '${spec}' was not fetched`);
      script = cached.compile(this.isolate);
      this.packageScripts.set(spec, script);
    }
    script.runSync(context);
  }

  dispose(): void {
    this.slot = undefined;
    if (this.counted) isolates--;
    this.counted = false;
    if (this.isolate.isDisposed) return;
    this.disposedByHost = true;
    // A Reference pins its host function (and this lane with it) until released.
    this.hostRef.release();
    if (inspector === undefined) this.isolate.dispose();
    else inspector.dispose(this.isolate);
  }

  /** Ends the current context; the lane can then prepare the next one. */
  release(slot: Slot): void {
    slot.entry.release();
    slot.context.release();
    if (this.slot === slot) this.slot = undefined;
  }

  /**
   * A fresh context for the next call, once the isolate has run whatever the finished call left
   * queued (promise chains) and if its heap is small enough to reuse; rejects with DISCARDED if
   * that takes longer than `withinMs` (what is left of the finished call's time limit): the lane
   * is then disposed, so work left spinning never delays another call. Async isolate APIs only: a
   * sync one would block this whole process behind a busy isolate (a spinning call once made
   * every later call hang and take the blame).
   */
  renew(previous: Slot, withinMs: number): Promise<Slot> {
    return new Promise<Slot>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        reject(DISCARDED);
      }, withinMs);
      // Both queued behind whatever the call left: one trip to the isolate for the two.
      Promise.all([
        this.isolate.getHeapStatistics(),
        this.isolate.createContext({ inspector: inspector !== undefined }),
      ]).then(
        ([heap, context]) => {
          if (settled) return;
          clearTimeout(timer);
          settled = true;
          if (this.isolate.isDisposed || heap.used_heap_size >= MAX_REUSED_HEAP) {
            context.release();
            reject(DISCARDED);
            return;
          }
          this.release(previous);
          this.boot(context).then(resolve, reject);
        },
        () => {
          if (settled) return;
          clearTimeout(timer);
          settled = true;
          reject(DISCARDED);
        },
      );
    });
  }

  async prepare(): Promise<Slot> {
    return this.boot(await this.isolate.createContext({ inspector: inspector !== undefined }));
  }

  /** Runs the prelude in a new context (and bson, when calls have been using it): one trip. */
  private async boot(context: Context): Promise<Slot> {
    const current = app;
    if (current === undefined) throw new Error('no app loaded');
    if (tracing) trace('worker', `prepare context (generation ${current.generation})`);
    this.prelude ??= preludeScript.compile(this.isolate);
    const boot = (this.boot_ ??= bootScript.compile(this.isolate));
    const global = context.global;
    global.setIgnored('__tb_hostSync', this.syncHost);
    global.setIgnored('__tb_hostRef', this.hostRef);
    global.setIgnored('__tb_manifest', current.manifest);
    global.setIgnored('__tb_caps', CAPS_JSON);
    global.setIgnored('__tb_values', valuesJSON);
    global.setIgnored('__tb_constants', JSON.stringify(constantTexts));
    if (bsonShare > BSON_PRELOAD_SHARE) {
      this.guestScript(libsScript).runIgnored(context);
    }
    this.prelude.runIgnored(context);
    const entry = (await boot.run(context, { reference: true })) as Slot['entry'];
    if (tracing) trace('worker', `context ready (generation ${current.generation})`);
    const slot: Slot = {
      lane: this,
      context,
      generation: current.generation,
      call: undefined,
      entry,
    };
    this.slot = slot;
    return slot;
  }
}

/** Why a retired lane was not prepared again (it did not become idle in time). */
const DISCARDED = Symbol('discarded');

/** Prepared contexts, ready ahead of need so that a call does not pay for isolate setup. */
class Pool {
  private readonly ready: Slot[] = [];
  private readonly waiters: {
    generation: number;
    resolve(slot: Slot): void;
    reject(error: unknown): void;
  }[] = [];
  private warming = 0;
  /** Calls taken so far (warmWanted). */
  private calls = 0;
  /** A topUp is scheduled for the next turn. */
  private toppingUp = false;
  /** Calls holding a context now. */
  private running = 0;
  /** The most calls in flight (running and waiting) lately, and when it was last reached. */
  private peak = 0;
  private peakAt = 0;

  /** A ready context; else the next one being prepared; else a new isolate (calls beyond the warm ones). */
  acquire(generation: number): Promise<Slot> {
    this.calls++;
    this.notePeak(1);
    for (;;) {
      const slot = this.ready.pop();
      if (slot === undefined) break;
      if (slot.generation >= generation && !slot.lane.isolate.isDisposed) {
        this.running++;
        return Promise.resolve(slot);
      }
      slot.lane.dispose();
    }
    return new Promise<Slot>((resolve, reject) => {
      this.waiters.push({
        generation,
        resolve: (slot) => {
          this.running++;
          resolve(slot);
        },
        reject,
      });
      // Inspect mode: one isolate; a call waits for the lane another call still holds.
      const grow =
        inspector !== undefined ? this.lanes() === 0 : this.waiters.length > this.warming;
      if (grow) this.warm(Promise.resolve(new Lane()));
    });
  }

  /**
   * Contexts kept ready beyond the calls in flight: one for the first call, none more after it
   * (the lane it used is renewed), then WARM_CONTEXTS from the second call on. A one-off run
   * makes one call: the three isolates made for it when the app came held the call's thread for
   * 14-17 ms before it could start, and were never used.
   */
  private warmWanted(): number {
    return this.calls >= 2 ? WARM_CONTEXTS : this.calls === 0 ? 1 : 0;
  }

  /** Lanes now: ready, being prepared, or running a call. */
  private lanes(): number {
    return this.ready.length + this.warming + this.running;
  }

  /**
   * Lanes worth keeping: the recent peak of calls in flight plus the warm ones. Inspect mode: one
   * isolate, because the debugger's session follows the newest isolate (attach): a second lane
   * took the session from the first, a call then ran in an isolate without one, its breakpoints
   * never fired and the debugger waited for a pause forever (2 of 30 runs of the reload test,
   * when a call arrived while a stale lane was being replaced).
   */
  private wanted(): number {
    if (inspector !== undefined) return 1;
    return Math.max(this.peak, this.running + this.waiters.length) + this.warmWanted();
  }

  private notePeak(arriving: number): void {
    const now = performance.now();
    const inFlight = this.running + this.waiters.length + arriving;
    if (inFlight >= this.peak || now - this.peakAt > PEAK_MEMORY_MS) {
      this.peak = inFlight;
      this.peakAt = now;
    }
  }

  /**
   * After a call: a clean isolate, once idle, gets a fresh context for the next call, as long as
   * the lanes stay within the recent peak of calls in flight plus the warm ones (a lane disposed
   * here is an isolate created again for the next call); anything else is dropped. `drainMs` is
   * what is left of the call's time limit.
   */
  retire(slot: Slot, reusable: boolean, drainMs: number): void {
    this.running--;
    this.notePeak(0);
    const lane = slot.lane;
    lane.calls++;
    const healthy = reusable && !lane.isolate.isDisposed && lane.calls < CALLS_PER_ISOLATE;
    // A call waiting with no context on its way takes this lane rather than a new isolate.
    if (healthy && (this.lanes() < this.wanted() || this.waiters.length > this.warming)) {
      this.warm(Promise.resolve(lane), (l) => l.renew(slot, drainMs));
    } else {
      lane.dispose();
      this.topUp();
    }
    this.topUpLater();
  }

  /**
   * Starts preparing contexts until warmWanted() are ready or on their way beyond the waiting
   * calls, within the lanes worth keeping (a new isolate blocks this process for 3-15 ms: one
   * created here only to be disposed at the next retire was most of the churn under load).
   */
  topUp(): void {
    if (this.toppingUp || !this.short()) return;
    this.warm(Promise.resolve(new Lane()));
    this.topUpLater();
  }

  /**
   * One new isolate per turn of the event loop: each blocks this thread for 3-15 ms, and a call
   * queued behind (a one-off run sends the app and its call together) is taken first.
   */
  private topUpLater(): void {
    if (this.toppingUp || !this.short()) return;
    this.toppingUp = true;
    setImmediate(() => {
      this.toppingUp = false;
      this.topUp();
    });
  }

  /**
   * Whether fewer contexts are ready or on their way than wanted (topUp). While calls wait or
   * run, only for a waiting call that has none on its way: a new isolate holds this thread for
   * 3-15 ms, which the waiting calls' preparation and the running calls' host callbacks need (a
   * cold run's call took 35-39 ms instead of 17 with the warm isolates made while it ran, and a
   * package's first call in a new process 10-20 ms more). The warm ones are made when no call
   * runs (retire asks for them).
   */
  private short(): boolean {
    if ((this.waiters.length > 0 || this.running > 0) && this.waiters.length <= this.warming)
      return false;
    return (
      app !== undefined &&
      this.ready.length + this.warming < this.warmWanted() + this.waiters.length &&
      (this.lanes() < this.wanted() ||
        (inspector === undefined && this.waiters.length > this.warming))
    );
  }

  private warm(
    pending: Promise<Lane>,
    prepare: (lane: Lane) => Promise<Slot> = (l) => l.prepare(),
  ): void {
    this.warming++;
    void pending.then((lane) =>
      prepare(lane).then(
        (slot) => {
          this.warming--;
          if (app === undefined || slot.generation !== app.generation) {
            lane.dispose();
            this.topUp();
            return;
          }
          // A call sent just before a reload carries the older generation: it runs on the newest
          // app (it raced with the save), rather than waiting for contexts nobody prepares.
          const waiter = this.waiters.findIndex((w) => slot.generation >= w.generation);
          if (waiter >= 0) this.waiters.splice(waiter, 1)[0]?.resolve(slot);
          else this.ready.push(slot);
        },
        (error: unknown) => {
          this.warming--;
          lane.dispose();
          // A lane that did not become idle in time is replaced for whoever waits for it.
          if (error === DISCARDED) this.topUp();
          // A context that cannot even be prepared fails the call waiting for it.
          else this.waiters.shift()?.reject(error);
        },
      ),
    );
  }

  flush(): void {
    for (const slot of this.ready.splice(0)) slot.lane.dispose();
  }
}

const pool = new Pool();

function classify(
  error: unknown,
  timedOut: boolean,
  timeoutMs: number,
): [ExecutionErrorCode, string] {
  const message = error instanceof Error ? error.message : String(error);
  if (timedOut) {
    return [
      'ExecutionTimeLimitExceeded',
      `execution time limit exceeded: the function ran for more than ${timeoutMs} ms (raise it with --timeout <ms>)`,
    ];
  }
  if (/memory limit/i.test(message) || /allocation failed/i.test(message)) {
    return [
      'FunctionExecutionError',
      `execution exceeded the memory limit of ${limits.memoryMb} MB (raise it with --memory <MB>)`,
    ];
  }
  return ['FunctionExecutionError', message];
}

/** Each running call's memory check (runCall), run every MEMORY_CHECK_MS by one shared timer. */
const memoryWatches = new Set<() => void>();
let memoryTimer: NodeJS.Timeout | undefined;

function watchMemory(check: () => void): void {
  memoryWatches.add(check);
  // One timer for the process rather than one per call (a timer set and cleared per call was a
  // measurable share of this process's time per call); unref'd: the IPC channel keeps it alive.
  memoryTimer ??= setInterval(() => {
    for (const watch of [...memoryWatches]) watch();
  }, MEMORY_CHECK_MS).unref();
}

async function runCall(request: CallRequest): Promise<CallOutcome> {
  if (tracing) trace('worker', `call #${request.id} acquire (generation ${request.generation})`);
  const slot = await pool.acquire(request.generation);
  if (tracing) trace('worker', `call #${request.id} runs (slot generation ${slot.generation})`);
  const call: ActiveCall = {
    request,
    timers: new Map(),
    usedTimers: false,
    pendingOps: 0,
    logChars: 0,
    logLines: 0,
    failure: undefined,
  };
  slot.call = call;
  let timedOut = false;
  const started = performance.now();
  const watchdog = new TimeLimit(
    request.timeoutMs,
    () => {
      timedOut = true;
      // RUNTIME-NOTES: isolated-vm's own timeout does not cover async code; disposing does.
      slot.lane.dispose();
    },
    inspector,
  );
  // An isolate disposed by its memory limit while the call is still pending: a builtin loop holds
  // its thread (nothing can stop it, and process.exit() while it runs segfaults), so the call is
  // answered as the memory failure it is and this process ends itself; the runner starts another.
  let disposedSince: number | undefined;
  const memoryWatch = (): void => {
    const lane = slot.lane;
    if (!lane.isolate.isDisposed || lane.disposedByHost || timedOut) return;
    const now = performance.now();
    disposedSince ??= now;
    if (now - disposedSince < MEMORY_GRACE_MS) return;
    memoryWatches.delete(memoryWatch);
    const [code, message] = classify(new Error('memory limit'), false, request.timeoutMs);
    const outcome: CallOutcome = {
      ok: false,
      code,
      message,
      stack: '',
      durationMs: now - started,
    };
    const kill = (): void => {
      process.kill(process.pid, 'SIGKILL');
    };
    // What other calls queued to send goes first: this process ends right after.
    outbox.flush();
    if (process.send === undefined) kill();
    else
      process.send(
        { type: 'done', id: request.id, outcome, retiring: true } satisfies ChildMessage,
        kill,
      );
  };
  watchMemory(memoryWatch);
  let reusable = false;
  try {
    const args = request.args;
    const [mode, payload] =
      args.mode === 'copy'
        ? ['copy', args.value]
        : ['ejson', args.mode === 'ejson' ? args.text : '[]'];
    const result: unknown = await slot.entry.apply(
      undefined,
      // The function's source goes with the call: the guest need not ask for it (a trip from the
      // isolate's thread to this one and back).
      ['call', request.name, mode, payload, request.call, sourceOf(request.name)],
      {
        arguments: { copy: true },
        result: { promise: true, copy: true },
      },
    );
    const durationMs = performance.now() - started;
    if (call.failure !== undefined) {
      return {
        ok: false,
        code: 'FunctionExecutionError',
        message: call.failure,
        stack: '',
        durationMs,
      };
    }
    reusable = true;
    noteBson(result);
    return outcomeOf(result, durationMs);
  } catch (error) {
    const [code, message] =
      call.failure !== undefined && !timedOut
        ? (['FunctionExecutionError', call.failure] as const)
        : classify(error, timedOut, request.timeoutMs);
    const durationMs = performance.now() - started;
    return { ok: false, code, message, stack: '', durationMs };
  } finally {
    watchdog.clear();
    memoryWatches.delete(memoryWatch);
    for (const timer of call.timers.values()) clearTimeout(timer);
    slot.call = undefined;
    const drainMs = watchdog.remainingMs();
    // After the reply is sent: preparing the next context is not on this call's path.
    // Timers and async ops still pending can deliver into the isolate after the call: not reused.
    const idle = !call.usedTimers && call.pendingOps === 0;
    setImmediate(() => pool.retire(slot, reusable && idle, drainMs));
  }
}

/** The `source` op's answer: a function's file, source, syntax error, run-as and import lines. */
function sourceOf(name: string): HostOps['source']['result'] {
  const fn = app?.functions[name];
  return fn === undefined
    ? null
    : [fn.file, fn.source, fn.syntaxError, fn.runAs, fn.importLines, fn.url ?? null];
}

/** Updates the share of calls that used BSON from a call's answer (the prelude's `bson`). */
function noteBson(answer: unknown): void {
  const used = typeof answer === 'object' && answer !== null && 'bson' in answer && answer.bson;
  bsonShare = bsonShare * 0.9 + (used === true ? 0.1 : 0);
}

/** The prelude's answer as a CallOutcome, checked: only the prelude's own codes, only strings. */
function outcomeOf(result: unknown, durationMs: number): CallOutcome {
  const answer = (typeof result === 'object' && result !== null ? result : {}) as Record<
    string,
    unknown
  >;
  if (answer['ok'] === true) {
    if (answer['mode'] === 'copy')
      return { ok: true, result: { mode: 'copy', value: answer['value'] }, durationMs };
    if (answer['mode'] === 'undefined')
      return { ok: true, result: { mode: 'undefined' }, durationMs };
    const text = answer['text'];
    if (answer['mode'] === 'ejson' && typeof text === 'string') {
      if (text.length <= OUTPUT_CAPS.resultChars)
        return { ok: true, result: { mode: 'ejson', text }, durationMs };
      const message = `the result is larger than the ${OUTPUT_CAPS.resultLabel} limit on results`;
      return { ok: false, code: 'FunctionExecutionError', message, stack: '', durationMs };
    }
  }
  const code = answer['code'] as ExecutionErrorCode;
  const text = (value: unknown): string =>
    (typeof value === 'string' ? value : '').slice(0, OUTPUT_CAPS.errorChars + 200);
  return {
    ok: false,
    code: GUEST_CODES.has(code) ? code : 'FunctionExecutionError',
    message: text(answer['message']) || 'the function failed without a message',
    stack: text(answer['stack']),
    durationMs,
  };
}

process.on('message', receive);

function receive(message: ParentMessage): void {
  switch (message.type) {
    case 'batch':
      for (const one of message.messages) receive(one);
      break;
    case 'init':
      limits = message.limits;
      if (limits.inspect === true)
        inspector = new SandboxInspector((event) => send({ type: 'inspector', event }));
      break;
    case 'app':
      if (tracing) trace('worker', `app generation ${message.app.generation}`);
      app = message.app;
      // Read afresh for each generation: a reload may follow an npm install. Without a
      // modulesRoot (the runner sends none in inspect mode) every package is bundled.
      moduleFiles =
        message.app.modulesRoot !== undefined
          ? new ModuleFiles(message.app.modulesRoot)
          : undefined;
      valuesJSON = JSON.stringify(message.app.values);
      packages = new Map();
      pool.flush();
      pool.topUp();
      break;
    case 'call':
      if (tracing) trace('worker', `call #${message.id} ${message.name} received`);
      void (inspector ? inspector.serialize(() => runCall(message)) : runCall(message)).then(
        (outcome) => {
          if (tracing) trace('worker', `call #${message.id} done ok=${outcome.ok}`);
          send({ type: 'done', id: message.id, outcome, isolates });
        },
      );
      break;
    case 'inspector':
      inspector?.receive(message.action);
      break;
    case 'finish':
      void settledCodeCaches().then(() => send({ type: 'finished' }));
      break;
    case 'opReply': {
      const resolve = pendingParentOps.get(message.id);
      pendingParentOps.delete(message.id);
      resolve?.(message.reply);
      break;
    }
  }
}
// The runner is gone: nothing left to serve, and nobody to read an exit code. Not process.exit():
// it segfaults while an isolate's thread runs, and can hang for ever on Node 24/26
// (nodejs/node#54918), which would leave this process behind.
process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
send({ type: 'ready' });
