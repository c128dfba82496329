/**
 * MongoDB wire-protocol framing (https://www.mongodb.com/docs/manual/reference/mongodb-wire-protocol/):
 * the 16-byte header, OP_MSG (flag bits, one kind-0 body, kind-1 document sequences, the
 * optional CRC-32C checksum), the legacy OP_QUERY that drivers still use for the first
 * handshake, and the OP_MSG / OP_REPLY answers. Everything here is pure: bytes in, documents
 * out, and a WireProtocolError for anything malformed (the endpoint closes that connection).
 */
import { BSON } from 'bson';
import type { Doc } from '../engine/bson-values.js';

export const OP_REPLY = 1;
export const OP_QUERY = 2004;
export const OP_COMPRESSED = 2012;
export const OP_MSG = 2013;

/** The server's maxMessageSizeBytes: no message, in either direction, may be longer. */
export const MAX_MESSAGE_BYTES = 48_000_000;
export const MAX_BSON_OBJECT_BYTES = 16 * 1024 * 1024;

const CHECKSUM_PRESENT = 1 << 0;
export const MORE_TO_COME = 1 << 1;
export const EXHAUST_ALLOWED = 1 << 16;
/** Bits 0-15 are "required": a receiver must refuse a message with one it does not know. */
const KNOWN_REQUIRED_BITS = CHECKSUM_PRESENT | MORE_TO_COME;

/** A message that cannot be read; the connection it came on is closed with this reason. */
export class WireProtocolError extends Error {
  override name = 'WireProtocolError';
}

export interface MessageHeader {
  length: number;
  requestId: number;
  responseTo: number;
  opCode: number;
}

export function readHeader(bytes: Buffer): MessageHeader {
  return {
    length: bytes.readInt32LE(0),
    requestId: bytes.readInt32LE(4),
    responseTo: bytes.readInt32LE(8),
    opCode: bytes.readInt32LE(12),
  };
}

/**
 * Promoting int64 would turn a stored Long into a number; the engine keeps Long as Long, as the
 * server does. Int32 and Double still become JS numbers (the engine's documented storage).
 */
const DESERIALIZE = { promoteLongs: false, validation: { utf8: true } } as const;

function readDocument(bytes: Buffer, at: number, end: number, what: string): [Doc, number] {
  if (at + 5 > end) throw new WireProtocolError(`${what}: truncated BSON document`);
  const size = bytes.readInt32LE(at);
  if (size < 5 || at + size > end)
    throw new WireProtocolError(`${what}: BSON document length ${size} runs past the section`);
  if (size > MAX_BSON_OBJECT_BYTES + 16 * 1024)
    throw new WireProtocolError(`${what}: BSON document of ${size} bytes is over the 16 MB limit`);
  try {
    return [BSON.deserialize(bytes.subarray(at, at + size), DESERIALIZE) as Doc, at + size];
  } catch (error) {
    throw new WireProtocolError(`${what}: invalid BSON (${(error as Error).message})`);
  }
}

function readCString(bytes: Buffer, at: number, end: number, what: string): [string, number] {
  const zero = bytes.indexOf(0, at);
  if (zero < 0 || zero >= end) throw new WireProtocolError(`${what}: unterminated string`);
  return [bytes.toString('utf8', at, zero), zero + 1];
}

export interface OpMsgRequest {
  flags: number;
  /** The kind-0 body with every kind-1 sequence put in as an array under its identifier. */
  command: Doc;
}

