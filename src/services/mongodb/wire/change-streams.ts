/**
 * `$changeStream` aggregations over the engine's watch(). One engine subscription per engine
 * (opened with the first change stream, with both images) keeps the recent events in a ring:
 * that is the database's "oplog", from which resumeAfter/startAfter/startAtOperationTime replay
 * and into which every open change-stream cursor is fed. It belongs to the engine, not to an
 * endpoint: an endpoint closed and started again over the same engine (a server restart, as
 * clients see it) keeps the history, writes made meanwhile included, so clients resume. Each cursor shapes the events as its
 * options say (fullDocument on updates only with 'updateLookup'/'whenAvailable'/'required',
 * pre-images only when asked), runs its own following stages on each event, and answers
 * awaitData getMores as soon as an event is queued or when maxTimeMS runs out.
 */
import type { Long, Timestamp } from 'bson';
import { cloneValue, isDocument, type Doc } from '../engine/bson-values.js';
import { MongoError, badValue } from '../engine/errors.js';
import { runPipeline } from '../engine/query.js';
import type { ChangeEvent, ChangeSubscription, Engine } from '../engine/types.js';
import { fillBatch, type Batch, type WireCursor } from './cursors.js';

/** Events kept for resuming; a stream that falls further behind than this has lost history. */
const RING_CAPACITY = 10_000;
/** The server's default wait of an awaitData getMore without maxTimeMS. */
const DEFAULT_AWAIT_MS = 1000;
/** The invalidate event after a drop gets the drop's token with this suffix (still hex, sorts after). */
const INVALIDATE_SUFFIX = 'FF';
/** Stages the server allows after $changeStream. */
const ALLOWED_STAGES = new Set([
  '$match',
  '$project',
  '$addFields',
  '$set',
  '$unset',
  '$replaceRoot',
  '$replaceWith',
  '$redact',
]);

export interface ChangeStreamScope {
  /** Absent: every database (allChangesForCluster on admin). */
  db?: string | undefined;
  /** Absent: the whole database. */
  coll?: string | undefined;
}

interface ChangeStreamOptions {
  fullDocument: string;
  fullDocumentBeforeChange: string;
  resumeAfter?: Doc | undefined;
  startAfter?: Doc | undefined;
  startAtOperationTime?: Timestamp | undefined;
}

function historyLost(detail: string): MongoError {
  return new MongoError(
    'ChangeStreamHistoryLost',
    `Resume of change stream was not possible, as the resume point may no longer be in the oplog (${detail})`,
  );
}

function afterTime(a: Timestamp, b: Timestamp): boolean {
  return a.t > b.t || (a.t === b.t && a.i >= b.i);
}

/** The resume tokens' `_data` a cursor may be given back, dropping the invalidate suffix. */
function tokenData(token: unknown): string {
  if (!isDocument(token) || typeof token._data !== 'string')
    throw new MongoError(
      'InvalidResumeToken',
      'resume token must be a document with a string _data',
    );
  const data = token._data;
  return data.length === 28 && data.endsWith(INVALIDATE_SUFFIX) ? data.slice(0, 26) : data;
}

/** The recent events of one engine, kept from the first change stream until the engine closes. */
class ChangeHistory {
  private subscription: ChangeSubscription | undefined;
  ring: ChangeEvent[] = [];
  head = 0;
  lastEvicted: ChangeEvent | undefined;
  startedAtSeconds = 0;
  /**
   * The position before the first event (what postBatchResumeToken says until there is one):
   * the engine's token shape with increment 0, which no event has.
   */
  startToken = { _data: '' };
  /** The open hubs (endpoints) fed with each event. */
  readonly hubs = new Set<(event: ChangeEvent) => void>();

  constructor(private readonly engine: Engine) {}

  start(): void {
    if (this.subscription) return;
    this.startedAtSeconds = Math.floor(Date.now() / 1000);
    const seconds = this.startedAtSeconds.toString(16).toUpperCase().padStart(8, '0');
    this.startToken = { _data: `82${seconds}${'0'.repeat(16)}04` };
    this.subscription = this.engine.watch(
      { fullDocument: 'updateLookup', fullDocumentBeforeChange: 'whenAvailable' },
      (event) => this.onEvent(event),
    );
  }

  private onEvent(event: ChangeEvent): void {
    this.ring.push(event);
    if (this.ring.length - this.head > RING_CAPACITY) {
      this.lastEvicted = this.ring[this.head];
      this.head += 1;
      // Drop the evicted prefix now and then rather than shifting on every event.
      if (this.head > RING_CAPACITY) {
        this.ring = this.ring.slice(this.head);
        this.head = 0;
      }
    }
    for (const hub of this.hubs) hub(event);
  }

