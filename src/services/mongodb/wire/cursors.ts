/**
 * Server-side cursors of the endpoint. Ids are per endpoint, not per connection: a driver may
 * send a getMore on any connection of its pool. A cursor nobody asked for in 10 minutes is
 * closed, as the server's cursorTimeoutMillis does.
 */
import { BSON, Long } from 'bson';
import type { Doc } from '../engine/bson-values.js';
import type { EngineCursor } from '../engine/types.js';
import { MAX_BSON_OBJECT_BYTES } from './messages.js';

export const DEFAULT_BATCH_SIZE = 101;
const IDLE_TIMEOUT_MS = 10 * 60 * 1000;
/** A reply's batch stays under one BSON object, whatever batchSize asked for. */
const BATCH_BYTES = MAX_BSON_OBJECT_BYTES - 64 * 1024;

export interface Batch {
  docs: Doc[];
  /** No more documents: the reply carries cursor id 0 and the cursor is gone. */
  done: boolean;
  /** Fields added to the reply's `cursor` document (postBatchResumeToken). */
  extra?: Doc | undefined;
}

export interface WireCursor {
  readonly id: Long;
  readonly ns: string;
  /**
   * maxTimeMS bounds an awaitData wait (absent: the server's 1 s; negative: no wait, for the
   * first batch); plain cursors ignore it.
   */
  nextBatch(size: number, maxTimeMS: number | undefined): Promise<Batch>;
  close(): void;
}

/** Takes documents while they fit the size and the batch's byte budget. */
export function fillBatch(take: () => Doc | undefined, putBack: (doc: Doc) => void, size: number) {
  const docs: Doc[] = [];
  let bytes = 0;
  while (docs.length < size) {
    const doc = take();
    if (doc === undefined) break;
    const docBytes = BSON.calculateObjectSize(doc, { ignoreUndefined: true });
    if (docs.length > 0 && bytes + docBytes > BATCH_BYTES) {
      putBack(doc);
      break;
    }
    docs.push(doc);
    bytes += docBytes;
  }
  return docs;
}

/** A find/aggregate result over an EngineCursor; it looks one document ahead to know it ended. */
export class DocumentCursor implements WireCursor {
  private ahead: Doc[] = [];

  constructor(
    readonly id: Long,
    readonly ns: string,
    private readonly source: EngineCursor,
  ) {}

  async nextBatch(size: number): Promise<Batch> {
    // Pull what the batch may need, plus one to tell whether anything is left.
    const want = Math.max(0, size) + 1 - this.ahead.length;
    if (want > 0) this.ahead.push(...(await this.source.nextBatch(want)));
    const docs = fillBatch(
      () => this.ahead.shift(),
      (doc) => this.ahead.unshift(doc),
      size,
    );
    return { docs, done: this.ahead.length === 0 };
  }

  close(): void {
    this.ahead = [];
    void this.source.close();
  }
}

export class CursorRegistry {
  private readonly cursors = new Map<string, { cursor: WireCursor; timer: NodeJS.Timeout }>();
  private nextId = 1 + Math.floor(Math.random() * 1_000_000) * 1_000_000;

  newId(): Long {
    return Long.fromNumber(this.nextId++);
  }

  add(cursor: WireCursor): void {
    this.cursors.set(cursor.id.toString(), { cursor, timer: this.idleTimer(cursor) });
  }

  private idleTimer(cursor: WireCursor): NodeJS.Timeout {
    const timer = setTimeout(() => this.kill(cursor.id), IDLE_TIMEOUT_MS);
    timer.unref();
    return timer;
  }

  /** The cursor for a getMore (its idle clock stops until release), or undefined. */
  take(id: Long): WireCursor | undefined {
    const entry = this.cursors.get(id.toString());
    if (!entry) return undefined;
    clearTimeout(entry.timer);
    return entry.cursor;
  }

  release(cursor: WireCursor, done: boolean): void {
    const entry = this.cursors.get(cursor.id.toString());
    if (!entry) return;
    if (done) {
      this.cursors.delete(cursor.id.toString());
      cursor.close();
    } else {
      entry.timer = this.idleTimer(cursor);
    }
  }

  kill(id: Long): boolean {
    const key = id.toString();
    const entry = this.cursors.get(key);
    if (!entry) return false;
    clearTimeout(entry.timer);
    this.cursors.delete(key);
    entry.cursor.close();
    return true;
  }

  closeAll(): void {
    for (const { cursor } of [...this.cursors.values()]) this.kill(cursor.id);
  }
}
