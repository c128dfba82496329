/**
 * `triggerbox/testing`: test an app's functions and triggers against the real runtime, from
 * node:test, Vitest or Jest. A test app is the app directory loaded as it is, plus per-test
 * overrides that never touch the app's files: Values, Secrets in clear (an in-memory resolver;
 * the app's encrypted store is never opened), the environment, an in-memory database seeded per
 * namespace, a fixed clock, stubbed callee functions and HTTP endpoints.
 *
 * Every test app owns its runner (and so its sandbox process), its engine, its trigger dispatcher
 * and its scheduler: test apps share nothing and run in parallel. `dispose()` (or `await using`)
 * releases them all.
 *
 * Stubs:
 * - `stubFunction(name, impl)`: the function's source is replaced, for this test app only, by one
 *   that sends its arguments to the host (canonical EJSON) and returns what `impl` returns (or
 *   throws what it throws, as an Error with the same message). The round trip is asynchronous:
 *   a stubbed function returns a Promise, so a caller must `await context.functions.execute(...)`
 *   (a caller using the result synchronously sees a Promise). `stubFunction(name, {returns})`
 *   instead answers synchronously with a fixed value, computed inside the sandbox.
 * - `stubHttp(matcher, response)`: `context.http` is served by the test app's own `http` service:
 *   the first matching stub answers; a request no stub matches fails the function with an error
 *   naming the request (method and URL) and the stubs there are. No request leaves the machine.
 *
 * The clock: with `clock`, scheduled triggers run by the test app's clock (only `advanceClock`
 * moves it), and `Date`/`Date.now()` inside functions read it too (each function file gets a
 * suffix, after its last line so that line numbers stay exact, that installs a fixed `Date` in
 * the sandbox context; the runner's sandbox serves this test app only). Without `clock`, time
 * inside functions is real and the scheduler's clock starts at the real now and moves only by
 * `advanceClock`.
 */
import { EJSON } from 'bson';
import { loadApp, formatDiagnostic } from '../app/load-app.js';
import type { App, FunctionDef, TriggerDef, ValueDef } from '../app/types.js';
import type { HostService, ServiceOp } from '../runtime/boundary/services.js';
import { decodeResult } from '../runtime/ejson.js';
import type { LogLine } from '../runtime/protocol.js';
import {
  createRunner,
  FunctionExecutionFailure,
  type ExecutionResult,
  type FunctionRunner,
  type UserObject,
} from '../runtime/runner.js';
import { builtinServices } from '../services/builtin.js';
import type { HttpRequest, HttpResponse } from '../services/http/host.js';
import {
  createMongoService,
  EmbeddedEngine,
  mongodbService,
  type Database,
  type MongoService,
} from '../services/mongodb/index.js';
import { messageOf, TriggerboxError } from '../shared/errors.js';
import { didYouMean } from '../shared/suggest.js';
import { TriggerDispatcher, type TriggerFiring } from '../triggers/dispatcher.js';
import { ManualClock, Scheduler } from '../triggers/scheduler.js';

export { FunctionExecutionFailure };

export interface TestAppOptions {
  /** The app directory (absolute, or relative to the current directory). */
  root: string;
  /** Values by name, for this test app only (a Secret-linked Value given here becomes plain). */
  values?: Record<string, unknown> | undefined;
  /** Secrets by secret name, in clear, for this test app only (the app's store is never read). */
  secrets?: Record<string, string> | undefined;
  /** The environment tag (as `--env`): which environments/<tag>.json is active. */
  environment?: string | undefined;
  /** Entries of `context.environment.values`, over the active environment's. */
  env?: Record<string, unknown> | undefined;
  /** Documents to insert before the test starts, by namespace ('db.coll'); fires no trigger. */
  seed?: Record<string, readonly Record<string, unknown>[]> | undefined;
  /** A fixed time for scheduled triggers and `Date` inside functions. */
  clock?: Date | number | undefined;
  /** Function stubs to install at once (as stubFunction). */
  stubs?: Record<string, FunctionStub> | undefined;
  /** A call's time limit in ms (default: the runner's). */
  timeoutMs?: number | undefined;
}

