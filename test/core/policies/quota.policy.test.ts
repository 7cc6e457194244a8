/**
 * Quotas, with figures computed by hand:
 *   t3.large $0.0832, t3.medium $0.0416 an hour a server; weekdays 08:00-18:30 is 52.5 h a week,
 *   7.5 h an average day; S3 $0.023 per GB-month, a month being 30 days.
 */
import { describe, expect, it } from 'vitest';
import { newEnvironment, type Environment } from '../../../src/core/environment/environment.js';
import type { EnvironmentState } from '../../../src/core/environment/lifecycle.js';
import { checkQuota, exceededIn, hasQuotas, NO_QUOTAS, quotaScopes, usageOf, usageOfHolds, type QuotaCheck, type Quotas } from '../../../src/core/policies/quota.policy.js';
import { parseSchedule, type Schedule } from '../../../src/core/schedule/schedule.js';

const schedule = (text: string): Schedule => {
  const parsed = parseSchedule(text, { now: new Date(0) });
  if (!parsed.ok) throw new Error(parsed.problem);
  return parsed.schedule;
};
const weekdays = schedule('weekdays 08:00-18:30');
const NOW = new Date('2026-11-24T10:00:00Z');

let seq = 0;
function env(owner: string, state: EnvironmentState, count: number, hourlyCostUsd: number, extra: Partial<Environment> = {}): Environment {
  seq += 1;
  const id = `env-${seq}`;
  const base = newEnvironment({ id, name: id, owner, template: 'api', instanceType: 't3.medium', count, purpose: '', requestId: id, hourlyCostUsd }, NOW);
  return { ...base, state, ...extra };
}

describe('usageOf', () => {
  it('counts every live environment, waiting requests included; asleep ones hold their data only; ended ones nothing', () => {
    const envs = [
      env('U0DEV', 'ready', 2, 0.1664, { schedule: weekdays }), // 2 servers, 0.1664 × 7.5 = $1.248 a day
      env('U0DEV', 'awaiting_approval', 1, 0.0416), // 1 server, no schedule: 0.0416 × 24 = $0.9984 a day
      env('U0DEV', 'requested', 1, 0.0416, { schedule: weekdays }), // 1 server, 0.0416 × 7.5 = $0.312
      env('U0DEV', 'asleep', 3, 0.2496, {
        data: { lastGeneration: 1, asleepAs: 'archive', latest: { environmentId: 'x', number: 1, createdAt: '', reason: 'sleep', bytes: 30e9, serverCount: 3, shared: false } },
      }), // 0 servers, 30 × 0.023 / 30 = $0.023 a day
      env('U0DEV', 'destroyed', 3, 0.2496),
      env('U0DEV', 'rejected', 3, 0.2496),
      env('U0LEAD', 'ready', 3, 0.2496), // someone else's
    ];
    // servers 2 + 1 + 1 = 4; $ 1.248 + 0.9984 + 0.312 + 0.023 = 2.5814
    expect(usageOf(envs, ['U0DEV'])).toEqual({ servers: 4, usdPerDay: 2.5814 });
  });

  it.each<EnvironmentState>(['provisioning', 'bootstrapping', 'saving', 'waking', 'destroying', 'failed'])('counts the servers of an environment %s', (state) => {
    expect(usageOf([env('U0DEV', state, 2, 0.0832, { schedule: weekdays })], ['U0DEV'])).toEqual({ servers: 2, usdPerDay: 0.624 });
  });

  it('reads the schedule an environment runs on through scheduleOf (its template, the default)', () => {
    const envs = [env('U0DEV', 'ready', 1, 0.0416)];
    expect(usageOf(envs, ['U0DEV']).usdPerDay).toBe(0.9984);
    expect(usageOf(envs, ['U0DEV'], { scheduleOf: (e) => e.schedule ?? weekdays }).usdPerDay).toBe(0.312);
  });

  it('counts an environment listed twice once, and leaves out the one excluded', () => {
    const a = env('U0DEV', 'ready', 2, 0.0832, { schedule: weekdays });
    const b = env('U0DEV', 'requested', 1, 0.0416, { schedule: weekdays });
    expect(usageOf([a, a, b], ['U0DEV'])).toEqual({ servers: 3, usdPerDay: 0.936 });
    expect(usageOf([a, b], ['U0DEV'], { exclude: b.id })).toEqual({ servers: 2, usdPerDay: 0.624 });
  });
});

