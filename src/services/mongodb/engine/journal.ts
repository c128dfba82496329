/**
 * The store's one file, `journal.tbj`: an append-only sequence of frames. A frame is one
 * group commit (every write that arrived while the previous fsync ran): a 12-byte header
 * (magic, payload length, CRC-32 of the payload) and a payload of BSON records. A write is
 * acknowledged only after the frame holding it is fdatasync'ed, so a kill -9 (or power loss)
 * can only tear the frame that no caller was told about yet: on open, an invalid frame that
 * reaches the end of the file is dropped with a warning; an invalid frame followed by more data
 * is damage, reported as MongoStoreCorrupt naming the file and offset, with nothing changed.
 * Compaction writes the live state to a temp file, fsyncs it and renames it over the journal.
 */
import {
  closeSync,
  existsSync,
  fdatasync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readFileSync,
  renameSync,
  write,
  writeSync,
} from 'node:fs';
import { promisify } from 'node:util';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { BSON } from 'bson';
import { syncDirectory } from '../../../shared/atomic-file.js';
import { TriggerboxError } from '../../../shared/errors.js';
import type { Doc } from './bson-values.js';

const MAGIC = 0x54424a31; // "TBJ1"
const HEADER = 12;

/** How stored values come back: Int32/Double as JS numbers, Long/Decimal128/Binary as themselves. */
const writeAt = promisify(write);
const datasync = promisify(fdatasync);

const READ_OPTIONS = { promoteLongs: false, promoteValues: true, promoteBuffers: false } as const;

export function encodeRecord(record: Doc): Buffer {
  return Buffer.from(BSON.serialize(record, { checkKeys: false, ignoreUndefined: true }));
}

function frame(records: Buffer[]): Buffer {
  const payload = Buffer.concat(records);
  const header = Buffer.alloc(HEADER);
  header.writeUInt32LE(MAGIC, 0);
  header.writeUInt32LE(payload.length, 4);
  header.writeUInt32LE(crc32(payload), 8);
  return Buffer.concat([header, payload]);
}

function corrupt(file: string, offset: number, what: string): TriggerboxError {
  return new TriggerboxError(
    'MongoStoreCorrupt',
    `the local database file ${file} is damaged at byte ${offset}: ${what}`,
    {
      hint: `nothing was changed; restore the file from a backup, or move it away (or run \`triggerbox db reset\`) to start with an empty database`,
    },
  );
}

function decodePayload(file: string, offset: number, payload: Buffer): Doc[] {
  const records: Doc[] = [];
  let at = 0;
  while (at < payload.length) {
    const size = payload.readInt32LE(at);
    if (size < 5 || at + size > payload.length)
      throw corrupt(file, offset + HEADER + at, 'a record overruns its frame');
    try {
      records.push(BSON.deserialize(payload.subarray(at, at + size), READ_OPTIONS) as Doc);
    } catch (error) {
      throw corrupt(
        file,
        offset + HEADER + at,
        `a record is not valid BSON (${(error as Error).message})`,
      );
    }
    at += size;
  }
  return records;
}

export interface JournalOpen {
  journal: Journal;
  /** Every record in commit order, to replay. */
  records: Doc[];
}

export interface JournalOptions {
  dir: string;
  /** fdatasync each group commit before acknowledging (default true). */
  durable?: boolean | undefined;
  warn?: ((message: string) => void) | undefined;
}

export class Journal {
  private pending: Buffer[] = [];
  private waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private flushing = false;
  private failure: unknown;
  /** Called when the journal is idle and everything appended is durable (compaction's moment). */
  onIdle: (() => void) | undefined;

  private constructor(
    readonly file: string,
    private fd: number,
    private size: number,
    private readonly durable: boolean,
  ) {}

  get bytes(): number {
    return this.size;
  }

