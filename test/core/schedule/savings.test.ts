/**
 * The savings report over a simulated week: Monday 2026-11-23 00:00Z to Monday 2026-11-30 00:00Z
 * (168 hours). Every environment is walked through real `transition()` calls on a fake timeline,
 * so its `awake` periods are the ones production records; the expected numbers are computed by
 * hand below, not by the code under test.
 *
 * Prices: S3 $0.023 per GB-month, a month being 30 days: 20 GB kept asleep cost
 * 20 × 0.023 / 30 = 0.46 / 30 = $0.015333… a day.
 *
 * Owners and teams:
 *   platform = UZOE, UBOB       data = UBOB, UDAN       UCAROL is in no team
 *
 * (a) `sched` — UZOE, weekdays 08:00-18:30 UTC, 2 servers at $0.0832/h (hourlyCostUsd 0.1664),
 *     20 GB generation kept asleep. Launched Friday 2026-11-20 and asleep since Friday 18:40, so
 *     always on it would have run the whole week: 168 h.
 *     Each weekday its wake starts at 07:50 (to be ready by 08:00) and the sleep begins at 18:30
 *     and ends at 18:40: awake 07:50 → 18:40 = 10 h 50 min = 65/6 h.
 *       awake     = 5 × 65/6           = 325/6 h  = 54.1666… h
 *       asleep    = 168 − 325/6        = 683/6 h  = 113.8333… h
 *       storage   = 683/6 / 24 × 0.46/30 = 683 × 0.46 / 4320 = 314.18 / 4320 = $0.0727268518…
 *       spent     = 325/6 × 0.1664 + storage = 9.0133333… + 0.0727268… = $9.0860601851…
 *       saved     = 683/6 × 0.1664 − storage = 18.9418666… − 0.0727268… = $18.8691398148…
 *       avoided   = 683/6 / 168 = 683/1008 = 0.677579…  (a little under the schedule's 68.75%:
 *                   the wake starts early and the save takes ten minutes)
 * (b) `always` — UBOB, never asleep, 3 servers at $0.0416/h (0.1248), launched Mon 2026-11-16, its
 *     awake period still open at the end; a save on its own on Tuesday (saving → ready) leaves a
 *     50 GB generation, which costs nothing here: it is never asleep.
 *       awake = always on = 168 h;  spent = 168 × 0.1248 = $20.9664;  saved = 0;  avoided = 0
 * (c) `short` — UCAROL, requested and launched Wednesday 12:00, destroyed Friday 12:00, 1 server
 *     at $0.0416/h, never asleep: only its life counts.
 *       awake = always on = 48 h;  spent = 48 × 0.0416 = $1.9968;  saved = 0;  avoided = 0
 * (d) `refused` — UDAN, awaiting approval Tuesday 10:00, rejected Tuesday 15:00: never launched,
 *     not counted (UDAN has no line, and adds nothing to `data`).
 *
 * Fleet (3 environments):
 *   awake    = 325/6 + 168 + 48 = 1621/6 h = 270.1666… h
 *   alwaysOn = 168 + 168 + 48   = 384 h
 *   spent    = 9.0860601851… + 20.9664 + 1.9968 = $32.0492601851…
 *   saved    = $18.8691398148…
 *   avoided  = 1 − (1621/6)/384 = 1 − 1621/2304 = 683/2304 = 0.296440…
 * Teams:
 *   platform (a + b): 2 envs, awake 325/6 + 168 = 1333/6 h, alwaysOn 336 h, spent 9.0860601851… + 20.9664
 *                     = $30.0524601851…, saved $18.8691398148…, avoided 1 − 1333/2016 = 683/2016
 *   data     (b):     1 env, 168 / 168 h, spent $20.9664, saved 0
 *   no team  (c):     1 env, 48 / 48 h, spent $1.9968, saved 0
 * Order (most saved first, then by key): owners UZOE, UBOB, UCAROL; teams platform, data, no team.
 */
