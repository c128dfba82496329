/**
 * The runner's half of the debugger (inspect mode): between one debugger client (Chrome DevTools,
 * VS Code, a test; the WebSocket is dev/inspector-server.ts's) and the session in the sandbox
 * process (sandbox-inspector.ts). It lives in the parent because the parent outlives sandbox
 * processes: a new one gets the debugger's breakpoints again, and the endpoint's address stays.
 * It renumbers the debugger's message ids (its own messages then never collide with them), maps
 * the app's files to the file:// URLs their scripts carry, and reports pauses.
 */
import { isAbsolute, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { InspectorPeer } from '../sandbox-process.js';
import { isStateCommand, parseCdp, type InspectorAction, type InspectorEvent } from './cdp.js';
import type { InspectNode } from './node24.js';
import { brief, trace, tracing } from './trace.js';

/** The debugger as the relay sees it: what the WebSocket server hands over. */
export interface InspectorClient {
  send(message: string): void;
  close(reason: string): void;
}

export type RelayEvent =
  | { type: 'attached' }
  | { type: 'detached' }
  /** `where`: `file:line` (1-based) of the top frame, app-relative for the app's files. */
  | { type: 'paused'; where: string; reason: string }
  | { type: 'resumed' };

export class InspectorRelay implements InspectorPeer {
  private client: InspectorClient | undefined;
  private post: ((action: InspectorAction) => void) | undefined;
  /** The debugger's state commands (renumbered), for a new sandbox process. */
  private replay: string[] = [];
  private nextId = 1;
  /** Relay id -> the debugger's id; absent for the relay's own messages. */
  private readonly ids = new Map<number, number>();
  /** Relay ids of the relay's own messages, with what to do with the answer. */
  private readonly own = new Map<number, (result: Record<string, unknown>) => void>();
  private readonly scripts = new Map<string, string>();
  private readonly listeners = new Set<(event: RelayEvent) => void>();
  private readonly runWaiters: (() => void)[] = [];
  /** Whether the debugger was told the isolate is paused (and not yet that it resumed). */
  private paused = false;
  /** The one-shot breakpoint of --inspect-brk, once V8 named it. */
  private startBreakpoint: string | undefined;
  private readonly rootUrl: string;

  /**
   * `sandboxNode`: the Node the sandbox process runs under when it is not this process's
   * (node24.ts); the CLI says so next to the endpoint's address.
   */
  constructor(
    private readonly root: string,
    readonly sandboxNode?: InspectNode,
  ) {
    this.rootUrl = pathToFileURL(root).href.replace(/\/?$/, '/');
  }

  /** The file:// URL that a function file's scripts carry (their sourceURL). */
  urlOf(file: string): string {
    return pathToFileURL(join(this.root, file)).href;
  }

  /** Text with the app's file:// URLs back to app-relative paths (stack traces, trace entries). */
  relativize(text: string): string {
    return text.split(this.rootUrl).join('');
  }

  get attached(): boolean {
    return this.client !== undefined;
  }

  onEvent(listener: (event: RelayEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Resolves once a debugger is attached and has said it is ready (Runtime.runIfWaitingForDebugger,
   * which Chrome DevTools and VS Code send when they have set their breakpoints).
   */
  waitForDebugger(): Promise<void> {
    return new Promise((resolve) => this.runWaiters.push(resolve));
  }

  /**
   * --inspect-brk: the next call pauses on the first line of the first function file it loads
   * (its top level, where `exports = ...` runs), as Node's --inspect-brk pauses on a script's
   * first line.
   */
  breakAtStart(): void {
    const escaped = this.rootUrl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    this.sendOwn(
      'Debugger.setBreakpointByUrl',
      { urlRegex: `^${escaped}functions/`, lineNumber: 0, columnNumber: 0 },
      (result) => {
        if (typeof result['breakpointId'] === 'string')
          this.startBreakpoint = result['breakpointId'];
      },
    );
  }

  /** A debugger connects; undefined when accepted, else why not (one debugger at a time). */
  connect(client: InspectorClient): string | undefined {
    if (this.client !== undefined)
      return 'another debugger is already attached to this triggerbox (one at a time): close it first';
    this.client = client;
    this.emit({ type: 'attached' });
    return undefined;
  }

  disconnect(client: InspectorClient): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.replay = [];
    this.ids.clear();
    this.startBreakpoint = undefined;
    this.post?.({ kind: 'detach' });
    this.emit({ type: 'detached' });
  }

  /** A message from the debugger. */
  fromClient(client: InspectorClient, text: string): void {
    if (this.client !== client) return;
    const message = parseCdp(text);
    if (
      message === undefined ||
      typeof message.id !== 'number' ||
      typeof message.method !== 'string'
    ) {
      client.send(
        JSON.stringify({
          id: typeof message?.id === 'number' ? message.id : 0,
          error: {
            code: -32600,
            message: 'not a Chrome DevTools Protocol command: {id, method, params}',
          },
        }),
      );
      return;
    }
    const id = this.nextId++;
    if (tracing) trace('relay', `<- client #${message.id} ${message.method} as #${id}`);
    this.ids.set(id, message.id);
    const params = message.params;
    if (message.method === 'Debugger.setBreakpointByUrl' && typeof params?.['url'] === 'string')
      params['url'] = this.scriptUrl(params['url']);
    if (message.method === 'Runtime.runIfWaitingForDebugger') {
      for (const resolve of this.runWaiters.splice(0)) resolve();
    }
    const forwarded = JSON.stringify({ ...message, id });
    if (isStateCommand(message.method)) this.replay.push(forwarded);
    if (this.post === undefined) {
      // No sandbox process right now (one exited; the next call starts another): state commands
      // are replayed into it, anything else has nothing to act on. Never left unanswered.
      this.ids.delete(id);
      client.send(
        JSON.stringify(
          isStateCommand(message.method)
            ? { id: message.id, result: {} }
            : {
                id: message.id,
                error: { code: -32000, message: 'no function is running: call one first' },
              },
        ),
      );
      return;
    }
    this.send(forwarded);
  }

  /** A url given to setBreakpointByUrl: an absolute or app-relative path becomes its file:// URL. */
  private scriptUrl(url: string): string {
    if (/^[a-z][a-z0-9+.-]*:/i.test(url)) return url;
    return isAbsolute(url) ? pathToFileURL(url).href : this.urlOf(url);
  }

  started(post: (action: InspectorAction) => void): void {
    if (tracing) trace('relay', `sandbox process started, replay ${this.replay.length}`);
    this.post = post;
    if (this.client !== undefined && this.replay.length > 0)
      post({ kind: 'replay', messages: this.replay });
  }

  /**
   * The sandbox process went away, and its session with it: the debugger's commands in flight get
   * an error now (V8 will never answer them), a pause it was shown ends, and its scripts are gone.
   */
  stopped(why: string): void {
    if (tracing) trace('relay', `sandbox process stopped: ${why}`);
    this.post = undefined;
    this.own.clear();
    const client = this.client;
    const lost = [...this.ids.values()];
    this.ids.clear();
    if (client === undefined) return;
    const message = `the debugger's session was lost: ${why}; the next call runs in a new sandbox process, with the breakpoints set so far`;
    for (const id of lost) client.send(JSON.stringify({ id, error: { code: -32000, message } }));
    if (this.paused) {
      this.paused = false;
      client.send(JSON.stringify({ method: 'Debugger.resumed', params: {} }));
    }
    this.scripts.clear();
    client.send(JSON.stringify({ method: 'Runtime.executionContextsCleared', params: {} }));
  }

  received(event: InspectorEvent): void {
    if (tracing)
      trace(
        'relay',
        `<- sandbox ${event.kind === 'message' ? brief(event.message) : `paused=${event.paused}`}`,
      );
    if (event.kind === 'paused') {
      this.paused = event.paused;
      if (!event.paused) this.emit({ type: 'resumed' });
      return;
    }
    const message = parseCdp(event.message);
    if (message === undefined) return;
    if (typeof message.id === 'number') {
      const ownReply = this.own.get(message.id);
      if (ownReply !== undefined) {
        this.own.delete(message.id);
        ownReply((message['result'] ?? {}) as Record<string, unknown>);
        return;
      }
      const clientId = this.ids.get(message.id);
      this.ids.delete(message.id);
      if (clientId !== undefined) this.client?.send(JSON.stringify({ ...message, id: clientId }));
      return;
    }
    const params = message.params ?? {};
    if (message.method === 'Debugger.scriptParsed') {
      this.scripts.set(String(params['scriptId']), String(params['url'] ?? ''));
    } else if (message.method === 'Runtime.executionContextsCleared') {
      this.scripts.clear();
    } else if (message.method === 'Debugger.paused') {
      this.onPaused(params);
    }
    this.client?.send(event.message);
  }

  private onPaused(params: Record<string, unknown>): void {
    const frames = params['callFrames'] as
      { location?: { scriptId?: string; lineNumber?: number } }[] | undefined;
    const location = frames?.[0]?.location;
    const url = this.scripts.get(String(location?.scriptId)) ?? '';
    const file = url.startsWith(this.rootUrl)
      ? url.slice(this.rootUrl.length)
      : url.startsWith('file:')
        ? fileURLToPath(url)
        : url || '(unknown script)';
    const where = `${file}:${(location?.lineNumber ?? 0) + 1}`;
    const hit = params['hitBreakpoints'] as string[] | undefined;
    if (this.startBreakpoint !== undefined && hit?.includes(this.startBreakpoint)) {
      this.sendOwn('Debugger.removeBreakpoint', { breakpointId: this.startBreakpoint });
      this.startBreakpoint = undefined;
    }
    this.emit({ type: 'paused', where, reason: String(params['reason'] ?? 'other') });
  }

  private sendOwn(
    method: string,
    params: Record<string, unknown>,
    onResult: (result: Record<string, unknown>) => void = () => undefined,
  ): void {
    const id = this.nextId++;
    this.own.set(id, onResult);
    this.send(JSON.stringify({ id, method, params }));
  }

  private send(message: string): void {
    this.post?.({ kind: 'message', message });
  }

  private emit(event: RelayEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  /** The runner is gone: the debugger is told so and let go. */
  dispose(): void {
    this.client?.close('the runner was disposed');
    this.client = undefined;
    for (const resolve of this.runWaiters.splice(0)) resolve();
  }
}
