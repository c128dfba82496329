/**
 * `triggerbox dev` as a library: loads the app, keeps warm sandboxes, watches the app directory
 * and hot-reloads on every save (keeping the last good version when a save breaks something),
 * and serves a local invoke endpoint. It renders nothing: it emits events that the CLI prints.
 */
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadApp } from '../app/load-app.js';
import type { App, Diagnostic, LoadedApp } from '../app/types.js';
import { parseUserEjson } from '../runtime/ejson.js';
import type { LogLine } from '../runtime/protocol.js';
import type { InspectorRelay } from '../runtime/inspector/relay.js';
import {
  createRunner,
  FunctionExecutionFailure,
  type ExecutionResult,
  type FunctionRunner,
} from '../runtime/runner.js';
import { openSecretStore } from '../secrets/store.js';
import { builtinServices } from '../services/builtin.js';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_TYPES_FILE, writeAppTypes } from '../app-types/generate.js';
import {
  clusterUris,
  mongodbService,
  openAppDatabase,
  seedIfEmpty,
  serveAppDatabase,
  type EmbeddedEngine,
  type MongoEndpoint,
  type SeedResult,
} from '../services/mongodb/index.js';
import { messageOf, TriggerboxError } from '../shared/errors.js';
import type { Log } from '../shared/log.js';
import { didYouMean } from '../shared/suggest.js';
import { TriggerDispatcher, type TriggerFiring } from '../triggers/dispatcher.js';
import { Scheduler, type Clock } from '../triggers/scheduler.js';
import { AppWatcher } from '../watch/app-watcher.js';
import { describeDiff, diffApps, isEmptyDiff } from './app-diff.js';
import { ClusterFeed, type ClusterRetry, type ClusterStop } from './cluster-feed.js';
import { blockingProblems, mergeLastGood } from './last-good.js';
import { RequestGuard } from './request-guard.js';

export interface DevServerOptions {
  /** The app directory; found by walking up from `cwd` when absent. */
  root?: string | undefined;
  cwd?: string | undefined;
  environment?: string | undefined;
  /** 8787 by default; 0 picks a free port. */
  port?: number | undefined;
  /** 127.0.0.1 by default (loopback only). */
  host?: string | undefined;
  /**
   * The MongoDB endpoint's port on 127.0.0.1: 27027 by default (any free port when 27027 is
   * taken); 0 picks a free port; an explicit port that is taken is an error.
   */
  dbPort?: number | undefined;
  env?: Record<string, string | undefined> | undefined;
  timeoutMs?: number | undefined;
  memoryMb?: number | undefined;
  /** Inspect mode: a debugger can attach through `inspector` (RunnerOptions.inspect). */
  inspect?: boolean | undefined;
  /** Inspect mode: the Node 24 to run the sandbox process under (RunnerOptions.inspectNode). */
  inspectNode?: string | undefined;
  /** Run SCHEDULED triggers on their CRON (default true). */
  schedules?: boolean | undefined;
  /** The scheduler's clock (tests drive time with their own). */
  clock?: Clock | undefined;
  /**
   * Real-cluster mode: `--mongodb-uri` (every data source without its own
   * TRIGGERBOX_MONGODB_URI_<NAME>); `env` and the app's .env are read too (cluster-uris.ts).
   */
  mongodbUri?: string | undefined;
  /** Extra MongoClient options for real clusters (tests shorten serverSelectionTimeoutMS). */
  clusterClientOptions?: Record<string, unknown> | undefined;
  /** The wait before a real cluster's retry `attempt` (default 1 s, 2 s, 4 s ... 30 s; tests shorten it). */
  clusterRetryDelayMs?: ((attempt: number) => number) | undefined;
  /** Re-run this function after every reload (the edit-save-see loop). */
  run?:
    | {
        name: string;
        args: unknown[];
        user?: string | undefined;
        traceValues?: boolean | undefined;
      }
    | undefined;
}