import { describe, expect, it } from 'vitest';
import { newEnvironment, transition, type Environment } from '../../../src/core/environment/environment.js';
import type { EnvironmentState } from '../../../src/core/environment/lifecycle.js';
import { archivedDailyUsd } from '../../../src/core/policies/cost.policy.js';
import { environmentSavings, savingsReport, type SavingsLine } from '../../../src/core/schedule/savings.js';
import { avoidedShare, parseSchedule, type Schedule } from '../../../src/core/schedule/schedule.js';

const FROM = new Date('2026-11-23T00:00:00.000Z'); // Monday
const TO = new Date('2026-11-30T00:00:00.000Z'); // the next Monday
const WEEKDAYS = ['2026-11-23', '2026-11-24', '2026-11-25', '2026-11-26', '2026-11-27'];
const TEAMS = { platform: ['UZOE', 'UBOB'], data: ['UBOB', 'UDAN'] };
const GB = 1e9;

const HOURS = 1e-9;
const USD = 6;

function parsed(text: string): Schedule {
  const r = parseSchedule(text, { now: FROM });
  if (!r.ok) throw new Error(`${text}: ${r.problem}`);
  return r.schedule;
}

/** A new environment (requested at `at`), not launched yet. */
function requested(name: string, owner: string, at: string, shape: { count: number; hourlyCostUsd: number; instanceType?: string }): Environment {
  return newEnvironment(
    {
      id: `ID-${name}`,
      name,
      owner,
      template: 'api',
      instanceType: shape.instanceType ?? 't3.medium',
      count: shape.count,
      purpose: 'savings test',
      requestId: `req-${name}`,
      hourlyCostUsd: shape.hourlyCostUsd,
    },
    new Date(at),
  );
}

/** Walks `env` through real transitions, each at its time (in order). */
function walk(env: Environment, steps: ReadonlyArray<readonly [EnvironmentState, string]>): Environment {
  let e = env;
  let last = -Infinity;
  for (const [to, at] of steps) {
    const t = Date.parse(at);
    if (t < last) throw new Error(`the timeline goes back at ${at}`);
    last = t;
    e = transition(e, to, new Date(t));
  }
  return e;
}

/** One weekday on a schedule: woken from asleep at `wake`, ready, then saved and asleep. */
function day(date: string, times: { wake: string; ready: string; save: string; asleep: string }): Array<[EnvironmentState, string]> {
  return [
    ['waking', `${date}T${times.wake}:00.000Z`],
    ['ready', `${date}T${times.ready}:00.000Z`],
    ['saving', `${date}T${times.save}:00.000Z`],
    ['asleep', `${date}T${times.asleep}:00.000Z`],
  ];
}

const generation = (envId: string, bytes: number, number: number, createdAt: string) => ({
  environmentId: envId,
  number,
  createdAt,
  reason: 'sleep' as const,
  bytes,
  serverCount: 2,
  shared: false,
});

/** (a): weekdays 08:00-18:30 UTC, woken at 07:50, asleep at 18:40; 20 GB kept asleep. */
function scheduled(): Environment {
  let e = requested('sched', 'UZOE', '2026-11-20T07:40:00.000Z', { count: 2, hourlyCostUsd: 0.1664, instanceType: 't3.large' });
  e = walk(e, [
    ['provisioning', '2026-11-20T07:40:00.000Z'],
    ['bootstrapping', '2026-11-20T07:44:00.000Z'],
    ['ready', '2026-11-20T07:58:00.000Z'],
    ['saving', '2026-11-20T18:30:00.000Z'],
    ['asleep', '2026-11-20T18:40:00.000Z'],
  ]);
  for (const date of WEEKDAYS) e = walk(e, day(date, { wake: '07:50', ready: '07:58', save: '18:30', asleep: '18:40' }));
  return {
    ...e,
    schedule: parsed('weekdays 08:00-18:30 UTC'),
    sleptAt: '2026-11-27T18:40:00.000Z',
    data: { lastGeneration: 6, latest: generation(e.id, 20 * GB, 6, '2026-11-27T18:40:00.000Z'), asleepAs: 'archive' },
  };
}

