/**
 * CRON as App Services has it (docs `triggers/scheduled-triggers.txt`, "CRON Expressions"):
 * five fields (minute hour dayOfMonth month weekday), evaluated in UTC; `*`, values, ranges and
 * lists everywhere; month and weekday names as three letters; weekdays 0 (SUN) to 6 (SAT);
 * a step `<expr>/<step>` only in the minute and hour fields, matching the values of `<expr>`
 * where `value % step == 0` (so `10-50/25` is :25 and :50, where standard cron has :10 and :35);
 * a time matches when every field matches (standard cron ORs day-of-month and weekday when both
 * are restricted). Computed here rather than by a cron library, whose steps count from the
 * range's start.
 */

export interface CronSchedule {
  minutes: ReadonlySet<number>;
  hours: ReadonlySet<number>;
  days: ReadonlySet<number>;
  months: ReadonlySet<number>;
  weekdays: ReadonlySet<number>;
}

export interface CronProblem {
  severity: 'error' | 'warning';
  message: string;
  hint: string;
}

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  steps: boolean;
  names?: readonly string[];
}

const FIELDS: readonly FieldSpec[] = [
  { name: 'minute', min: 0, max: 59, steps: true },
  { name: 'hour', min: 0, max: 23, steps: true },
  { name: 'dayOfMonth', min: 1, max: 31, steps: false },
  {
    name: 'month',
    min: 1,
    max: 12,
    steps: false,
    names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'],
  },
  {
    name: 'weekday',
    min: 0,
    max: 6,
    steps: false,
    names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'],
  },
];

const FORMAT = 'minute hour dayOfMonth month weekday, e.g. "*/15 * * * *" or "0 7 * * MON-FRI"';

