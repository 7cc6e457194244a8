/**
 * An environment's timers, planned from its state, its schedule and the clock (timers.ts). Pure:
 * every instant is fixed, and the expected UTC instants are worked out by hand in the comments.
 *
 * Europe/Paris is UTC+1 in winter (CET) and UTC+2 in summer (CEST, from 2026-03-29 01:00Z).
 * 2026-01-06 is a Tuesday, 2026-01-09 a Friday, 2026-01-12 a Monday.
 */
import { describe, expect, it } from 'vitest';
import type { Environment, Timers } from '../../../src/core/environment/environment.js';
import type { EnvironmentState } from '../../../src/core/environment/lifecycle.js';
import { noHolidays, parseSchedule, type HolidayCalendar, type Schedule } from '../../../src/core/schedule/schedule.js';
import {
  dueAtOf,
  expectedWakeMs,
  FIRE_GUARD_MS,
  pending,
  plan,
  planKey,
  postponed,
  retryDelayMs,
  scheduleOf,
  type ScheduleSettings,
} from '../../../src/core/schedule/timers.js';
import { testTemplate } from '../../support/templates.js';

const MIN = 60_000;
const PARIS = 'Europe/Paris';
const ID = '01JABCDEFGHJKMNPQRSTVWXYZ0';

/** The schedule the words mean, or a failed test. */
function schedule(text: string, now = new Date('2026-01-01T00:00:00Z')): Schedule {
  const r = parseSchedule(text, { now });
  if (!r.ok) throw new Error(`${text}: ${r.problem}`);
  return r.schedule;
}

const WEEKDAYS = schedule('weekdays 08:00-18:30');
const WAKING = schedule('weekdays 08:00-18:30 --wake-at 07:45');
const OFF: Schedule = { kind: 'off' };

/** A calendar of the given days off. */
function calendar(...days: string[]): HolidayCalendar {
  return { isHoliday: (d) => days.includes(d), nameOf: (d) => (days.includes(d) ? 'extra day off' : undefined) };
}

function settings(overrides: Partial<ScheduleSettings> = {}): ScheduleSettings {
  return {
    defaultSchedule: WEEKDAYS,
    defaultZone: 'UTC',
    holidays: noHolidays,
    reminderMinutes: 30,
    allowSkip: true,
    idle: { days: 7, answerHours: 48 },
    tickMs: 60_000,
    ...overrides,
  };
}

/** An environment in `state` since `since`. */
function env(state: EnvironmentState, since: string, extra: Partial<Environment> = {}): Environment {
  return {
    id: ID,
    name: 'web-1',
    owner: 'U1',
    template: 'api',
    instanceType: 't3.medium',
    count: 1,
    purpose: 'tests',
    requestId: 'req-1',
    hourlyCostUsd: 0.0416,
    state,
    version: 3,
    attempt: 1,
    retries: 0,
    fence: 0,
    servers: [],
    progress: [],
    createdAt: '2026-01-01T08:00:00.000Z',
    updatedAt: since,
    stateChangedAt: since,
    ...extra,
  };
}

const at = (iso: string) => new Date(iso);
const iso = (d: Date | undefined) => d?.toISOString();

/** Plans, failing the test when nothing is planned. */
function planned(e: Environment, s: Schedule, zone: string, now: string, opts: Partial<ScheduleSettings> = {}): Timers {
  const t = plan(e, s, zone, settings(opts), at(now));
  if (!t) throw new Error(`nothing planned for ${e.state}`);
  return t;
}