/** A stub: a host function (asynchronous for the caller), or a fixed value (synchronous). */
export type FunctionStub = ((...args: any[]) => unknown) | { returns: unknown };

export interface RunResult {
  result: unknown;
  logs: string[];
  errorLogs: string[];
}

export interface TestTriggerRun {
  /** 'database': fired by a write; 'scheduled': by the clock or fireScheduled(). */
  source: 'database' | 'scheduled';
  trigger: string;
  /** The event the function received (undefined for a scheduled trigger). */
  event: Record<string, unknown> | undefined;
  /** The function's return value (undefined when it failed). */
  result: unknown;
  logs: string[];
  errorLogs: string[];
  error: TriggerboxError | undefined;
  /** Database triggers: the chain of triggers that led here, this one last. */
  chain: string[];
  /** Scheduled triggers: the time the run was due. */
  scheduledFor?: Date | undefined;
}

export interface LogEntry {
  /** The function called, or the trigger that ran. */
  source: string;
  level: LogLine['level'];
  message: string;
}

export interface HttpStubRequest {
  method: string;
  url: string;
  headers: Record<string, string[]>;
  /** The body as text ('' without one). */
  body: string;
  /** The function whose call made the request. */
  functionName: string;
}

export type HttpMatcher =
  | string
  | RegExp
  | { method?: string; url: string | RegExp }
  | ((request: HttpStubRequest) => boolean);

export interface HttpStubResponse {
  status?: number;
  headers?: Record<string, string | string[]>;
  /** A string is sent as is; any other value as JSON. */
  body?: unknown;
}

export type HttpResponder =
  HttpStubResponse | ((request: HttpStubRequest) => HttpStubResponse | Promise<HttpStubResponse>);

/** Where a stub's source sends its arguments (never resolved: the test app's http service answers). */
const STUB_HOST = 'triggerbox-stub.invalid';

function invalid(message: string, hint?: string): TriggerboxError {
  return new TriggerboxError('InvalidInput', message, hint === undefined ? {} : { hint });
}

function parseNamespace(ns: string): { db: string; coll: string } {
  const dot = ns.indexOf('.');
  if (dot <= 0 || dot === ns.length - 1)
    throw invalid(`seed: '${ns}' is not a namespace`, "write 'database.collection'");
  return { db: ns.slice(0, dot), coll: ns.slice(dot + 1) };
}

/** The source that makes `Date` read a fixed time, appended to each function file. */
function fixedDateSuffix(now: number): string {
  return `
;(function (R, T) {
  if (R.__triggerboxFixed === T) return;
  var D = function Date() {
    if (!new.target) return new R(T).toString();
    return arguments.length === 0 ? new R(T) : new (Function.prototype.bind.apply(R, [null].concat(Array.prototype.slice.call(arguments))))();
  };
  D.prototype = R.prototype;
  D.now = function () { return T; };
  D.parse = R.parse;
  D.UTC = R.UTC;
  D.__triggerboxFixed = T;
  D.__triggerboxReal = R;
  globalThis.Date = D;
})(globalThis.Date.__triggerboxReal || globalThis.Date, ${now});`;
}

function stubSource(name: string, stub: FunctionStub): string {
  if (typeof stub !== 'function') {
    const value = EJSON.stringify(stub.returns === undefined ? null : stub.returns, {
      relaxed: false,
    });
    return `exports = function () { return EJSON.parse(${JSON.stringify(value)}, { relaxed: false }); };`;
  }
  return `exports = async function (...args) {
  const response = await context.http.post({
    url: ${JSON.stringify(`http://${STUB_HOST}/${encodeURIComponent(name)}`)},
    body: EJSON.stringify(args, { relaxed: false }),
  });
  const reply = EJSON.parse(response.body.text(), { relaxed: false });
  if (reply.error !== undefined) throw new Error(reply.error);
  return reply.value;
};`;
}

function textOf(body: unknown): string {
  if (body === undefined || body === null) return '';
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) return Buffer.from(body).toString('utf8');
  return String(body);
}

function requestUrl(request: HttpRequest): string {
  if (request.url !== undefined) return request.url;
  const query = Object.entries(request.query ?? {})
    .flatMap(([k, vs]) => vs.map((v) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`))
    .join('&');
  return `${request.scheme ?? 'https'}://${request.host ?? ''}${request.path ?? ''}${query ? `?${query}` : ''}`;
}