class CronError extends Error {
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

function value(text: string, field: FieldSpec, item: string): number {
  const named = field.names?.indexOf(text.toUpperCase()) ?? -1;
  const number = named >= 0 ? named + field.min : /^\d+$/.test(text) ? Number(text) : NaN;
  if (Number.isNaN(number)) {
    throw new CronError(
      `'${item}' in the ${field.name} field is not a value`,
      field.names
        ? `use ${field.min}-${field.max} or ${field.names[0]}-${field.names[field.names.length - 1]}; App Services CRON has no ?, L, W or #`
        : `use numbers ${field.min}-${field.max}, *, ranges (a-b) and lists (a,b); App Services CRON has no ?, L, W or #`,
    );
  }
  if (field.name === 'weekday' && number === 7) {
    throw new CronError(
      'weekday 7 is not a day: App Services weekdays are 0 (SUN) to 6 (SAT)',
      'write 0 (or SUN) for Sunday',
    );
  }
  if (number < field.min || number > field.max) {
    throw new CronError(
      `${number} is out of range for the ${field.name} field (${field.min}-${field.max})`,
      `use a ${field.name} from ${field.min} to ${field.max}`,
    );
  }
  return number;
}

/** The values one field matches, and the values standard cron would give (to warn on differences). */
function parseField(
  text: string,
  field: FieldSpec,
): { values: Set<number>; standard: Set<number>; steppedRange: boolean } {
  const values = new Set<number>();
  const standard = new Set<number>();
  let steppedRange = false;
  for (const item of text.split(',')) {
    if (item === '') {
      throw new CronError(
        `the ${field.name} field '${text}' has an empty list item`,
        'separate values with single commas: 1,2,3',
      );
    }
    const [base = '', stepText, extra] = item.split('/');
    if (extra !== undefined) {
      throw new CronError(`'${item}' has more than one '/'`, 'write <range>/<step>, e.g. */15');
    }
    let from: number;
    let to: number;
    if (base === '*') {
      from = field.min;
      to = field.max;
    } else if (base.includes('-')) {
      const [a = '', b = ''] = base.split('-');
      from = value(a, field, item);
      to = value(b, field, item);
      if (from > to) {
        throw new CronError(
          `the range '${base}' in the ${field.name} field runs backwards`,
          `write it from low to high, or as two items: ${a}-${field.max},${field.min}-${b}`,
        );
      }
    } else {
      from = to = value(base, field, item);
    }
    let step = 1;
    if (stepText !== undefined) {
      if (!field.steps) {
        throw new CronError(
          `'${item}': App Services allows steps (/) only in the minute and hour fields, not in ${field.name}`,
          `list the ${field.name} values instead, e.g. ${field.name === 'weekday' ? '1,3,5' : '1,15'}`,
        );
      }
      if (!/^\d+$/.test(stepText) || Number(stepText) === 0) {
        throw new CronError(
          `'${item}': the step must be a whole number above 0`,
          'write e.g. */5 (every value divisible by 5)',
        );
      }
      step = Number(stepText);
      steppedRange ||= base !== '*';
    }
    for (let v = from; v <= to; v++) if (v % step === 0) values.add(v);
    // Standard cron counts a step from the start of the range (a single value: to the end).
    const end = stepText !== undefined && from === to && base !== '*' ? field.max : to;
    for (let v = from; v <= end; v += step) standard.add(v);
  }
  return { values, standard, steppedRange };
}

const list = (values: Iterable<number>): string => [...values].sort((a, b) => a - b).join(', ');

/** Parses a schedule; `problems` holds every error (then no schedule) and warnings. */
export function parseCron(schedule: string): {
  schedule: CronSchedule | undefined;
  problems: CronProblem[];
} {
  const problems: CronProblem[] = [];
  const texts = schedule
    .trim()
    .split(/\s+/)
    .filter((t) => t !== '');
  if (texts.length !== 5) {
    problems.push({
      severity: 'error',
      message: `'${schedule}' has ${texts.length} fields; App Services schedules are 5-field CRON expressions (minute hour day-of-month month day-of-week), in UTC`,
      hint: `write ${FORMAT}${texts.length === 6 ? ' (there is no seconds field)' : ''}`,
    });
    return { schedule: undefined, problems };
  }
  const sets: Set<number>[] = [];
  texts.forEach((text, index) => {
    const field = FIELDS[index]!;
    try {
      const { values, standard, steppedRange } = parseField(text, field);
      if (values.size === 0) {
        problems.push({
          severity: 'error',
          message: `the ${field.name} field '${text}' matches no ${field.name}: a step keeps only the values divisible by it`,
          hint: `App Services fires where value % step == 0; write e.g. */${text.split('/')[1] ?? '5'} or list the ${field.name}s`,
        });
      } else if (steppedRange && list(values) !== list(standard)) {
        problems.push({
          severity: 'warning',
          message: `the ${field.name} field '${text}' fires at ${list(values)} on App Services (values divisible by the step), not at ${list(standard)} as in standard cron`,
          hint: `if you meant ${list(standard)}, list them: ${[...standard].join(',')}`,
        });
      }
      sets.push(values);
    } catch (error) {
      if (!(error instanceof CronError)) throw error;
      problems.push({ severity: 'error', message: error.message, hint: error.hint });
    }
  });
  if (problems.some((p) => p.severity === 'error')) return { schedule: undefined, problems };
  const [minutes, hours, days, months, weekdays] = sets as [
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
  ];
  const parsed: CronSchedule = { minutes, hours, days, months, weekdays };
  if (days.size < 31 && weekdays.size < 7) {
    problems.push({
      severity: 'warning',
      message: `'${schedule}' restricts both the day of month and the weekday: App Services fires only when every field matches (standard cron fires when either day field does)`,
      hint: 'keep one day field * if you meant either day',
    });
  }
  if (nextCronTime(parsed, new Date(Date.UTC(2000, 0, 1))) === undefined) {
    problems.push({
      severity: 'error',
      message: `'${schedule}' never fires: no date has that day of month in those months${weekdays.size < 7 ? ' on those weekdays' : ''}`,
      hint: 'check the day-of-month and month fields (e.g. 30 2 is never a date)',
    });
    return { schedule: undefined, problems };
  }
  return { schedule: parsed, problems };
}

const MINUTE = 60_000;
const DAY = 86_400_000;
/** The Gregorian calendar repeats every 400 years: a schedule with no time in them has none. */
const SEARCH_DAYS = 146_097;

/** The first minute strictly after `from` that the schedule matches (UTC); undefined: never. */
export function nextCronTime(schedule: CronSchedule, from: Date): Date | undefined {
  const start = Math.floor(from.getTime() / MINUTE) * MINUTE + MINUTE;
  let day = Math.floor(start / DAY) * DAY;
  let minuteOfDay = (start - day) / MINUTE;
  for (let i = 0; i <= SEARCH_DAYS; i++, day += DAY, minuteOfDay = 0) {
    const date = new Date(day);
    if (
      !schedule.months.has(date.getUTCMonth() + 1) ||
      !schedule.days.has(date.getUTCDate()) ||
      !schedule.weekdays.has(date.getUTCDay())
    )
      continue;
    for (let m = minuteOfDay; m < 1440; m++) {
      if (schedule.hours.has(Math.floor(m / 60)) && schedule.minutes.has(m % 60)) {
        return new Date(day + m * MINUTE);
      }
    }
  }
  return undefined;
}
