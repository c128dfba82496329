/**
 * FunctionRunner: the library's way to run an app's functions. Each call runs in a fresh
 * context of a V8 isolate inside a supervised sandbox process (see worker.ts).
 */
import { lineColumnAt } from '../app/json-file.js';
import type { App } from '../app/types.js';
import { TriggerboxError, type ErrorOptions } from '../shared/errors.js';
import { silentLog, type Log } from '../shared/log.js';
import { didYouMean } from '../shared/suggest.js';
import { isBuiltin, type SourceMap } from 'node:module';
import path from 'node:path';
import type { PackageCode, ParentOpName, ParentOps, TransferData } from './boundary/host-ops.js';
import { requireSpecProblem } from './boundary/messages.js';
import {
  SERVICE_NAME,
  type CallOrigin,
  type HostService,
  type ServiceCall,
  type ServiceOp,
} from './boundary/services.js';
import {
  bundlePackage,
  mapPackageFrames,
  PACKAGE_LINE_OFFSET,
  type PackageBundle,
} from './bundle.js';
import { canonicalText, decodeResult, encodeArgs } from './ejson.js';
import type { AppPayload, ExecutionErrorCode, LogLine, Transfer } from './protocol.js';
import { GRACE_MS, SandboxProcess } from './sandbox-process.js';
import { inspectNode, type InspectNode } from './inspector/node24.js';
import { InspectorRelay } from './inspector/relay.js';
import { withInlineSourceMap } from './inspector/source-map.js';
import { ModuleFiles } from './module-files.js';
import { codeHashOf, rehashed } from './package-cache.js';
import { findTrigger } from '../triggers/describe.js';
import { SecretMask } from './secret-mask.js';
import { checkFunctionSyntax } from './syntax.js';
import { scanFunctionSource, transformImports } from './function-source.js';
import { traceValueGet, type ValueTraceEntry } from './value-trace.js';

/** Resolves a Secret's name to its value; throws (with a message that says why) when it cannot. */
export type SecretResolver = (secretName: string) => string | Promise<string>;

/** A resolver that can also list the Secrets it knows (for --trace-values hints). */
export interface SecretSource {
  resolve: SecretResolver;
  names?: (() => string[]) | undefined;
}

export interface UserObject {
  id?: string;
  type?: 'normal' | 'server' | 'system';
  data?: Record<string, unknown>;
  identities?: unknown[];
  custom_data?: Record<string, unknown>;
}

export interface RunnerOptions {
  app: App;
  /** Resolves Secret-linked Values. Without it, such Values fail with a "no secret store" error. */
  secrets?: SecretResolver | SecretSource | undefined;
  log?: Log | undefined;
  /** Wall-time limit of one call, default 300 000 ms (the platform's). */
  timeoutMs?: number | undefined;
  /** Memory limit of one call's isolate, default 350 MB (the platform's). */
  memoryMb?: number | undefined;
  /**
   * Host services the functions reach through the op table (runtime/boundary/host-ops.ts):
   * `context.http` is the 'http' service. The library's createRunner (src/index.ts) passes the
   * built-in ones unless given a list; none here means none.
   */
  services?: readonly HostService[] | undefined;
  /**
   * Inspect mode: calls run one at a time in one isolate that a debugger can attach to through
   * `runner.inspector` (dev/inspector-server.ts serves it). Under a Node whose V8 isolated-vm's
   * inspector crashes (Node 25+), the sandbox process runs under a Node 24 instead (`inspectNode`,
   * else TRIGGERBOX_INSPECT_NODE, else a checked 24.x in scripts/node.sh's cache); with none,
   * InspectorUnsupported (`await ensureInspectNode()` first fetches one).
   */
  inspect?: boolean | undefined;
  /**
   * Inspect mode: the Node 24 binary to run the sandbox process under (checked: `--version` must
   * say 24.x), in place of TRIGGERBOX_INSPECT_NODE and the cache; what ensureInspectNode() found.
   */
  inspectNode?: string | undefined;
}