export interface ReloadEvent {
  /** App-relative paths that changed. */
  files: string[];
  /**
   * True when something of the change went live. Each file counts on its own: a broken or
   * half-written file keeps its last good version (listed in `kept`) while others go live.
   */
  applied: boolean;
  /** Files whose last good version keeps running because of `problems`. */
  kept: string[];
  /** `rebuilt greet; reloaded values greeting` */
  summary: string;
  problems: Diagnostic[];
  durationMs: number;
}

export interface CallEvent {
  source: 'http' | 'run' | 'schedule' | 'database';
  /** The function; for 'schedule' and 'database', the trigger. */
  name: string;
  /** For 'database': the write that fired the trigger (operation, namespace, key, chain). */
  firing?: TriggerFiring | undefined;
  /** For 'schedule': the time the CRON named. */
  scheduledFor?: Date | undefined;
  /** HTTP status for calls over HTTP. */
  status?: number | undefined;
  durationMs: number;
  result?: ExecutionResult | undefined;
  error?: FunctionExecutionFailure | TriggerboxError | undefined;
}

/** Something the user should know that is neither a reload nor a call (the CLI prints it). */
export interface DevWarning {
  /** `host-not-loopback`, `request-refused`, `watch-lost` (app folder gone), `watch-resumed`. */
  kind: string;
  message: string;
}

/** Real-cluster mode: a data source's change streams are open, or failed and will be retried. */
export type ClusterEvent =
  | { kind: 'ready'; dataSource: string; target: string }
  | ({ kind: 'retry'; target: string } & ClusterRetry)
  /** The server has no change streams (a standalone mongod): not retried until a reload. */
  | ({ kind: 'stopped'; target: string } & ClusterStop);

export interface DevServerEvents {
  reload: [ReloadEvent];
  cluster: [ClusterEvent];
  call: [CallEvent];
  log: [{ name: string; line: LogLine }];
  secrets: [];
  warning: [DevWarning];
}

/** The largest request body accepted (the platform's arguments + request size limit). */
const MAX_BODY_BYTES = 18 * 1024 * 1024;
/** A second look after each batch: chokidar may have dropped a write that came right after. */
const SETTLE_MS = 60;

const STATUS: Record<string, number> = {
  FunctionNotFound: 404,
  FunctionSyntaxError: 500,
  FunctionExecutionError: 500,
  ExecutionTimeLimitExceeded: 504,
};

export class DevServer extends EventEmitter<DevServerEvents> {
  private current: LoadedApp;
  /** The last version read from disk, applied or not: the settle pass compares against it. */
  private lastSeen: LoadedApp;
  private readonly runner: FunctionRunner;
  private server: Server | undefined;
  private watcher: AppWatcher | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private settleTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly scheduler: Scheduler | undefined;
  private guard: RequestGuard | undefined;
  private endpoint: MongoEndpoint | undefined;
  private dispatcher: TriggerDispatcher | undefined;
  private readonly clusterDispatchers: TriggerDispatcher[] = [];
  /** Real-cluster mode: the data sources on a real MongoDB, by name. */
  private readonly feeds = new Map<string, ClusterFeed>();
  url = '';
  /** The MongoDB endpoint (`mongodb://127.0.0.1:<port>/`): drivers, mongosh and Compass connect here. */
  dbUri = '';
  /** What the first start loaded from `.triggerbox/seed/` (undefined: the database had data, or no seeds). */
  seeded: SeedResult | undefined;
  /** Warnings found while starting (before anyone could listen): the CLI prints them. */
  readonly warnings: DevWarning[] = [];