/** (b): always on since the Monday before, a save on its own on Tuesday; its awake period is still open. */
function alwaysOn(): Environment {
  const e = walk(requested('always', 'UBOB', '2026-11-16T09:00:00.000Z', { count: 3, hourlyCostUsd: 0.1248 }), [
    ['provisioning', '2026-11-16T09:00:00.000Z'],
    ['bootstrapping', '2026-11-16T09:03:00.000Z'],
    ['ready', '2026-11-16T09:12:00.000Z'],
    ['saving', '2026-11-24T13:00:00.000Z'],
    ['ready', '2026-11-24T13:20:00.000Z'],
  ]);
  return { ...e, schedule: { kind: 'off' }, data: { lastGeneration: 1, latest: { ...generation(e.id, 50 * GB, 1, '2026-11-24T13:20:00.000Z'), reason: 'save' } } };
}

/** (c): Wednesday 12:00 to Friday 12:00. */
function shortLived(): Environment {
  return walk(requested('short', 'UCAROL', '2026-11-25T12:00:00.000Z', { count: 1, hourlyCostUsd: 0.0416 }), [
    ['provisioning', '2026-11-25T12:00:00.000Z'],
    ['bootstrapping', '2026-11-25T12:04:00.000Z'],
    ['ready', '2026-11-25T12:15:00.000Z'],
    ['destroying', '2026-11-27T11:50:00.000Z'],
    ['destroyed', '2026-11-27T12:00:00.000Z'],
  ]);
}

/** (d): waited for approval, then rejected: never launched. */
function refused(): Environment {
  return walk(requested('refused', 'UDAN', '2026-11-24T10:00:00.000Z', { count: 2, hourlyCostUsd: 0.0832 }), [
    ['awaiting_approval', '2026-11-24T10:00:00.000Z'],
    ['rejected', '2026-11-24T15:00:00.000Z'],
  ]);
}

// The hand computation above, as numbers.
const STORAGE_A = (683 * 0.46) / 4320; // 0.0727268518…
const A = { awake: 325 / 6, alwaysOn: 168, spent: (325 / 6) * 0.1664 + STORAGE_A, saved: (683 / 6) * 0.1664 - STORAGE_A, avoided: 683 / 1008 };
const B = { awake: 168, alwaysOn: 168, spent: 20.9664, saved: 0, avoided: 0 };
const C = { awake: 48, alwaysOn: 48, spent: 1.9968, saved: 0, avoided: 0 };

function expectLine(line: SavingsLine | undefined, want: { key: string; environments: number; awake: number; alwaysOn: number; spent: number; saved: number; avoided: number }): void {
  expect(line, want.key).toBeDefined();
  const l = line!;
  expect(l.key).toBe(want.key);
  expect(l.environments, `${want.key}: environments`).toBe(want.environments);
  expect(Math.abs(l.awakeHours - want.awake), `${want.key}: awake ${l.awakeHours} vs ${want.awake}`).toBeLessThan(HOURS);
  expect(Math.abs(l.alwaysOnHours - want.alwaysOn), `${want.key}: always on ${l.alwaysOnHours} vs ${want.alwaysOn}`).toBeLessThan(HOURS);
  expect(l.spentUsd, `${want.key}: spent`).toBeCloseTo(want.spent, USD);
  expect(l.savedUsd, `${want.key}: saved`).toBeCloseTo(want.saved, USD);
  expect(l.avoidedShare, `${want.key}: avoided`).toBeCloseTo(want.avoided, 9);
}

