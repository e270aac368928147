/**
 * EventBridge cron expressions: `cron(minutes hours day-of-month month day-of-week year)`.
 * Validated the way EventBridge does (so `cdk synth` fails, not the deployment) and evaluated to
 * the next run times, in UTC or in an IANA time zone (EventBridge Scheduler).
 *
 * Fields: minutes 0-59, hours 0-23, day-of-month 1-31 (`L`, `W`, `?`), month 1-12 or JAN-DEC,
 * day-of-week 1-7 or SUN-SAT with 1 = Sunday (`L`, `#`, `?`), year 1970-2199. Exactly one of
 * day-of-month and day-of-week must be `?`.
 *
 * Our own because no maintained parser does both halves (checked 2026-12-01): aws-cron-parser
 * 1.1.12 accepts `0 2 * * * *`, which EventBridge refuses (both day fields set), throws a
 * TypeError on malformed input instead of naming the field, and has no time zones; croner 11 and
 * cron-parser 5 read other dialects (a seconds field first, `?` as a plain wildcard): croner takes
 * the default `0 2 * * ? *` as second 0 of minute 2 of every hour. The tests in cron.test.ts pin
 * the behaviour.
 */

export class CronError extends Error {
  override readonly name = 'CronError';
  constructor(
    readonly expression: string,
    /** Why the expression is not accepted, without the expression or the help text. */
    readonly reason: string,
  ) {
    super(`${JSON.stringify(expression)}: ${reason}. ${CRON_HELP}`);
  }
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

interface FieldSpec {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
}
const FIELDS: readonly FieldSpec[] = [
  { name: 'minutes', min: 0, max: 59 },
  { name: 'hours', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS },
  { name: 'day-of-week', min: 1, max: 7, names: DAYS },
  { name: 'year', min: 1970, max: 2199 },
];

type DayOfMonth = { kind: 'any' } | { kind: 'set'; values: Set<number> } | { kind: 'last'; offset: number } | { kind: 'weekday'; day: number } | { kind: 'lastWeekday' };
type DayOfWeek = { kind: 'any' } | { kind: 'set'; values: Set<number> } | { kind: 'last'; day: number } | { kind: 'nth'; day: number; n: number };

export interface Cron {
  readonly expression: string;
  readonly minutes: readonly number[];
  readonly hours: readonly number[];
  readonly dayOfMonth: DayOfMonth;
  readonly months: Set<number>;
  readonly dayOfWeek: DayOfWeek;
  readonly years: Set<number>;
}

export const CRON_HELP = 'Use cron(minutes hours day-of-month month day-of-week year) with "?" in exactly one of the two day fields, e.g. cron(0 2 * * ? *) for 02:00 every day.';

export function parseCron(expression: string): Cron {
  const match = /^cron\((.*)\)$/.exec(expression.trim());
  if (!match) throw new CronError(expression, 'it is not written as cron(...)');
  const parts = match[1]!.trim().split(/\s+/);
  if (parts.length !== 6) throw new CronError(expression, `it has ${parts.length} fields; EventBridge cron has 6 (the year is required)`);
  const [min, hour, dom, mon, dow, year] = parts as [string, string, string, string, string, string];
  if ((dom === '?') === (dow === '?')) {
    throw new CronError(expression, `exactly one of day-of-month (${dom}) and day-of-week (${dow}) must be "?"`);
  }
  const fail = (field: FieldSpec, text: string, why: string): never => {
    throw new CronError(expression, `the ${field.name} field ${JSON.stringify(text)} ${why}`);
  };
  return {
    expression,
    minutes: [...parseSet(min, FIELDS[0]!, fail)].sort((a, b) => a - b),
    hours: [...parseSet(hour, FIELDS[1]!, fail)].sort((a, b) => a - b),
    dayOfMonth: parseDayOfMonth(dom, FIELDS[2]!, fail),
    months: parseSet(mon, FIELDS[3]!, fail),
    dayOfWeek: parseDayOfWeek(dow, FIELDS[4]!, fail),
    years: parseSet(year, FIELDS[5]!, fail),
  };
}

type Fail = (field: FieldSpec, text: string, why: string) => never;

function parseValue(text: string, field: FieldSpec, fail: Fail): number {
  const named = field.names?.indexOf(text.toUpperCase()) ?? -1;
  const n = named >= 0 ? named + 1 : /^\d+$/.test(text) ? Number(text) : NaN;
  if (Number.isNaN(n)) fail(field, text, `is not a number${field.names ? ` or one of ${field.names.join(', ')}` : ''}`);
  if (n < field.min || n > field.max) fail(field, text, `is out of range ${field.min}-${field.max}`);
  return n;
}

function parseSet(text: string, field: FieldSpec, fail: Fail): Set<number> {
  const values = new Set<number>();
  for (const item of text.split(',')) {
    if (item === '') fail(field, text, 'has an empty list item');
    const [range, stepText] = item.split('/') as [string, string | undefined];
    const step = stepText === undefined ? 1 : /^\d+$/.test(stepText) && Number(stepText) > 0 ? Number(stepText) : fail(field, text, `has a bad step ${JSON.stringify(stepText)}`);
    let from: number;
    let to: number;
    if (range === '*') [from, to] = [field.min, field.max];
    else if (range.includes('-')) {
      const [a, b] = range.split('-') as [string, string];
      [from, to] = [parseValue(a, field, fail), parseValue(b, field, fail)];
      if (from > to) fail(field, text, `has a range that runs backwards (${range})`);
    } else {
      from = parseValue(range, field, fail);
      to = stepText === undefined ? from : field.max;
    }
    for (let v = from; v <= to; v += step) values.add(v);
  }
  return values;
}

function parseDayOfMonth(text: string, field: FieldSpec, fail: Fail): DayOfMonth {
  if (text === '?') return { kind: 'any' };
  if (text === 'L') return { kind: 'last', offset: 0 };
  if (text === 'LW') return { kind: 'lastWeekday' };
  const lastOffset = /^L-(\d+)$/.exec(text);
  if (lastOffset) return { kind: 'last', offset: parseValue(lastOffset[1]!, { ...field, min: 0, max: 30 }, fail) };
  const weekday = /^(\d+)W$/.exec(text);
  if (weekday) return { kind: 'weekday', day: parseValue(weekday[1]!, field, fail) };
  if (/[LW#]/.test(text)) fail(field, text, 'uses L or W in a way EventBridge does not accept (L, L-3, LW, 15W)');
  return { kind: 'set', values: parseSet(text, field, fail) };
}

function parseDayOfWeek(text: string, field: FieldSpec, fail: Fail): DayOfWeek {
  if (text === '?') return { kind: 'any' };
  const last = /^([A-Za-z]{3}|\d)L$/.exec(text);
  if (last) return { kind: 'last', day: parseValue(last[1]!, field, fail) };
  if (text === 'L') return { kind: 'last', day: 7 };
  const nth = /^([A-Za-z]{3}|\d)#([1-5])$/.exec(text);
  if (nth) return { kind: 'nth', day: parseValue(nth[1]!, field, fail), n: Number(nth[2]) };
  if (/[L#]/.test(text)) fail(field, text, 'uses L or # in a way EventBridge does not accept (6L, FRI#3)');
  return { kind: 'set', values: parseSet(text, field, fail) };
}

const daysIn = (year: number, month: number) => new Date(Date.UTC(year, month, 0)).getUTCDate();
const weekdayOf = (year: number, month: number, day: number) => new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 1; // 1 = Sunday

function dayMatches(cron: Cron, year: number, month: number, day: number): boolean {
  if (!cron.years.has(year) || !cron.months.has(month)) return false;
  const last = daysIn(year, month);
  const dow = weekdayOf(year, month, day);
  const dom = cron.dayOfMonth;
  switch (dom.kind) {
    case 'set':
      return dom.values.has(day);
    case 'last':
      return day === last - dom.offset;
    case 'weekday': {
      // The weekday nearest to the given day, without leaving the month.
      const target = Math.min(dom.day, last);
      const wd = weekdayOf(year, month, target);
      let nearest = target;
      if (wd === 7) nearest = target === 1 ? 3 : target - 1;
      else if (wd === 1) nearest = target === last ? target - 2 : target + 1;
      return day === nearest;
    }
    case 'lastWeekday': {
      const wd = weekdayOf(year, month, last);
      return day === (wd === 7 ? last - 1 : wd === 1 ? last - 2 : last);
    }
    case 'any':
      break;
  }
  const w = cron.dayOfWeek;
  switch (w.kind) {
    case 'set':
      return w.values.has(dow);
    case 'last':
      return dow === w.day && day + 7 > last;
    case 'nth':
      return dow === w.day && Math.ceil(day / 7) === w.n;
    case 'any':
      return true;
  }
}

/** The UTC offset of `timeZone` at `instant`, in minutes (e.g. 60 for Europe/Paris in winter). */
function offsetMinutes(timeZone: string, instant: number): number {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric' }).formatToParts(new Date(instant));
  const get = (type: string) => Number(parts.find((p) => p.type === type)!.value);
  return (Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute')) - Math.floor(instant / 60_000) * 60_000) / 60_000;
}

/**
 * The instants at which a wall-clock time happens in `timeZone`: one; none on the day daylight
 * saving time skips it; two on the day it is repeated.
 */
function zonedInstants(timeZone: string, y: number, mo: number, d: number, h: number, mi: number): number[] {
  const wall = Date.UTC(y, mo - 1, d, h, mi);
  const offsets = new Set([offsetMinutes(timeZone, wall - 86_400_000), offsetMinutes(timeZone, wall + 86_400_000), offsetMinutes(timeZone, wall)]);
  const instants = [...offsets].map((o) => wall - o * 60_000).filter((t) => offsetMinutes(timeZone, t) * 60_000 === wall - t);
  return [...new Set(instants)].sort((a, b) => a - b);
}

export interface DstSurprise {
  /** `skipped`: the local time does not exist that day, and EventBridge Scheduler skips the run; `repeated`: it happens twice, and the schedule runs once. */
  readonly kind: 'skipped' | 'repeated';
  /** The local date and time, `YYYY-MM-DD HH:MM`. */
  readonly local: string;
}

/**
 * Scheduled local times that daylight saving time skips or repeats in the coming `days`. EventBridge
 * Scheduler skips a run whose time does not exist and runs once at a repeated time (EventBridge
 * Scheduler user guide, "Daylight saving time"): a nightly schedule at such a time misses a night.
 */
export function dstSurprises(cron: Cron, timeZone: string, from: Date, days = 366): DstSurprise[] {
  if (timeZone === 'UTC') return [];
  const out: DstSurprise[] = [];
  const first = Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate());
  for (let day = first; day < first + days * 86_400_000; day += 86_400_000) {
    // Only days whose offset changes can hold a skipped or repeated time.
    if (offsetMinutes(timeZone, day) === offsetMinutes(timeZone, day + 86_400_000)) continue;
    const d = new Date(day);
    const [y, mo, dd] = [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()];
    for (const date of [[y, mo, dd], nextDay(y, mo, dd)] as [number, number, number][]) {
      if (!dayMatches(cron, ...date)) continue;
      for (const h of cron.hours) {
        for (const mi of cron.minutes) {
          const n = zonedInstants(timeZone, ...date, h, mi).length;
          if (n === 1) continue;
          const local = `${date[0]}-${pad(date[1])}-${pad(date[2])} ${pad(h)}:${pad(mi)}`;
          if (!out.some((x) => x.local === local)) out.push({ kind: n === 0 ? 'skipped' : 'repeated', local });
        }
      }
    }
  }
  return out;
}

/** One line for an operator: which nights daylight saving time makes the schedule skip or merge, and the fix. */
export function dstWarning(expression: string, timeZone: string, surprises: readonly DstSurprise[]): string {
  const list = surprises.map((s) => `${s.local} ${s.kind === 'skipped' ? 'does not exist (no run that night)' : 'happens twice (one run)'}`).join('; ');
  return `schedule ${expression} in ${timeZone}: ${list}. EventBridge Scheduler skips a time that daylight saving skips: pick a time outside the change (e.g. 04:00 local) if every night must run.`;
}

const pad = (n: number) => String(n).padStart(2, '0');

function nextDay(y: number, mo: number, d: number): [number, number, number] {
  const next = new Date(Date.UTC(y, mo - 1, d + 1));
  return [next.getUTCFullYear(), next.getUTCMonth() + 1, next.getUTCDate()];
}

export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** The next `count` run times strictly after `after`, in the cron's time zone (default UTC), as EventBridge Scheduler fires them. */
export function nextRuns(cron: Cron, after: Date, count: number, timeZone = 'UTC'): Date[] {
  const out: Date[] = [];
  const start = after.getTime();
  // Walk calendar days in the time zone, starting the day before to cover offsets.
  const startWall = new Date(start + offsetMinutes(timeZone, start) * 60_000);
  let day = Date.UTC(startWall.getUTCFullYear(), startWall.getUTCMonth(), startWall.getUTCDate()) - 86_400_000;
  const horizon = day + 6 * 366 * 86_400_000; // a cron that cannot fire within six years is as good as never
  while (out.length < count && day < horizon) {
    const d = new Date(day);
    const [y, mo, dd] = [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()];
    if (dayMatches(cron, y, mo, dd)) {
      for (const h of cron.hours) {
        for (const mi of cron.minutes) {
          // A time daylight saving skips does not run and a repeated one runs once, as EventBridge
          // Scheduler does (which of the two instants it takes is not documented: the later here).
          const instant = timeZone === 'UTC' ? Date.UTC(y, mo - 1, dd, h, mi) : zonedInstants(timeZone, y, mo, dd, h, mi).at(-1);
          if (instant !== undefined && instant > start && out.length < count && (out.length === 0 || instant > out[out.length - 1]!.getTime())) out.push(new Date(instant));
        }
      }
    }
    day += 86_400_000;
  }
  return out;
}