function matches(matcher: HttpMatcher, request: HttpStubRequest): boolean {
  if (typeof matcher === 'function') return matcher(request);
  if (typeof matcher === 'string') return request.url === matcher;
  if (matcher instanceof RegExp) return matcher.test(request.url);
  if (matcher.method !== undefined && matcher.method.toUpperCase() !== request.method) return false;
  return typeof matcher.url === 'string'
    ? request.url === matcher.url
    : matcher.url.test(request.url);
}

function describeMatcher(matcher: HttpMatcher): string {
  if (typeof matcher === 'function') return '(a function)';
  if (typeof matcher === 'string' || matcher instanceof RegExp) return String(matcher);
  return `${matcher.method?.toUpperCase() ?? 'any'} ${String(matcher.url)}`;
}

function httpResponse(response: HttpStubResponse): HttpResponse {
  const status = response.status ?? 200;
  const headers: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(response.headers ?? {}))
    headers[k] = Array.isArray(v) ? v : [v];
  let text = '';
  if (typeof response.body === 'string') text = response.body;
  else if (response.body !== undefined) {
    text = JSON.stringify(response.body);
    headers['Content-Type'] ??= ['application/json'];
  }
  const body = new Uint8Array(Buffer.from(text, 'utf8'));
  return {
    status: `${status}`,
    statusCode: status,
    contentLength: body.length,
    headers,
    cookies: {},
    body,
  };
}

export class TestApp implements AsyncDisposable {
  /** The app as this test app runs it (overrides applied). */
  app: App;
  /** Every trigger run so far, in the order they finished (scheduled runs: as they were due). */
  readonly triggerRuns: TestTriggerRun[] = [];
  /** Every console line of every call and trigger run, in order. */
  readonly logs: LogEntry[] = [];
  /** Every HTTP request functions made (stubbed or not), in order. */
  readonly httpRequests: HttpStubRequest[] = [];
  private readonly runner: FunctionRunner;
  private readonly mongo: MongoService;
  private readonly dispatcher: TriggerDispatcher;
  private readonly scheduler: Scheduler;
  private readonly clock: ManualClock;
  private readonly fixedTime: boolean;
  private readonly stubs = new Map<string, FunctionStub>();
  private readonly httpStubs: { matcher: HttpMatcher; responder: HttpResponder }[] = [];
  private readonly pending = new Set<Promise<unknown>>();
  private readonly originalFunctions: Map<string, FunctionDef>;
  private disposed = false;

  /** @internal use createTestApp() */
  constructor(
    app: App,
    private readonly engine: EmbeddedEngine,
    options: TestAppOptions,
  ) {
    this.app = app;
    this.originalFunctions = new Map(app.functions);
    this.fixedTime = options.clock !== undefined;
    this.clock = new ManualClock(
      options.clock === undefined ? Date.now() : new Date(options.clock).getTime(),
    );
    const secrets = options.secrets ?? {};
    this.mongo = createMongoService({ engine });
    for (const [name, stub] of Object.entries(options.stubs ?? {})) this.stubs.set(name, stub);
    this.app = this.runnableApp();
    this.runner = createRunner({
      app: this.app,
      timeoutMs: options.timeoutMs,
      secrets: {
        resolve: (name) => {
          if (!Object.hasOwn(secrets, name))
            throw new Error(
              `secret '${name}' is not given to this test app (createTestApp({secrets: {'${name}': '...'}}))`,
            );
          return secrets[name] as string;
        },
        names: () => Object.keys(secrets),
      },
      services: [
        ...builtinServices().filter((s) => s.name !== 'http'),
        this.httpService(),
        mongodbService({ engine, dataSources: app.dataSources.keys() }),
      ],
    });
    this.dispatcher = new TriggerDispatcher({
      engine,
      runner: this.runner,
      triggers: () => this.app.triggers.values(),
      warn: (message) => this.logs.push({ source: 'triggerbox', level: 'warn', message }),
      onLog: (firing, line) => this.logs.push({ source: firing.trigger, ...line }),
      onFiring: (firing) => this.recordFiring(firing),
    });
    // Dispatcher firings are tracked by the dispatcher itself; settled() awaits both.
    this.scheduler = new Scheduler({
      clock: this.clock,
      onFire: (trigger, at) => void this.track(this.runScheduled(trigger, at)),
    });
    this.scheduler.update(this.app.triggers.values());
  }

