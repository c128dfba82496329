/**
 * DATABASE triggers from writes: subscribes to the engine's change feed and, for every committed
 * document change, runs each enabled DATABASE trigger whose database, collection (or whole
 * database), operation_types, match and project accept the event, as the system user, after the
 * write has returned (SPEC section 6). The event carries fullDocument on updates only for a
 * trigger with full_document, and fullDocumentBeforeChange only with full_document_before_change.
 *
 * Loops: a function's writes carry the chain of triggers that led to its call (the service op's
 * origin, read back from the committing write by `originOf`); an event whose chain is already
 * `maxDepth` triggers deep is not dispatched, with a warning naming the chain.
 *
 * Order: firings of one trigger run one after another in commit order (the platform's default,
 * ordered); a trigger with `unordered: true` runs each firing at once.
 */
import type { TriggerDef } from '../app/types.js';
import type { CallOrigin } from '../runtime/boundary/services.js';
import type { LogLine } from '../runtime/protocol.js';
import type { FunctionRunner, TriggerRun } from '../runtime/runner.js';
import type {
  ChangeEvent,
  ChangeListener,
  ChangeSubscription,
  Engine,
} from '../services/mongodb/index.js';
import { currentWriteOrigin } from '../services/mongodb/service.js';
import { messageOf, TriggerboxError } from '../shared/errors.js';
import { applyFilters } from './filters.js';
import { databaseSettings } from './settings.js';

/** How many triggers deep a chain of trigger-caused writes may go. */
export const MAX_TRIGGER_DEPTH = 8;

export interface TriggerFiring {
  /** Numbers the firings of one dispatcher in the order they were dispatched. */
  id: number;
  trigger: string;
  /** The event's operationType (insert, update, replace, delete). */
  operationType: string;
  ns: { db: string; coll?: string | undefined };
  /** The event's documentKey._id. */
  key: unknown;
  /** The triggers that led here, this one last (length 1: a write nobody's trigger made). */
  chain: string[];
  durationMs: number;
  result?: TriggerRun | undefined;
  error?: TriggerboxError | undefined;
}

export interface DispatcherOptions {
  engine: Engine;
  runner: Pick<FunctionRunner, 'fireTrigger'>;
  /** The app's triggers now (dev reloads them). */
  triggers: () => Iterable<TriggerDef>;
  maxDepth?: number | undefined;
  /** A firing's function is about to run (the event passed its filters). */
  onStart?: ((firing: Omit<TriggerFiring, 'durationMs'>) => void) | undefined;
  /** Each console line of a firing's function, as it happens. */
  onLog?: ((firing: Omit<TriggerFiring, 'durationMs'>, line: LogLine) => void) | undefined;
  /** A firing finished (its result or its error). */
  onFiring?: ((firing: TriggerFiring) => void) | undefined;
  warn: (message: string) => void;
  /**
   * Where events come from (default: one `engine.watch` with both images). Real-cluster mode
   * passes its namespace-scoped change streams with resume tokens (dev/cluster-feed.ts).
   */
  subscribe?: ((listener: ChangeListener) => ChangeSubscription) | undefined;
  /**
   * Which data sources' triggers this dispatcher runs, by the trigger's `service_name`
   * (default: all). With real-cluster mode each engine has its own dispatcher.
   */
  serves?: ((serviceName: string | undefined) => boolean) | undefined;
  /** The origin of the write being committed (default: the mongodb service's). */
  originOf?: (() => CallOrigin | undefined) | undefined;
}

const DOCUMENT_OPERATIONS = new Set(['insert', 'update', 'replace', 'delete']);

export class TriggerDispatcher {
  private readonly subscription: ChangeSubscription;
  private readonly queues = new Map<string, Promise<void>>();
  private pending = 0;
  private waiters: (() => void)[] = [];
  private closed = false;
  private readonly maxDepth: number;
  private sequence = 0;

  constructor(private readonly options: DispatcherOptions) {
    this.maxDepth = options.maxDepth ?? MAX_TRIGGER_DEPTH;
    // One subscription with both images; each trigger's event keeps what its config asks for.
    const listener: ChangeListener = (event) => this.dispatch(event);
    this.subscription =
      options.subscribe?.(listener) ??
      options.engine.watch(
        { fullDocument: 'updateLookup', fullDocumentBeforeChange: 'whenAvailable' },
        listener,
      );
  }