  /** Reads and checks the whole file; drops a torn last frame; creates the file if absent. */
  static async open(options: JournalOptions): Promise<JournalOpen> {
    const file = path.join(options.dir, 'journal.tbj');
    const records: Doc[] = [];
    let valid = 0;
    if (existsSync(file)) {
      const data = readFileSync(file);
      let at = 0;
      while (at < data.length) {
        const problem = frameProblem(data, at);
        if (problem !== undefined) {
          if (!isTornTail(data, at)) throw corrupt(file, at, problem);
          options.warn?.(
            `the local database ${file} ended with an incomplete write (${data.length - at} bytes at byte ${at}, never acknowledged); it was dropped`,
          );
          break;
        }
        const length = data.readUInt32LE(at + 4);
        records.push(...decodePayload(file, at, data.subarray(at + HEADER, at + HEADER + length)));
        at += HEADER + length;
        valid = at;
      }
      if (valid < data.length) {
        // Cut the torn tail only now that everything before it is known good.
        const fd = openSync(file, 'r+');
        try {
          ftruncateSync(fd, valid);
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
      }
    }
    const fd = openSync(file, 'a+');
    if (valid === 0) syncDirectory(options.dir);
    return { journal: new Journal(file, fd, valid, options.durable !== false), records };
  }

  /** Resolves once the records are durable (one fdatasync per group of concurrent writes). */
  append(records: Buffer[]): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.broken());
    return new Promise((resolve, reject) => {
      this.pending.push(...records);
      this.waiters.push({ resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private broken(): TriggerboxError {
    return new TriggerboxError(
      'MongoStoreClosed',
      `the local database ${this.file} could not be written: ${String((this.failure as Error)?.message ?? this.failure)}`,
      {
        hint: 'free disk space or fix the folder permissions, then restart; acknowledged writes are safe',
      },
    );
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    while (this.pending.length > 0) {
      const batch = frame(this.pending);
      const waiters = this.waiters;
      this.pending = [];
      this.waiters = [];
      try {
        let written = 0;
        while (written < batch.length)
          written += (
            await writeAt(this.fd, batch, written, batch.length - written, this.size + written)
          ).bytesWritten;
        if (this.durable) await datasync(this.fd);
        this.size += batch.length;
        for (const w of waiters) w.resolve();
      } catch (error) {
        this.failure = error;
        for (const w of [...waiters, ...this.waiters]) w.reject(this.broken());
        this.waiters = [];
        this.pending = [];
      }
    }
    this.flushing = false;
    if (this.failure === undefined) this.onIdle?.();
  }

  /** Whether appends are in flight (compaction waits for none). */
  get busy(): boolean {
    return this.flushing || this.pending.length > 0;
  }

  /**
   * Replaces the file with these records (the live state), atomically. Synchronous on purpose:
   * no append can start between the snapshot and the switch to the new file.
   */
  rewrite(records: Buffer[]): void {
    if (this.busy) return;
    const temp = `${this.file}.compact.tmp`;
    const data = frame(records);
    const fd = openSync(temp, 'w');
    try {
      let written = 0;
      while (written < data.length) written += writeSync(fd, data, written);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, this.file);
    syncDirectory(path.dirname(this.file));
    closeSync(this.fd);
    this.fd = openSync(this.file, 'a+');
    this.size = data.length;
  }

  async close(): Promise<void> {
    while (this.flushing) await new Promise((r) => setImmediate(r));
    closeSync(this.fd);
  }
}

/**
 * Whether bad bytes at `at` are the torn end of the last write rather than damage: a cut-short
 * frame (its header says it runs past the end: a partial write), a checksum failure on the frame
 * that ends the file, or nothing but zeros (blocks allocated but never written).
 */
function isTornTail(data: Buffer, at: number): boolean {
  const rest = data.subarray(at);
  if (rest.every((b) => b === 0) || rest.length < 4) return true;
  if (rest.readUInt32LE(0) !== MAGIC) return false;
  if (rest.length < HEADER) return true;
  return HEADER + rest.readUInt32LE(4) >= rest.length;
}

function frameProblem(data: Buffer, at: number): string | undefined {
  if (data.length - at < HEADER) return 'a frame header is cut short';
  if (data.readUInt32LE(at) !== MAGIC) return 'a frame does not start with the journal marker';
  const length = data.readUInt32LE(at + 4);
  if (at + HEADER + length > data.length) return 'a frame is cut short';
  if (crc32(data.subarray(at + HEADER, at + HEADER + length)) !== data.readUInt32LE(at + 8))
    return 'a frame fails its checksum';
  return undefined;
}
