/**
 * Runs SCHEDULED triggers on their CRON (5 fields, UTC, steps as `value % step == 0`: SPEC
 * section 6, triggers/cron.ts), with an injectable clock so that tests drive time instead of
 * waiting for it.
 */
import type { TriggerDef } from '../app/types.js';
import { nextCronTime, parseCron } from './cron.js';
import { scheduledSettings } from './settings.js';

export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** Node timers hold at most 2^31-1 ms; longer waits are re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Why a schedule is not an App Services CRON expression, or undefined when it is one. */
export function checkSchedule(schedule: string): string | undefined {
  const error = parseCron(schedule).problems.find((p) => p.severity === 'error');
  return error === undefined ? undefined : `${error.message} (${error.hint})`;
}

/**
 * The next time after `from` at which `schedule` fires (UTC), by the platform's rules; throws
 * (InvalidInput-style Error) for a schedule that is not valid or never fires.
 */
export function nextRun(schedule: string, from: Date): Date {
  const parsed = parseCron(schedule);
  const at = parsed.schedule && nextCronTime(parsed.schedule, from);
  if (at === undefined) throw new Error(checkSchedule(schedule) ?? `'${schedule}' never fires`);
  return at;
}

export interface SchedulerOptions {
  clock?: Clock | undefined;
  onFire(trigger: TriggerDef, scheduledFor: Date): void;
}

export class Scheduler {
  private readonly clock: Clock;
  private readonly timers = new Map<string, { handle: unknown; at: Date }>();
  private stopped = false;

  constructor(private readonly options: SchedulerOptions) {
    this.clock = options.clock ?? systemClock;
  }

  /** (Re)schedules every enabled SCHEDULED trigger with a valid schedule; drops the others. */
  update(triggers: Iterable<TriggerDef>): void {
    this.clearAll();
    if (this.stopped) return;
    for (const trigger of triggers) {
      const settings = scheduledSettings(trigger);
      if (settings === undefined || trigger.disabled) continue;
      if (checkSchedule(settings.schedule) !== undefined) continue;
      this.arm(trigger, settings.schedule, new Date(this.clock.now()));
    }
  }

  private arm(trigger: TriggerDef, schedule: string, from: Date): void {
    const at = nextRun(schedule, from);
    const wait = (): void => {
      const delay = at.getTime() - this.clock.now();
      const handle = this.clock.setTimeout(
        () => {
          if (this.clock.now() < at.getTime()) return wait();
          this.timers.delete(trigger.name);
          this.arm(trigger, schedule, at);
          this.options.onFire(trigger, at);
        },
        Math.min(Math.max(0, delay), MAX_TIMER_MS),
      );
      this.timers.set(trigger.name, { handle, at });
    };
    wait();
  }

  /** When each scheduled trigger runs next. */
  nextRuns(): { name: string; at: Date }[] {
    return [...this.timers]
      .map(([name, { at }]) => ({ name, at }))
      .sort((a, b) => a.at.getTime() - b.at.getTime());
  }

  private clearAll(): void {
    for (const { handle } of this.timers.values()) this.clock.clearTimeout(handle);
    this.timers.clear();
  }

  stop(): void {
    this.stopped = true;
    this.clearAll();
  }
}

/**
 * A clock that moves only when told: the testing toolkit's fixed clock, and tests that drive the
 * scheduler. `advanceTo` runs every timer due on the way, in time order.
 */
export class ManualClock implements Clock {
  private timers = new Map<number, { at: number; callback: () => void }>();
  private nextId = 1;
  constructor(public time: number) {}
  now(): number {
    return this.time;
  }
  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + ms, callback });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  /** Moves to `to`, running every timer due on the way in time order. */
  advanceTo(to: number): void {
    for (;;) {
      let due: [number, { at: number; callback: () => void }] | undefined;
      for (const entry of this.timers)
        if (entry[1].at <= to && (due === undefined || entry[1].at < due[1].at)) due = entry;
      if (due === undefined) break;
      this.timers.delete(due[0]);
      this.time = Math.max(this.time, due[1].at);
      due[1].callback();
    }
    this.time = to;
  }
}
