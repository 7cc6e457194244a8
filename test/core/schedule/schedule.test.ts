/**
 * The schedule model: what people may type, what it means, and when an environment sleeps and wakes,
 * including around daylight-saving changes. Every instant is fixed (no real clock); the expected UTC
 * instants are worked out by hand in the comments.
 */
import { describe, expect, it } from 'vitest';
import {
  atLocal,
  avoidedShare,
  awakeHoursPerWeek,
  effectiveSchedule,
  formatSchedule,
  isAwakeWindow,
  localDate,
  localTime,
  nextLocalTime,
  nextSleep,
  nextWake,
  noHolidays,
  parseLocalTime,
  parseSchedule,
  reminderAt,
  zoneOf,
  type HolidayCalendar,
  type Schedule,
  type WindowSchedule,
} from '../../../src/core/schedule/schedule.js';

const NOW = new Date('2026-06-01T10:00:00Z'); // a Monday
const at = (iso: string) => new Date(iso);
const iso = (d: Date | undefined) => d?.toISOString();

/** The schedule the words mean, or a failed test saying why not. */
function parsed(text: string, offCapDays?: number): Schedule {
  const r = parseSchedule(text, { now: NOW, ...(offCapDays === undefined ? {} : { offCapDays }) });
  if (!r.ok) throw new Error(`${text}: ${r.problem}`);
  return r.schedule;
}

/** A window schedule from its words. */
const windowOf = (text: string) => parsed(text) as WindowSchedule;

/** The problem the words have, or a failed test. */
function problemOf(text: string): string {
  const r = parseSchedule(text, { now: NOW });
  if (r.ok) throw new Error(`${text} was accepted: ${JSON.stringify(r.schedule)}`);
  return r.problem;
}

/** A calendar of the given days off. */
function calendar(days: Record<string, string>): HolidayCalendar {
  return { isHoliday: (d) => d in days, nameOf: (d) => days[d] };
}

/** Every sleep in [from, to), found by asking nextSleep again from each one. */
function sleepsBetween(s: Schedule, zone: string, from: Date, to: Date): string[] {
  const found: string[] = [];
  for (let t = nextSleep(s, zone, from); t !== undefined && t < to; t = nextSleep(s, zone, t)) found.push(t.toISOString());
  return found;
}

/** Every scheduled wake in [from, to). */
function wakesBetween(s: Schedule, zone: string, from: Date, to: Date): string[] {
  const found: string[] = [];
  for (let t = nextWake(s, zone, from, noHolidays); t !== undefined && t < to; t = nextWake(s, zone, t, noHolidays)) found.push(t.toISOString());
  return found;
}