  /** The pid of this test app's sandbox process. */
  get sandboxPid(): number | undefined {
    return this.runner.sandboxPid;
  }

  /** The test app's clock now. */
  now(): Date {
    return new Date(this.clock.now());
  }

  /** The database as the test sees it: writes fire DATABASE triggers (await settled()). */
  db(name: string): Database {
    this.assertLive();
    return this.mongo.db(name);
  }

  /** Runs a function as the system user (as `triggerbox function run`). */
  run(name: string, ...args: unknown[]): Promise<RunResult> {
    return this.runAs('system', name, ...args);
  }

  /** Runs a function as a user (`{user: 'id'}` or `{user: {id, data ...}}`) or as 'system'. */
  async runAs(
    who: { user: string | UserObject } | 'system',
    name: string,
    ...args: unknown[]
  ): Promise<RunResult> {
    this.assertLive();
    const outcome = await this.track(
      this.runner.execute(name, args, {
        user: who === 'system' ? undefined : who.user,
        onLog: (line) => this.logs.push({ source: name, ...line }),
      }),
    );
    return { result: outcome.result, logs: outcome.logs, errorLogs: outcome.errorLogs };
  }

  /** Resolves when every call, trigger run and cascade started so far has finished. */
  async settled(): Promise<void> {
    for (;;) {
      await this.dispatcher.settled();
      if (this.pending.size === 0) {
        // A call that just finished may have committed a write whose firing is queued now.
        await new Promise<void>((resolve) => setImmediate(resolve));
        await this.dispatcher.settled();
        if (this.pending.size === 0) return;
      }
      await Promise.allSettled([...this.pending]);
    }
  }

  /** The trigger runs so far (of one trigger, when named). */
  triggers(name?: string): TestTriggerRun[] {
    return name === undefined
      ? [...this.triggerRuns]
      : this.triggerRuns.filter((r) => r.trigger === name);
  }

  /** Runs a SCHEDULED trigger now (at the test app's clock), whatever its schedule says. */
  async fireScheduled(name: string): Promise<TestTriggerRun> {
    this.assertLive();
    const trigger = this.app.triggers.get(name);
    if (trigger === undefined || trigger.type !== 'SCHEDULED') {
      const scheduled = [...this.app.triggers.values()].filter((t) => t.type === 'SCHEDULED');
      throw invalid(
        `'${name}' is not a SCHEDULED trigger of this app`,
        didYouMean(
          name,
          scheduled.map((t) => t.name),
        ) || `scheduled triggers: ${scheduled.map((t) => t.name).join(', ') || 'none'}`,
      );
    }
    return this.track(this.runScheduled(trigger, this.now()));
  }

  /**
   * Moves the clock forward by `ms`, running each scheduled trigger due on the way (in time
   * order, each at its due time), and resolves once they (and what they caused) have finished.
   */
  async advanceClock(ms: number): Promise<void> {
    this.assertLive();
    if (!Number.isFinite(ms) || ms < 0)
      throw invalid(`advanceClock: ${ms} is not a duration in ms`);
    const to = this.clock.now() + ms;
    // Each due run sees the time it was due at, inside functions too.
    this.clock.advanceTo(to);
    if (this.fixedTime) this.reload();
    await this.settled();
  }

  /** Answers calls of `name` (through context.functions.execute, or run()) from the test. */
  stubFunction(name: string, stub: FunctionStub): void {
    this.assertLive();
    if (
      typeof stub !== 'function' &&
      (stub === null || typeof stub !== 'object' || !('returns' in stub))
    )
      throw invalid(`stubFunction('${name}'): give a function or {returns: value}`);
    this.stubs.set(name, stub);
    this.reload();
  }

  /** Removes a function stub (the app's own function runs again). */
  unstubFunction(name: string): void {
    this.assertLive();
    if (this.stubs.delete(name)) this.reload();
  }

