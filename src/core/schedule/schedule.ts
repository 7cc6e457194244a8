/**
 * When an environment is awake: the schedule model. Pure functions over a
 * schedule, a time zone, a holiday calendar and an instant; luxon does every
 * piece of time-zone arithmetic (never by hand).
 *
 * Daylight-saving rules: a local time that does not exist on a day (spring
 * forward) happens at the first minute after the gap; a local time that occurs
 * twice (fall back) happens once, at its first occurrence.
 */
import { DateTime, IANAZone } from 'luxon';

/** ISO weekday: 1 = Monday … 7 = Sunday. */
export type Weekday = 1 | 2 | 3 | 4 | 5 | 6 | 7;

/** `HH:MM`, 24-hour, local to the schedule's zone. */
export type LocalTime = string;

export interface WindowSchedule {
  kind: 'window';
  /** The days it is awake on (sorted, no duplicates). */
  days: Weekday[];
  /** Awake from (wake time when `wakeAt` is unset and a person wakes it)… */
  start: LocalTime;
  /** …until: it goes to sleep at this time on each of `days`. Always after `start` (no overnight windows). */
  end: LocalTime;
  /** IANA zone; unset = the owner's Slack time zone (or the configuration's default zone). */
  zone?: string;
  /** Opt-in: woken on schedule at this local time on each of `days` that is not a holiday. */
  wakeAt?: LocalTime;
}

export interface OffSchedule {
  kind: 'off';
  /** When a cap applies: the default schedule applies again from then (ISO instant). */
  until?: string;
  zone?: string;
}

export type Schedule = WindowSchedule | OffSchedule;

/** Days off and holidays: no scheduled wake on them (a sleep still happens). */
export interface HolidayCalendar {
  /** `date` is a local calendar date `YYYY-MM-DD` in the schedule's zone. */
  isHoliday(date: string): boolean;
  /** Its name, for messages (`Christmas Day`, or `extra day off`). */
  nameOf(date: string): string | undefined;
}

export const noHolidays: HolidayCalendar = { isHoliday: () => false, nameOf: () => undefined };

export type ParseResult =
  | { ok: true; schedule: Schedule }
  /** `problem`: plain words saying what was wrong (no examples: the chat side adds them). */
  | { ok: false; problem: string };


const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
const HOURS_PER_WEEK = 168;
/** How far ahead a scheduled time is looked for (a wake can be pushed back by a long run of holidays). */
const SEARCH_DAYS = 400;
const ALL_DAYS: Weekday[] = [1, 2, 3, 4, 5, 6, 7];
const WEEKDAYS: Weekday[] = [1, 2, 3, 4, 5];
const WEEKENDS: Weekday[] = [6, 7];
const DAY_NAMES = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

// ---------------------------------------------------------------------------
// Clock times, dates and zones
// ---------------------------------------------------------------------------

/** `H:MM` or `HH:MM` between 00:00 and 23:59, normalised to `HH:MM`; undefined when it is not one. */
export function parseLocalTime(text: string): LocalTime | undefined {
  const m = /^(\d{1,2}):(\d{2})$/.exec(text);
  if (!m) return undefined;
  const hour = Number(m[1]);
  const minute = Number(m[2]);
  if (hour > 23 || minute > 59) return undefined;
  return `${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}`;
}

/** Minutes since midnight of a `HH:MM` time; throws on anything else (a programming error, not user input). */
function minutesOf(time: LocalTime): number {
  const normal = parseLocalTime(time);
  if (normal === undefined) throw new RangeError(`not a local time: ${time}`);
  return Number(normal.slice(0, 2)) * 60 + Number(normal.slice(3));
}

/** Whether `zone` is an IANA zone name luxon knows (UTC included). */
export function isValidZone(zone: string | undefined): zone is string {
  return zone !== undefined && zone !== '' && IANAZone.isValidZone(zone);
}

