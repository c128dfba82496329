/**
 * A Chrome DevTools Protocol client for the debugger tests: Node's own WebSocket client, commands
 * answered by id, notifications awaited by method (no wall-clock limits: the test runner's own
 * timeout catches a hang).
 */
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
  }[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(private readonly socket: WebSocket) {
    socket.addEventListener('message', (event) => this.onMessage(String(event.data)));
    this.closed = new Promise((resolve) =>
      socket.addEventListener('close', (event) =>
        resolve({ code: event.code, reason: event.reason }),
      ),
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
      this.replies.set(id, { resolve, reject });
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
    return new Promise((resolve) => this.waiters.push({ method, test, resolve }));
  }

  close(): void {
    this.socket.close();
  }

  private onMessage(text: string): void {
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