describe('plan: ready', () => {
  it('on a Tuesday at 10:00 in Paris (winter): sleep at 18:30 local = 17:30Z, reminder 30 minutes before', () => {
    const now = '2026-01-06T09:00:00.000Z'; // Tue 10:00 CET
    const t = planned(env('ready', now), WEEKDAYS, PARIS, now);
    expect(t).toEqual({
      plannedFor: `ready@${now}#weekdays 08:00-18:30#Europe/Paris`,
      zone: PARIS,
      schedule: 'weekdays 08:00-18:30',
      sleepAt: '2026-01-06T17:30:00.000Z',
      remindAt: '2026-01-06T17:00:00.000Z',
    });
    expect(t.plannedFor).toBe(planKey(env('ready', now), WEEKDAYS, PARIS));
    expect(pending(t)).toEqual([
      { kind: 'remind', at: '2026-01-06T17:00:00.000Z', sleepAt: '2026-01-06T17:30:00.000Z' },
      { kind: 'sleep', at: '2026-01-06T17:30:00.000Z', sleepAt: '2026-01-06T17:30:00.000Z' },
    ]);
    expect(dueAtOf(t)).toBe('2026-01-06T17:00:00.000Z');
  });

  it('in summer the same local time is an hour earlier in UTC: 18:30 CEST = 16:30Z', () => {
    const now = '2026-06-02T08:00:00.000Z'; // Tue 10:00 CEST
    const t = planned(env('ready', now), WEEKDAYS, PARIS, now);
    expect(t.sleepAt).toBe('2026-06-02T16:30:00.000Z');
    expect(t.remindAt).toBe('2026-06-02T16:00:00.000Z');
  });

  it('the reminder lead follows the settings', () => {
    const now = '2026-01-06T09:00:00.000Z';
    expect(planned(env('ready', now), WEEKDAYS, PARIS, now, { reminderMinutes: 10 }).remindAt).toBe('2026-01-06T17:20:00.000Z');
  });

  it('a Friday evening after 18:30: the next sleep is Monday 18:30 local', () => {
    const now = '2026-01-09T18:00:00.000Z'; // Fri 19:00 CET
    const t = planned(env('ready', now), WEEKDAYS, PARIS, now);
    expect(t.sleepAt).toBe('2026-01-12T17:30:00.000Z'); // Mon 18:30 CET
    expect(t.remindAt).toBe('2026-01-12T17:00:00.000Z');
  });

  it('exactly at 18:30 on a Friday the sleep is strictly after: Monday', () => {
    const now = '2026-01-09T17:30:00.000Z'; // Fri 18:30 CET
    expect(planned(env('ready', now), WEEKDAYS, PARIS, now).sleepAt).toBe('2026-01-12T17:30:00.000Z');
  });

  it('over the spring-forward weekend: Friday 19:00 CET → Monday 18:30 CEST = 16:30Z', () => {
    const now = '2026-03-27T18:00:00.000Z'; // Fri 19:00 CET; the clocks go forward on Sunday 2026-03-29
    const t = planned(env('ready', now), WEEKDAYS, PARIS, now);
    expect(t.sleepAt).toBe('2026-03-30T16:30:00.000Z');
    expect(t.remindAt).toBe('2026-03-30T16:00:00.000Z');
  });

  it('off: no sleep and no reminder (nothing pending)', () => {
    const now = '2026-01-06T09:00:00.000Z';
    const t = planned(env('ready', now, { schedule: OFF }), OFF, PARIS, now);
    expect(t).toEqual({ plannedFor: `ready@${now}#off#Europe/Paris`, zone: PARIS, schedule: 'off' });
    expect(pending(t)).toEqual([]);
    expect(dueAtOf(t)).toBeUndefined();
  });

  it('off with `until`: an off-ended event at the cap, and still no sleep', () => {
    const now = '2026-01-06T09:00:00.000Z';
    const off: Schedule = { kind: 'off', until: '2026-01-20T09:00:00.000Z' };
    const t = planned(env('ready', now, { schedule: off }), off, PARIS, now);
    expect(t.offUntil).toBe('2026-01-20T09:00:00.000Z');
    expect(t.sleepAt).toBeUndefined();
    expect(pending(t)).toEqual([{ kind: 'off-ended', at: '2026-01-20T09:00:00.000Z' }]);
    expect(dueAtOf(t)).toBe('2026-01-20T09:00:00.000Z');
  });

  it('a sleep moved (by a person) to the future is kept across re-planning, with who moved it; its reminder comes 30 minutes before', () => {
    const now = '2026-01-06T17:10:00.000Z';
    const prev: Timers = { plannedFor: '', zone: PARIS, sleepAt: '2026-01-06T17:30:00.000Z', remindedFor: '2026-01-06T17:30:00.000Z', movedTo: '2026-01-06T18:30:00.000Z', movedBy: 'U1' };
    const t = planned(env('ready', '2026-01-06T09:00:00.000Z', { timers: prev }), WEEKDAYS, PARIS, now);
    expect(t.sleepAt).toBe('2026-01-06T18:30:00.000Z');
    expect(t.movedTo).toBe('2026-01-06T18:30:00.000Z');
    expect(t.movedBy).toBe('U1');
    expect(t.remindAt).toBe('2026-01-06T18:00:00.000Z');
    // The reminder sent was for the old time: a new one is due.
    expect(t.remindedFor).toBeUndefined();
    expect(pending(t).map((e) => e.kind)).toEqual(['remind', 'sleep']);
  });

  it('a moved sleep that has passed is dropped: back to the schedule', () => {
    const now = '2026-01-07T09:00:00.000Z'; // Wed 10:00 CET
    const prev: Timers = { plannedFor: '', zone: PARIS, movedTo: '2026-01-06T18:30:00.000Z', movedBy: 'U1' };
    const t = planned(env('ready', '2026-01-07T08:00:00.000Z', { timers: prev }), WEEKDAYS, PARIS, now);
    expect(t.sleepAt).toBe('2026-01-07T17:30:00.000Z');
    expect(t.movedTo).toBeUndefined();
    expect(t.movedBy).toBeUndefined();
  });

  it('`remindedFor` is kept only for the same sleep', () => {
    const now = '2026-01-06T17:05:00.000Z';
    const e = (remindedFor: string) => env('ready', '2026-01-06T09:00:00.000Z', { timers: { plannedFor: '', zone: PARIS, remindedFor } });
    const same = planned(e('2026-01-06T17:30:00.000Z'), WEEKDAYS, PARIS, now);
    expect(same.remindedFor).toBe('2026-01-06T17:30:00.000Z');
    expect(pending(same).map((x) => x.kind)).toEqual(['sleep']);
    const yesterday = planned(e('2026-01-05T17:30:00.000Z'), WEEKDAYS, PARIS, now);
    expect(yesterday.remindedFor).toBeUndefined();
    expect(pending(yesterday).map((x) => x.kind)).toEqual(['remind', 'sleep']);
  });

  it('a previous sleep on schedule that came back to ready is tried again after the backoff, with no new reminder', () => {
    const now = '2026-01-06T17:40:00.000Z';
    const sleeping = { for: '2026-01-06T17:30:00.000Z', attempts: 1, firedAt: '2026-01-06T17:30:00.000Z', late: false };
    const t = planned(env('ready', '2026-01-06T17:40:00.000Z', { timers: { plannedFor: '', zone: PARIS, sleeping } }), WEEKDAYS, PARIS, now);
    expect(t.sleeping).toEqual(sleeping);
    expect(t.sleepAt).toBe('2026-01-06T17:30:00.000Z');
    expect(t.remindedFor).toBe('2026-01-06T17:30:00.000Z');
    expect(t.remindAt).toBeUndefined();
    expect(t.retryAt).toBe('2026-01-06T17:45:00.000Z'); // now + 5 min
    expect(pending(t)).toEqual([{ kind: 'sleep', at: '2026-01-06T17:45:00.000Z', sleepAt: '2026-01-06T17:30:00.000Z' }]);
  });

  it.each([
    [1, 5],
    [2, 10],
    [3, 20],
    [4, 40],
    [5, 60],
    [6, 60],
    [12, 60],
  ])('after %i attempt(s) the next try is %i minutes later', (attempts, minutes) => {
    expect(retryDelayMs(attempts)).toBe(minutes * MIN);
    const now = '2026-01-06T18:00:00.000Z';
    const sleeping = { for: '2026-01-06T17:30:00.000Z', attempts, firedAt: '2026-01-06T17:50:00.000Z', late: false };
    const t = planned(env('ready', now, { timers: { plannedFor: '', zone: PARIS, sleeping } }), WEEKDAYS, PARIS, now);
    expect(t.retryAt).toBe(new Date(Date.parse(now) + minutes * MIN).toISOString());
  });

  it('no attempt yet counts as the first', () => {
    expect(retryDelayMs(0)).toBe(5 * MIN);
  });

  it('back from a wake on schedule: how long it took is remembered (the last five)', () => {
    const prev: Timers = { plannedFor: '', zone: PARIS, waking: { for: '2026-01-06T06:45:00.000Z', firedAt: '2026-01-06T06:33:00.000Z' }, wakeMs: [1, 2, 3, 4, 5] };
    const t = planned(env('ready', '2026-01-06T06:41:00.000Z', { timers: prev }), WAKING, PARIS, '2026-01-06T06:41:00.000Z');
    expect(t.wakeMs).toEqual([2, 3, 4, 5, 8 * MIN]);
    expect(t.waking).toBeUndefined();
  });
});