/** The zone, or a RangeError: every function below needs a real zone (`zoneOf` gives one). */
function ianaZone(zone: string): IANAZone {
  if (!isValidZone(zone)) throw new RangeError(`not a time zone: ${zone}`);
  return IANAZone.create(zone);
}

/** A calendar date `YYYY-MM-DD` as a luxon date (zone-free: UTC is only a neutral frame for calendar steps). */
function calendarDay(date: string): DateTime {
  const day = /^\d{4}-\d{2}-\d{2}$/.test(date) ? DateTime.fromISO(date, { zone: 'utc' }) : DateTime.invalid('not a date');
  if (!day.isValid) throw new RangeError(`not a date: ${date}`);
  return day;
}

/** The calendar date `days` after `date` (negative goes back). */
function addDays(date: string, days: number): string {
  return calendarDay(date).plus({ days }).toISODate() ?? date;
}

/** ISO weekday of a calendar date. */
function weekdayOf(date: string): Weekday {
  return calendarDay(date).weekday as Weekday;
}

/** The local calendar date `YYYY-MM-DD` of an instant in `zone`. */
export function localDate(at: Date, zone: string): string {
  return DateTime.fromJSDate(at, { zone: ianaZone(zone) }).toFormat('yyyy-MM-dd');
}

/** The local clock time `HH:MM` of an instant in `zone`. */
export function localTime(at: Date, zone: string): LocalTime {
  return DateTime.fromJSDate(at, { zone: ianaZone(zone) }).toFormat('HH:mm');
}

/**
 * The instant at which the clocks of `zone` show `time` on `date`, with the daylight-saving rules:
 * - in a spring-forward gap (the time does not exist that day): the first minute after the gap,
 *   e.g. Europe/Paris 2026-03-29 02:30 → 03:00 local = 01:00Z;
 * - in a fall-back repeat (the time exists twice): the first occurrence,
 *   e.g. Europe/Paris 2026-10-25 02:30 → 02:30 summer time = 00:30Z, never 01:30Z.
 */
export function atLocal(date: string, time: LocalTime, zone: string): Date {
  const tz = ianaZone(zone);
  const day = calendarDay(date);
  const minutes = minutesOf(time);
  const wanted = { year: day.year, month: day.month, day: day.day, hour: Math.floor(minutes / 60), minute: minutes % 60 };
  const dt = DateTime.fromObject(wanted, { zone: tz });
  if (dt.hour !== wanted.hour || dt.minute !== wanted.minute || dt.day !== wanted.day) {
    // In a gap luxon moves the clock reading forward by the gap's length: measure it on the clocks.
    const gapMs = dt.setZone('utc', { keepLocalTime: true }).toMillis() - DateTime.fromObject(wanted, { zone: 'utc' }).toMillis();
    return new Date(endOfGap(tz, dt.toMillis(), gapMs));
  }
  // Ambiguous times have two possible offsets: the earlier instant is the first occurrence.
  return new Date(Math.min(...dt.getPossibleOffsets().map((d) => d.toMillis())));
}

/**
 * The instant the clocks jumped forward, from `after` (where luxon put the time asked for, at most
 * `gapMs` past the jump) and the gap's length. The offsets come from luxon; this only bisects
 * between an instant before the jump and one after it, to the minute.
 */
function endOfGap(tz: IANAZone, after: number, gapMs: number): number {
  const offsetAfter = tz.offset(after);
  let hi = after;
  let lo = after - Math.max(gapMs, MINUTE_MS);
  while (hi - lo > MINUTE_MS) {
    const mid = lo + Math.floor((hi - lo) / MINUTE_MS / 2) * MINUTE_MS;
    if (tz.offset(mid) === offsetAfter) hi = mid;
    else lo = mid;
  }
  return hi;
}

// ---------------------------------------------------------------------------
// Parsing: the words after the environment's name
// ---------------------------------------------------------------------------

