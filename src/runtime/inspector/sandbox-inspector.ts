/**
 * The sandbox process's half of the debugger (inspect mode): one isolated-vm inspector session on
 * the one inspected isolate, fed by the runner's relay (relay.ts) over IPC. Sessions are local to
 * their isolate, so they live here; the relay (and its WebSocket server) lives in the parent,
 * which outlives any sandbox process. docs/runtime-notes.md, "Inspector (24/26)", has what was
 * measured about isolated-vm's sessions; each workaround below names the failure it prevents.
 */
import type IsolatedVm from 'isolated-vm';
import { isStateCommand, parseCdp, type InspectorAction, type InspectorEvent } from './cdp.js';
import { inspectorRefusal } from './support.js';
import { brief, trace, tracing } from './trace.js';

/** Ids of this process's own messages (replays, nudges): above any id the relay hands out. */
const OWN_IDS_FROM = 1_500_000_000;
/**
 * isolated-vm's paused loop (runMessageLoopOnPause) waits on a condition variable without a
 * predicate: a message that arrives while it handles the previous one can miss its wake-up, and
 * the pause then never ends (2 of 16 pause/resume runs hung). A message still unanswered after
 * this long while paused gets a harmless one sent after it, whose wake-up runs both.
 */
const NUDGE_MS = 30;
/** How long to wait for a busy isolate to delete a closed session before disposing it anyway. */
const SESSION_CLOSE_WAIT_MS = 100;
/**
 * After the debugger left, how long a paused call may wait for V8 to confirm the resume before
 * its time limit counts on anyway (the limit then ends it): a call must never stay paused for a
 * debugger that is gone.
 */
const DETACH_RESUME_MS = 2000;

