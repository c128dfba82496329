/**
 * Real-cluster mode in `dev`: the change streams that drive DATABASE triggers of one data
 * source on a real MongoDB. One stream per namespace the enabled triggers watch (a collection,
 * or a database for whole-database triggers, which then also covers that database's
 * collection triggers), asking for `fullDocument: 'updateLookup'` when a trigger of the
 * namespace has `full_document`, and `fullDocumentBeforeChange: 'whenAvailable'` when one has
 * `full_document_before_change` ('whenAvailable', not 'required': 'required' makes the server
 * fail the whole stream, for every trigger on it, when the collection has no
 * changeStreamPreAndPostImages or a pre-image has expired; with 'whenAvailable' the event
 * comes without it and the other triggers keep firing).
 *
 * Each stream's resume token is kept in `.triggerbox/change-streams/<data source>/<ns>.json`
 * (atomic writes; the data source name, the namespace and the token, never the URI), so a
 * restart resumes where it stopped: writes made while dev was down fire after the restart. A
 * namespace all of whose triggers set `skip_catchup_events` starts from now instead.
 *
 * Failures (refused credentials, an unreachable cluster, a lost connection) are reported once
 * each with a clear message, and everything is retried with backoff: 1 s, 2 s, 4 s ... capped
 * at 30 s; a successful open resets it, and the streams resume from the saved tokens. A server
 * without change streams (a standalone mongod: 40573) is said once with how to fix it and not
 * retried on a timer, since waiting does not change it: the next reload of the app's triggers
 * (or a restart) tries again.
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { TriggerDef } from '../app/types.js';
import {
  createDriverEngine,
  redactText,
  type ChangeListener,
  type ChangeSubscription,
  type DriverEngine,
} from '../services/mongodb/index.js';
import { messageOf } from '../shared/errors.js';
import { writeFileAtomic } from '../shared/atomic-file.js';
import { databaseSettings } from '../triggers/settings.js';

export const STREAMS_DIR = path.join('.triggerbox', 'change-streams');
const MAX_BACKOFF_MS = 30_000;

export interface ClusterRetry {
  dataSource: string;
  /** 1 for the first retry. */
  attempt: number;
  delayMs: number;
  /** What failed, redacted. */
  message: string;
}

/** The feed gave up until the next reload: the server cannot give change streams. */
export interface ClusterStop {
  dataSource: string;
  /** What is wrong and how to fix it, redacted. */
  message: string;
}

/** 1 s, 2 s, 4 s ... capped at 30 s. */
export function defaultRetryDelayMs(attempt: number): number {
  return Math.min(1000 * 2 ** (attempt - 1), MAX_BACKOFF_MS);
}

export interface ClusterFeedOptions {
  dataSource: string;
  uri: string;
  root: string;
  /** The app's triggers now (dev reloads them). */
  triggers: () => Iterable<TriggerDef>;
  /** Whether a trigger's service_name (possibly absent) means this data source. */
  serves: (serviceName: string | undefined) => boolean;
  /** Extra MongoClient options (tests shorten serverSelectionTimeoutMS). */
  clientOptions?: Record<string, unknown> | undefined;
  onRetry: (retry: ClusterRetry) => void;
  /** Change streams are not available on this server: not retried until update(). */
  onStop?: ((stop: ClusterStop) => void) | undefined;
  /** The wait before retry `attempt` (1, 2 ...); tests make it short. Default: defaultRetryDelayMs. */
  retryDelayMs?: ((attempt: number) => number) | undefined;
  /** Every stream of the plan is open (after a start, a retry or a reload). */
  onReady?: (() => void) | undefined;
  warn: (message: string) => void;
}

interface NamespacePlan {
  key: string;
  db: string;
  coll: string | undefined;
  fullDocument: boolean;
  preImages: boolean;
  /** Every trigger on it sets skip_catchup_events. */
  skipCatchup: boolean;
}

interface OpenStream {
  plan: NamespacePlan;
  signature: string;
  subscription: ChangeSubscription;
}

/** A server that cannot open change streams at all (a standalone mongod answers 40573). */
function changeStreamsUnsupported(error: unknown): boolean {
  const code = (error as { mongoCode?: number } | undefined)?.mongoCode;
  return code === 40573 || /only supported on replica sets/i.test(messageOf(error));
}