describe('plan: asleep', () => {
  const slept = '2026-01-09T18:00:00.000Z'; // Fri 19:00 CET

  it('with --wake-at 07:45: the next weekday at 07:45 local, started 10 + 2 minutes early when no wake was measured', () => {
    const t = planned(env('asleep', slept, { sleptAt: slept, schedule: WAKING }), WAKING, PARIS, slept);
    expect(t.wakeAt).toBe('2026-01-12T06:45:00.000Z'); // Mon 07:45 CET
    expect(t.wakeStartAt).toBe('2026-01-12T06:33:00.000Z'); // − 10 min − 2 min
    expect(pending(t)[0]).toEqual({ kind: 'wake', at: '2026-01-12T06:33:00.000Z', wakeAt: '2026-01-12T06:45:00.000Z' });
  });

  it('never on a holiday: Monday off → Tuesday 07:45', () => {
    const t = planned(env('asleep', slept, { sleptAt: slept, schedule: WAKING }), WAKING, PARIS, slept, { holidays: calendar('2026-01-12') });
    expect(t.wakeAt).toBe('2026-01-13T06:45:00.000Z');
    expect(t.wakeStartAt).toBe('2026-01-13T06:33:00.000Z');
  });

  it('started earlier by the median of the recent wakes, plus 2 minutes', () => {
    // Sorted: 4, 6, 7 min → median 6 min → 06:45 − 8 min = 06:37.
    const timers: Timers = { plannedFor: '', zone: PARIS, wakeMs: [4 * MIN, 7 * MIN, 6 * MIN] };
    const t = planned(env('asleep', slept, { sleptAt: slept, timers }), WAKING, PARIS, slept);
    expect(t.wakeMs).toEqual([4 * MIN, 7 * MIN, 6 * MIN]);
    expect(t.wakeStartAt).toBe('2026-01-12T06:37:00.000Z');
  });

  it('the start of a wake is never before now', () => {
    const now = '2026-01-13T06:40:00.000Z'; // Tue 07:40 CET: 5 minutes before the wake
    // Planned again (not the first plan in this state): counted from now.
    const timers: Timers = { plannedFor: `asleep@${slept}#x`, zone: PARIS };
    const t = planned(env('asleep', slept, { sleptAt: slept, timers }), WAKING, PARIS, now);
    expect(t.wakeAt).toBe('2026-01-13T06:45:00.000Z');
    expect(t.wakeStartAt).toBe(now);
  });

  it('the first plan counts from when it fell asleep: a wake missed while the leader was down happens now, once', () => {
    const now = '2026-01-13T06:40:00.000Z'; // Tue; Monday's 07:45 wake was missed
    const t = planned(env('asleep', slept, { sleptAt: slept }), WAKING, PARIS, now);
    expect(t.wakeAt).toBe('2026-01-12T06:45:00.000Z');
    expect(t.wakeStartAt).toBe(now);
  });

  it('without --wake-at: no wake, only the idle check', () => {
    const t = planned(env('asleep', slept, { sleptAt: slept }), WEEKDAYS, PARIS, slept);
    expect(t.wakeAt).toBeUndefined();
    expect(t.wakeStartAt).toBeUndefined();
    expect(pending(t)).toEqual([{ kind: 'idle-remind', at: '2026-01-16T18:00:00.000Z' }]);
  });

  it('idle = max(sleptAt, keptAt) + idle days', () => {
    const withKeep = (keptAt?: string) =>
      planned(env('asleep', slept, { sleptAt: slept, ...(keptAt ? { timers: { plannedFor: '', zone: PARIS, keptAt } } : {}) }), WEEKDAYS, PARIS, '2026-01-12T09:00:00.000Z');
    expect(withKeep().idleAt).toBe('2026-01-16T18:00:00.000Z'); // sleptAt + 7 days
    const kept = withKeep('2026-01-12T09:00:00.000Z');
    expect(kept.idleAt).toBe('2026-01-19T09:00:00.000Z'); // keptAt + 7 days
    expect(kept.keptAt).toBe('2026-01-12T09:00:00.000Z');
    expect(withKeep('2026-01-02T09:00:00.000Z').idleAt).toBe('2026-01-16T18:00:00.000Z'); // a keep before the sleep: the sleep counts
    // Without sleptAt: when it became asleep.
    expect(planned(env('asleep', slept), WEEKDAYS, PARIS, slept).idleAt).toBe('2026-01-16T18:00:00.000Z');
    expect(planned(env('asleep', slept, { sleptAt: slept }), WEEKDAYS, PARIS, slept, { idle: { days: 3, answerHours: 48 } }).idleAt).toBe('2026-01-12T18:00:00.000Z');
  });

  it('an idle reminder already sent is kept (its destroy pending), unless someone kept it since', () => {
    const reminded = { idleRemindedAt: '2026-01-16T18:00:00.000Z', idleDestroyAt: '2026-01-18T18:00:00.000Z' };
    const t = planned(env('asleep', slept, { sleptAt: slept, timers: { plannedFor: '', zone: PARIS, ...reminded } }), WEEKDAYS, PARIS, '2026-01-17T09:00:00.000Z');
    expect(t).toMatchObject(reminded);
    expect(pending(t)).toEqual([{ kind: 'idle-destroy', at: '2026-01-18T18:00:00.000Z' }]);

    const kept = planned(env('asleep', slept, { sleptAt: slept, timers: { plannedFor: '', zone: PARIS, ...reminded, keptAt: '2026-01-17T09:00:00.000Z' } }), WEEKDAYS, PARIS, '2026-01-17T09:00:00.000Z');
    expect(kept.idleRemindedAt).toBeUndefined();
    expect(kept.idleDestroyAt).toBeUndefined();
    expect(pending(kept)).toEqual([{ kind: 'idle-remind', at: '2026-01-24T09:00:00.000Z' }]);
  });
});

