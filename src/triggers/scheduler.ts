/**
 * Runs SCHEDULED triggers on their CRON (5 fields, UTC: SPEC section 6), with an injectable
 * clock so that tests drive time instead of waiting for it. CRON parsing is cron-parser's.
 */
import { CronExpressionParser } from 'cron-parser';
import type { TriggerDef } from '../app/types.js';

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

/** Why a schedule is not a 5-field CRON expression, or undefined when it is one. */
export function checkSchedule(schedule: string): string | undefined {
  const fields = schedule.trim().split(/\s+/);
  if (fields.length !== 5) {
    return `'${schedule}' has ${fields.length} fields; App Services schedules are 5-field CRON expressions (minute hour day-of-month month day-of-week), in UTC`;
  }
  try {
    CronExpressionParser.parse(schedule, { tz: 'UTC' });
    return undefined;
  } catch (error) {
    return `'${schedule}' is not a valid CRON expression: ${error instanceof Error ? error.message : String(error)}`;
  }
}

/** The next time after `from` at which `schedule` fires (UTC). */
export function nextRun(schedule: string, from: Date): Date {
  return CronExpressionParser.parse(schedule, { currentDate: from, tz: 'UTC' }).next().toDate();
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
      const schedule = trigger.config['schedule'];
      if (trigger.type !== 'SCHEDULED' || trigger.disabled || typeof schedule !== 'string')
        continue;
      if (checkSchedule(schedule) !== undefined) continue;
      this.arm(trigger, schedule, new Date(this.clock.now()));
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