describe('the timeline the report reads', () => {
  it('transition() records the awake periods: opened on provisioning and waking, closed on asleep and destroyed, none for a rejected one', () => {
    const a = scheduled();
    expect(a.state).toBe('asleep');
    expect(a.awake).toHaveLength(6);
    expect(a.awake![0]).toEqual({ from: '2026-11-20T07:40:00.000Z', to: '2026-11-20T18:40:00.000Z' });
    expect(a.awake![1]).toEqual({ from: '2026-11-23T07:50:00.000Z', to: '2026-11-23T18:40:00.000Z' });
    expect(a.awake![5]).toEqual({ from: '2026-11-27T07:50:00.000Z', to: '2026-11-27T18:40:00.000Z' });

    // A save on its own keeps the servers running: one period, still open.
    expect(alwaysOn().awake).toEqual([{ from: '2026-11-16T09:00:00.000Z' }]);
    expect(shortLived().awake).toEqual([{ from: '2026-11-25T12:00:00.000Z', to: '2026-11-27T12:00:00.000Z' }]);
    expect(refused().awake).toBeUndefined();
    // The 20 GB kept asleep cost 0.46/30 a day.
    expect(archivedDailyUsd(20 * GB)).toBeCloseTo(0.46 / 30, 12);
  });
});

