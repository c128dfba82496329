/**
 * startMongoEndpoint: a loopback MongoDB server over an Engine, so the official drivers (and
 * mongosh, Compass) can write to the same database the triggers watch. It presents one
 * writable primary of a one-node replica set (drivers refuse change streams on a standalone),
 * answers the OP_QUERY handshake with OP_REPLY and everything else over OP_MSG, and streams
 * awaitable hello replies to the drivers' monitors (exhaustAllowed) so they stay connected
 * without polling. No authentication and no TLS: it refuses to listen beyond loopback.
 */
import net from 'node:net';
import { Long, ObjectId } from 'bson';
import { TriggerboxError } from '../../../shared/errors.js';
import { silentLog, type Log } from '../../../shared/log.js';
import type { Doc } from '../engine/bson-values.js';
import type { Engine } from '../engine/types.js';
import { ChangeHub } from './change-streams.js';
import { runCommand, type CommandContext } from './commands.js';
import { CursorRegistry } from './cursors.js';
import {
  EXHAUST_ALLOWED,
  MAX_BSON_OBJECT_BYTES,
  MAX_MESSAGE_BYTES,
  MORE_TO_COME,
  OP_COMPRESSED,
  OP_MSG,
  OP_QUERY,
  WireProtocolError,
  encodeOpMsg,
  encodeOpReply,
  parseOpMsg,
  parseOpQuery,
  readHeader,
} from './messages.js';

export interface MongoEndpointOptions {
  engine: Engine;
  /** A loopback address (default 127.0.0.1); anything else is refused. */
  host?: string | undefined;
  /** 0 or absent: a free port. */
  port?: number | undefined;
  /** Connection problems (malformed messages) are written here as warnings. */
  log?: Log | undefined;
  /** The replica set name drivers see (default 'triggerbox'). */
  replicaSetName?: string | undefined;
  /**
   * Present as a standalone mongod instead (for tests of what clients do with one): hello
   * without setName, hosts or primary, and every $changeStream refused as mongod refuses it
   * (40573, "The $changeStream stage is only supported on replica sets").
   */
  standalone?: boolean | undefined;
}

export interface MongoEndpoint {
  port: number;
  host: string;
  /** mongodb://host:port/ — what a driver connects to. */
  uri: string;
  /** Stops listening, closes every connection and cursor; the engine stays open. */
  close(): Promise<void>;
}

/** MongoDB 8.0; the Node driver 7 accepts 9..29. */
const MAX_WIRE_VERSION = 25;
const LOGICAL_SESSION_TIMEOUT_MINUTES = 30;

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

interface Frame {
  bytes: Buffer;
}