type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };
const good = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = (problem: string): { ok: false; problem: string } => ({ ok: false, problem });

/**
 * Reads a schedule:
 * - `DAYS START-END [ZONE] [--wake-at HH:MM]`, DAYS being `weekdays`, `weekends`, `every day`
 *   (or `daily`, `everyday`), or a list of 3-letter day names and ranges (`mon,wed,fri`, `mon-thu`,
 *   `fri-mon` goes round the weekend); `--wake-at` may also be written `--wake-at=HH:MM`;
 * - `off`: always awake; with `offCapDays`, only until that many days from `now`.
 * Case does not matter; typographic dashes (as some keyboards turn `--` into) are read as dashes.
 * Never throws: anything else gives the problem in plain words.
 */
export function parseSchedule(text: string, opts: { now: Date; offCapDays?: number }): ParseResult {
  const split = splitOptions(tokenize(text));
  if (!split.ok) return split;
  const { words, wakeAt } = split.value;
  const first = words[0]?.toLowerCase();
  if (first === undefined) return bad('no schedule was given: write the days and the hours it is awake, or off');
  if (first === 'off') return parseOff(words.slice(1), wakeAt, opts);
  const window = parseWindow(words, wakeAt);
  return window.ok ? { ok: true, schedule: window.value } : window;
}

/** Words separated by spaces, with list commas and range dashes glued to their neighbours. */
function tokenize(text: string): string[] {
  const normal = text
    .replace(/(^|\s)[\u2013\u2014]+(?=[a-z])/gi, '$1--') // an em dash typed for "--" before an option
    .replace(/[\u2013\u2014]/g, '-')
    .replace(/\s*,\s*/g, ',')
    .replace(/(?<=[a-z])\s*-\s*(?=[a-z])|(?<=\d)\s*-\s*(?=\d)/gi, '-')
    .trim();
  return normal === '' ? [] : normal.split(/\s+/);
}

/** Takes `--wake-at HH:MM` out of the words (it may sit anywhere); refuses any other option. */
function splitOptions(tokens: string[]): Parsed<{ words: string[]; wakeAt?: LocalTime }> {
  const words: string[] = [];
  let wakeAt: LocalTime | undefined;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as string;
    if (!token.startsWith('--')) {
      words.push(token);
      continue;
    }
    const [name, inline] = token.toLowerCase().split('=', 2) as [string, string | undefined];
    if (name !== '--wake-at') return bad(`'${token}' is not an option: the only option is --wake-at`);
    if (wakeAt !== undefined) return bad('--wake-at is given twice: give one wake time');
    const value = inline ?? tokens[++i];
    if (value === undefined || value === '') return bad('--wake-at needs a time after it, written HH:MM');
    const time = parseLocalTime(value);
    if (time === undefined) return bad(`'${value}' after --wake-at is not a time: write times as HH:MM, like 08:30`);
    wakeAt = time;
  }
  return good(wakeAt === undefined ? { words } : { words, wakeAt });
}

/** `off`, with nothing after it. */
function parseOff(rest: string[], wakeAt: LocalTime | undefined, opts: { now: Date; offCapDays?: number }): ParseResult {
  if (rest.length > 0) return bad(`'off' takes nothing after it, but '${rest.join(' ')}' follows it`);
  if (wakeAt !== undefined) return bad('an environment with its schedule off never sleeps, so it takes no wake time');
  if (opts.offCapDays === undefined) return { ok: true, schedule: { kind: 'off' } };
  const until = new Date(opts.now.getTime() + opts.offCapDays * DAY_MS).toISOString();
  return { ok: true, schedule: { kind: 'off', until } };
}