describe('savingsReport over the week 2026-11-23 → 2026-11-30', () => {
  const envs = [scheduled(), alwaysOn(), shortLived(), refused()];
  const report = savingsReport(envs, FROM, TO, TEAMS);

  it('per environment: the hours and dollars worked out by hand', () => {
    const [a, b, c, d] = envs.map((e) => environmentSavings(e, FROM, TO));
    for (const [got, want] of [
      [a, A],
      [b, B],
      [c, C],
    ] as const) {
      expect(got).toBeDefined();
      expect(Math.abs(got!.awakeHours - want.awake)).toBeLessThan(HOURS);
      expect(Math.abs(got!.alwaysOnHours - want.alwaysOn)).toBeLessThan(HOURS);
      expect(got!.spentUsd).toBeCloseTo(want.spent, USD);
      expect(got!.savedUsd).toBeCloseTo(want.saved, USD);
    }
    // Spot values, written out: (a) spent $9.086060, saved $18.869140.
    expect(a!.spentUsd).toBeCloseTo(9.0860601851, USD);
    expect(a!.savedUsd).toBeCloseTo(18.8691398148, USD);
    // (d) never launched: nothing ran, nothing was saved.
    expect(d).toBeUndefined();
  });

  it('the fleet: three environments (the rejected one not counted)', () => {
    expect(report.from).toBe('2026-11-23T00:00:00.000Z');
    expect(report.to).toBe('2026-11-30T00:00:00.000Z');
    expectLine(report.fleet, { key: 'fleet', environments: 3, awake: 1621 / 6, alwaysOn: 384, spent: 32.0492601851, saved: 18.8691398148, avoided: 683 / 2304 });
  });

  it('per owner: most saved first, then by id; an owner whose only environment never launched has no line', () => {
    expect(report.byOwner.map((l) => l.key)).toEqual(['UZOE', 'UBOB', 'UCAROL']);
    expectLine(report.byOwner[0], { key: 'UZOE', environments: 1, ...A });
    expectLine(report.byOwner[1], { key: 'UBOB', environments: 1, ...B });
    expectLine(report.byOwner[2], { key: 'UCAROL', environments: 1, ...C });
  });

  it('per team: an owner in two teams counts in both, an owner in none under `no team`', () => {
    expect(report.byTeam.map((l) => l.key)).toEqual(['platform', 'data', 'no team']);
    expectLine(report.byTeam[0], { key: 'platform', environments: 2, awake: 1333 / 6, alwaysOn: 336, spent: 30.0524601851, saved: 18.8691398148, avoided: 683 / 2016 });
    expectLine(report.byTeam[1], { key: 'data', environments: 1, ...B });
    expectLine(report.byTeam[2], { key: 'no team', environments: 1, ...C });
    // The fleet counts (b) once, though its owner is in two teams.
    const teamEnvs = report.byTeam.reduce((n, l) => n + l.environments, 0);
    expect(teamEnvs).toBe(report.fleet.environments + 1);
  });

  it('the same week read later gives the same report: what happened after `to` is not counted', () => {
    // Monday 30th: (a) wakes at 07:50 and is ready, (b) goes on running.
    const later = walk(scheduled(), [
      ['waking', '2026-11-30T07:50:00.000Z'],
      ['ready', '2026-11-30T07:58:00.000Z'],
    ]);
    const again = savingsReport([later, alwaysOn(), shortLived(), refused()], FROM, TO, TEAMS);
    expect(later.awake?.at(-1)).toEqual({ from: '2026-11-30T07:50:00.000Z' });
    expectLine(again.fleet, { key: 'fleet', environments: 3, awake: 1621 / 6, alwaysOn: 384, spent: 32.0492601851, saved: 18.8691398148, avoided: 683 / 2304 });
  });

  it('an awake period still open at the end counts up to `to`', () => {
    // Launched Sunday 20:00, still running: 4 h of the week, all awake.
    const e = walk(requested('late', 'UBOB', '2026-11-29T20:00:00.000Z', { count: 1, hourlyCostUsd: 0.0416 }), [
      ['provisioning', '2026-11-29T20:00:00.000Z'],
      ['bootstrapping', '2026-11-29T20:02:00.000Z'],
      ['ready', '2026-11-29T20:10:00.000Z'],
    ]);
    expect(e.awake).toEqual([{ from: '2026-11-29T20:00:00.000Z' }]);
    const s = environmentSavings(e, FROM, TO)!;
    expect(Math.abs(s.awakeHours - 4)).toBeLessThan(HOURS);
    expect(Math.abs(s.alwaysOnHours - 4)).toBeLessThan(HOURS);
    expect(s.spentUsd).toBeCloseTo(4 * 0.0416, USD);
    expect(s.savedUsd).toBeCloseTo(0, USD);
    // (b) too: open since the week before, 168 h.
    const b = environmentSavings(alwaysOn(), FROM, TO)!;
    expect(Math.abs(b.awakeHours - 168)).toBeLessThan(HOURS);
  });

  it('asleep stopped: the volumes are what it costs asleep, not the generation', () => {
    // (a), but slept with its servers stopped (2 × 12 GiB gp3 kept): 24 GiB × 1.073741824 GB/GiB × 0.08/30 a day.
    const a = scheduled();
    const stopped: Environment = { ...a, data: { ...a.data!, asleepAs: 'stop', stoppedGiB: 24 } };
    const daily = (24 * 1.073741824 * 0.08) / 30; // 0.068719476… a day
    const storage = (683 / 6 / 24) * daily;
    const s = environmentSavings(stopped, FROM, TO)!;
    expect(s.spentUsd).toBeCloseTo((325 / 6) * 0.1664 + storage, USD);
    expect(s.savedUsd).toBeCloseTo((683 / 6) * 0.1664 - storage, USD);
  });

  it('with no teams configured, every owner is under `no team`', () => {
    const r = savingsReport(envs, FROM, TO);
    expect(r.byTeam.map((l) => l.key)).toEqual(['no team']);
    expectLine(r.byTeam[0], { key: 'no team', environments: 3, awake: 1621 / 6, alwaysOn: 384, spent: 32.0492601851, saved: 18.8691398148, avoided: 683 / 2304 });
  });

  it('an empty fleet: zeros, and an avoided share of 0 rather than NaN', () => {
    const r = savingsReport([refused()], FROM, TO, TEAMS);
    expect(r.fleet).toEqual({ key: 'fleet', environments: 0, awakeHours: 0, alwaysOnHours: 0, spentUsd: 0, savedUsd: 0, avoidedShare: 0 });
    expect(r.byOwner).toEqual([]);
    expect(r.byTeam).toEqual([]);
  });
});