  /** Whether any enabled DATABASE trigger exists (callers may skip waiting otherwise). */
  hasTriggers(): boolean {
    for (const t of this.options.triggers())
      if (t.type === 'DATABASE' && !t.disabled && this.servesTrigger(t)) return true;
    return false;
  }

  private servesTrigger(trigger: TriggerDef): boolean {
    const serves = this.options.serves;
    return serves === undefined || serves(databaseSettings(trigger)?.serviceName);
  }

  /** Resolves once no firing is queued or running, cascades included. */
  settled(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Stops dispatching new events; firings already queued still run (await settled()). */
  close(): void {
    this.closed = true;
    this.subscription.close();
  }

  private dispatch(event: ChangeEvent): void {
    if (this.closed || !DOCUMENT_OPERATIONS.has(event.operationType)) return;
    const chain = [...((this.options.originOf ?? currentWriteOrigin)()?.triggers ?? [])];
    for (const trigger of this.options.triggers()) {
      if (trigger.type !== 'DATABASE' || trigger.disabled) continue;
      const settings = databaseSettings(trigger);
      if (settings === undefined) continue;
      if (this.options.serves !== undefined && !this.options.serves(settings.serviceName)) continue;
      const shaped: Record<string, unknown> = { ...event };
      if (event.operationType === 'update' && !settings.fullDocument) delete shaped['fullDocument'];
      if (!settings.fullDocumentBeforeChange) delete shaped['fullDocumentBeforeChange'];
      let fires: boolean;
      try {
        fires = applyFilters(trigger, shaped).fires;
      } catch (error) {
        this.options.warn(`trigger '${trigger.name}': ${messageOf(error)}; not fired`);
        continue;
      }
      if (!fires) continue;
      const firing = {
        id: this.sequence++,
        trigger: trigger.name,
        operationType: event.operationType,
        ns: { ...event.ns },
        key: event.documentKey?._id,
        chain: [...chain, trigger.name],
      };
      if (chain.length >= this.maxDepth) {
        this.options.warn(
          `trigger loop stopped: ${firing.chain.join(' -> ')} would be ${firing.chain.length} triggers deep, past the limit of ${this.maxDepth} (each function writes what fires the next); '${trigger.name}' was not fired for this ${event.operationType} on ${event.ns.db}.${event.ns.coll ?? ''}`,
        );
        continue;
      }
      this.enqueue(firing, shaped, settings.unordered);
    }
  }

  private enqueue(
    firing: Omit<TriggerFiring, 'durationMs'>,
    event: Record<string, unknown>,
    unordered: boolean,
  ): void {
    this.pending++;
    // After the write has returned to its caller: the listener runs inside the commit.
    const previous = unordered
      ? Promise.resolve()
      : (this.queues.get(firing.trigger) ?? Promise.resolve());
    const run = previous.then(() =>
      new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.fire(firing, event)),
    );
    if (!unordered) {
      const tail = run.then(() => {
        if (this.queues.get(firing.trigger) === tail) this.queues.delete(firing.trigger);
      });
      this.queues.set(firing.trigger, tail);
    }
    void run.finally(() => {
      this.pending--;
      if (this.pending === 0) for (const resolve of this.waiters.splice(0)) resolve();
    });
  }

  private async fire(
    firing: Omit<TriggerFiring, 'durationMs'>,
    event: Record<string, unknown>,
  ): Promise<void> {
    const started = performance.now();
    let done: TriggerFiring;
    try {
      this.options.onStart?.(firing);
      const result = await this.options.runner.fireTrigger(firing.trigger, event, {
        origin: { triggers: firing.chain },
        onLog: (line) => this.options.onLog?.(firing, line),
      });
      done = { ...firing, durationMs: performance.now() - started, result };
    } catch (error) {
      done = {
        ...firing,
        durationMs: performance.now() - started,
        error:
          error instanceof TriggerboxError
            ? error
            : new TriggerboxError('FunctionExecutionError', messageOf(error)),
      };
    }
    try {
      this.options.onFiring?.(done);
    } catch (error) {
      this.options.warn(`reporting trigger '${firing.trigger}' failed: ${messageOf(error)}`);
    }
  }
}
