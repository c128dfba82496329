/** An EngineCursor over a result computed when the cursor was made (a snapshot of the query). */
import type { Doc } from './bson-values.js';
import type { EngineCursor } from './types.js';

export class ArrayCursor implements EngineCursor {
  private position = 0;

  constructor(private docs: Doc[]) {}

  async next(): Promise<Doc | null> {
    return this.position < this.docs.length ? this.docs[this.position++]! : null;
  }

  async nextBatch(size: number): Promise<Doc[]> {
    const batch = this.docs.slice(this.position, this.position + Math.max(1, size));
    this.position += batch.length;
    return batch;
  }

  async toArray(): Promise<Doc[]> {
    const rest = this.docs.slice(this.position);
    this.position = this.docs.length;
    return rest;
  }

  async close(): Promise<void> {
    this.docs = [];
    this.position = 0;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Doc> {
    for (;;) {
      const doc = await this.next();
      if (doc === null) return;
      yield doc;
    }
  }
}