class Connection {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private readonly queue: Frame[] = [];
  private running = false;
  private closed = false;
  private nextRequestId = 1;
  private streamTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly id: number,
    private readonly socket: net.Socket,
    private readonly server: EndpointServer,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => this.dispose());
    socket.on('close', () => this.dispose());
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    while (this.buffered >= 4) {
      const head = this.chunks[0]!.length >= 4 ? this.chunks[0]! : this.collect();
      const length = head.readInt32LE(0);
      if (length < 21 || length > MAX_MESSAGE_BYTES) {
        this.abort(
          length > MAX_MESSAGE_BYTES
            ? `message of ${length} bytes is over the ${MAX_MESSAGE_BYTES}-byte limit`
            : `message length ${length} is too short`,
        );
        return;
      }
      if (this.buffered < length) return;
      const all = this.collect();
      this.queue.push({ bytes: all.subarray(0, length) });
      const rest = all.subarray(length);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.buffered = rest.length;
    }
    // A client that floods requests without reading replies waits for us to catch up.
    if (this.queue.length > 16) this.socket.pause();
    void this.run();
  }

  private collect(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.buffered)];
    return this.chunks[0]!;
  }

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (!this.closed && this.queue.length > 0) {
        const frame = this.queue.shift()!;
        if (this.queue.length <= 4) this.socket.resume();
        await this.handle(frame.bytes);
      }
    } catch (error) {
      if (error instanceof WireProtocolError) this.abort(error.message);
      else this.abort(`internal error: ${(error as Error).message}`);
    } finally {
      this.running = false;
    }
  }

  private send(bytes: Buffer): void {
    if (!this.closed && !this.socket.destroyed) this.socket.write(bytes);
  }

  private async handle(bytes: Buffer): Promise<void> {
    const header = readHeader(bytes);
    if (header.opCode === OP_MSG) {
      const { flags, command } = parseOpMsg(bytes);
      const db = command.$db;
      if (typeof db !== 'string' || db === '')
        throw new WireProtocolError('OP_MSG: the command has no $db');
      if (this.isAwaitableHello(command)) {
        if (flags & EXHAUST_ALLOWED) return this.streamHello(command, header.requestId);
        // Without exhaust: one reply, after maxAwaitTimeMS (an immediate one would make the
        // client's monitor spin).
        if (this.knowsTopology(command)) await this.pause(this.awaitPeriod(command));
      }
      const reply = await runCommand(this.context(db), command);
      if (flags & MORE_TO_COME) return; // w: 0 writes: the client wants no answer
      this.send(this.encode(reply, header.requestId, 'msg'));
      return;
    }
    if (header.opCode === OP_QUERY) {
      const { collection, query } = parseOpQuery(bytes);
      const name = Object.keys(query)[0] ?? '';
      const reply =
        collection.endsWith('.$cmd') && ['hello', 'isMaster', 'ismaster'].includes(name)
          ? await runCommand(this.context(collection.slice(0, -5)), query)
          : {
              ok: 0,
              errmsg: `Unsupported OP_QUERY command: ${name}. The client driver may require an upgrade.`,
              code: 352,
              codeName: 'UnsupportedOpQueryCommand',
            };
      this.send(this.encode(reply, header.requestId, 'reply'));
      return;
    }
    if (header.opCode === OP_COMPRESSED)
      throw new WireProtocolError('OP_COMPRESSED received, but no compressor was agreed');
    throw new WireProtocolError(`unsupported opCode ${header.opCode}`);
  }

  private encode(reply: Doc, responseTo: number, kind: 'msg' | 'reply', flags = 0): Buffer {
    const requestId = this.nextRequestId++;
    try {
      const bytes =
        kind === 'msg'
          ? encodeOpMsg(reply, requestId, responseTo, flags)
          : encodeOpReply(reply, requestId, responseTo);
      if (bytes.length <= MAX_MESSAGE_BYTES) return bytes;
    } catch {
      // Falls through to an error reply the client can read (a value bson cannot encode).
    }
    const error = {
      ok: 0,
      errmsg: `the reply is not encodable as BSON within ${MAX_BSON_OBJECT_BYTES} bytes`,
      code: 10334,
      codeName: 'BSONObjectTooLarge',
    };
    return kind === 'msg'
      ? encodeOpMsg(error, requestId, responseTo, flags)
      : encodeOpReply(error, requestId, responseTo);
  }

  private isAwaitableHello(command: Doc): boolean {
    const name = Object.keys(command)[0];
    return (
      (name === 'hello' || name === 'isMaster' || name === 'ismaster') &&
      command.topologyVersion !== undefined &&
      command.maxAwaitTimeMS !== undefined
    );
  }

  /**
   * The streaming protocol of the drivers' monitors: with exhaustAllowed, the server answers an
   * awaitable hello when the topology changes or maxAwaitTimeMS passes, flags the reply
   * moreToCome, and keeps answering every maxAwaitTimeMS without new requests. Ours never
   * changes, so it is one reply per period until the connection closes.
   */
  private awaitPeriod(command: Doc): number {
    return Math.max(10, Number(command.maxAwaitTimeMS) || 10_000);
  }

  /** The client has our current topologyVersion: nothing to tell it until the period ends. */
  private knowsTopology(command: Doc): boolean {
    const known = command.topologyVersion as { processId?: unknown } | undefined;
    return known?.processId instanceof ObjectId && known.processId.equals(this.server.processId);
  }

  /** Waits, or less if the connection closes. */
  private pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.streamTimer = setTimeout(resolve, ms);
      this.stopStream = resolve;
    });
  }

  private async streamHello(command: Doc, requestId: number): Promise<void> {
    const period = this.awaitPeriod(command);
    const same = this.knowsTopology(command);
    let responseTo = requestId;
    const reply = () => {
      const bytes = this.encode(
        { ...this.server.hello(this.id), ok: 1 },
        responseTo,
        'msg',
        MORE_TO_COME,
      );
      responseTo = bytes.readInt32LE(4);
      this.send(bytes);
    };
    if (!same) reply();
    await new Promise<void>((resolve) => {
      const tick = () => {
        if (this.closed) return resolve();
        reply();
        this.streamTimer = setTimeout(tick, period);
      };
      this.streamTimer = setTimeout(tick, period);
      this.stopStream = resolve;
    });
  }

  private stopStream: (() => void) | undefined;

  private context(db: string): CommandContext {
    return {
      engine: this.server.engine,
      cursors: this.server.cursors,
      hub: this.server.hub,
      db,
      hello: () => this.server.hello(this.id),
      serverStatus: () => this.server.serverStatus(),
    };
  }

  /** Closes this connection only, saying why; the endpoint and other connections go on. */
  abort(reason: string): void {
    if (this.closed) return;
    const peer = `${this.socket.remoteAddress ?? '?'}:${this.socket.remotePort ?? '?'}`;
    this.server.log.write({
      level: 'warn',
      message: `mongo endpoint: closed connection ${this.id} from ${peer}: ${reason}`,
    });
    this.socket.destroy();
    this.dispose();
  }

  dispose(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.streamTimer);
    this.stopStream?.();
    this.queue.length = 0;
    this.chunks = [];
    this.server.connections.delete(this);
    if (!this.socket.destroyed) this.socket.destroy();
  }
}