describe('plan: failed, and the states with no timer', () => {
  const sleeping = { for: '2026-01-06T17:30:00.000Z', attempts: 2, firedAt: '2026-01-06T17:40:00.000Z', late: false };
  const failure = (step: 'save' | 'bootstrap', retryable: boolean) => ({ step, code: 'DATA.STORE_ERROR', reason: 'no', from: 'saving' as const, retryable, at: '2026-01-06T17:50:00.000Z' });
  const now = '2026-01-06T17:50:00.000Z';

  it('failed with a sleeping marker and a retryable save failure: tried again after the backoff', () => {
    const t = planned(env('failed', now, { failure: failure('save', true), timers: { plannedFor: '', zone: PARIS, sleeping } }), WEEKDAYS, PARIS, now);
    expect(t).toMatchObject({ sleeping, sleepAt: sleeping.for, remindedFor: sleeping.for, retryAt: '2026-01-06T18:00:00.000Z' }); // 2 attempts → 10 min
    expect(pending(t)).toEqual([{ kind: 'sleep', at: '2026-01-06T18:00:00.000Z', sleepAt: sleeping.for }]);
  });

  it('failed otherwise: nothing', () => {
    expect(plan(env('failed', now, { failure: failure('save', true) }), WEEKDAYS, PARIS, settings(), at(now))).toBeUndefined();
    expect(plan(env('failed', now, { failure: failure('save', false), timers: { plannedFor: '', zone: PARIS, sleeping } }), WEEKDAYS, PARIS, settings(), at(now))).toBeUndefined();
    expect(plan(env('failed', now, { failure: failure('bootstrap', true), timers: { plannedFor: '', zone: PARIS, sleeping } }), WEEKDAYS, PARIS, settings(), at(now))).toBeUndefined();
    expect(plan(env('failed', now, { timers: { plannedFor: '', zone: PARIS, sleeping } }), WEEKDAYS, PARIS, settings(), at(now))).toBeUndefined();
  });

  it.each<EnvironmentState>(['requested', 'provisioning', 'bootstrapping', 'saving', 'waking', 'destroying', 'destroyed', 'rejected'])('%s: nothing', (state) => {
    const timers: Timers = { plannedFor: '', zone: PARIS, sleeping, sleepAt: sleeping.for };
    expect(plan(env(state, now, { timers }), WAKING, PARIS, settings(), at(now))).toBeUndefined();
  });
});