const PAUSE_EVENT = /^\{"method":"Debugger\.(paused|resumed)"/;

export class SandboxInspector {
  /** Why this Node cannot host a session (Node 26): no session is ever created then. */
  readonly refusal = inspectorRefusal();
  private session: IsolatedVm.InspectorSession | undefined;
  private isolate: IsolatedVm.Isolate | undefined;
  /** The debugger's state commands, in order, for the session of the next isolate. */
  private replay: string[] = [];
  private nextOwnId = OWN_IDS_FROM;
  /** Relay ids sent to the session and not answered yet, with when they were sent. */
  private readonly waiting = new Map<number, number>();
  private paused = false;
  private nudger: NodeJS.Timeout | undefined;
  private readonly pauseListeners = new Set<(paused: boolean) => void>();
  private readonly closing = new WeakSet<IsolatedVm.Isolate>();
  /** Isolates that had a session: disposing one must wait until V8 deleted that session. */
  private readonly inspected = new WeakSet<IsolatedVm.Isolate>();
  /** The own id of the detach's Debugger.disable: its answer means the pause is over. */
  private detachId: number | undefined;
  private detachTimer: NodeJS.Timeout | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly send: (event: InspectorEvent) => void) {}

  get isPaused(): boolean {
    return this.paused;
  }

  /** Calls `listener` on every pause and resume; returns the unsubscribe. */
  onPause(listener: (paused: boolean) => void): () => void {
    this.pauseListeners.add(listener);
    return () => this.pauseListeners.delete(listener);
  }

  /**
   * Runs calls one at a time: a debugger follows one isolate, so inspect mode has one lane and a
   * call waits for the one before it (a paused call holds the next ones back).
   */
  serialize<T>(run: () => Promise<T>): Promise<T> {
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Opens the session of a new inspected isolate and replays the debugger's state into it. */
  attach(isolate: IsolatedVm.Isolate): void {
    if (this.refusal !== undefined) return;
    if (tracing)
      trace(
        'session',
        `attach (had ${this.isolate ? 'one' : 'none'}), replay ${this.replay.length}`,
      );
    if (this.isolate !== undefined && this.isolate !== isolate) this.closeSession();
    const session = isolate.createInspectorSession();
    session.onResponse = (id, message) => this.fromV8(message, id);
    session.onNotification = (message) => this.fromV8(message);
    this.session = session;
    this.isolate = isolate;
    this.inspected.add(isolate);
    if (this.replay.length > 0) {
      // Scripts of the previous isolate are gone (DevTools drops them on this event); the new
      // isolate's scripts arrive as Debugger.scriptParsed once Debugger.enable is replayed.
      this.send({
        kind: 'message',
        message: JSON.stringify({ method: 'Runtime.executionContextsCleared', params: {} }),
      });
      for (const message of this.replay) this.dispatchOwn(message);
    }
  }

  receive(action: InspectorAction): void {
    if (tracing)
      trace(
        'session',
        `<- relay ${action.kind} ${action.kind === 'message' ? brief(action.message) : ''} paused=${this.paused} session=${this.session !== undefined}`,
      );
    switch (action.kind) {
      case 'message': {
        const parsed = parseCdp(action.message);
        if (parsed === undefined || typeof parsed.id !== 'number') return;
        if (isStateCommand(parsed.method)) this.replay.push(action.message);
        if (this.session === undefined) {
          // No isolate yet (the app is loading): state commands apply when one is made.
          const reply = isStateCommand(parsed.method)
            ? { id: parsed.id, result: {} }
            : {
                id: parsed.id,
                error: { code: -32000, message: 'no function context exists yet: call one first' },
              };
          this.send({ kind: 'message', message: JSON.stringify(reply) });
          return;
        }
        this.waiting.set(parsed.id, performance.now());
        this.dispatch(action.message);
        return;
      }
      case 'replay':
        this.replay = [...action.messages];
        for (const message of this.replay) this.dispatchOwn(message);
        return;
      case 'detach':
        this.replay = [];
        if (this.session === undefined) {
          this.setPaused(false);
          return;
        }
        // Disabling drops the debugger's breakpoints and settings and ends a pause. The pause
        // (and its nudges, which this message may need: it can miss its wake-up like any other)
        // lasts until V8 answers it.
        this.detachId = this.dispatchOwn(JSON.stringify({ id: 0, method: 'Debugger.disable' }));
        this.dispatchOwn(JSON.stringify({ id: 0, method: 'Runtime.disable' }));
        clearTimeout(this.detachTimer);
        if (this.paused) {
          this.detachTimer = setTimeout(() => {
            if (tracing) trace('session', 'detach: no resume from V8, the time limit counts on');
            this.setPaused(false);
          }, DETACH_RESUME_MS);
          this.detachTimer.unref();
        }
        return;
    }
  }

  /**
   * Disposes an isolate, its session first. isolated-vm deletes a closed session on the isolate's
   * thread, by an interrupt: disposing the isolate before that interrupt ran crashed the process
   * (SIGSEGV or abort, 2 of 10 runs of 30 cycles; 0 of 10 when waiting for it). An idle isolate
   * has run it when getHeapStatistics answers; a busy one (a call at its time limit) runs
   * interrupts inside its loop, within the short wait.
   */
  dispose(isolate: IsolatedVm.Isolate): void {
    if (tracing) trace('session', `dispose isolate (inspected: ${isolate === this.isolate})`);
    if (this.closing.has(isolate) || isolate.isDisposed) return;
    if (!this.inspected.has(isolate)) {
      isolate.dispose();
      return;
    }
    if (isolate === this.isolate) this.closeSession();
    this.closing.add(isolate);
    let timer: NodeJS.Timeout | undefined;
    void Promise.race([
      isolate.getHeapStatistics().catch(() => undefined),
      new Promise((resolve) => (timer = setTimeout(resolve, SESSION_CLOSE_WAIT_MS))),
    ]).then(() => {
      clearTimeout(timer);
      if (tracing) trace('session', 'dispose isolate: now');
      if (!isolate.isDisposed) isolate.dispose();
    });
  }

  private closeSession(): void {
    const session = this.session;
    if (tracing)
      trace('session', `close session, unanswered: ${[...this.waiting.keys()].join(',')}`);
    this.session = undefined;
    this.isolate = undefined;
    // Commands the closed session will never answer are answered here: a debugger must not wait.
    for (const id of this.waiting.keys()) {
      if (id >= OWN_IDS_FROM) continue;
      const error = {
        code: -32000,
        message:
          "the debugger's session was lost: its isolate was replaced (a reload, a time limit, or its periodic renewal): send it again",
      };
      this.send({ kind: 'message', message: JSON.stringify({ id, error }) });
    }
    this.waiting.clear();
    this.detachId = undefined;
    this.setPaused(false);
    try {
      session?.dispose();
    } catch {
      // Already gone with its isolate.
    }
  }

  private fromV8(message: string, responseId?: number): void {
    if (tracing) trace('session', `<- v8 ${brief(message)}`);
    if (responseId !== undefined) {
      this.waiting.delete(responseId);
      if (responseId === this.detachId) {
        this.detachId = undefined;
        this.setPaused(false);
      }
      if (responseId >= OWN_IDS_FROM) return;
    } else {
      const event = PAUSE_EVENT.exec(message)?.[1];
      if (event !== undefined) this.setPaused(event === 'paused');
    }
    this.send({ kind: 'message', message });
  }

  private setPaused(paused: boolean): void {
    if (this.paused === paused) return;
    if (tracing) trace('session', `paused=${paused}`);
    this.paused = paused;
    clearTimeout(this.detachTimer);
    clearInterval(this.nudger);
    this.nudger = undefined;
    if (paused) this.nudger = setInterval(() => this.nudge(), NUDGE_MS);
    this.send({ kind: 'paused', paused });
    for (const listener of this.pauseListeners) listener(paused);
  }

  private nudge(): void {
    const now = performance.now();
    for (const sent of this.waiting.values()) {
      if (now - sent >= NUDGE_MS) {
        if (tracing) trace('session', 'nudge');
        this.dispatchOwn(JSON.stringify({ id: 0, method: 'Runtime.getIsolateId' }));
        return;
      }
    }
  }

  /**
   * Sends a message whose answer no debugger waits for (replays, nudges, the detach) under an own
   * id, which it returns. It is nudged like the debugger's own messages: a detach's
   * Debugger.disable that missed its wake-up would leave the call paused.
   */
  private dispatchOwn(message: string): number | undefined {
    const parsed = parseCdp(message);
    if (parsed === undefined) return undefined;
    const id = this.nextOwnId++;
    if (this.session !== undefined) this.waiting.set(id, performance.now());
    this.dispatch(JSON.stringify({ ...parsed, id }));
    return id;
  }

  private dispatch(message: string): void {
    if (tracing) trace('session', `-> v8 ${brief(message)}${this.session ? '' : ' (no session)'}`);
    try {
      this.session?.dispatchProtocolMessage(message);
    } catch (error) {
      if (tracing) trace('session', `dispatch failed: ${String(error)}`);
      // The session died with its isolate; the next isolate's session gets the replay.
    }
  }
}

/**
 * A call's wall-time limit that stops while the debugger holds the isolate paused and goes on
 * with what was left when it resumes (a paused call must not be killed as if it ran).
 */
export class TimeLimit {
  private timer: NodeJS.Timeout | undefined;
  private deadline = 0;
  private left: number | undefined;
  private readonly unsubscribe: (() => void) | undefined;

  constructor(
    ms: number,
    private readonly expire: () => void,
    inspector: SandboxInspector | undefined,
  ) {
    this.arm(ms);
    this.unsubscribe = inspector?.onPause((paused) => {
      if (paused && this.left === undefined) {
        clearTimeout(this.timer);
        this.left = Math.max(0, this.deadline - performance.now());
      } else if (!paused && this.left !== undefined) {
        this.arm(this.left);
        this.left = undefined;
      }
    });
  }

  private arm(ms: number): void {
    this.deadline = performance.now() + ms;
    this.timer = setTimeout(this.expire, ms);
  }

  /** What is left of the limit (not counting time spent paused). */
  remainingMs(): number {
    return this.left ?? Math.max(0, this.deadline - performance.now());
  }

  clear(): void {
    clearTimeout(this.timer);
    this.unsubscribe?.();
  }
}