describe('parseSchedule: what is accepted', () => {
  it.each<[string, Schedule]>([
    ['weekdays 09:00-18:00', { kind: 'window', days: [1, 2, 3, 4, 5], start: '09:00', end: '18:00' }],
    ['every day 07:00-23:00', { kind: 'window', days: [1, 2, 3, 4, 5, 6, 7], start: '07:00', end: '23:00' }],
    ['daily 07:00-23:00', { kind: 'window', days: [1, 2, 3, 4, 5, 6, 7], start: '07:00', end: '23:00' }],
    ['everyday 07:00-23:00', { kind: 'window', days: [1, 2, 3, 4, 5, 6, 7], start: '07:00', end: '23:00' }],
    ['Every Day 07:00-23:00', { kind: 'window', days: [1, 2, 3, 4, 5, 6, 7], start: '07:00', end: '23:00' }],
    ['weekends 10:00-16:00', { kind: 'window', days: [6, 7], start: '10:00', end: '16:00' }],
    ['mon,tue,thu 08:00-17:30', { kind: 'window', days: [1, 2, 4], start: '08:00', end: '17:30' }],
    ['mon-thu 08:00-17:00', { kind: 'window', days: [1, 2, 3, 4], start: '08:00', end: '17:00' }],
    ['thu,MON, Tue ,tue 8:00-17:00', { kind: 'window', days: [1, 2, 4], start: '08:00', end: '17:00' }],
    ['mon-wed,fri 08:00-17:00', { kind: 'window', days: [1, 2, 3, 5], start: '08:00', end: '17:00' }],
    ['fri-mon 08:00-17:00', { kind: 'window', days: [1, 5, 6, 7], start: '08:00', end: '17:00' }],
    ['sun 0:00-23:59', { kind: 'window', days: [7], start: '00:00', end: '23:59' }],
    ['weekdays 09:00 - 18:00', { kind: 'window', days: [1, 2, 3, 4, 5], start: '09:00', end: '18:00' }],
    ['weekdays 09:00\u201318:00', { kind: 'window', days: [1, 2, 3, 4, 5], start: '09:00', end: '18:00' }],
    ['  weekdays   09:00-18:00  ', { kind: 'window', days: [1, 2, 3, 4, 5], start: '09:00', end: '18:00' }],
    ['weekdays 09:00-18:00 Europe/Paris', { kind: 'window', days: [1, 2, 3, 4, 5], start: '09:00', end: '18:00', zone: 'Europe/Paris' }],
    ['weekdays 09:00-18:00 europe/paris', { kind: 'window', days: [1, 2, 3, 4, 5], start: '09:00', end: '18:00', zone: 'Europe/Paris' }],
    ['weekdays 09:00-18:00 UTC', { kind: 'window', days: [1, 2, 3, 4, 5], start: '09:00', end: '18:00', zone: 'UTC' }],
    ['weekdays 09:00-18:00 --wake-at 08:30', { kind: 'window', days: [1, 2, 3, 4, 5], start: '09:00', end: '18:00', wakeAt: '08:30' }],
    ['weekdays 09:00-18:00 --wake-at 8:30 Europe/Paris', { kind: 'window', days: [1, 2, 3, 4, 5], start: '09:00', end: '18:00', zone: 'Europe/Paris', wakeAt: '08:30' }],
    ['weekdays 09:00-18:00 Europe/Paris --wake-at 08:30', { kind: 'window', days: [1, 2, 3, 4, 5], start: '09:00', end: '18:00', zone: 'Europe/Paris', wakeAt: '08:30' }],
    ['weekdays 09:00-18:00 --WAKE-AT=10:15', { kind: 'window', days: [1, 2, 3, 4, 5], start: '09:00', end: '18:00', wakeAt: '10:15' }],
    // A keyboard that turns "--" into an em dash.
    ['weekdays 09:00-18:00 \u2014wake-at 08:30', { kind: 'window', days: [1, 2, 3, 4, 5], start: '09:00', end: '18:00', wakeAt: '08:30' }],
    ['off', { kind: 'off' }],
    [' OFF ', { kind: 'off' }],
  ])('%j', (text, schedule) => {
    expect(parseSchedule(text, { now: NOW })).toEqual({ ok: true, schedule });
  });

  it('an off schedule with a cap lasts that many days from now', () => {
    expect(parseSchedule('off', { now: NOW, offCapDays: 14 })).toEqual({ ok: true, schedule: { kind: 'off', until: '2026-06-15T10:00:00.000Z' } });
  });
});