describe('the default schedule, weekdays 08:00-18:30', () => {
  const DEFAULT = parsed('weekdays 08:00-18:30');

  it('avoids at least 68% of always-on hours: 52.5 of 168 awake, 68.75% avoided', () => {
    expect(avoidedShare(DEFAULT)).toBeGreaterThanOrEqual(0.68);
    expect(avoidedShare(DEFAULT)).toBeCloseTo(1 - 52.5 / 168, 12);
    expect(avoidedShare(DEFAULT)).toBeCloseTo(0.6875, 12);
  });

  it('an environment that follows it exactly for a week avoids 68.75% in the report too', () => {
    // Asleep since Friday 18:30 the week before; each weekday the wake starts at 08:00 and it is asleep at 18:30.
    let e = walk(requested('exact', 'UZOE', '2026-11-20T08:00:00.000Z', { count: 1, hourlyCostUsd: 0.0416 }), [
      ['provisioning', '2026-11-20T08:00:00.000Z'],
      ['bootstrapping', '2026-11-20T08:03:00.000Z'],
      ['ready', '2026-11-20T08:10:00.000Z'],
      ['saving', '2026-11-20T18:24:00.000Z'],
      ['asleep', '2026-11-20T18:30:00.000Z'],
    ]);
    for (const date of WEEKDAYS) e = walk(e, day(date, { wake: '08:00', ready: '08:06', save: '18:24', asleep: '18:30' }));
    const r = savingsReport([e], FROM, TO);
    expect(Math.abs(r.fleet.awakeHours - 52.5)).toBeLessThan(HOURS);
    expect(Math.abs(r.fleet.alwaysOnHours - 168)).toBeLessThan(HOURS);
    expect(r.fleet.avoidedShare).toBeCloseTo(0.6875, 12);
    expect(r.fleet.avoidedShare).toBeCloseTo(avoidedShare(DEFAULT), 12);
    // No generation: nothing to keep asleep; 115.5 h × $0.0416 saved, 52.5 h × $0.0416 spent.
    expect(r.fleet.savedUsd).toBeCloseTo(115.5 * 0.0416, USD);
    expect(r.fleet.spentUsd).toBeCloseTo(52.5 * 0.0416, USD);
  });
});

describe('a long sleep before the week', () => {
  it('an environment kept asleep for longer than the awake history is kept (42 days), woken mid-week, still counts the days it slept this week as saved', () => {
    // Launched 2026-09-30, asleep from 2026-10-01 (kept asleep by its owner), woken Wednesday 2026-11-25 08:00
    // and running to the end of the week. Always on, it would have run all 168 h; it ran from Wednesday 08:00:
    //   awake = 16 + 4 × 24 = 112 h (Wed 08:00 → Mon 00:00), asleep = 24 + 24 + 8 = 56 h (Mon 00:00 → Wed 08:00),
    //   saved = 56 × 0.0416 = $2.3296.
    const e = walk(requested('sleepy', 'UZOE', '2026-09-30T09:00:00.000Z', { count: 1, hourlyCostUsd: 0.0416 }), [
      ['provisioning', '2026-09-30T09:00:00.000Z'],
      ['bootstrapping', '2026-09-30T09:03:00.000Z'],
      ['ready', '2026-09-30T09:10:00.000Z'],
      ['saving', '2026-10-01T18:30:00.000Z'],
      ['asleep', '2026-10-01T18:40:00.000Z'],
      ['waking', '2026-11-25T08:00:00.000Z'],
      ['ready', '2026-11-25T08:08:00.000Z'],
    ]);
    const s = environmentSavings(e, FROM, TO)!;
    expect(Math.abs(s.awakeHours - 112)).toBeLessThan(HOURS);
    // Fails today: the wake dropped the period of 2026-09-30 (older than 42 days), so the report takes the
    // first launch to be Wednesday's wake and counts 112 h always-on instead of 168 (nothing saved).
    expect(Math.abs(s.alwaysOnHours - 168)).toBeLessThan(HOURS);
    expect(s.savedUsd).toBeCloseTo(56 * 0.0416, USD);
  });
});