/** `DAYS START-END [ZONE]` with the wake time already taken out. */
function parseWindow(words: string[], wakeAt: LocalTime | undefined): Parsed<WindowSchedule> {
  const days = parseDays(words);
  if (!days.ok) return days;
  const { value: dayList, used } = days.value;
  const hours = words[used];
  if (hours === undefined) return bad('the hours are missing after the days: give them as start-end, in HH:MM');
  const range = parseHours(hours);
  if (!range.ok) return range;
  const zoneWord = words[used + 1];
  const zone = zoneWord === undefined ? good(undefined) : parseZone(zoneWord);
  if (!zone.ok) return zone;
  const extra = words.slice(used + 2);
  if (extra.length > 0) return bad(`'${extra.join(' ')}' was not understood: after the hours come only a time zone and --wake-at`);
  const { start, end } = range.value;
  if (wakeAt !== undefined && minutesOf(wakeAt) >= minutesOf(end)) {
    return bad(`the wake time ${wakeAt} is not before ${end}, when the environment goes to sleep: it must come before that`);
  }
  return good({ kind: 'window', days: dayList, start, end, ...(zone.value ? { zone: zone.value } : {}), ...(wakeAt ? { wakeAt } : {}) });
}

/** The days at the start of the words, and how many words they took. */
function parseDays(words: string[]): Parsed<{ value: Weekday[]; used: number }> {
  const first = (words[0] ?? '').toLowerCase();
  if (first === 'every') {
    if (words[1]?.toLowerCase() === 'day') return good({ value: ALL_DAYS, used: 2 });
    return bad(`'every' must be followed by 'day'${words[1] === undefined ? '' : `, not '${words[1]}'`}`);
  }
  if (first === 'daily' || first === 'everyday') return good({ value: ALL_DAYS, used: 1 });
  if (first === 'weekdays') return good({ value: WEEKDAYS, used: 1 });
  if (first === 'weekends') return good({ value: WEEKENDS, used: 1 });
  if (/^\d/.test(first)) return bad(`the days are missing before '${words[0]}': start with weekdays, weekends, every day or a list of days`);
  const list = parseDayList(first);
  return list.ok ? good({ value: list.value, used: 1 }) : list;
}

/** `mon,wed,fri`, `mon-thu`, `mon-wed,sat`: sorted, without repeats. */
function parseDayList(text: string): Parsed<Weekday[]> {
  const days = new Set<Weekday>();
  for (const part of text.split(',')) {
    if (part === '') return bad(`'${text}' has an empty place in its list of days`);
    const ends = part.split('-');
    if (ends.length > 2 || ends.includes('')) return bad(`'${part}' is not a range of days: write it as first-last, like mon-thu`);
    const [from, to] = ends.map(dayNumber);
    const unknown = ends.find((name) => dayNumber(name) === undefined);
    if (unknown !== undefined || from === undefined) {
      return bad(`'${unknown ?? part}' is not a day: write days as mon, tue, wed, thu, fri, sat or sun`);
    }
    for (const day of dayRange(from, to ?? from)) days.add(day);
  }
  return good([...days].sort((a, b) => a - b));
}

/** ISO weekday of a 3-letter English day name. */
function dayNumber(name: string): Weekday | undefined {
  const index = DAY_NAMES.indexOf(name.toLowerCase() as (typeof DAY_NAMES)[number]);
  return index < 0 ? undefined : ((index + 1) as Weekday);
}

/** `from` to `to` inclusive, going round Sunday to Monday when `to` comes first in the week. */
function dayRange(from: Weekday, to: Weekday): Weekday[] {
  const length = ((to - from + 7) % 7) + 1;
  return Array.from({ length }, (_, i) => (((from - 1 + i) % 7) + 1) as Weekday);
}