  /** The events after a resume point; fails when the point is not (or no longer) in the ring. */
  replayFrom(options: ChangeStreamOptions): ChangeEvent[] {
    const live = this.ring.slice(this.head);
    const token = options.startAfter ?? options.resumeAfter;
    if (token !== undefined) {
      const data = tokenData(token);
      if (data === this.startToken._data) {
        if (this.lastEvicted) throw historyLost('events after the token were dropped');
        return live;
      }
      const at = live.findIndex((e) => e._id._data === data);
      if (at < 0) throw historyLost('the token is not among the events this endpoint keeps');
      return live.slice(at + 1);
    }
    const time = options.startAtOperationTime;
    if (time === undefined) return [];
    const covered = this.lastEvicted
      ? afterTime(time, this.lastEvicted.clusterTime) &&
        !afterTime(this.lastEvicted.clusterTime, time)
      : time.t > this.startedAtSeconds;
    if (!covered)
      throw historyLost('startAtOperationTime is before the events this endpoint keeps');
    return live.filter((e) => afterTime(e.clusterTime, time));
  }

  /** The latest position: the last event's token, or the start token before any event. */
  lastToken(): { _data: string } {
    return { ...(this.head < this.ring.length ? this.ring.at(-1)!._id : this.startToken) };
  }
}

/** One history per engine (a WeakMap: it goes with the engine). */
const histories = new WeakMap<Engine, ChangeHistory>();

export interface ChangeHubOptions {
  /**
   * A standalone server (tests): no change streams, every $changeStream fails with 40573 and
   * the text mongod gives ("The $changeStream stage is only supported on replica sets").
   */
  standalone?: boolean | undefined;
}

/** One endpoint's change-stream cursors, fed from its engine's history. */
export class ChangeHub {
  private readonly history: ChangeHistory;
  private readonly cursors = new Set<ChangeStreamCursor>();
  private readonly feed = (event: ChangeEvent): void => {
    for (const cursor of this.cursors) cursor.offer(event);
  };

  constructor(
    engine: Engine,
    private readonly options: ChangeHubOptions = {},
  ) {
    let history = histories.get(engine);
    if (history === undefined) {
      history = new ChangeHistory(engine);
      histories.set(engine, history);
    }
    this.history = history;
  }

  open(request: {
    id: Long;
    ns: string;
    scope: ChangeStreamScope;
    stage: unknown;
    pipeline: unknown[];
  }): ChangeStreamCursor {
    if (this.options.standalone === true)
      throw new MongoError(
        'BadValue',
        'The $changeStream stage is only supported on replica sets',
        {
          server: { code: 40573, codeName: 'Location40573' },
        },
      );
    const { stage } = request;
    if (!isDocument(stage)) throw badValue('$changeStream must be an object');
    const options: ChangeStreamOptions = {
      fullDocument: typeof stage.fullDocument === 'string' ? stage.fullDocument : 'default',
      fullDocumentBeforeChange:
        typeof stage.fullDocumentBeforeChange === 'string' ? stage.fullDocumentBeforeChange : 'off',
      resumeAfter: stage.resumeAfter as Doc | undefined,
      startAfter: stage.startAfter as Doc | undefined,
      startAtOperationTime: stage.startAtOperationTime as Timestamp | undefined,
    };
    const resumeOptions = [options.resumeAfter, options.startAfter, options.startAtOperationTime];
    if (resumeOptions.filter((o) => o !== undefined).length > 1)
      throw badValue('Only one type of resume option is allowed, but multiple were found');
    if (!['default', 'updateLookup', 'whenAvailable', 'required'].includes(options.fullDocument))
      throw badValue(`'${options.fullDocument}' is not a valid value for fullDocument`);
    if (!['off', 'whenAvailable', 'required'].includes(options.fullDocumentBeforeChange))
      throw badValue(
        `'${options.fullDocumentBeforeChange}' is not a valid value for fullDocumentBeforeChange`,
      );
    for (const later of request.pipeline) {
      const name = isDocument(later) ? Object.keys(later)[0] : undefined;
      if (name === undefined || !ALLOWED_STAGES.has(name))
        throw badValue(`${name ?? 'this stage'} is not permitted in a $changeStream pipeline`);
    }
    this.history.start();
    this.history.hubs.add(this.feed);
    const backlog = this.history.replayFrom(options);
    const cursor = new ChangeStreamCursor(
      request.id,
      request.ns,
      request.scope,
      options,
      request.pipeline as Doc[],
      () => this.cursors.delete(cursor),
    );
    const resumedFrom = options.startAfter ?? options.resumeAfter;
    cursor.position =
      resumedFrom !== undefined ? { _data: tokenData(resumedFrom) } : this.history.lastToken();
    for (const event of backlog) cursor.offer(event);
    this.cursors.add(cursor);
    return cursor;
  }