export function parseOpMsg(message: Buffer): OpMsgRequest {
  const flags = message.readUInt32LE(16);
  const unknown = flags & 0xffff & ~KNOWN_REQUIRED_BITS;
  if (unknown !== 0)
    throw new WireProtocolError(`OP_MSG: unknown required flag bits 0x${unknown.toString(16)}`);
  let end = message.length;
  if (flags & CHECKSUM_PRESENT) {
    end -= 4;
    if (end < 21) throw new WireProtocolError('OP_MSG: too short for its checksum');
    const expected = message.readUInt32LE(end);
    const actual = crc32c(message.subarray(0, end));
    if (expected !== actual) throw new WireProtocolError('OP_MSG: checksum mismatch');
  }
  let body: Doc | undefined;
  const sequences: [string, Doc[]][] = [];
  let at = 20;
  while (at < end) {
    const kind = message[at]!;
    at += 1;
    if (kind === 0) {
      if (body) throw new WireProtocolError('OP_MSG: more than one body section');
      [body, at] = readDocument(message, at, end, 'OP_MSG body');
    } else if (kind === 1) {
      if (at + 4 > end) throw new WireProtocolError('OP_MSG: truncated document sequence');
      const size = message.readInt32LE(at);
      const stop = at + size;
      if (size < 5 || stop > end)
        throw new WireProtocolError(
          `OP_MSG: document sequence length ${size} runs past the message`,
        );
      let id: string;
      [id, at] = readCString(message, at + 4, stop, 'OP_MSG document sequence');
      const docs: Doc[] = [];
      while (at < stop) {
        let doc: Doc;
        [doc, at] = readDocument(message, at, stop, `OP_MSG sequence '${id}'`);
        docs.push(doc);
      }
      sequences.push([id, docs]);
    } else {
      throw new WireProtocolError(`OP_MSG: unknown section kind ${kind}`);
    }
  }
  if (!body) throw new WireProtocolError('OP_MSG: no body section');
  for (const [id, docs] of sequences) {
    if (Object.hasOwn(body, id))
      throw new WireProtocolError(`OP_MSG: '${id}' is both in the body and a document sequence`);
    body[id] = docs;
  }
  return { flags, command: body };
}

export interface OpQueryRequest {
  collection: string;
  query: Doc;
}

export function parseOpQuery(message: Buffer): OpQueryRequest {
  let at = 20;
  let collection: string;
  [collection, at] = readCString(message, at, message.length, 'OP_QUERY');
  at += 8; // numberToSkip, numberToReturn
  let query: Doc;
  [query, at] = readDocument(message, at, message.length, 'OP_QUERY query');
  // Old drivers wrap the command with its read preference: {$query: {...}, $readPreference}.
  if (query.$query && typeof query.$query === 'object') query = query.$query as Doc;
  return { collection, query };
}

const SERIALIZE = { ignoreUndefined: true } as const;

function header(length: number, requestId: number, responseTo: number, opCode: number): Buffer {
  const bytes = Buffer.alloc(16);
  bytes.writeInt32LE(length, 0);
  bytes.writeInt32LE(requestId, 4);
  bytes.writeInt32LE(responseTo, 8);
  bytes.writeInt32LE(opCode, 12);
  return bytes;
}

export function encodeOpMsg(
  document: Doc,
  requestId: number,
  responseTo: number,
  flags = 0,
): Buffer {
  const body = BSON.serialize(document, SERIALIZE);
  const length = 16 + 4 + 1 + body.length;
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32LE(flags, 0);
  prefix[4] = 0;
  return Buffer.concat([header(length, requestId, responseTo, OP_MSG), prefix, body], length);
}

export function encodeOpReply(document: Doc, requestId: number, responseTo: number): Buffer {
  const body = BSON.serialize(document, SERIALIZE);
  const length = 16 + 20 + body.length;
  const fields = Buffer.alloc(20);
  fields.writeInt32LE(8, 0); // AwaitCapable, as servers set it
  // cursorID (int64) 0 and startingFrom 0 are the zeros Buffer.alloc gave.
  fields.writeInt32LE(1, 16); // numberReturned
  return Buffer.concat([header(length, requestId, responseTo, OP_REPLY), fields, body], length);
}

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32C (Castagnoli), the OP_MSG checksum. */
export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = CRC32C_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