/** `START-END`, both `HH:MM`, end after start on the same day. */
function parseHours(text: string): Parsed<{ start: LocalTime; end: LocalTime }> {
  const parts = text.split('-');
  if (parts.length !== 2) return bad(`'${text}' is not a range of hours: write it as start-end, in HH:MM`);
  const [start, end] = parts.map(parseLocalTime);
  const wrong = parts.find((p) => parseLocalTime(p) === undefined);
  if (wrong !== undefined || start === undefined || end === undefined) return bad(timeProblem(wrong ?? text));
  if (start === end) return bad(`the hours ${start}-${end} start and end at the same time: the end must come after the start`);
  if (minutesOf(end) < minutesOf(start)) {
    return bad(
      `the hours ${start}-${end} run past midnight, which a schedule cannot do: ` +
        `either end the day by 23:59 (${start}-23:59), or turn the schedule off to keep it awake through the night`,
    );
  }
  return good({ start, end });
}

/** Why a word is not a time. */
function timeProblem(word: string): string {
  if (word === '') return 'a time is missing in the hours: write them as start-end, in HH:MM';
  if (/^\d{1,2}:\d{2}$/.test(word)) return `'${word}' is not a time of day: times go from 00:00 to 23:59`;
  return `'${word}' is not a time: write times as HH:MM, like 09:00`;
}

/** An IANA zone name (or UTC), in its usual spelling when only the case differed. */
function parseZone(word: string): Parsed<string> {
  if (!isValidZone(word)) return bad(`'${word}' is not a time zone: write a zone name such as Europe/Paris, or UTC`);
  const usual = new Intl.DateTimeFormat('en-US', { timeZone: word }).resolvedOptions().timeZone;
  return good(usual.toLowerCase() === word.toLowerCase() ? usual : word);
}

// ---------------------------------------------------------------------------
// Formatting: the text a person could type back
// ---------------------------------------------------------------------------

/** The canonical words for a schedule: `parseSchedule(formatSchedule(s))` gives `s` back for windows. */
export function formatSchedule(s: Schedule): string {
  if (s.kind === 'off') {
    if (s.until === undefined) return 'off';
    const until = DateTime.fromISO(s.until, { zone: 'utc' });
    return until.isValid ? `off until ${until.toFormat('yyyy-MM-dd HH:mm')} UTC` : 'off';
  }
  const words = [formatDays(s.days), `${s.start}-${s.end}`];
  if (s.zone !== undefined) words.push(s.zone);
  if (s.wakeAt !== undefined) words.push('--wake-at', s.wakeAt);
  return words.join(' ');
}

/** `weekdays`, `weekends`, `every day`, or a list where runs of three days or more are ranges. */
function formatDays(days: Weekday[]): string {
  const sorted = [...new Set(days)].sort((a, b) => a - b);
  const key = sorted.join(',');
  if (key === ALL_DAYS.join(',')) return 'every day';
  if (key === WEEKDAYS.join(',')) return 'weekdays';
  if (key === WEEKENDS.join(',')) return 'weekends';
  const runs: Weekday[][] = [];
  for (const day of sorted) {
    const run = runs[runs.length - 1];
    if (run !== undefined && run[run.length - 1] === day - 1) run.push(day);
    else runs.push([day]);
  }
  const name = (d: Weekday) => DAY_NAMES[d - 1] as string;
  return runs.map((run) => (run.length >= 3 ? `${name(run[0] as Weekday)}-${name(run[run.length - 1] as Weekday)}` : run.map(name).join(','))).join(',');
}

// ---------------------------------------------------------------------------
// Questions about a schedule
// ---------------------------------------------------------------------------

/** The zone a schedule runs in: its own, else the owner's (when it is a real zone), else the default. */
export function zoneOf(s: Schedule, ownerZone: string | undefined, defaultZone: string): string {
  if (s.zone !== undefined) return s.zone;
  return isValidZone(ownerZone) ? ownerZone : defaultZone;
}

/**
 * The first instant after `from` (strictly) at which the clocks of `zone` show `time` on a date that
 * `accept`s, searching `maxDays` dates ahead. Starts with the day before `from`'s date: a time in a
 * gap that crosses midnight happens on the next date.
 */