describe('checkQuota', () => {
  const teams = { platform: ['U0DEV', 'U0LEAD'], data: ['U0DEV', 'U0DATA'] };
  const quotas: Quotas = { person: { servers: 5, usdPerDay: 3 }, approvalOverrides: false, raisedBy: ['U0OPS'] };
  // U0DEV holds 3 servers and $0.624 + $1.248 = $1.872 a day.
  const mine = [env('U0DEV', 'ready', 1, 0.0832, { schedule: weekdays }), env('U0DEV', 'ready', 2, 0.1664, { schedule: weekdays })];
  const check = (patch: Partial<QuotaCheck> & { count?: number; dailyUsd?: number }): ReturnType<typeof checkQuota> =>
    checkQuota({
      request: { owner: 'U0DEV', count: patch.count ?? 1, dailyUsd: patch.dailyUsd ?? 0.312 },
      envs: mine,
      teams,
      quotas,
      approved: false,
      ...patch,
    });

  it('allows a request that reaches the person quota exactly', () => {
    expect(check({ count: 2, dailyUsd: 1.128 })).toEqual({ ok: true }); // 3 + 2 = 5 servers; 1.872 + 1.128 = $3.00
  });

  it('refuses one server over, saying what, how much and whom to ask', () => {
    expect(check({ count: 3 })).toEqual({
      ok: false,
      scope: 'person',
      what: 'servers',
      usage: 3,
      limit: 5,
      requested: 3,
      raisedBy: ['U0OPS'],
      approvalMayOverride: false,
      reason: 'its owner would hold 6 servers, over their quota of 5 (3 now, 3 asked)',
    });
  });

  it('refuses the smallest amount over (a ten-thousandth of a dollar a day)', () => {
    expect(check({ count: 1, dailyUsd: 1.1281 })).toMatchObject({
      ok: false,
      scope: 'person',
      what: 'usdPerDay',
      usage: 1.872,
      limit: 3,
      requested: 1.1281,
      reason: 'its owner would spend $3.0001 a day, over their quota of $3.00 ($1.872 now, $1.1281 asked)',
    });
  });

  it("counts the team's members together: within the person's quota, over the team's", () => {
    const lead = env('U0LEAD', 'ready', 4, 0.1664, { schedule: weekdays });
    const teamQuotas: Quotas = { ...quotas, team: { servers: 8 } };
    // Person: 3 + 2 = 5 ≤ 5. Team platform: 3 + 4 + 2 = 9 > 8.
    expect(check({ count: 2, dailyUsd: 0.1, envs: [...mine, lead], quotas: teamQuotas })).toMatchObject({
      ok: false,
      scope: 'team',
      team: 'platform',
      what: 'servers',
      usage: 7,
      limit: 8,
      requested: 2,
      reason: 'the team platform would hold 9 servers, over its quota of 8 (7 now, 2 asked)',
    });
    // One server fits both: person 4, team 8.
    expect(check({ count: 1, dailyUsd: 0.1, envs: [...mine, lead], quotas: teamQuotas })).toEqual({ ok: true });
  });

  it('checks every team the owner is in', () => {
    const other = env('U0DATA', 'ready', 6, 0.0416, { schedule: weekdays });
    // platform: 3 + 1 = 4 ≤ 8; data: 3 + 6 + 1 = 10 > 8.
    expect(check({ count: 1, dailyUsd: 0.1, envs: [...mine, other], quotas: { ...quotas, person: {}, team: { servers: 8 } } })).toMatchObject({ scope: 'team', team: 'data', usage: 9 });
  });

  it('checks the person before the team', () => {
    expect(check({ count: 3, quotas: { ...quotas, team: { servers: 1 } } })).toMatchObject({ scope: 'person', what: 'servers' });
  });

  it('lets an approved request past the quota only when approvalOverrides is set', () => {
    const overrides: Quotas = { ...quotas, approvalOverrides: true };
    expect(check({ count: 3, quotas: overrides, approved: true })).toEqual({ ok: true });
    expect(check({ count: 3, quotas: overrides, approved: false })).toMatchObject({ ok: false, approvalMayOverride: true });
    expect(check({ count: 3, quotas, approved: true })).toMatchObject({ ok: false, approvalMayOverride: false });
  });

  it('limits nothing without quotas', () => {
    expect(check({ count: 500, dailyUsd: 1e6, quotas: NO_QUOTAS })).toEqual({ ok: true });
  });

  it('can be run again with the requests in flight: twenty at once, each recorded then checked, never pass the quota', () => {
    // Each request is recorded (requested) and checked against everything recorded so far, itself
    // included in the list and skipped by its id: 6 servers for U0NEW, 1 each, so the first 6 pass.
    const recorded: Environment[] = [];
    const passed: string[] = [];
    for (let i = 0; i < 20; i++) {
      const mineNow = env('U0NEW', 'requested', 1, 0.0416, { schedule: weekdays });
      recorded.push(mineNow);
      const decision = checkQuota({
        request: { id: mineNow.id, owner: 'U0NEW', count: 1, dailyUsd: 0.312 },
        envs: recorded,
        teams: {},
        quotas: { person: { servers: 6 }, approvalOverrides: false, raisedBy: [] },
        approved: false,
      });
      if (decision.ok) passed.push(mineNow.id);
      else recorded.pop(); // refused: the caller withdraws it
    }
    expect(passed).toHaveLength(6);
    expect(usageOf(recorded, ['U0NEW']).servers).toBe(6);
  });
});