  /**
   * Answers `context.http` requests that `matcher` accepts (a URL string, a RegExp on the URL,
   * {method, url}, or a predicate) with `response` (or what a function of the request returns).
   * Later stubs win over earlier ones.
   */
  stubHttp(matcher: HttpMatcher, response: HttpResponder): void {
    this.assertLive();
    this.httpStubs.unshift({ matcher, responder: response });
  }

  /** `app.http.on(matcher, response)`: the same as stubHttp. */
  readonly http = {
    on: (matcher: HttpMatcher, response: HttpResponder): void => this.stubHttp(matcher, response),
    requests: (): HttpStubRequest[] => [...this.httpRequests],
  };

  /** Releases the runner (and its sandbox process), the dispatcher, the scheduler and the engine. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.scheduler.stop();
    this.dispatcher.close();
    await Promise.allSettled([...this.pending]);
    await this.dispatcher.settled();
    this.runner.dispose();
    await this.engine.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }

  private assertLive(): void {
    if (this.disposed) throw new TriggerboxError('RunnerDisposed', 'this test app was disposed');
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.pending.add(promise);
    const done = (): void => void this.pending.delete(promise);
    promise.then(done, done);
    return promise;
  }

  /** The app with stubs in place of functions and the fixed Date after each function file. */
  private runnableApp(): App {
    const functions = new Map<string, FunctionDef>();
    for (const [name, fn] of this.originalFunctions) functions.set(name, fn);
    for (const [name, stub] of this.stubs) {
      const original = functions.get(name);
      functions.set(name, {
        name,
        file: original?.file ?? `functions/${name}.js`,
        private: original?.private ?? true,
        runAsSystem: original?.runAsSystem ?? false,
        runAsUserId: original?.runAsUserId,
        disableArgLogs: original?.disableArgLogs ?? false,
        configured: original?.configured ?? true,
        source: stubSource(name, stub),
      });
    }
    if (this.fixedTime) {
      const suffix = fixedDateSuffix(this.clock.now());
      for (const [name, fn] of functions)
        functions.set(name, { ...fn, source: `${fn.source}\n${suffix}` });
    }
    return { ...this.app, functions };
  }

  private reload(): void {
    this.app = this.runnableApp();
    this.runner.reload(this.app);
  }

  private async runScheduled(trigger: TriggerDef, at: Date): Promise<TestTriggerRun> {
    // Runs due together overlap; the record keeps the order they were due in, not finished in.
    const slot = {} as TestTriggerRun;
    this.triggerRuns.push(slot);
    let run: TestTriggerRun;
    try {
      const result = await this.runner.fireTrigger(trigger.name, undefined, {
        force: true,
        onLog: (line) => this.logs.push({ source: trigger.name, ...line }),
      });
      run = {
        source: 'scheduled',
        trigger: trigger.name,
        event: undefined,
        result: result.result,
        logs: result.logs,
        errorLogs: result.errorLogs,
        error: undefined,
        chain: [trigger.name],
        scheduledFor: at,
      };
    } catch (error) {
      run = {
        source: 'scheduled',
        trigger: trigger.name,
        event: undefined,
        result: undefined,
        logs: error instanceof FunctionExecutionFailure ? error.logs : [],
        errorLogs: error instanceof FunctionExecutionFailure ? error.errorLogs : [messageOf(error)],
        error:
          error instanceof TriggerboxError
            ? error
            : new TriggerboxError('FunctionExecutionError', messageOf(error)),
        chain: [trigger.name],
        scheduledFor: at,
      };
    }
    return Object.assign(slot, run);
  }

  private recordFiring(firing: TriggerFiring): void {
    const failure = firing.error instanceof FunctionExecutionFailure ? firing.error : undefined;
    this.triggerRuns.push({
      source: 'database',
      trigger: firing.trigger,
      event: firing.result?.event,
      result: firing.result?.result,
      logs: firing.result?.logs ?? failure?.logs ?? [],
      errorLogs:
        firing.result?.errorLogs ??
        failure?.errorLogs ??
        (firing.error ? [firing.error.message] : []),
      error: firing.error,
      chain: firing.chain,
    });
  }

