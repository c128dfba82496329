/**
 * Subscribers to committed changes. The engine hands over each durable Tx; every subscriber
 * gets its own copy of each event it asked for (namespace), with fullDocument and
 * fullDocumentBeforeChange as its options say, so one listener's changes never reach another.
 */
import { cloneValue } from './bson-values.js';
import { buildEvent, resumeToken, type ClusterClock } from './change-events.js';
import type { Tx } from './engine-state.js';
import type * as T from './types.js';

interface Subscriber {
  request: T.WatchRequest;
  listener: T.ChangeListener;
}

export class ChangeFeed {
  private readonly subscribers = new Set<Subscriber>();
  private sequence = 0;

  constructor(
    private readonly clock: ClusterClock,
    private readonly warn: (message: string) => void,
  ) {}

  watch(request: T.WatchRequest, listener: T.ChangeListener): T.ChangeSubscription {
    const sub: Subscriber = { request: { ...request }, listener };
    this.subscribers.add(sub);
    return { close: () => void this.subscribers.delete(sub) };
  }

  clear(): void {
    this.subscribers.clear();
  }

  /** A drop or dropDatabase event, timed now (the DDL operation queues it on its Tx). */
  dropEvent(ns: { db: string; coll?: string }, type: 'drop' | 'dropDatabase'): T.ChangeEvent {
    const time = this.clock.tick();
    return {
      _id: resumeToken(time, this.sequence++),
      operationType: type,
      clusterTime: time,
      wallTime: new Date(),
      ns,
    };
  }

  emit(tx: Tx): void {
    if (this.subscribers.size === 0) return;
    const wallTime = new Date();
    const events = tx.changes.map(({ change, time }) => ({
      change,
      base: buildEvent(change, time, this.sequence++, wallTime),
    }));
    for (const sub of this.subscribers) {
      const { request } = sub;
      for (const { change, base } of events) {
        if (request.db !== undefined && request.db !== change.ns.db) continue;
        if (request.coll !== undefined && request.coll !== change.ns.coll) continue;
        const event: T.ChangeEvent = {
          ...base,
          ns: { ...base.ns },
          documentKey: cloneValue(base.documentKey),
        };
        if (base.updateDescription) event.updateDescription = cloneValue(base.updateDescription);
        const op = change.operationType;
        const wantsFull = request.fullDocument !== undefined && request.fullDocument !== 'default';
        if (op === 'insert' || op === 'replace' || (op === 'update' && wantsFull))
          event.fullDocument = cloneValue(change.after!);
        const before = request.fullDocumentBeforeChange;
        if (before !== undefined && before !== 'off' && op !== 'insert')
          event.fullDocumentBeforeChange = cloneValue(change.before!);
        this.deliver(sub, event);
      }
      for (const other of tx.otherEvents) {
        if (request.db !== undefined && request.db !== other.ns.db) continue;
        if (
          request.coll !== undefined &&
          other.ns.coll !== undefined &&
          request.coll !== other.ns.coll
        )
          continue;
        this.deliver(sub, cloneValue(other));
      }
    }
  }

  private deliver(sub: Subscriber, event: T.ChangeEvent): void {
    try {
      sub.listener(event);
    } catch (error) {
      this.warn(`a change listener failed: ${(error as Error).message}`);
    }
  }
}