describe('parseSchedule: what is refused, and the words that say why', () => {
  it.each<[string, string]>([
    ['', 'no schedule was given: write the days and the hours it is awake, or off'],
    ['weekdays', 'the hours are missing after the days: give them as start-end, in HH:MM'],
    ['weekdays 9am-6pm', "'9am' is not a time: write times as HH:MM, like 09:00"],
    ['weekdays 09:00-6pm', "'6pm' is not a time: write times as HH:MM, like 09:00"],
    ['weekdays 09:00', "'09:00' is not a range of hours: write it as start-end, in HH:MM"],
    ['weekdays 09:00-18:00-20:00', "'09:00-18:00-20:00' is not a range of hours: write it as start-end, in HH:MM"],
    ['weekdays 09:60-18:00', "'09:60' is not a time of day: times go from 00:00 to 23:59"],
    ['weekdays 09:00-24:00', "'24:00' is not a time of day: times go from 00:00 to 23:59"],
    ['weekdays 9:0-18:00', "'9:0' is not a time: write times as HH:MM, like 09:00"],
    ['weekdays 09:00-09:00', 'the hours 09:00-09:00 start and end at the same time: the end must come after the start'],
    [
      'weekdays 22:00-06:00',
      'the hours 22:00-06:00 run past midnight, which a schedule cannot do: either end the day by 23:59 (22:00-23:59), or turn the schedule off to keep it awake through the night',
    ],
    ['monday 09:00-18:00', "'monday' is not a day: write days as mon, tue, wed, thu, fri, sat or sun"],
    ['mon,tue,xyz 09:00-18:00', "'xyz' is not a day: write days as mon, tue, wed, thu, fri, sat or sun"],
    ['mon,,tue 09:00-18:00', "'mon,,tue' has an empty place in its list of days"],
    ['mon-tue-wed 09:00-18:00', "'mon-tue-wed' is not a range of days: write it as first-last, like mon-thu"],
    ['mon- 09:00-18:00', "'mon-' is not a range of days: write it as first-last, like mon-thu"],
    ['every 09:00-18:00', "'every' must be followed by 'day', not '09:00-18:00'"],
    ['every', "'every' must be followed by 'day'"],
    ['09:00-18:00', "the days are missing before '09:00-18:00': start with weekdays, weekends, every day or a list of days"],
    ['weekdays 09:00-18:00 Europe/Pariss', "'Europe/Pariss' is not a time zone: write a zone name such as Europe/Paris, or UTC"],
    ['weekdays 09:00-18:00 Europe/Paris UTC', "'UTC' was not understood: after the hours come only a time zone and --wake-at"],
    ['weekdays 09:00-18:00 --wake-at', '--wake-at needs a time after it, written HH:MM'],
    ['weekdays 09:00-18:00 --wake-at=', '--wake-at needs a time after it, written HH:MM'],
    ['weekdays 09:00-18:00 --wake-at 8h30', "'8h30' after --wake-at is not a time: write times as HH:MM, like 08:30"],
    ['weekdays 09:00-18:00 --wake-at 18:00', 'the wake time 18:00 is not before 18:00, when the environment goes to sleep: it must come before that'],
    ['weekdays 09:00-18:00 --wake-at 08:00 --wake-at 08:30', '--wake-at is given twice: give one wake time'],
    ['weekdays 09:00-18:00 --sleep-at 17:00', "'--sleep-at' is not an option: the only option is --wake-at"],
    ['off tomorrow', "'off' takes nothing after it, but 'tomorrow' follows it"],
    ['off --wake-at 08:00', 'an environment with its schedule off never sleeps, so it takes no wake time'],
  ])('%j', (text, problem) => {
    expect(problemOf(text)).toBe(problem);
  });

  it('never throws, and its problems are plain words (no chat syntax)', () => {
    const odd = ['-', '--', ',', '::', '99:99-99:99', 'weekdays 1:2-3:4', 'every day day', 'off off', '\u0000', 'mon-sun-', '— —', 'weekdays --wake-at 07:00 09:00-18:00 x y'];
    for (const text of odd) {
      const r = parseSchedule(text, { now: NOW, offCapDays: 7 });
      if (!r.ok) expect(r.problem, text).not.toMatch(/[`*<>]|:[a-z_]+:/);
    }
  });

  it('reads a lone time as HH:MM', () => {
    expect([parseLocalTime('7:05'), parseLocalTime('23:59'), parseLocalTime('24:00'), parseLocalTime('7'), parseLocalTime('07:5')]).toEqual(['07:05', '23:59', undefined, undefined, undefined]);
  });
});

describe('formatSchedule', () => {
  it.each<[Schedule, string]>([
    [{ kind: 'window', days: [1, 2, 3, 4, 5], start: '09:00', end: '18:00', zone: 'Europe/Paris', wakeAt: '08:30' }, 'weekdays 09:00-18:00 Europe/Paris --wake-at 08:30'],
    [{ kind: 'window', days: [1, 2, 3, 4, 5, 6, 7], start: '07:00', end: '23:00' }, 'every day 07:00-23:00'],
    [{ kind: 'window', days: [6, 7], start: '10:00', end: '16:00', zone: 'UTC' }, 'weekends 10:00-16:00 UTC'],
    [{ kind: 'window', days: [1, 3, 5], start: '08:00', end: '17:00' }, 'mon,wed,fri 08:00-17:00'],
    [{ kind: 'window', days: [1, 2, 3, 4], start: '08:00', end: '17:00' }, 'mon-thu 08:00-17:00'],
    [{ kind: 'window', days: [1, 2, 4, 5, 6, 7], start: '08:00', end: '17:00', wakeAt: '07:45' }, 'mon,tue,thu-sun 08:00-17:00 --wake-at 07:45'],
    [{ kind: 'window', days: [2], start: '00:00', end: '23:59' }, 'tue 00:00-23:59'],
  ])('%j → %s, and back', (schedule, text) => {
    expect(formatSchedule(schedule)).toBe(text);
    expect(parseSchedule(text, { now: NOW })).toEqual({ ok: true, schedule });
  });

  it('round-trips what people type, once canonical', () => {
    for (const text of ['fri-mon 8:00-17:00', 'thu,MON, Tue 8:00-17:00 europe/paris --wake-at 7:00', 'everyday 06:00-07:00', 'sat,sun 10:00-11:00']) {
      const once = formatSchedule(parsed(text));
      expect(formatSchedule(parsed(once)), text).toBe(once);
      expect(parsed(once)).toEqual(parsed(text));
    }
  });

  it('writes off, and off with its cap in UTC', () => {
    expect(formatSchedule({ kind: 'off' })).toBe('off');
    expect(formatSchedule(parsed('off', 14))).toBe('off until 2026-06-15 10:00 UTC');
  });
});

describe('zoneOf', () => {
  const own = windowOf('weekdays 09:00-18:00 Asia/Tokyo');
  const plain = windowOf('weekdays 09:00-18:00');
  it.each<[Schedule, string | undefined, string]>([
    [own, 'America/New_York', 'Asia/Tokyo'],
    [plain, 'America/New_York', 'America/New_York'],
    [plain, 'Mars/Olympus_Mons', 'Europe/Paris'],
    [plain, undefined, 'Europe/Paris'],
    [plain, '', 'Europe/Paris'],
    [{ kind: 'off', zone: 'UTC' }, 'America/New_York', 'UTC'],
  ])('%j with owner zone %s → %s', (s, ownerZone, zone) => {
    expect(zoneOf(s, ownerZone, 'Europe/Paris')).toBe(zone);
  });
});

describe('nextSleep and nextWake over ordinary weeks', () => {
  // June 2026 in Paris is summer time, UTC+2. 2026-06-01 is a Monday.
  const office = windowOf('weekdays 09:00-18:00 --wake-at 08:30');
  const paris = 'Europe/Paris';

  it('sleeps at the end of the day, strictly after from', () => {
    // Mon 12:00 local → Mon 18:00 local = 16:00Z.
    expect(iso(nextSleep(office, paris, at('2026-06-01T10:00:00Z')))).toBe('2026-06-01T16:00:00.000Z');
    // At the sleep itself → the next day's: Tue 16:00Z.
    expect(iso(nextSleep(office, paris, at('2026-06-01T16:00:00Z')))).toBe('2026-06-02T16:00:00.000Z');
  });

  it('skips the weekend', () => {
    // Fri 18:00 local (16:00Z) → Mon 2026-06-08 18:00 local = 16:00Z; from Saturday too.
    expect(iso(nextSleep(office, paris, at('2026-06-05T16:00:00Z')))).toBe('2026-06-08T16:00:00.000Z');
    expect(iso(nextSleep(office, paris, at('2026-06-06T12:00:00Z')))).toBe('2026-06-08T16:00:00.000Z');
    // Fri 09:00 local → Mon 08:30 local = 06:30Z.
    expect(iso(nextWake(office, paris, at('2026-06-05T07:00:00Z'), noHolidays))).toBe('2026-06-08T06:30:00.000Z');
  });

  it('wakes at the wake time of the next active day', () => {
    // Mon 12:00 local → Tue 08:30 local = 06:30Z; Mon 05:00 local → Mon 06:30Z.
    expect(iso(nextWake(office, paris, at('2026-06-01T10:00:00Z'), noHolidays))).toBe('2026-06-02T06:30:00.000Z');
    expect(iso(nextWake(office, paris, at('2026-06-01T03:00:00Z'), noHolidays))).toBe('2026-06-01T06:30:00.000Z');
  });

  it('counts in the zone it is given', () => {
    // Mon 06:00 in New York (UTC-4) → Mon 18:00 there = 22:00Z.
    expect(iso(nextSleep(office, 'America/New_York', at('2026-06-01T10:00:00Z')))).toBe('2026-06-01T22:00:00.000Z');
    // Monday 23:30Z is already Tuesday 08:30 in Tokyo (UTC+9): Tuesday 18:00 there = 09:00Z Tuesday.
    expect(iso(nextSleep(office, 'Asia/Tokyo', at('2026-06-01T23:30:00Z')))).toBe('2026-06-02T09:00:00.000Z');
  });

  it('follows a list of days and weekends', () => {
    const mwf = windowOf('mon,wed,fri 08:00-17:00 UTC --wake-at 07:30');
    expect(iso(nextWake(mwf, 'UTC', at('2026-06-01T08:00:00Z'), noHolidays))).toBe('2026-06-03T07:30:00.000Z');
    expect(sleepsBetween(mwf, 'UTC', at('2026-06-01T00:00:00Z'), at('2026-06-08T00:00:00Z'))).toEqual([
      '2026-06-01T17:00:00.000Z',
      '2026-06-03T17:00:00.000Z',
      '2026-06-05T17:00:00.000Z',
    ]);
    expect(iso(nextSleep(windowOf('weekends 10:00-16:00'), 'UTC', NOW))).toBe('2026-06-06T16:00:00.000Z');
  });

  it('does not wake without a wake time, and off neither wakes nor sleeps', () => {
    expect(nextWake(windowOf('weekdays 09:00-18:00'), paris, NOW, noHolidays)).toBeUndefined();
    expect(nextWake({ kind: 'off' }, paris, NOW, noHolidays)).toBeUndefined();
    expect(nextSleep({ kind: 'off' }, paris, NOW)).toBeUndefined();
    expect(nextSleep(parsed('off', 3), paris, NOW)).toBeUndefined();
  });

  it('knows whether an instant is inside the awake hours, start included and end excluded', () => {
    expect(isAwakeWindow(office, paris, at('2026-06-01T06:59:00Z'))).toBe(false); // 08:59 local
    expect(isAwakeWindow(office, paris, at('2026-06-01T07:00:00Z'))).toBe(true); // 09:00 local
    expect(isAwakeWindow(office, paris, at('2026-06-01T15:59:00Z'))).toBe(true); // 17:59 local
    expect(isAwakeWindow(office, paris, at('2026-06-01T16:00:00Z'))).toBe(false); // 18:00 local
    expect(isAwakeWindow(office, paris, at('2026-06-06T10:00:00Z'))).toBe(false); // Saturday noon
    expect(isAwakeWindow({ kind: 'off' }, paris, at('2026-06-06T02:00:00Z'))).toBe(true);
  });
});

describe('holidays', () => {
  // December in Paris is UTC+1. 2026-12-24 is a Thursday, the 25th a Friday, the 28th a Monday.
  const office = windowOf('weekdays 09:00-18:00 Europe/Paris --wake-at 08:30');
  const christmas = calendar({ '2026-12-25': 'Christmas Day' });

  it('skips the wake on a holiday', () => {
    // Thu 09:00 local → not Fri 25th → Mon 28th 08:30 local = 07:30Z.
    expect(iso(nextWake(office, 'Europe/Paris', at('2026-12-24T08:00:00Z'), christmas))).toBe('2026-12-28T07:30:00.000Z');
  });

  it('does not cancel the sleep on a holiday (someone who woke it still has it put to sleep)', () => {
    // Thu 18:00 local (17:00Z) → Fri 25th 18:00 local = 17:00Z.
    expect(iso(nextSleep(office, 'Europe/Paris', at('2026-12-24T17:00:00Z')))).toBe('2026-12-25T17:00:00.000Z');
  });

  it('looks at the local date of the wake, not the UTC one', () => {
    // 08:30 in Tokyo on Friday the 25th is 23:30Z on Thursday the 24th: still Christmas there.
    const tokyo = windowOf('weekdays 09:00-18:00 --wake-at 08:30');
    expect(iso(nextWake(tokyo, 'Asia/Tokyo', at('2026-12-24T00:00:00Z'), christmas))).toBe('2026-12-27T23:30:00.000Z');
  });

  it('gives up after about 400 days of holidays, and finds a wake after a long run of them', () => {
    expect(nextWake(office, 'Europe/Paris', NOW, { isHoliday: () => true, nameOf: () => 'closed' })).toBeUndefined();
    const summerBreak = { isHoliday: (d: string) => d < '2026-09-01', nameOf: () => 'summer break' };
    // Tue 2026-09-01 08:30 local, summer time (UTC+2) = 06:30Z.
    expect(iso(nextWake(office, 'Europe/Paris', NOW, summerBreak))).toBe('2026-09-01T06:30:00.000Z');
  });
});

describe('off, its cap, and the schedule that applies', () => {
  const fallback = windowOf('weekdays 08:00-18:30');
  const capped = parsed('off', 14); // until 2026-06-15T10:00Z

  it('uses the default when there is no schedule', () => {
    expect(effectiveSchedule(undefined, fallback, NOW)).toEqual({ schedule: fallback, offExpired: false });
  });

  it('keeps an off schedule until its cap, then returns to the default and says so', () => {
    expect(effectiveSchedule(capped, fallback, at('2026-06-15T09:59:59Z'))).toEqual({ schedule: capped, offExpired: false });
    expect(effectiveSchedule(capped, fallback, at('2026-06-15T10:00:00Z'))).toEqual({ schedule: fallback, offExpired: true });
  });

  it('keeps an uncapped off and a window schedule as they are', () => {
    expect(effectiveSchedule({ kind: 'off' }, fallback, at('2030-01-01T00:00:00Z'))).toEqual({ schedule: { kind: 'off' }, offExpired: false });
    const own = windowOf('every day 07:00-23:00');
    expect(effectiveSchedule(own, fallback, NOW)).toEqual({ schedule: own, offExpired: false });
  });
});

describe('how much of the week is avoided', () => {
  it('the default weekdays 08:00-18:30 avoids at least 68% of an always-on week', () => {
    // 5 days × 10.5 hours = 52.5 hours awake; 115.5 / 168 = 0.6875.
    expect(awakeHoursPerWeek(windowOf('weekdays 08:00-18:30'))).toBe(52.5);
    expect(avoidedShare(windowOf('weekdays 08:00-18:30'))).toBeGreaterThanOrEqual(0.68);
    expect(avoidedShare(windowOf('weekdays 08:00-18:30'))).toBeCloseTo(0.6875, 10);
  });

  it('weekdays 08:00-19:00 avoids only 67.3%', () => {
    // 5 × 11 = 55 hours; 113 / 168 = 0.6726…
    expect(avoidedShare(windowOf('weekdays 08:00-19:00'))).toBeCloseTo(0.6726, 4);
    expect(avoidedShare(windowOf('weekdays 08:00-19:00'))).toBeLessThan(0.68);
  });

  it('off avoids nothing; every day 07:00-23:00 avoids a third', () => {
    expect(awakeHoursPerWeek({ kind: 'off' })).toBe(168);
    expect(avoidedShare({ kind: 'off' })).toBe(0);
    expect(avoidedShare(windowOf('every day 07:00-23:00'))).toBeCloseTo(1 / 3, 10);
  });
});

describe('small helpers', () => {
  it('reminderAt is the lead earlier', () => {
    expect(iso(reminderAt(at('2026-06-01T16:00:00Z'), 15))).toBe('2026-06-01T15:45:00.000Z');
  });

  it('localDate and localTime read the clocks of a zone', () => {
    const late = at('2026-06-01T22:30:00Z');
    expect([localDate(late, 'Europe/Paris'), localTime(late, 'Europe/Paris')]).toEqual(['2026-06-02', '00:30']);
    expect([localDate(late, 'America/New_York'), localTime(late, 'America/New_York')]).toEqual(['2026-06-01', '18:30']);
  });

  it('nextLocalTime is the next time the clocks show it, today or tomorrow', () => {
    // 07:00 local (05:00Z) → 08:00 local today = 06:00Z; 12:00 local → tomorrow 06:00Z.
    expect(iso(nextLocalTime('08:00', 'Europe/Paris', at('2026-06-01T05:00:00Z')))).toBe('2026-06-01T06:00:00.000Z');
    expect(iso(nextLocalTime('08:00', 'Europe/Paris', at('2026-06-01T10:00:00Z')))).toBe('2026-06-02T06:00:00.000Z');
    // Through the spring gap: 02:30 does not exist on 2026-03-29 in Paris → 03:00 summer time = 01:00Z.
    expect(iso(nextLocalTime('02:30', 'Europe/Paris', at('2026-03-28T12:00:00Z')))).toBe('2026-03-29T01:00:00.000Z');
  });

  it('refuses a zone that does not exist rather than giving an invalid date', () => {
    expect(() => atLocal('2026-06-01', '09:00', 'Mars/Olympus_Mons')).toThrow(RangeError);
    expect(() => nextSleep(windowOf('weekdays 09:00-18:00'), 'Mars/Olympus_Mons', NOW)).toThrow(RangeError);
  });
});

describe('daylight saving: atLocal', () => {
  it.each<[string, string, string, string, string]>([
    // Europe/Paris, spring 2026-03-29: 02:00 CET (UTC+1) jumps to 03:00 CEST (UTC+2) at 01:00Z.
    ['Europe/Paris', '2026-03-29', '01:59', '2026-03-29T00:59:00.000Z', 'just before the gap: 01:59 - 1h'],
    ['Europe/Paris', '2026-03-29', '02:00', '2026-03-29T01:00:00.000Z', 'gap: first minute after it, 03:00 CEST'],
    ['Europe/Paris', '2026-03-29', '02:30', '2026-03-29T01:00:00.000Z', 'gap: first minute after it, 03:00 CEST'],
    ['Europe/Paris', '2026-03-29', '03:00', '2026-03-29T01:00:00.000Z', '03:00 - 2h'],
    ['Europe/Paris', '2026-03-29', '03:30', '2026-03-29T01:30:00.000Z', '03:30 - 2h'],
    // Europe/Paris, autumn 2026-10-25: 03:00 CEST falls back to 02:00 CET at 01:00Z; 02:00-03:00 happens twice.
    ['Europe/Paris', '2026-10-25', '02:30', '2026-10-25T00:30:00.000Z', 'first occurrence: 02:30 - 2h (not 01:30Z)'],
    ['Europe/Paris', '2026-10-25', '02:00', '2026-10-25T00:00:00.000Z', 'first occurrence: 02:00 - 2h'],
    ['Europe/Paris', '2026-10-25', '03:00', '2026-10-25T02:00:00.000Z', 'once, in winter time: 03:00 - 1h'],
    // America/New_York, spring 2026-03-08: 02:00 EST (UTC-5) jumps to 03:00 EDT (UTC-4) at 07:00Z.
    ['America/New_York', '2026-03-08', '02:30', '2026-03-08T07:00:00.000Z', 'gap: 03:00 EDT = 07:00Z'],
    ['America/New_York', '2026-03-08', '01:30', '2026-03-08T06:30:00.000Z', 'before: 01:30 + 5h'],
    // America/New_York, autumn 2026-11-01: 02:00 EDT falls back to 01:00 EST at 06:00Z; 01:00-02:00 happens twice.
    ['America/New_York', '2026-11-01', '01:30', '2026-11-01T05:30:00.000Z', 'first occurrence: 01:30 + 4h (not 06:30Z)'],
    ['America/New_York', '2026-11-01', '02:30', '2026-11-01T07:30:00.000Z', 'once, in EST: 02:30 + 5h'],
    // Australia/Lord_Howe, autumn 2026-04-05: 02:00 LHDT (UTC+11) falls back to 01:30 LHST (UTC+10:30) at 15:00Z on the 4th.
    ['Australia/Lord_Howe', '2026-04-05', '01:45', '2026-04-04T14:45:00.000Z', 'first occurrence: 01:45 - 11h (not 15:15Z)'],
    ['Australia/Lord_Howe', '2026-04-05', '01:30', '2026-04-04T14:30:00.000Z', 'first occurrence: 01:30 - 11h'],
    ['Australia/Lord_Howe', '2026-04-05', '02:00', '2026-04-04T15:30:00.000Z', 'once: 02:00 - 10h30'],
    // Australia/Lord_Howe, spring 2026-10-04: 02:00 LHST (UTC+10:30) jumps to 02:30 LHDT (UTC+11) at 15:30Z on the 3rd.
    ['Australia/Lord_Howe', '2026-10-04', '01:59', '2026-10-03T15:29:00.000Z', 'before: 01:59 - 10h30'],
    ['Australia/Lord_Howe', '2026-10-04', '02:15', '2026-10-03T15:30:00.000Z', 'gap: 02:30 LHDT'],
    ['Australia/Lord_Howe', '2026-10-04', '02:30', '2026-10-03T15:30:00.000Z', '02:30 - 11h'],
    // A zone that skipped a whole day: Samoa went from 2011-12-29 to 2011-12-31 (UTC-10 to UTC+14) at 10:00Z.
    ['Pacific/Apia', '2011-12-30', '12:00', '2011-12-30T10:00:00.000Z', 'the missing day: midnight of the 31st'],
  ])('%s %s %s → %s (%s)', (zone, date, time, expected) => {
    expect(atLocal(date, time, zone).toISOString()).toBe(expected);
  });
});

describe('daylight saving: sleeps and wakes', () => {
  describe('Europe/Paris', () => {
    const paris = 'Europe/Paris';

    it('spring: a sleep inside the gap happens when the clocks jump, once', () => {
      const s = windowOf('every day 00:30-02:30');
      // Sat 28th 02:30 CET = 01:30Z; Sun 29th 02:30 is in the gap → 01:00Z; Mon 30th 02:30 CEST = 00:30Z.
      expect(sleepsBetween(s, paris, at('2026-03-28T00:00:00Z'), at('2026-03-31T00:00:00Z'))).toEqual([
        '2026-03-28T01:30:00.000Z',
        '2026-03-29T01:00:00.000Z',
        '2026-03-30T00:30:00.000Z',
      ]);
    });

    it('spring: a wake inside the gap happens when the clocks jump, and the window opens then', () => {
      const s = windowOf('every day 02:30-05:00 --wake-at 02:15');
      expect(iso(nextWake(s, paris, at('2026-03-28T12:00:00Z'), noHolidays))).toBe('2026-03-29T01:00:00.000Z');
      expect(isAwakeWindow(s, paris, at('2026-03-29T00:59:00Z'))).toBe(false); // 01:59 CET
      expect(isAwakeWindow(s, paris, at('2026-03-29T01:00:00Z'))).toBe(true); // 03:00 CEST
      expect(isAwakeWindow(s, paris, at('2026-03-29T02:59:00Z'))).toBe(true); // 04:59 CEST
      expect(isAwakeWindow(s, paris, at('2026-03-29T03:00:00Z'))).toBe(false); // 05:00 CEST
    });

    it('autumn: a sleep in the repeated hour happens at its first occurrence, and only once', () => {
      const s = windowOf('every day 00:30-02:30');
      // Sun 25th: first 02:30 is CEST = 00:30Z. Right after it, the next is Mon 26th 02:30 CET = 01:30Z, not 25th 01:30Z.
      expect(iso(nextSleep(s, paris, at('2026-10-24T12:00:00Z')))).toBe('2026-10-25T00:30:00.000Z');
      expect(iso(nextSleep(s, paris, at('2026-10-25T00:30:00Z')))).toBe('2026-10-26T01:30:00.000Z');
      expect(iso(nextSleep(s, paris, at('2026-10-25T00:31:00Z')))).toBe('2026-10-26T01:30:00.000Z');
      expect(sleepsBetween(s, paris, at('2026-10-24T12:00:00Z'), at('2026-10-26T00:00:00Z'))).toEqual(['2026-10-25T00:30:00.000Z']);
    });

    it('autumn: a wake in the repeated hour happens once', () => {
      const s = windowOf('every day 02:30-05:00 --wake-at 02:30');
      expect(wakesBetween(s, paris, at('2026-10-24T12:00:00Z'), at('2026-10-26T12:00:00Z'))).toEqual(['2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']);
      // The window opened at the first 02:30 and stays open through the second one.
      expect(isAwakeWindow(s, paris, at('2026-10-25T01:15:00Z'))).toBe(true); // 02:15 CET, the second pass
    });
  });

  describe('America/New_York', () => {
    const ny = 'America/New_York';

    it('spring: sleep and wake inside the gap happen at 03:00 EDT = 07:00Z', () => {
      const sleepy = windowOf('every day 01:00-02:30');
      // Sat 7th 02:30 EST = 07:30Z; Sun 8th in the gap → 07:00Z; Mon 9th 02:30 EDT = 06:30Z.
      expect(sleepsBetween(sleepy, ny, at('2026-03-07T00:00:00Z'), at('2026-03-10T00:00:00Z'))).toEqual([
        '2026-03-07T07:30:00.000Z',
        '2026-03-08T07:00:00.000Z',
        '2026-03-09T06:30:00.000Z',
      ]);
      const early = windowOf('every day 02:15-04:00 --wake-at 02:15');
      expect(iso(nextWake(early, ny, at('2026-03-08T00:00:00Z'), noHolidays))).toBe('2026-03-08T07:00:00.000Z');
    });

    it('autumn: sleep and wake in the repeated hour happen once, at 01:30 EDT = 05:30Z', () => {
      const sleepy = windowOf('every day 00:00-01:30');
      // Sun 1st: first 01:30 (EDT) = 05:30Z; the second (EST) would be 06:30Z; Mon 2nd 01:30 EST = 06:30Z.
      expect(sleepsBetween(sleepy, ny, at('2026-10-31T12:00:00Z'), at('2026-11-02T12:00:00Z'))).toEqual(['2026-11-01T05:30:00.000Z', '2026-11-02T06:30:00.000Z']);
      const early = windowOf('every day 01:00-04:00 --wake-at 01:30');
      expect(wakesBetween(early, ny, at('2026-10-31T12:00:00Z'), at('2026-11-02T12:00:00Z'))).toEqual(['2026-11-01T05:30:00.000Z', '2026-11-02T06:30:00.000Z']);
    });
  });

  describe('Australia/Lord_Howe (a 30-minute shift)', () => {
    const lh = 'Australia/Lord_Howe';

    it('autumn 2026-04-05: 01:30-02:00 happens twice, a sleep and a wake in it happen once', () => {
      const sleepy = windowOf('every day 00:00-01:45');
      // Sun 5th: first 01:45 (UTC+11) = 14:45Z on the 4th; the second (UTC+10:30) would be 15:15Z.
      // Mon 6th 01:45 at UTC+10:30 = 15:15Z on the 5th.
      expect(sleepsBetween(sleepy, lh, at('2026-04-04T12:00:00Z'), at('2026-04-05T16:00:00Z'))).toEqual(['2026-04-04T14:45:00.000Z', '2026-04-05T15:15:00.000Z']);
      const early = windowOf('every day 01:00-04:00 --wake-at 01:45');
      expect(wakesBetween(early, lh, at('2026-04-04T12:00:00Z'), at('2026-04-05T16:00:00Z'))).toEqual(['2026-04-04T14:45:00.000Z', '2026-04-05T15:15:00.000Z']);
    });

    it('spring 2026-10-04: 02:00-02:30 does not exist, a sleep and a wake in it happen at 02:30 LHDT', () => {
      const sleepy = windowOf('every day 00:00-02:15');
      // Sat 3rd 02:15 at UTC+10:30 = 15:45Z on the 2nd; Sun 4th in the gap → 15:30Z on the 3rd; Mon 5th at UTC+11 = 15:15Z on the 4th.
      expect(sleepsBetween(sleepy, lh, at('2026-10-02T12:00:00Z'), at('2026-10-05T00:00:00Z'))).toEqual([
        '2026-10-02T15:45:00.000Z',
        '2026-10-03T15:30:00.000Z',
        '2026-10-04T15:15:00.000Z',
      ]);
      const early = windowOf('every day 02:00-05:00 --wake-at 02:15');
      expect(iso(nextWake(early, lh, at('2026-10-03T00:00:00Z'), noHolidays))).toBe('2026-10-03T15:30:00.000Z');
    });
  });
});