describe('pending', () => {
  const base: Timers = { plannedFor: 'x', zone: PARIS };

  it('a reminder comes before its sleep when both are due at once', () => {
    const t: Timers = { ...base, sleepAt: '2026-01-06T17:30:00.000Z', remindAt: '2026-01-06T17:30:00.000Z' };
    expect(pending(t).map((e) => e.kind)).toEqual(['remind', 'sleep']);
  });

  it('earliest first, whatever the kind', () => {
    const t: Timers = {
      ...base,
      offUntil: '2026-01-06T18:00:00.000Z',
      sleepAt: '2026-01-06T17:30:00.000Z',
      remindAt: '2026-01-06T17:00:00.000Z',
      wakeAt: '2026-01-07T06:45:00.000Z',
      wakeStartAt: '2026-01-07T06:33:00.000Z',
      idleAt: '2026-01-06T16:00:00.000Z',
    };
    expect(pending(t).map((e) => `${e.kind}@${e.at.slice(11, 16)}`)).toEqual(['idle-remind@16:00', 'remind@17:00', 'sleep@17:30', 'off-ended@18:00', 'wake@06:33']);
  });

  it('a reminder already sent for this sleep is not pending', () => {
    const t: Timers = { ...base, sleepAt: '2026-01-06T17:30:00.000Z', remindAt: '2026-01-06T17:00:00.000Z', remindedFor: '2026-01-06T17:30:00.000Z' };
    expect(pending(t)).toEqual([{ kind: 'sleep', at: '2026-01-06T17:30:00.000Z', sleepAt: '2026-01-06T17:30:00.000Z' }]);
  });

  it('a sleeping marker yields one sleep event, FIRE_GUARD_MS after it fired (or at its retryAt), and no reminder', () => {
    const sleeping = { for: '2026-01-06T17:30:00.000Z', attempts: 1, firedAt: '2026-01-06T17:31:00.000Z', late: false };
    const t: Timers = { ...base, sleepAt: '2026-01-06T17:30:00.000Z', remindAt: '2026-01-06T17:00:00.000Z', sleeping };
    expect(FIRE_GUARD_MS).toBe(3 * MIN);
    expect(pending(t)).toEqual([{ kind: 'sleep', at: '2026-01-06T17:34:00.000Z', sleepAt: '2026-01-06T17:30:00.000Z' }]);
    expect(pending({ ...t, retryAt: '2026-01-06T17:45:00.000Z' })).toEqual([{ kind: 'sleep', at: '2026-01-06T17:45:00.000Z', sleepAt: '2026-01-06T17:30:00.000Z' }]);
  });

  it('a waking marker yields one wake event, FIRE_GUARD_MS after it fired', () => {
    const t: Timers = { ...base, wakeAt: '2026-01-07T06:45:00.000Z', wakeStartAt: '2026-01-07T06:33:00.000Z', waking: { for: '2026-01-07T06:45:00.000Z', firedAt: '2026-01-07T06:33:00.000Z' } };
    expect(pending(t)).toEqual([{ kind: 'wake', at: '2026-01-07T06:36:00.000Z', wakeAt: '2026-01-07T06:45:00.000Z' }]);
  });

  it('the idle reminder once, then the destroy', () => {
    expect(pending({ ...base, idleAt: '2026-01-16T18:00:00.000Z' })).toEqual([{ kind: 'idle-remind', at: '2026-01-16T18:00:00.000Z' }]);
    expect(pending({ ...base, idleAt: '2026-01-16T18:00:00.000Z', idleRemindedAt: '2026-01-16T18:00:00.000Z', idleDestroyAt: '2026-01-18T18:00:00.000Z' })).toEqual([
      { kind: 'idle-destroy', at: '2026-01-18T18:00:00.000Z' },
    ]);
  });

  it('dueAtOf: the earliest pending event, or none', () => {
    expect(dueAtOf(undefined)).toBeUndefined();
    expect(dueAtOf(base)).toBeUndefined();
    expect(dueAtOf({ ...base, sleepAt: '2026-01-06T17:30:00.000Z', remindAt: '2026-01-06T17:00:00.000Z' })).toBe('2026-01-06T17:00:00.000Z');
  });
});