class EndpointServer {
  readonly cursors = new CursorRegistry();
  readonly hub: ChangeHub;
  readonly connections = new Set<Connection>();
  readonly processId = new ObjectId();
  readonly started = Date.now();
  totalConnections = 0;
  address = '';

  constructor(
    readonly engine: Engine,
    readonly log: Log,
    private readonly setName: string,
    private readonly standalone: boolean,
  ) {
    this.hub = new ChangeHub(engine, { standalone });
  }

  hello(connectionId: number): Doc {
    const member = {
      setName: this.setName,
      setVersion: 1,
      electionId: new ObjectId('7fffffff0000000000000001'),
      hosts: [this.address],
      primary: this.address,
      me: this.address,
      secondary: false,
    };
    return {
      helloOk: true,
      isWritablePrimary: true,
      ismaster: true,
      topologyVersion: { processId: this.processId, counter: Long.ZERO },
      maxBsonObjectSize: MAX_BSON_OBJECT_BYTES,
      maxMessageSizeBytes: MAX_MESSAGE_BYTES,
      maxWriteBatchSize: 100_000,
      localTime: new Date(),
      logicalSessionTimeoutMinutes: LOGICAL_SESSION_TIMEOUT_MINUTES,
      connectionId,
      minWireVersion: 0,
      maxWireVersion: MAX_WIRE_VERSION,
      readOnly: false,
      ...(this.standalone ? {} : member),
    };
  }

  serverStatus(): Doc {
    const uptimeMillis = Date.now() - this.started;
    return {
      host: this.address,
      version: '8.0.0',
      process: 'triggerbox',
      pid: process.pid,
      uptime: Math.floor(uptimeMillis / 1000),
      uptimeMillis,
      localTime: new Date(),
      connections: {
        current: this.connections.size,
        available: 1000,
        totalCreated: this.totalConnections,
      },
    };
  }
}

export async function startMongoEndpoint(options: MongoEndpointOptions): Promise<MongoEndpoint> {
  const host = options.host ?? '127.0.0.1';
  if (!options.engine)
    throw new TriggerboxError('InvalidInput', 'startMongoEndpoint needs an engine');
  if (!isLoopback(host))
    throw new TriggerboxError(
      'InvalidInput',
      `the MongoDB endpoint listens on loopback only (it has no authentication), not on '${host}'`,
      { hint: 'use 127.0.0.1, ::1 or localhost' },
    );
  const state = new EndpointServer(
    options.engine,
    options.log ?? silentLog,
    options.replicaSetName ?? 'triggerbox',
    options.standalone === true,
  );
  const server = net.createServer((socket) => {
    state.totalConnections += 1;
    state.connections.add(new Connection(state.totalConnections, socket, state));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: options.port ?? 0 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as net.AddressInfo).port;
  const hostPart = host.includes(':') ? `[${host}]` : host;
  state.address = `${hostPart}:${port}`;
  let closing: Promise<void> | undefined;
  return {
    port,
    host,
    uri: `mongodb://${hostPart}:${port}/`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const connection of [...state.connections]) connection.dispose();
        state.cursors.closeAll();
        state.hub.close();
      });
      return closing;
    },
  };
}