  /** `context.http` for this test app: stubs answer, anything else fails naming the request. */
  private httpService(): HostService {
    const request: ServiceOp<HttpRequest, HttpResponse> = {
      mode: 'async',
      run: async (arg, call) => {
        const url = requestUrl(arg);
        const seen: HttpStubRequest = {
          method: String(arg.method ?? 'GET').toUpperCase(),
          url,
          headers: arg.headers ?? {},
          body: textOf(arg.body),
          functionName: call.functionName,
        };
        const parsed = URL.canParse(url) ? new URL(url) : undefined;
        if (parsed?.hostname === STUB_HOST) return this.answerStub(parsed, seen.body);
        this.httpRequests.push(seen);
        const stub = this.httpStubs.find((s) => matches(s.matcher, seen));
        if (stub === undefined) {
          const known = this.httpStubs.map((s) => describeMatcher(s.matcher));
          throw new Error(
            `unexpected HTTP request in a test app: ${seen.method} ${url} (from function '${call.functionName}'); ${
              known.length === 0
                ? 'no HTTP stub is set: add app.stubHttp(matcher, response)'
                : `the stubs are: ${known.join(', ')}`
            }`,
          );
        }
        const answer =
          typeof stub.responder === 'function' ? await stub.responder(seen) : stub.responder;
        return httpResponse(answer);
      },
    };
    return { name: 'http', ops: { request } };
  }

  private async answerStub(url: URL, body: string): Promise<HttpResponse> {
    const name = decodeURIComponent(url.pathname.slice(1));
    const stub = this.stubs.get(name);
    let reply: { value?: unknown; error?: string };
    try {
      if (typeof stub !== 'function') throw new Error(`function '${name}' is not stubbed`);
      const args = decodeResult(body) as unknown[];
      const value = await stub(...args);
      reply = { value: value === undefined ? null : value };
    } catch (error) {
      reply = { error: messageOf(error) };
    }
    return httpResponse({ body: EJSON.stringify(reply, { relaxed: false }) });
  }
}

/** Loads the app at `root` and starts a test app over it (see the module comment). */
export async function createTestApp(options: TestAppOptions): Promise<TestApp> {
  if (options === null || typeof options !== 'object' || typeof options.root !== 'string')
    throw invalid('createTestApp needs {root: <the app directory>}');
  const loaded = loadApp({ root: options.root, environment: options.environment });
  const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0)
    throw invalid(
      `the app at ${loaded.app.root} has ${errors.length} problem(s):\n${errors.map((d) => formatDiagnostic(d)).join('\n')}`,
    );
  const app = withOverrides(loaded.app, options);
  const engine = await EmbeddedEngine.open();
  try {
    const mongo = createMongoService({ engine });
    for (const [ns, docs] of Object.entries(options.seed ?? {})) {
      const { db, coll } = parseNamespace(ns);
      if (!Array.isArray(docs)) throw invalid(`seed['${ns}'] must be an array of documents`);
      if (docs.length > 0)
        await mongo
          .db(db)
          .collection(coll)
          .insertMany(docs.map((d) => ({ ...d })));
    }
    // The dispatcher subscribes after seeding: seed documents fire no trigger.
    return new TestApp(app, engine, options);
  } catch (error) {
    await engine.close();
    throw error;
  }
}

function withOverrides(app: App, options: TestAppOptions): App {
  const values = new Map<string, ValueDef>(app.values);
  for (const [name, value] of Object.entries(options.values ?? {})) {
    const existing = app.values.get(name);
    if (existing === undefined)
      throw invalid(
        `values: the app has no Value '${name}'`,
        didYouMean(name, app.values.keys()) ||
          `its Values: ${[...app.values.keys()].join(', ') || 'none'}`,
      );
    values.set(name, { kind: 'plain', name, file: existing.file, value });
  }
  const environment =
    options.env === undefined
      ? app.environment
      : { ...app.environment, values: { ...app.environment.values, ...options.env } };
  return { ...app, values, environment };
}

/** `createTestApp` under the name some test styles read better with. */
export const testApp = createTestApp;
export type { UserObject, ExecutionResult };