function firstAfter(time: LocalTime, zone: string, from: Date, accept: (date: string) => boolean, maxDays: number): Date | undefined {
  const first = addDays(localDate(from, zone), -1);
  for (let i = 0; i <= maxDays + 1; i++) {
    const date = addDays(first, i);
    if (!accept(date)) continue;
    const at = atLocal(date, time, zone);
    if (at.getTime() > from.getTime()) return at;
  }
  return undefined;
}

/**
 * When the environment should next go to sleep: `end` on one of `days`, strictly after `from`.
 * Holidays do not cancel a sleep. An `off` schedule never sleeps (its `until` is the caller's business).
 */
export function nextSleep(s: Schedule, zone: string, from: Date): Date | undefined {
  if (s.kind === 'off' || s.days.length === 0) return undefined;
  return firstAfter(s.end, zone, from, (date) => s.days.includes(weekdayOf(date)), SEARCH_DAYS);
}

/**
 * When the environment should next be woken on schedule: `wakeAt` on one of `days` that is not a
 * holiday, strictly after `from`. Undefined without `wakeAt`, for `off`, or when nothing is found
 * within about 400 days.
 */
export function nextWake(s: Schedule, zone: string, from: Date, holidays: HolidayCalendar): Date | undefined {
  if (s.kind === 'off' || s.wakeAt === undefined || s.days.length === 0) return undefined;
  const accept = (date: string) => s.days.includes(weekdayOf(date)) && !holidays.isHoliday(date);
  return firstAfter(s.wakeAt, zone, from, accept, SEARCH_DAYS);
}

/** The next time the clocks of `zone` show `time` after `from`, on any day (for "until tomorrow 08:00"). */
export function nextLocalTime(time: LocalTime, zone: string, from: Date): Date {
  const at = firstAfter(time, zone, from, () => true, 3);
  if (at === undefined) throw new RangeError(`no ${time} in ${zone} after ${from.toISOString()}`);
  return at;
}

/** Whether `at` is inside the awake hours, `start` included and `end` excluded, on one of `days` (off: always). */
export function isAwakeWindow(s: Schedule, zone: string, at: Date): boolean {
  if (s.kind === 'off') return true;
  const date = localDate(at, zone);
  if (!s.days.includes(weekdayOf(date))) return false;
  const t = at.getTime();
  return atLocal(date, s.start, zone).getTime() <= t && t < atLocal(date, s.end, zone).getTime();
}

/** Hours a week inside the awake hours, on the clock (daylight-saving days are not counted apart); off: 168. */
export function awakeHoursPerWeek(s: Schedule): number {
  if (s.kind === 'off') return HOURS_PER_WEEK;
  return (new Set(s.days).size * (minutesOf(s.end) - minutesOf(s.start))) / 60;
}

/** The share of an always-on week the schedule avoids: 0 for off, 0.6875 for weekdays 08:00-18:30. */
export function avoidedShare(s: Schedule): number {
  return 1 - awakeHoursPerWeek(s) / HOURS_PER_WEEK;
}

/**
 * The schedule that applies at `now`: the environment's own, or `fallback` (the default) when it has
 * none, or when its `off` has a cap that has passed (`offExpired`, so the caller can say so once).
 * An `until` that is not a date is treated as no cap.
 */
export function effectiveSchedule(s: Schedule | undefined, fallback: Schedule, now: Date): { schedule: Schedule; offExpired: boolean } {
  if (s === undefined) return { schedule: fallback, offExpired: false };
  if (s.kind === 'off' && s.until !== undefined && Date.parse(s.until) <= now.getTime()) return { schedule: fallback, offExpired: true };
  return { schedule: s, offExpired: false };
}

/** When to warn before a sleep: `leadMinutes` earlier. */
export function reminderAt(sleepAt: Date, leadMinutes: number): Date {
  return new Date(sleepAt.getTime() - leadMinutes * MINUTE_MS);
}