describe('postponed', () => {
  const tuesday = at('2026-01-06T17:30:00.000Z'); // Tue 18:30 CET
  const friday = at('2026-01-09T17:30:00.000Z'); // Fri 18:30 CET

  it('hour: an hour later (whatever the schedule)', () => {
    expect(iso(postponed(tuesday, 'hour', WEEKDAYS, PARIS))).toBe('2026-01-06T18:30:00.000Z');
    expect(iso(postponed(tuesday, 'hour', OFF, PARIS))).toBe('2026-01-06T18:30:00.000Z');
  });

  it('tomorrow: the next local start, on any day', () => {
    expect(iso(postponed(tuesday, 'tomorrow', WEEKDAYS, PARIS))).toBe('2026-01-07T07:00:00.000Z'); // Wed 08:00 CET
    expect(iso(postponed(friday, 'tomorrow', WEEKDAYS, PARIS))).toBe('2026-01-10T07:00:00.000Z'); // Sat 08:00 CET
    expect(iso(postponed(tuesday, 'tomorrow', WEEKDAYS, 'UTC'))).toBe('2026-01-07T08:00:00.000Z');
  });

  it('skip: the next sleep after this one', () => {
    expect(iso(postponed(tuesday, 'skip', WEEKDAYS, PARIS))).toBe('2026-01-07T17:30:00.000Z'); // Wed 18:30 CET
    expect(iso(postponed(friday, 'skip', WEEKDAYS, PARIS))).toBe('2026-01-12T17:30:00.000Z'); // Mon 18:30 CET
  });

  it('off: no later sleep to move to', () => {
    expect(postponed(tuesday, 'tomorrow', OFF, PARIS)).toBeUndefined();
    expect(postponed(tuesday, 'skip', OFF, PARIS)).toBeUndefined();
  });
});