describe('quota scopes and books', () => {
  const quotas: Quotas = { person: { servers: 3 }, team: { servers: 5, usdPerDay: 10 }, approvalOverrides: false, raisedBy: ['U0OPS'] };
  const teams = { platform: ['U0DEV', 'U0LEAD'], data: ['U0DEV'], other: ['U0X'] };

  it('a person’s quota first, then each of their teams’, in the order of the teams; scopes without limits are left out', () => {
    expect(quotaScopes('U0DEV', teams, quotas).map((s) => s.key)).toEqual(['person:U0DEV', 'team:platform', 'team:data']);
    expect(quotaScopes('U0DEV', teams, { ...quotas, person: undefined } as unknown as Quotas).map((s) => s.key)).toEqual(['team:platform', 'team:data']);
    expect(quotaScopes('U0DEV', teams, NO_QUOTAS)).toEqual([]);
    expect(hasQuotas(NO_QUOTAS)).toBe(false);
    expect(hasQuotas(quotas)).toBe(true);
  });

  it('what a book holds adds up, leaving out the request itself', () => {
    const holds = [
      { environmentId: 'a', servers: 2, usdPerDay: 1.2345 },
      { environmentId: 'b', servers: 1, usdPerDay: 0.3 },
    ];
    expect(usageOfHolds(holds)).toEqual({ servers: 3, usdPerDay: 1.5345 });
    expect(usageOfHolds(holds, 'a')).toEqual({ servers: 1, usdPerDay: 0.3 });
  });

  it('a limit is inclusive: up to it is admitted, one more is not; servers are checked before $', () => {
    const [, team] = quotaScopes('U0DEV', teams, quotas);
    expect(exceededIn(team!, { servers: 4, usdPerDay: 0 }, { count: 1, dailyUsd: 10 }, quotas, false)).toBeUndefined();
    expect(exceededIn(team!, { servers: 4, usdPerDay: 0 }, { count: 2, dailyUsd: 11 }, quotas, false)).toMatchObject({ scope: 'team', team: 'platform', what: 'servers', usage: 4, limit: 5, requested: 2, raisedBy: ['U0OPS'] });
    expect(exceededIn(team!, { servers: 0, usdPerDay: 9.5 }, { count: 1, dailyUsd: 0.51 }, quotas, false)).toMatchObject({ what: 'usdPerDay', limit: 10 });
  });
});