export interface ExecuteOptions {
  /** A user id (a normal user) or a user object; absent: the system user. */
  user?: string | UserObject | undefined;
  timeoutMs?: number | undefined;
  /** Each console line as it happens (secret values masked). */
  onLog?: ((line: LogLine) => void) | undefined;
  /** Report every context.values.get call in `valueTrace`. */
  traceValues?: boolean | undefined;
  /** Passed as is to every host service op of the call (ServiceCall.origin). */
  origin?: CallOrigin | undefined;
}

export interface ExecutionStats {
  durationMs: number;
}

export interface ExecutionResult {
  /** The result as JS values (numbers as numbers, other BSON types as bson classes). */
  result: unknown;
  /**
   * The result as canonical Extended JSON text, as it crossed the sandbox boundary but with secret
   * values masked: this is what gets printed. `result` keeps the real values.
   */
  resultEJSON: string;
  logs: string[];
  errorLogs: string[];
  /** What the platform would have done differently (log lines it would cut or drop). */
  warnings: string[];
  stats: ExecutionStats;
  /** With `traceValues`: each context.values.get call, in order. */
  valueTrace: ValueTraceEntry[];
}

/** A call that failed: the function threw or rejected, or hit a limit. Carries the call's logs. */
export class FunctionExecutionFailure extends TriggerboxError {
  constructor(
    readonly errorCode: ExecutionErrorCode,
    message: string,
    readonly logs: string[],
    readonly errorLogs: string[],
    readonly stats: ExecutionStats,
    /** The function's stack trace, naming its file and line. */
    readonly functionStack: string,
    options: ErrorOptions = {},
    /** With `traceValues`: each context.values.get call before the failure. */
    readonly valueTrace: ValueTraceEntry[] = [],
  ) {
    super(errorCode, message, options);
    this.name = 'FunctionExecutionFailure';
  }
}

export const DEFAULT_TIMEOUT_MS = 300_000;
export const DEFAULT_MEMORY_MB = 350;
/** The largest timer delay Node takes (2^31-1 ms), less the grace the supervisor adds to it. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1 - GRACE_MS;
/**
 * isolated-vm refuses isolates under 8 MB; measured under isolated-vm 7 / Node 24, an isolate with
 * the prelude starts at 8 MB but cannot load BSON/EJSON/Buffer (a 17 MiB pre-allocation) under
 * 14 MB. 16 MB is the smallest limit at which every global works.
 */
export const MIN_MEMORY_MB = 16;
/** Far above the platform's 350 MB; beyond it a limit protects nothing. */
export const MAX_MEMORY_MB = 16_384;
/**
 * Bundles at least this large are read by the sandbox process from their cache entry rather than
 * sent over the IPC channel (about 13 ms per MB there on this project's machine).
 */
const PACKAGE_BY_FILE = 256 * 1024;