  private constructor(
    private readonly options: DevServerOptions,
    loaded: LoadedApp,
    /** The app's local database: functions, the endpoint and the trigger dispatcher share it. */
    readonly engine: EmbeddedEngine,
  ) {
    super();
    this.current = loaded;
    this.lastSeen = loaded;
    const uris = clusterUris({
      root: loaded.app.root,
      dataSources: loaded.app.dataSources.keys(),
      uri: options.mongodbUri,
      env: options.env,
    });
    for (const [dataSource, uri] of uris) {
      const feed = new ClusterFeed({
        dataSource,
        uri,
        root: loaded.app.root,
        triggers: () => this.app.triggers.values(),
        serves: (name) => this.dataSourceOf(name) === dataSource,
        clientOptions: options.clusterClientOptions,
        retryDelayMs: options.clusterRetryDelayMs,
        onRetry: (retry) => this.emit('cluster', { kind: 'retry', target: feed.target, ...retry }),
        onStop: (stop) => this.emit('cluster', { kind: 'stopped', target: feed.target, ...stop }),
        onReady: () => this.emit('cluster', { kind: 'ready', dataSource, target: feed.target }),
        warn: (message) => this.emit('warning', { kind: 'cluster', message }),
      });
      this.feeds.set(dataSource, feed);
    }
    const store = openSecretStore({ root: loaded.app.root, env: options.env });
    this.runner = createRunner({
      app: loaded.app,
      secrets: { resolve: (name) => store.resolve(name), names: () => store.names() },
      timeoutMs: options.timeoutMs,
      memoryMb: options.memoryMb,
      inspect: options.inspect,
      inspectNode: options.inspectNode,
      services: [
        ...builtinServices(),
        // Data sources are read at start: a data source added while dev runs needs a restart.
        mongodbService({
          engine,
          dataSources: loaded.app.dataSources.keys(),
          sources: new Map([...this.feeds].map(([name, feed]) => [name, feed.engine])),
        }),
      ],
    });
    // npm packages the functions require start bundling now, not at the first call that loads one.
    void this.runner.prefetchPackages();
    if (options.schedules !== false) {
      this.scheduler = new Scheduler({
        clock: options.clock,
        onFire: (trigger, at) => void this.fireScheduled(trigger.name, at),
      });
      this.scheduler.update(loaded.app.triggers.values());
    }
  }

  /** Real-cluster mode: each data source on a real MongoDB and its redacted address. */
  get clusters(): { dataSource: string; target: string }[] {
    return [...this.feeds].map(([dataSource, feed]) => ({ dataSource, target: feed.target }));
  }

  /**
   * The data source a DATABASE trigger's service_name means: itself; absent (older files), the
   * app's only data source.
   */
  private dataSourceOf(serviceName: string | undefined): string | undefined {
    if (serviceName !== undefined) return serviceName;
    const names = [...this.app.dataSources.keys()];
    return names.length === 1 ? names[0] : undefined;
  }

  /** When each SCHEDULED trigger runs next (empty with schedules off). */
  nextScheduledRuns(): { name: string; at: Date }[] {
    return this.scheduler?.nextRuns() ?? [];
  }

  private async fireScheduled(name: string, at: Date): Promise<CallEvent> {
    const started = performance.now();
    let event: CallEvent;
    try {
      const result = await this.runner.fireTrigger(name, undefined, {
        onLog: (line) => this.emit('log', { name, line }),
      });
      event = {
        source: 'schedule',
        name,
        scheduledFor: at,
        durationMs: performance.now() - started,
        result,
      };
    } catch (error) {
      const failure =
        error instanceof TriggerboxError
          ? error
          : new TriggerboxError('FunctionExecutionError', messageOf(error));
      event = {
        source: 'schedule',
        name,
        scheduledFor: at,
        durationMs: performance.now() - started,
        error: failure,
      };
    }
    this.emit('call', event);
    return event;
  }

  static async start(options: DevServerOptions = {}): Promise<DevServer> {
    const loaded = loadApp({
      root: options.root,
      cwd: options.cwd,
      environment: options.environment,
    });
    const early: DevWarning[] = [];
    // Before the watcher starts: the first open may add .triggerbox/db/ to the app's .gitignore.
    const engine = await openAppDatabase({
      root: loaded.app.root,
      warn: (message) => early.push({ kind: 'database', message }),
    });
    let dev: DevServer;
    try {
      dev = new DevServer(options, loaded, engine);
    } catch (error) {
      await engine.close();
      throw error;
    }
    dev.warnings.push(...early);
    try {
      dev.seeded = await seedIfEmpty({ engine, root: loaded.app.root });
      dev.startTriggers();
      await dev.listen();
      await dev.serveDatabase();
      dev.watcher = await AppWatcher.start({
        root: loaded.app.root,
        onChange: (paths) => dev.schedule(paths),
        onRootChange: (gone) => dev.rootChanged(gone),
      });
      // The real clusters connect in the background: an unreachable one is retried, dev runs.
      for (const feed of dev.feeds.values()) void feed.start();
    } catch (error) {
      await dev.close();
      throw error;
    }
    return dev;
  }