/** A clear sentence for a failure of the cluster (already redacted by the driver engine). */
export function describeClusterFailure(error: unknown, target: string, lost = false): string {
  const code = (error as { mongoCode?: number } | undefined)?.mongoCode;
  const codeName = (error as { codeName?: string } | undefined)?.codeName;
  const text = messageOf(error);
  if (changeStreamsUnsupported(error))
    return `${target} does not support change streams (a standalone server: "${text}"): DATABASE triggers need a replica set or an Atlas cluster. Run it as a replica set (a single node will do: start mongod with --replSet rs0, then run rs.initiate() in mongosh) or point the URI at an Atlas cluster; functions still read and write it`;
  if (code === 18 || codeName === 'AuthenticationFailed' || /authentication/i.test(text))
    return `${target} refused the credentials (authentication failed): check the user and password in the URI (percent-encode @ : / ? # in them), and that the user exists in the authSource database (admin by default)`;
  if (codeName === 'HostUnreachable') {
    // The driver engine's text starts with "cannot reach <target>: "; the target is said once.
    const detail = text.startsWith(`cannot reach ${target}: `)
      ? text.slice(`cannot reach ${target}: `.length)
      : text;
    if (lost)
      return `lost the connection to ${target} (the change streams stopped): ${detail}; they resume from the saved position once it is back`;
    return `${target} is unreachable: ${detail} (check the URI, the network, and the cluster's IP access list)`;
  }
  if (code === 286 || codeName === 'ChangeStreamHistoryLost')
    return `${target} no longer has the history to resume from the saved position: ${text}`;
  return `${target}: ${text}`;
}

export class ClusterFeed {
  readonly engine: DriverEngine;
  private listener: ChangeListener | undefined;
  private readonly open = new Map<string, OpenStream>();
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private connected = false;
  private starting: Promise<void> | undefined;
  /** Stopped on a server without change streams, until the next update(). */
  private stopped = false;

  constructor(private readonly options: ClusterFeedOptions) {
    this.engine = createDriverEngine({
      uri: options.uri,
      // 10 s rather than the driver's 30 s to say a cluster is unreachable, unless the URI
      // sets its own (options given here would override the URI's).
      clientOptions: {
        ...(/[?&]serverSelectionTimeoutMS=/i.test(options.uri)
          ? {}
          : { serverSelectionTimeoutMS: 10_000 }),
        ...options.clientOptions,
      },
      warn: (message) => options.warn(message),
    });
  }

  /** Safe to print: the URI without credentials or options. */
  get target(): string {
    return this.engine.target;
  }

  /** The dispatcher's source of events (called once, by its constructor). */
  subscribe(listener: ChangeListener): ChangeSubscription {
    this.listener = listener;
    return { close: () => (this.listener = undefined) };
  }

  /** Connects and opens the streams; failures are reported and retried, never thrown. */
  start(): Promise<void> {
    this.starting ??= this.attemptOpen().finally(() => (this.starting = undefined));
    return this.starting;
  }

  /** The triggers changed (a reload): opens and closes streams to match. */
  update(): void {
    if (this.closed) return;
    if (this.stopped) {
      this.stopped = false;
      void this.start();
      return;
    }
    if (!this.connected || this.timer !== undefined) return;
    void this.openStreams().catch((error: unknown) => this.failed(error));
  }

  private plan(): Map<string, NamespacePlan> {
    const plans = new Map<string, NamespacePlan>();
    for (const trigger of this.options.triggers()) {
      if (trigger.type !== 'DATABASE' || trigger.disabled) continue;
      const settings = databaseSettings(trigger);
      if (settings === undefined || settings.database === '') continue;
      if (!this.options.serves(settings.serviceName)) continue;
      const coll = settings.collection === '' ? undefined : settings.collection;
      const key = coll === undefined ? settings.database : `${settings.database}.${coll}`;
      const plan = plans.get(key);
      plans.set(key, {
        key,
        db: settings.database,
        coll,
        fullDocument: (plan?.fullDocument ?? false) || settings.fullDocument,
        preImages: (plan?.preImages ?? false) || settings.fullDocumentBeforeChange,
        skipCatchup: (plan?.skipCatchup ?? true) && settings.skipCatchupEvents,
      });
    }
    // A whole-database stream covers that database's collection triggers: one stream, so an
    // event is dispatched once.
    for (const plan of [...plans.values()]) {
      if (plan.coll === undefined) continue;
      const whole = plans.get(plan.db);
      if (whole === undefined) continue;
      plans.set(plan.db, {
        ...whole,
        fullDocument: whole.fullDocument || plan.fullDocument,
        preImages: whole.preImages || plan.preImages,
        skipCatchup: whole.skipCatchup && plan.skipCatchup,
      });
      plans.delete(plan.key);
    }
    return plans;
  }

  private tokenFile(plan: NamespacePlan): string {
    const name = (text: string): string => encodeURIComponent(text).replace(/\*/g, '%2A');
    return path.join(
      this.options.root,
      STREAMS_DIR,
      name(this.options.dataSource),
      `${name(plan.db)}${plan.coll === undefined ? '' : `.${name(plan.coll)}`}.json`,
    );
  }

  private readToken(plan: NamespacePlan): { _data: string } | undefined {
    try {
      const saved = JSON.parse(readFileSync(this.tokenFile(plan), 'utf8')) as {
        resumeToken?: { _data?: unknown };
      };
      const data = saved.resumeToken?._data;
      return typeof data === 'string' ? { _data: data } : undefined;
    } catch {
      return undefined;
    }
  }