/** `require('name')` / `require("name")` with a literal name (prefetchPackages). */
const LITERAL_REQUIRE = /\brequire\(\s*(['"])([^'"\n]+)\1\s*\)/g;
/** Platform log limits (SPEC section 3): local runs show everything but warn. */
const LOG_LINE_BYTES = 512;
const LOG_LINES = 25;

const noSecretStore: SecretSource = {
  resolve: () => {
    throw new Error('no secret store is configured for this runner');
  },
};

export interface FireOptions extends Omit<ExecuteOptions, 'user'> {
  /** Fire a disabled trigger anyway. */
  force?: boolean | undefined;
  /** The time of a generated event. */
  now?: Date | undefined;
}

export interface TriggerRun extends ExecutionResult {
  trigger: string;
  /** The argument the function received (after the trigger's project); none for SCHEDULED. */
  event: Record<string, unknown> | undefined;
}

export class FunctionRunner {
  private app: App;
  private payload: AppPayload;
  /** Each function's file text as last sent (the payload holds it transformed). */
  private readonly sources = new Map<string, string>();
  /** Each function's unsupported-feature warnings, by its file text. */
  private readonly sourceWarnings = new Map<string, { source: string; warnings: string[] }>();
  private generation = 0;
  private readonly sandbox: SandboxProcess;
  private readonly secrets: SecretSource;
  private readonly mask = new SecretMask();
  private readonly log: Log;
  private readonly timeoutMs: number;
  private readonly services: ReadonlyMap<string, HostService>;
  private packages = new Map<string, Promise<PackageBundle>>();
  /** The background bundling of prefetchPackages(), one package after another. */
  private prefetching: Promise<void> = Promise.resolve();
  /** Source maps of the package bundles, to map stack frames in package code. */
  private readonly packageMaps = new Map<string, SourceMap | undefined>();
  private disposed = false;
  /** Inspect mode: the relay a debugger attaches to. */
  readonly inspector: InspectorRelay | undefined;

  constructor(options: RunnerOptions) {
    this.app = options.app;
    const secrets = options.secrets ?? noSecretStore;
    this.secrets = typeof secrets === 'function' ? { resolve: secrets } : secrets;
    this.log = options.log ?? silentLog;
    this.timeoutMs = timeoutOption(options.timeoutMs, DEFAULT_TIMEOUT_MS);
    this.services = servicesOption(options.services);
    const memoryMb = memoryOption(options.memoryMb);
    const constantOps = [...this.services.values()].flatMap((service) =>
      Object.entries(service.ops)
        .filter(([, op]) => op.constant === true)
        .map(([name]) => `${service.name}.${name}`),
    );
    let sandboxNode: InspectNode | undefined;
    if (options.inspect === true) {
      // Before anything starts: a Node that cannot host the session, and no Node 24 to run the
      // sandbox under, is refused here (InspectorUnsupported).
      sandboxNode = inspectNode({ explicit: options.inspectNode });
      this.inspector = new InspectorRelay(this.app.root, sandboxNode);
    }
    this.sandbox = new SandboxProcess(
      { memoryMb, constantOps, inspect: options.inspect === true },
      sandboxNode?.path,
    );
    this.sandbox.inspector = this.inspector;
    this.payload = this.buildPayload();
    this.sandbox.setApp(this.payload);
    // Fork now so that the sandbox is warm by the first call.
    this.sandbox.start();
  }

  /** Swaps in a new version of the app (hot reload): the next call sees exactly the new state. */
  reload(app: App): void {
    this.assertLive();
    this.app = app;
    this.packages = new Map();
    this.packageMaps.clear();
    this.payload = this.buildPayload();
    this.sandbox.setApp(this.payload);
  }

  /** The pid of the sandbox process running this runner's isolates (diagnostics, benchmarks). */
  get sandboxPid(): number | undefined {
    return this.sandbox.pid;
  }

  /** How many isolates the sandbox process held at its last answer (diagnostics, benchmarks). */
  get sandboxIsolates(): number {
    return this.sandbox.isolates;
  }

  get currentApp(): App {
    return this.app;
  }

  private buildPayload(): AppPayload {
    const functions: AppPayload['functions'] = {};
    // A hot reload re-checks only the files whose text changed (a compile per function on every
    // save would sit on the save-to-live path of a large app).
    const previous = this.payload as AppPayload | undefined;
    for (const fn of this.app.functions.values()) {
      const before = previous?.functions[fn.name];
      const unchanged =
        before !== undefined && before.file === fn.file && this.sources.get(fn.name) === fn.source;
      const { source, importLines } =
        unchanged && before !== undefined ? before : transformImports(fn.source);
      this.sources.set(fn.name, fn.source);
      functions[fn.name] = {
        file: fn.file,
        source,
        syntaxError:
          unchanged && before !== undefined ? before.syntaxError : syntaxErrorText(fn.file, source),
        runAs: fn.runAsSystem ? 'system' : (fn.runAsUserId ?? null),
        importLines,
        ...(this.inspector && { url: this.inspector.urlOf(fn.file) }),
      };
    }
    const values: Record<string, string> = {};
    for (const value of this.app.values.values()) {
      values[value.name] =
        value.kind === 'secret' ? 'secret' : (JSON.stringify(value.value) ?? 'null');
    }
    const { environment, info } = this.app;
    return {
      generation: ++this.generation,
      functions,
      values,
      manifest: JSON.stringify({
        environment: { tag: environment.tag, values: environment.values },
        app: info,
      }),
      // Debugging keeps bundles: their inline source maps are what the debugger shows.
      ...(this.inspector === undefined && { modulesRoot: this.app.root }),
    };
  }

  async execute(
    name: string,
    args: readonly unknown[] = [],
    options: ExecuteOptions = {},
  ): Promise<ExecutionResult> {
    this.assertLive();
    const fn = this.app.functions.get(name);
    if (fn === undefined) {
      const hint = didYouMean(name, this.app.functions.keys());
      throw new FunctionExecutionFailure(
        'FunctionNotFound',
        `function not found: '${name}'`,
        [],
        [],
        { durationMs: 0 },
        '',
        {
          hint: hint || `the app's functions are listed by \`triggerbox function list\``,
        },
      );
    }
    let argsTransfer: Transfer;
    try {
      argsTransfer = encodeArgs(args);
    } catch (error) {
      throw new TriggerboxError(
        'InvalidInput',
        `arguments cannot be converted to EJSON: ${String(error)}`,
      );
    }
    const logs: string[] = [];
    const errorLogs: string[] = [];
    const valueTrace: ValueTraceEntry[] = [];
    let secretNames: Set<string> | undefined;
    const mask = this.mask;
    const user = userObject(options.user);
    const timeoutMs = timeoutOption(options.timeoutMs, this.timeoutMs);
    const outcome = await this.sandbox.call(
      {
        generation: this.payload.generation,
        name,
        args: argsTransfer,
        call: JSON.stringify({
          user,
          runAsSystem: fn.runAsSystem,
          traceValues: options.traceValues === true,
          request: {
            remoteIPAddress: '127.0.0.1',
            requestHeaders: {},
            httpMethod: '',
            rawQueryString: '',
          },
        }),
        timeoutMs,
      },
      {
        onLog: (raw) => {
          const line = { level: raw.level, message: mask.apply(raw.message) };
          logs.push(line.message);
          this.log.write({
            level: line.level === 'error' ? 'error' : line.level === 'warn' ? 'warn' : 'info',
            message: line.message,
            tag: name,
          });
          options.onLog?.(line);
        },
        onTrace: (valueName, where) => {
          secretNames ??= this.knownSecretNames();
          const at = this.inspector?.relativize(where) ?? where;
          valueTrace.push(traceValueGet(this.app, valueName, at, secretNames));
        },
        onOp: (op, arg, signal) =>
          this.serveOp(op, arg, { signal, functionName: name, origin: options.origin }),
      },
    );
    const stats = { durationMs: outcome.durationMs };
    if (!outcome.ok) {
      // Secret values a function put in its error message are masked like its logs.
      const message = mask.apply(String(outcome.message));
      errorLogs.push(message);
      throw new FunctionExecutionFailure(
        outcome.code,
        message,
        logs,
        errorLogs,
        stats,
        mask.apply(
          mapPackageFrames(
            this.inspector?.relativize(String(outcome.stack)) ?? String(outcome.stack),
            this.packageMaps,
          ),
        ),
        {},
        valueTrace,
      );
    }
    let canonical: string;
    try {
      canonical = canonicalText(outcome.result);
    } catch (error) {
      const message = `the result cannot be converted to EJSON: ${error instanceof Error ? error.message : String(error)}`;
      throw new FunctionExecutionFailure(
        'FunctionExecutionError',
        message,
        logs,
        [message],
        stats,
        '',
        {},
        valueTrace,
      );
    }
    return {
      result: decodeResult(canonical),
      resultEJSON: mask.applyToJSON(canonical),
      logs,
      errorLogs,
      warnings: [...this.featureWarnings(fn), ...platformLogWarnings(logs)],
      stats,
      valueTrace,
    };
  }

  /**
   * Fires a trigger as the platform would: its function runs as the system user, with the event
   * as its one argument (none for SCHEDULED). A DATABASE event must pass the trigger's
   * operation_types, then its match; the function gets the event after its project. Without an
   * event, a realistic one is generated.
   */
  async fireTrigger(
    name: string,
    event?: Record<string, unknown>,
    options: FireOptions = {},
  ): Promise<TriggerRun> {
    this.assertLive();
    const trigger = findTrigger(this.app.triggers, name);
    if (trigger.disabled && options.force !== true) {
      throw new TriggerboxError(
        'TriggerDisabled',
        `trigger '${name}' is disabled (${trigger.file} has "disabled": true)`,
        {
          hint: 'fire it anyway with --force (library: {force: true})',
        },
      );
    }
    if (trigger.functionName === undefined || !this.app.functions.has(trigger.functionName)) {
      throw new FunctionExecutionFailure(
        'FunctionNotFound',
        `trigger '${name}' calls function '${trigger.functionName ?? '(none)'}', which does not exist`,
        [],
        [],
        { durationMs: 0 },
        '',
        {
          hint: `fix ${trigger.file} or create the function; \`triggerbox validate\` lists such problems`,
        },
      );
    }
    let argument: Record<string, unknown> | undefined;
    if (trigger.type !== 'SCHEDULED') {
      // Loaded on first use: mingo is large, and most runs never fire a trigger.
      const [{ generateEvent }, { applyFilters }] = await Promise.all([
        import('../triggers/events.js'),
        import('../triggers/filters.js'),
      ]);
      const given = event ?? generateEvent(trigger, { now: options.now });
      const outcome = applyFilters(trigger, given ?? {});
      if (!outcome.fires) {
        throw new TriggerboxError(
          'TriggerEventFiltered',
          `the event does not fire trigger '${name}': ${outcome.reason} (${outcome.stage} filter); nothing ran`,
          {
            hint: 'generate a passing event with `triggerbox trigger event`, edit it, and fire it with --event <file>',
          },
        );
      }
      argument = outcome.event;
    }
    const { force: _force, now: _now, ...execute } = options;
    // Triggers run as the system user (SPEC section 6).
    const result = await this.execute(
      trigger.functionName,
      argument === undefined ? [] : [argument],
      { ...execute, user: undefined },
    );
    return { ...result, trigger: name, event: argument };
  }

  /** The parent's half of the `parent` ops of host-ops.ts; a throw is the op's failure. */
  private serveOp<K extends ParentOpName>(
    op: K,
    arg: ParentOps[K]['arg'],
    call: ServiceCall,
  ): Promise<ParentOps[K]['result']> {
    const ops: {
      [Op in ParentOpName]: (arg: ParentOps[Op]['arg']) => Promise<ParentOps[Op]['result']>;
    } = {
      secret: ({ valueName }) => this.resolveSecret(valueName),
      package: ({ spec, where, inline }) => this.bundle(spec, where, inline === true),
      service: ({ op: serviceOp, mode, data }) => this.runService(serviceOp, mode, data, call),
    };
    return (ops[op] as (arg: ParentOps[K]['arg']) => Promise<ParentOps[K]['result']>)(arg);
  }

  private async resolveSecret(valueName: string): Promise<string> {
    const value = this.app.values.get(valueName);
    if (value === undefined || value.kind !== 'secret') {
      throw new Error(`value '${valueName}' is not linked to a secret`);
    }
    try {
      const secret = await this.secrets.resolve(value.secretName);
      this.mask.add(secret);
      return secret;
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(
        `context.values.get('${valueName}'): value '${valueName}' (${value.file}) is linked to secret '${value.secretName}', which cannot be resolved: ${reason}`,
      );
    }
  }

  /** A host service op ('<service>.<op>'), run with the call's signal. */
  private async runService(
    op: string,
    mode: 'sync' | 'async',
    data: TransferData,
    call: ServiceCall,
  ): Promise<TransferData> {
    const dot = op.indexOf('.');
    const serviceName = dot < 0 ? op : op.slice(0, dot);
    const service = this.services.get(serviceName);
    if (service === undefined) {
      throw new Error(
        `${op}: this runner has no '${serviceName}' service (createRunner({services}) was given ${[...this.services.keys()].map((n) => `'${n}'`).join(', ') || 'none'})`,
      );
    }
    const opName = op.slice(dot + 1);
    const spec: ServiceOp<never, unknown> | undefined = Object.hasOwn(service.ops, opName)
      ? service.ops[opName]
      : undefined;
    if (spec === undefined) throw new Error(`${op}: the '${serviceName}' service has no such op`);
    if (spec.mode !== mode) {
      throw new Error(
        `${op} is ${spec.mode === 'sync' ? 'synchronous' : 'asynchronous'}: its guest wrapper must call it with callHost${spec.mode === 'sync' ? 'Sync' : 'Async'}`,
      );
    }
    return (await spec.run(data as never, call)) as TransferData;
  }

  /** What the platform's JavaScript support table lacks, used by the function that ran. */
  private featureWarnings(fn: { name: string; file: string; source: string }): string[] {
    const known = this.sourceWarnings.get(fn.name);
    if (known !== undefined && known.source === fn.source) return known.warnings;
    const warnings = scanFunctionSource(fn.file, fn.source).unsupported.map(
      (finding) => `${fn.file}:${finding.line}:${finding.column}: ${finding.message}`,
    );
    this.sourceWarnings.set(fn.name, { source: fn.source, warnings });
    return warnings;
  }

  private knownSecretNames(): Set<string> | undefined {
    try {
      return this.secrets.names ? new Set(this.secrets.names()) : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Starts bundling, in the background and one package at a time, the npm packages that these
   * functions (all of them by default) `require()` by a literal name, so that the call that first
   * loads one finds it bundled (or on its way) instead of starting esbuild then. `dev` calls it
   * at start and after each reload, `function run` and `trigger fire` for the function they run
   * (its bundling then overlaps the sandbox process's start). Failures are not reported here:
   * the call that requires the package reports its own. The promise (never rejected) settles
   * when the bundling started so far is done.
   */
  prefetchPackages(names?: Iterable<string>): Promise<void> {
    this.assertLive();
    const packages = this.packages;
    // The sandbox loads CommonJS packages file by file (module-files.ts): only the others, and
    // all of them when debugging (bundles carry the source maps), are bundled ahead.
    const byFile = this.inspector === undefined ? new ModuleFiles(this.app.root) : undefined;
    for (const name of names ?? this.app.functions.keys()) {
      const fn = this.app.functions.get(name);
      if (fn === undefined || !fn.source.includes('require')) continue;
      for (const match of fn.source.matchAll(LITERAL_REQUIRE)) {
        const spec = match[2] ?? '';
        if (isBuiltin(spec) || requireSpecProblem(spec) !== undefined) continue;
        if (byFile?.entryLoadsByFile(spec) === true) continue;
        const { line, column } = lineColumnAt(fn.source, match.index);
        this.prefetching = this.prefetching.then(async () => {
          // A reload since: the packages of the app as it was are not wanted.
          if (this.disposed || packages !== this.packages || packages.has(spec)) return;
          await this.bundle(spec, `${fn.file}:${line}:${column}`).catch(() => undefined);
        });
      }
    }
    return this.prefetching;
  }

  private async bundle(spec: string, where: string, inline = false): Promise<PackageCode> {
    let pending = this.packages.get(spec);
    if (pending === undefined) {
      pending = bundlePackage(this.app.root, spec, where);
      this.packages.set(spec, pending);
    }
    const bundle = await pending;
    if (!bundle.ok) this.packages.delete(spec);
    else this.packageMaps.set(spec, bundle.map);
    if (!bundle.ok) {
      // Node's code for a package that cannot be found: optional-require patterns check it.
      if (bundle.notFound === true)
        throw Object.assign(new Error(bundle.error), { code: 'MODULE_NOT_FOUND' });
      throw new Error(bundle.error);
    }
    // Inspect mode: the map goes along inline, for the debugger (inspector/source-map.ts).
    if (this.inspector !== undefined && bundle.map !== undefined)
      return rehashed(
        withInlineSourceMap(
          bundle.code,
          bundle.map.payload,
          PACKAGE_LINE_OFFSET,
          path.join(this.app.root, 'functions'),
        ),
      );
    // A large bundle is read by the sandbox process from its cache entry (PackageCode).
    if (!inline && bundle.at !== undefined && bundle.at.bytes >= PACKAGE_BY_FILE)
      return { ...bundle.at, hash: codeHashOf(bundle.code) };
    return bundle.code;
  }

  /**
   * Masks, in any text about to be printed or sent (dev server output, HTTP bodies), every secret
   * value this runner has handed to a function, in each form output can print it (raw,
   * JSON-escaped, escaped twice). Logs, errors and `resultEJSON` are already masked.
   */
  maskSecrets(text: string): string {
    return this.mask.apply(text);
  }

  private assertLive(): void {
    if (this.disposed)
      throw new TriggerboxError('RunnerDisposed', 'the runner was disposed', {
        hint: 'create a new runner with createRunner()',
      });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.inspector?.dispose();
    this.sandbox.dispose();
  }

  /**
   * dispose() for a process about to end (a one-off `function run`): first lets the sandbox
   * process write the V8 code cache it makes after a package ran (the better one, which the
   * next process then loads), waiting at most `maxWaitMs`.
   */
  async finish(maxWaitMs = FINISH_WAIT_MS): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.inspector?.dispose();
    await this.sandbox.finish(maxWaitMs);
  }
}

/**
 * How long finish() waits for the code caches being made: an after-run compile of a large SDK
 * bundle takes tens to hundreds of ms; past this the process ends without it (the next process
 * that runs the package makes it).
 */
const FINISH_WAIT_MS = 2000;

export function createRunner(options: RunnerOptions): FunctionRunner {
  return new FunctionRunner(options);
}

/** `file:line:column: message` for the sandbox to throw as FunctionSyntaxError, or null. */
function syntaxErrorText(file: string, source: string): string | null {
  const problem = checkFunctionSyntax(file, source);
  return problem === undefined
    ? null
    : `${file}:${problem.line}:${problem.column}: ${problem.message}`;
}

function servicesOption(
  services: readonly HostService[] | undefined,
): ReadonlyMap<string, HostService> {
  const byName = new Map<string, HostService>();
  for (const service of services ?? []) {
    const bad = [service.name, ...Object.keys(service.ops)].find((n) => !SERVICE_NAME.test(n));
    if (bad !== undefined || byName.has(service.name)) {
      throw new TriggerboxError(
        'InvalidInput',
        bad !== undefined
          ? `services: '${bad}' (service '${service.name}') is not a valid name: a JavaScript identifier, as in 'http.request'`
          : `services: two services are named '${service.name}'`,
      );
    }
    byName.set(service.name, service);
  }
  return byName;
}

function timeoutOption(value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  // Past the largest timer delay, Node fires timers after 1 ms: every call failed at once.
  if (typeof value !== 'number' || !(value >= 1 && value <= MAX_TIMEOUT_MS)) {
    throw new TriggerboxError(
      'InvalidInput',
      `timeoutMs (--timeout) must be between 1 and ${MAX_TIMEOUT_MS} ms, got ${String(value)}`,
      { hint: `the default is ${DEFAULT_TIMEOUT_MS} ms, the platform's limit` },
    );
  }
  return value;
}

function memoryOption(value: number | undefined): number {
  if (value === undefined) return DEFAULT_MEMORY_MB;
  // Below the minimum, isolates cannot start (or cannot load BSON) and the sandbox crash-looped.
  if (typeof value !== 'number' || !(value >= MIN_MEMORY_MB && value <= MAX_MEMORY_MB)) {
    throw new TriggerboxError(
      'InvalidInput',
      `memoryMb (--memory) must be between ${MIN_MEMORY_MB} and ${MAX_MEMORY_MB} MB, got ${String(value)}`,
      { hint: `the default is ${DEFAULT_MEMORY_MB} MB, the platform's limit` },
    );
  }
  return value;
}

function userObject(user: ExecuteOptions['user']): Record<string, unknown> {
  if (user === undefined) return { type: 'system', data: {}, identities: [], custom_data: {} };
  if (typeof user === 'string') {
    return { id: user, type: 'normal', data: {}, identities: [], custom_data: {} };
  }
  return { type: 'normal', data: {}, identities: [], custom_data: {}, ...user };
}

function platformLogWarnings(logs: string[]): string[] {
  const warnings: string[] = [];
  logs.forEach((line, index) => {
    const bytes = Buffer.byteLength(line);
    if (bytes > LOG_LINE_BYTES) {
      warnings.push(
        `log line ${index + 1} is ${bytes} bytes: App Services would cut it at ${LOG_LINE_BYTES} bytes`,
      );
    }
  });
  if (logs.length > LOG_LINES) {
    warnings.push(`${logs.length} log lines: App Services would keep only the first ${LOG_LINES}`);
  }
  return warnings;
}