  /** Inspect mode: the relay a debugger endpoint serves (dev/inspector-server.ts). */
  get inspector(): InspectorRelay | undefined {
    return this.runner.inspector;
  }

  get app(): App {
    return this.current.app;
  }

  /** The runner the endpoint calls (benchmarks set the endpoint's rate beside the runner's own). */
  get functionRunner(): FunctionRunner {
    return this.runner;
  }

  /** The pid of the sandbox process (diagnostics, benchmarks). */
  get sandboxPid(): number | undefined {
    return this.runner.sandboxPid;
  }

  /** Problems of the running version (loader diagnostics and function syntax errors). */
  get problems(): Diagnostic[] {
    return blockingProblems(this.current, undefined, false);
  }

  private async listen(): Promise<void> {
    const server = createServer((req, res) => void this.handle(req, res));
    this.server = server;
    const host = this.options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(
          error.code === 'EADDRINUSE'
            ? new TriggerboxError(
                'InvalidInput',
                `port ${this.options.port ?? 8787} on ${host} is already in use`,
                { hint: 'pass --port <another port>, or --port 0 for any free one' },
              )
            : error,
        ),
      );
      server.listen(this.options.port ?? 8787, host, () => resolve());
    });
    const address = server.address() as AddressInfo;
    this.url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
    this.guard = new RequestGuard(host, address.port);
    const warning = this.guard.hostWarning();
    if (warning !== null) this.warnings.push({ kind: 'host-not-loopback', message: warning });
  }

  /** DATABASE triggers on every committed write: functions', the endpoint's, the CLI's. */
  private startTriggers(): void {
    const report = {
      runner: this.runner,
      triggers: () => this.app.triggers.values(),
      warn: (message: string) => this.emit('warning', { kind: 'trigger-loop', message }),
      onLog: (firing: Omit<TriggerFiring, 'durationMs'>, line: LogLine) =>
        this.emit('log', { name: firing.trigger, line }),
      onFiring: (firing: TriggerFiring) =>
        this.emit('call', {
          source: 'database',
          name: firing.trigger,
          firing,
          durationMs: firing.durationMs,
          result: firing.result,
          error: firing.error,
        }),
    };
    // Each real cluster has its own dispatcher, fed by its namespace-scoped change streams;
    // its writes' origin cannot be told apart from anyone else's (they come back over the network).
    for (const [dataSource, feed] of this.feeds) {
      this.clusterDispatchers.push(
        new TriggerDispatcher({
          ...report,
          engine: feed.engine,
          subscribe: (listener) => feed.subscribe(listener),
          serves: (name) => this.dataSourceOf(name) === dataSource,
          originOf: () => undefined,
        }),
      );
    }
    this.dispatcher = new TriggerDispatcher({
      ...report,
      engine: this.engine,
      serves: (name) => {
        const source = this.dataSourceOf(name);
        return source === undefined || !this.feeds.has(source);
      },
    });
  }

  /** Resolves once the DATABASE triggers fired so far (and their cascades) have run. */
  async triggersSettled(): Promise<void> {
    await Promise.all([this.dispatcher, ...this.clusterDispatchers].map((d) => d?.settled()));
  }

  private async serveDatabase(): Promise<void> {
    const log: Log = {
      write: (entry) => {
        if (entry.level === 'warn' || entry.level === 'error')
          this.emit('warning', { kind: 'database-endpoint', message: entry.message });
      },
    };
    const served = await serveAppDatabase({ engine: this.engine, port: this.options.dbPort, log });
    this.endpoint = served.endpoint;
    this.dbUri = served.uri;
    if (served.warning !== undefined)
      this.warnings.push({ kind: 'database-port', message: served.warning });
  }

  /** The app folder went away (reloads pause) or is back (re-read it all). */
  private rootChanged(gone: boolean): void {
    if (this.closed) return;
    const root = this.app.root;
    if (gone) {
      this.emit('warning', {
        kind: 'watch-lost',
        message: `the app folder ${root} was moved away or deleted: the last version loaded keeps running, and saves are not picked up until the folder is back at ${root}`,
      });
      return;
    }
    this.emit('warning', {
      kind: 'watch-resumed',
      message: `the app folder ${root} is back: watching it again; changes made meanwhile are picked up now`,
    });
    this.emit('secrets');
    this.queue = this.queue.then(() => this.reload(undefined));
  }

  /** Queues a reload for these changed paths; reloads never overlap. */
  private schedule(paths: string[]): void {
    if (this.closed) return;
    if (paths.some((p) => p.startsWith('.triggerbox/') || p === '.env')) this.emit('secrets');
    const relevant = paths.filter((p) => !p.startsWith('.triggerbox/'));
    if (relevant.length === 0) return;
    this.queue = this.queue.then(() => this.reload(relevant));
    if (this.settleTimer !== undefined) clearTimeout(this.settleTimer);
    this.settleTimer = setTimeout(() => {
      this.queue = this.queue.then(() => this.reload(undefined));
    }, SETTLE_MS);
  }

  /**
   * Re-reads the app. With `paths` (from the watcher) a reload is always reported; without
   * (the settle pass) only when the files turn out to differ from what is running.
   */
  async reload(paths: string[] | undefined): Promise<ReloadEvent | undefined> {
    if (this.closed) return undefined;
    const started = performance.now();
    let loaded: LoadedApp;
    try {
      loaded = loadApp({ root: this.app.root, environment: this.options.environment });
    } catch (error) {
      const event: ReloadEvent = {
        files: paths ?? [],
        applied: false,
        kept: [],
        summary: messageOf(error),
        problems: [{ severity: 'error', file: paths?.[0] ?? '', message: messageOf(error) }],
        durationMs: performance.now() - started,
      };
      this.emit('reload', event);
      return event;
    }
    if (paths === undefined && isEmptyDiff(diffApps(this.lastSeen.app, loaded.app)))
      return undefined;
    this.lastSeen = loaded;
    const changed = diffApps(this.app, loaded.app);
    const files = paths ?? changed.files;
    // Every file that differs from what runs is judged on its own, the ones saved earlier and
    // still broken included: they keep their last good version, the others go live.
    const problems = blockingProblems(loaded, new Set([...files, ...changed.files]), true);
    const kept = [...new Set(problems.map((p) => p.file))].sort();
    const next = mergeLastGood(this.app, loaded.app, new Set(kept));
    const diff = next === undefined ? undefined : diffApps(this.app, next);
    if (next === undefined || diff === undefined || (kept.length > 0 && isEmptyDiff(diff))) {
      const incomplete = problems.every((p) => p.severity === 'warning');
      const event: ReloadEvent = {
        files,
        applied: false,
        kept,
        summary: incomplete
          ? `${kept.join(', ')} not complete yet: kept the last good version`
          : 'kept the last good version',
        problems,
        durationMs: performance.now() - started,
      };
      this.emit('reload', event);
      return event;
    }
    this.current = {
      ...loaded,
      app: next,
      diagnostics: loaded.diagnostics.filter((d) => !kept.includes(d.file)),
    };
    this.runner.reload(next);
    void this.runner.prefetchPackages();
    this.scheduler?.update(next.triggers.values());
    for (const feed of this.feeds.values()) feed.update();
    this.updateTypes(next);
    const event: ReloadEvent = {
      files,
      applied: true,
      kept,
      summary: describeDiff(diff, next),
      problems,
      durationMs: performance.now() - started,
    };
    this.emit('reload', event);
    if (this.options.run !== undefined) await this.runOnce();
    return event;
  }

  /** An app with generated types (triggerbox-env.d.ts) keeps them current on every reload. */
  private updateTypes(app: App): void {
    if (!existsSync(path.join(app.root, DEFAULT_TYPES_FILE))) return;
    try {
      writeAppTypes({ root: app.root, app, jsconfig: false });
    } catch (error) {
      this.emit('warning', {
        kind: 'types',
        message: `could not update ${DEFAULT_TYPES_FILE}: ${messageOf(error)}`,
      });
    }
  }

  /** Runs the --run function and reports it as a 'run' call. */
  async runOnce(): Promise<CallEvent | undefined> {
    const run = this.options.run;
    if (run === undefined) return undefined;
    return this.invoke('run', run.name, run.args, { user: run.user, traceValues: run.traceValues });
  }

  private async invoke(
    source: CallEvent['source'],
    name: string,
    args: unknown[],
    options: {
      user?: string | undefined;
      traceValues?: boolean | undefined;
      status?: (event: CallEvent) => number;
    },
  ): Promise<CallEvent> {
    const started = performance.now();
    let event: CallEvent;
    try {
      const result = await this.runner.execute(name, args, {
        user: options.user,
        traceValues: options.traceValues,
        onLog: (line) => this.emit('log', { name, line }),
      });
      event = { source, name, status: 200, durationMs: performance.now() - started, result };
    } catch (error) {
      const failure =
        error instanceof TriggerboxError
          ? error
          : new TriggerboxError('FunctionExecutionError', messageOf(error));
      const code = failure instanceof FunctionExecutionFailure ? failure.errorCode : failure.code;
      event = {
        source,
        name,
        status: STATUS[code] ?? 400,
        durationMs: performance.now() - started,
        error: failure,
      };
    }
    this.emit('call', event);
    return event;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const sendText = (status: number, text: string): void => {
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
      });
      res.end(text);
    };
    const send = (status: number, body: unknown): void => sendText(status, JSON.stringify(body));
    try {
      const refusal = this.guard?.check(req.method, req.headers);
      if (refusal !== undefined) {
        const { status, ...body } = refusal;
        send(status, body);
        req.resume();
        this.emit('warning', {
          kind: 'request-refused',
          message: `${req.method ?? ''} ${req.url ?? ''} ${status}: ${refusal.error}`,
        });
        return;
      }
      const url = parseRequestUrl(req.url);
      if (url.pathname === '/functions' && req.method === 'GET') {
        send(
          200,
          [...this.app.functions.values()].map((fn) => ({
            name: fn.name,
            private: fn.private,
            run_as_system: fn.runAsSystem,
          })),
        );
        return;
      }
      const match = /^\/functions\/(.+)$/.exec(url.pathname);
      if (match === null || req.method !== 'POST') {
        send(404, {
          error: `no route ${req.method} ${url.pathname}: use GET /functions or POST /functions/<name>`,
          error_code: 'NotFound',
        });
        return;
      }
      const name = decodePathPart(match[1] ?? '');
      const args = parseArgs(await readBody(req));
      const fn = this.app.functions.get(name);
      if (fn === undefined) {
        const hint = didYouMean(name, this.app.functions.keys());
        send(404, {
          error: `function not found: '${name}'${hint ? `; ${hint}` : ''}`,
          error_code: 'FunctionNotFound',
        });
        this.emit('call', {
          source: 'http',
          name,
          status: 404,
          durationMs: 0,
          error: new TriggerboxError('FunctionNotFound', `function not found: '${name}'`),
        });
        return;
      }
      const system = /^(1|true|yes)$/i.test(
        String(req.headers['x-triggerbox-run-as-system'] ?? ''),
      );
      if (fn.private && !system) {
        const error = `function '${name}' is private: only other functions, triggers and system requests may call it (send the header X-Triggerbox-Run-As-System: true)`;
        send(403, { error, error_code: 'FunctionPrivate' });
        this.emit('call', {
          source: 'http',
          name,
          status: 403,
          durationMs: 0,
          error: new TriggerboxError('FunctionPrivate', error),
        });
        return;
      }
      const user = system ? undefined : String(req.headers['x-triggerbox-user'] ?? 'local-user');
      const event = await this.invoke('http', name, args, { user });
      if (event.result !== undefined) {
        const { resultEJSON, logs, errorLogs, stats } = event.result;
        // resultEJSON is one JSON value already (the runner parsed it; masking re-stringifies):
        // it goes into the body as it is rather than being parsed and written again.
        sendText(
          200,
          `{"result":${resultEJSON},"logs":${JSON.stringify(logs)},"error_logs":${JSON.stringify(errorLogs)},"stats":${JSON.stringify({ execution_time_ms: Number(stats.durationMs.toFixed(3)) })}}`,
        );
      } else {
        const failure = event.error;
        const code =
          failure instanceof FunctionExecutionFailure
            ? failure.errorCode
            : (failure?.code ?? 'FunctionExecutionError');
        send(event.status ?? 500, { error: failure?.message ?? 'failed', error_code: code });
      }
    } catch (error) {
      const status = error instanceof TriggerboxError && error.code === 'InvalidInput' ? 400 : 500;
      const hint = error instanceof TriggerboxError ? error.hint : undefined;
      send(status, {
        error: hint === undefined ? messageOf(error) : `${messageOf(error)}; ${hint}`,
        error_code: error instanceof TriggerboxError ? error.code : 'InternalError',
      });
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.scheduler?.stop();
    if (this.settleTimer !== undefined) clearTimeout(this.settleTimer);
    await this.watcher?.close();
    const server = this.server;
    if (server !== undefined) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    await this.queue.catch(() => undefined);
    await this.endpoint?.close();
    this.dispatcher?.close();
    for (const dispatcher of this.clusterDispatchers) dispatcher.close();
    await Promise.all([...this.feeds.values()].map((feed) => feed.close()));
    this.runner.dispose();
    await this.engine.close();
  }
}