  private saveToken(plan: NamespacePlan, token: { _data: string }): void {
    const file = this.tokenFile(plan);
    try {
      mkdirSync(path.dirname(file), { recursive: true });
      const saved = {
        dataSource: this.options.dataSource,
        namespace: plan.coll === undefined ? `${plan.db}.*` : `${plan.db}.${plan.coll}`,
        resumeToken: token,
        savedAt: new Date().toISOString(),
      };
      writeFileAtomic(file, `${JSON.stringify(saved, null, 2)}\n`);
    } catch (error) {
      this.options.warn(
        `could not save the change-stream position in ${path.relative(this.options.root, file)}: ${messageOf(error)}`,
      );
    }
  }

  private async attemptOpen(): Promise<void> {
    if (this.closed) return;
    try {
      await this.engine.connect();
      this.connected = true;
      await this.openStreams();
      this.attempt = 0;
    } catch (error) {
      this.failed(error);
    }
  }

  private async openStreams(): Promise<void> {
    const plans = this.plan();
    for (const [key, stream] of this.open) {
      const plan = plans.get(key);
      if (plan === undefined || signatureOf(plan) !== stream.signature) {
        stream.subscription.close();
        this.open.delete(key);
      }
    }
    const opened: Promise<void>[] = [];
    for (const plan of plans.values()) {
      if (this.open.has(plan.key)) continue;
      opened.push(this.openStream(plan));
    }
    await Promise.all(opened);
    if (!this.closed) this.options.onReady?.();
  }

  private async openStream(plan: NamespacePlan, fromNow = false): Promise<void> {
    const token = plan.skipCatchup || fromNow ? undefined : this.readToken(plan);
    // An error after the stream opened is a lost connection (or a server-side end), said so.
    let opened = false;
    const subscription = this.engine.watch(
      {
        db: plan.db,
        coll: plan.coll,
        fullDocument: plan.fullDocument ? 'updateLookup' : 'default',
        fullDocumentBeforeChange: plan.preImages ? 'whenAvailable' : 'off',
        resumeAfter: token,
        onResumeToken: (next) => this.saveToken(plan, next),
        onError: (error) => {
          if (this.open.get(plan.key)?.subscription === subscription) {
            this.open.delete(plan.key);
            this.failed(error, opened);
          }
        },
      },
      (event) => this.listener?.(event),
    );
    const entry = { plan, signature: signatureOf(plan), subscription };
    this.open.set(plan.key, entry);
    try {
      await subscription.ready;
      opened = true;
    } catch (error) {
      if (this.open.get(plan.key) === entry) this.open.delete(plan.key);
      const code = (error as { mongoCode?: number }).mongoCode;
      // The saved position is gone from the cluster's oplog (or was another cluster's): the
      // events in between cannot be had; say so and go on from now.
      if (token !== undefined && (code === 286 || code === 280 || code === 260)) {
        this.options.warn(
          `data source '${this.options.dataSource}': ${describeClusterFailure(error, this.target)}; the triggers on ${plan.key} start from now (writes made meanwhile do not fire them)`,
        );
        rmSync(this.tokenFile(plan), { force: true });
        await this.openStream(plan, true);
        return;
      }
      throw error;
    }
  }

  /** Reports the failure once and schedules the next attempt (1 s, 2 s, 4 s ... 30 s). */
  private failed(error: unknown, lost = false): void {
    if (this.closed || this.timer !== undefined || this.stopped) return;
    for (const stream of this.open.values()) stream.subscription.close();
    this.open.clear();
    this.connected = false;
    if (changeStreamsUnsupported(error)) {
      // Waiting does not give a standalone server change streams: say so once, do not spin.
      this.stopped = true;
      this.attempt = 0;
      this.options.onStop?.({
        dataSource: this.options.dataSource,
        message: redactText(
          `data source '${this.options.dataSource}': ${describeClusterFailure(error, this.target)}`,
          this.options.uri,
        ),
      });
      return;
    }
    this.attempt++;
    const delayMs = (this.options.retryDelayMs ?? defaultRetryDelayMs)(this.attempt);
    const message = redactText(
      `data source '${this.options.dataSource}': ${describeClusterFailure(error, this.target, lost)}`,
      this.options.uri,
    );
    this.options.onRetry({
      dataSource: this.options.dataSource,
      attempt: this.attempt,
      delayMs,
      message,
    });
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.start();
    }, delayMs);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    for (const stream of this.open.values()) stream.subscription.close();
    this.open.clear();
    await this.starting?.catch(() => undefined);
    await this.engine.close().catch(() => undefined);
  }
}

function signatureOf(plan: NamespacePlan): string {
  return `${plan.fullDocument ? 'F' : '-'}${plan.preImages ? 'P' : '-'}${plan.skipCatchup ? 'S' : '-'}`;
}
