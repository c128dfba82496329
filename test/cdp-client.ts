/**
 * A Chrome DevTools Protocol client for the debugger tests: Node's own WebSocket client, commands
 * answered by id, notifications awaited by method. What is still awaited when the connection
 * closes is rejected; no wall-clock limits here (the tests' own `timeout` catches a hang).
 */
import { brief, trace, tracing } from '../src/runtime/inspector/trace.js';

export interface CdpNotification {
  method: string;
  params: Record<string, unknown>;
}

export class CdpClient {
  private nextId = 1;
  private readonly replies = new Map<
    number,
    { resolve(value: Record<string, unknown>): void; reject(error: Error): void }
  >();
  private readonly seen: CdpNotification[] = [];
  private readonly waiters: {
    method: string;
    test: (params: Record<string, unknown>) => boolean;
    resolve(value: CdpNotification): void;
    reject(error: Error): void;
  }[] = [];
  private closedWith: Error | undefined;
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(private readonly socket: WebSocket) {
    socket.addEventListener('message', (event) => this.onMessage(String(event.data)));
    this.closed = new Promise((resolve) =>
      socket.addEventListener('close', (event) => {
        this.closedWith = new Error(
          `the debugger connection closed (${event.code} ${event.reason})`,
        );
        for (const reply of this.replies.values()) reply.reject(this.closedWith);
        this.replies.clear();
        for (const waiter of this.waiters.splice(0)) waiter.reject(this.closedWith);
        resolve({ code: event.code, reason: event.reason });
      }),
    );
  }

  static connect(url: string): Promise<CdpClient> {
    const socket = new WebSocket(url);
    return new Promise((resolve, reject) => {
      socket.addEventListener('open', () => resolve(new CdpClient(socket)));
      socket.addEventListener('error', () => reject(new Error(`cannot connect to ${url}`)));
    });
  }

  send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.closedWith !== undefined) return reject(this.closedWith);
      this.replies.set(id, { resolve, reject });
      if (tracing) trace('client', `-> #${id} ${method}`);
      this.socket.send(JSON.stringify({ id, method, params }));
    });
  }

  /** The next (or an already seen, not yet taken) notification `method` that passes `test`. */
  next(
    method: string,
    test: (params: Record<string, unknown>) => boolean = () => true,
  ): Promise<CdpNotification> {
    const index = this.seen.findIndex((n) => n.method === method && test(n.params));
    if (index >= 0) return Promise.resolve(this.seen.splice(index, 1)[0] as CdpNotification);
    if (tracing) trace('client', `waits for ${method}`);
    return new Promise((resolve, reject) => {
      if (this.closedWith !== undefined) return reject(this.closedWith);
      this.waiters.push({ method, test, resolve, reject });
    });
  }

  close(): void {
    this.socket.close();
  }

  private onMessage(text: string): void {
    if (tracing) trace('client', `<- ${brief(text)}`);
    const message = JSON.parse(text) as {
      id?: number;
      method?: string;
      params?: Record<string, unknown>;
      result?: Record<string, unknown>;
      error?: { message: string };
    };
    if (typeof message.id === 'number') {
      const reply = this.replies.get(message.id);
      this.replies.delete(message.id);
      if (message.error) reply?.reject(new Error(message.error.message));
      else reply?.resolve(message.result ?? {});
      return;
    }
    const notification = { method: String(message.method), params: message.params ?? {} };
    const waiter = this.waiters.findIndex(
      (w) => w.method === notification.method && w.test(notification.params),
    );
    if (waiter >= 0) this.waiters.splice(waiter, 1)[0]?.resolve(notification);
    else this.seen.push(notification);
  }
}