  /** Closes this endpoint's cursors; the engine's history goes on (until the engine closes). */
  close(): void {
    this.history.hubs.delete(this.feed);
    for (const cursor of [...this.cursors]) cursor.close();
  }
}

interface Queued {
  doc: Doc;
  token: { _data: string };
}

export class ChangeStreamCursor implements WireCursor {
  /** The token of the last event this cursor went past (its postBatchResumeToken when idle). */
  position: { _data: string } | undefined;
  private queue: Queued[] = [];
  private invalidated = false;
  private closed = false;
  private failure: unknown;
  private wake: (() => void) | undefined;

  constructor(
    readonly id: Long,
    readonly ns: string,
    private readonly scope: ChangeStreamScope,
    private readonly options: ChangeStreamOptions,
    private readonly pipeline: Doc[],
    private readonly onClose: () => void,
  ) {}

  private inScope(event: ChangeEvent): boolean {
    const { db, coll } = this.scope;
    if (db !== undefined && event.ns.db !== db) return false;
    if (coll !== undefined && event.ns.coll !== coll) return false;
    return true;
  }

  private shape(event: ChangeEvent): Doc {
    const doc = cloneValue(event) as unknown as Doc;
    const wantsFull = this.options.fullDocument !== 'default';
    if (event.operationType === 'update' && !wantsFull) delete doc.fullDocument;
    if (this.options.fullDocumentBeforeChange === 'off') delete doc.fullDocumentBeforeChange;
    return doc;
  }

  offer(event: ChangeEvent): void {
    if (this.closed || this.invalidated || this.failure !== undefined) return;
    const start = this.options.startAtOperationTime;
    if (start !== undefined && !afterTime(event.clusterTime, start)) return;
    this.position = event._id;
    if (this.inScope(event)) {
      try {
        const out =
          this.pipeline.length === 0
            ? [this.shape(event)]
            : runPipeline({ docs: [this.shape(event)], pipeline: this.pipeline });
        for (const doc of out) this.queue.push({ doc, token: event._id });
      } catch (error) {
        this.failure = error;
      }
      const ends =
        (this.scope.coll !== undefined && event.operationType === 'drop') ||
        (this.scope.coll === undefined &&
          this.scope.db !== undefined &&
          event.operationType === 'dropDatabase');
      if (ends) {
        const token = { _data: event._id._data + INVALIDATE_SUFFIX };
        this.queue.push({
          doc: {
            _id: token,
            operationType: 'invalidate',
            clusterTime: event.clusterTime,
            wallTime: event.wallTime,
          },
          token,
        });
        this.invalidated = true;
      }
    }
    if (this.queue.length > RING_CAPACITY)
      this.failure = historyLost('the stream fell too far behind');
    this.wake?.();
  }

  async nextBatch(size: number, maxTimeMS: number | undefined): Promise<Batch> {
    // maxTimeMS < 0: the aggregate's first batch, which never waits.
    const mayWait = maxTimeMS === undefined || maxTimeMS >= 0;
    if (mayWait && this.queue.length === 0 && !this.invalidated && this.failure === undefined) {
      const wait = maxTimeMS !== undefined && maxTimeMS > 0 ? maxTimeMS : DEFAULT_AWAIT_MS;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, wait);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.wake = done;
      });
      this.wake = undefined;
    }
    if (this.failure !== undefined && this.queue.length === 0) throw this.failure;
    const taken: Queued[] = [];
    const docs = fillBatch(
      () => {
        const next = this.queue.shift();
        if (next) taken.push(next);
        return next?.doc;
      },
      (doc) => {
        const back = taken.pop()!;
        this.queue.unshift({ doc, token: back.token });
      },
      size,
    );
    // Past everything queued: the cursor's position; otherwise the last event handed out.
    const resumeToken = this.queue.length === 0 ? this.position : taken.at(-1)?.token;
    return {
      docs,
      done: this.closed || (this.invalidated && this.queue.length === 0),
      extra: resumeToken ? { postBatchResumeToken: { ...resumeToken } } : undefined,
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.wake?.();
    this.onClose();
  }
}