export function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  return DevServer.start(options);
}

function parseRequestUrl(text: string | undefined): URL {
  try {
    return new URL(text ?? '/', 'http://localhost');
  } catch {
    throw new TriggerboxError(
      'InvalidInput',
      `the request path '${text ?? ''}' is not a valid URL path`,
      {
        hint: 'request POST /functions/<name> or GET /functions',
      },
    );
  }
}

/** A function name from the path; a malformed percent-escape is the client's error (400). */
function decodePathPart(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new TriggerboxError(
      'InvalidInput',
      `the path '/functions/${text}' has a malformed percent-escape (a '%' not followed by two hex digits of valid UTF-8)`,
      { hint: 'encode the function name with encodeURIComponent, e.g. /functions/utils%2Fadd' },
    );
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(
          new TriggerboxError(
            'InvalidInput',
            `the request body is over ${MAX_BODY_BYTES} bytes (the platform's 18 MB limit)`,
          ),
        );
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * True when `value` (from JSON.parse) reads the same as plain JSON and as Extended JSON: no key
 * starts with `$` (no wrapper such as `$oid` or `$numberLong`), no `__proto__` key (the EJSON
 * reader drops it), and every number is finite and not -0 (the EJSON reader turns -0 into 0).
 */
function plainJson(value: unknown): boolean {
  if (typeof value === 'number') return Number.isFinite(value) && !Object.is(value, -0);
  if (value === null || typeof value !== 'object') return true;
  if (Array.isArray(value)) {
    for (const item of value) if (!plainJson(item)) return false;
    return true;
  }
  for (const key in value) {
    if (key.startsWith('$') || key === '__proto__') return false;
    if (!plainJson((value as Record<string, unknown>)[key])) return false;
  }
  return true;
}

/** The body is an Extended JSON array of arguments (empty body: no arguments). */
function parseArgs(body: string): unknown[] {
  if (body.trim() === '') return [];
  // Most bodies are plain JSON (strings, numbers, objects): JSON.parse gives exactly what the
  // Extended JSON reader would, without its stringify-and-reparse round trip. Anything else
  // (wrappers, syntax errors, odd numbers) takes the full reader and its messages.
  let plain: unknown;
  try {
    plain = JSON.parse(body);
  } catch {
    plain = undefined;
  }
  if (Array.isArray(plain) && plainJson(plain)) return plain;
  const args = parseUserEjson(
    body,
    'the request body',
    'send a JSON array of arguments, e.g. ["Ada", {"$oid": "..."}]',
  );
  if (!Array.isArray(args)) {
    throw new TriggerboxError(
      'InvalidInput',
      'the request body must be a JSON array of arguments',
      { hint: 'wrap a single argument in [ ]' },
    );
  }
  return args;
}