describe('scheduleOf', () => {
  const now = at('2026-01-06T09:00:00.000Z');
  const tpl = testTemplate({ schedule: schedule('mon-thu 09:00-17:00') });

  it('its own, else its template’s, else the default', () => {
    expect(scheduleOf({ schedule: OFF }, tpl, settings(), now)).toEqual({ schedule: OFF, source: 'own', offExpired: false });
    expect(scheduleOf({}, tpl, settings(), now)).toEqual({ schedule: tpl.schedule, source: 'template', offExpired: false });
    expect(scheduleOf({}, testTemplate(), settings(), now)).toEqual({ schedule: WEEKDAYS, source: 'default', offExpired: false });
    expect(scheduleOf({}, undefined, settings(), now)).toEqual({ schedule: WEEKDAYS, source: 'default', offExpired: false });
  });

  it('an off past its cap gives way (and says so)', () => {
    const capped: Schedule = { kind: 'off', until: '2026-01-06T09:00:00.000Z' };
    expect(scheduleOf({ schedule: capped }, undefined, settings(), at('2026-01-06T08:59:59.999Z'))).toEqual({ schedule: capped, source: 'own', offExpired: false });
    expect(scheduleOf({ schedule: capped }, undefined, settings(), now)).toEqual({ schedule: WEEKDAYS, source: 'default', offExpired: true });
    expect(scheduleOf({ schedule: capped }, tpl, settings(), now)).toEqual({ schedule: tpl.schedule, source: 'template', offExpired: true });
  });
});

describe('expectedWakeMs', () => {
  it('10 minutes when unknown; else the median (the upper one of an even count)', () => {
    expect(expectedWakeMs(undefined)).toBe(10 * MIN);
    expect(expectedWakeMs([])).toBe(10 * MIN);
    expect(expectedWakeMs([9 * MIN, 3 * MIN, 5 * MIN])).toBe(5 * MIN);
    expect(expectedWakeMs([4 * MIN, 1 * MIN, 3 * MIN, 2 * MIN])).toBe(3 * MIN);
  });
});
