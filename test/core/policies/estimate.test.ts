/**
 * Cost estimates, computed by hand below (not by the code under test).
 *
 * Prices: t3.large $0.0832, t3.medium $0.0416 an hour a server (the template's instanceTypes);
 * S3 $0.023 per GB-month, a month being 30 days; gp3 volumes $0.08 per GB-month.
 */
import { describe, expect, it } from 'vitest';
import type { Environment } from '../../../src/core/environment/environment.js';
import { asleepDailyUsdOf, estimateCost, estimateRequest, monthToDateUsd } from '../../../src/core/policies/estimate.js';
import { parseSchedule, type Schedule } from '../../../src/core/schedule/schedule.js';
import { testTemplate } from '../../support/templates.js';

const schedule = (text: string): Schedule => {
  const parsed = parseSchedule(text, { now: new Date(0) });
  if (!parsed.ok) throw new Error(parsed.problem);
  return parsed.schedule;
};

const template = testTemplate({ instanceTypes: { 't3.medium': 0.0416, 't3.large': 0.0832 } });

describe('estimateCost', () => {
  it('applies the schedule: 2 × t3.large on weekdays 08:00-18:30 cost $0.1664 an hour, $1.248 a day, $37.44 a month', () => {
    // 5 days × 10.5 h = 52.5 h a week; 0.1664 × 52.5 / 7 = 8.736 / 7 = 1.248; × 30 = 37.44.
    expect(estimateRequest({ template, instanceType: 't3.large', count: 2, schedule: schedule('weekdays 08:00-18:30') })).toEqual({
      hourlyUsd: 0.1664,
      dailyUsd: 1.248,
      monthlyUsd: 37.44,
      asleepDailyUsd: 0,
    });
  });

  it('counts 24 hours a day for off, and for no schedule at all (the worst case)', () => {
    // 0.1664 × 24 = 3.9936 a day; × 30 = 119.808 a month.
    const always = { hourlyUsd: 0.1664, dailyUsd: 3.9936, monthlyUsd: 119.808, asleepDailyUsd: 0 };
    expect(estimateCost({ hourlyCostUsd: 0.1664, schedule: schedule('off') })).toEqual(always);
    expect(estimateCost({ hourlyCostUsd: 0.1664 })).toEqual(always);
  });

  it('reads every kind of window: every day 07:00-23:00 is 16 hours a day', () => {
    // 1 × t3.medium: 0.0416 × 16 = 0.6656 a day; × 30 = 19.968 a month.
    expect(estimateRequest({ template, instanceType: 't3.medium', count: 1, schedule: schedule('every day 07:00-23:00 Europe/Paris') })).toMatchObject({
      dailyUsd: 0.6656,
      monthlyUsd: 19.968,
    });
    // mon,wed,fri 09:00-17:00: 3 × 8 = 24 h a week; 0.0416 × 24 / 7 = 0.142628… → 0.1426 a day; 0.0416 × 24 / 7 × 30 = 4.278857… → 4.2789.
    expect(estimateCost({ hourlyCostUsd: 0.0416, schedule: schedule('mon,wed,fri 09:00-17:00') })).toMatchObject({ dailyUsd: 0.1426, monthlyUsd: 4.2789 });
  });

  it('prices the data kept asleep: 30 GB archived cost 30 × 0.023 / 30 = $0.023 a day', () => {
    expect(estimateCost({ hourlyCostUsd: 0.0416, storageBytes: 30e9 }).asleepDailyUsd).toBe(0.023);
  });

  it('takes the price from the template, falling back to its default type as hourlyCost does', () => {
    expect(estimateRequest({ template, instanceType: 't3.large', count: 3 }).hourlyUsd).toBe(0.2496);
    expect(estimateRequest({ template, instanceType: 'nope', count: 1 }).hourlyUsd).toBe(0.0416);
  });
});

describe('asleepDailyUsdOf', () => {
  it('is the archived generation, or the stopped volumes', () => {
    expect(asleepDailyUsdOf({ data: { lastGeneration: 1, latest: { environmentId: 'e', number: 1, createdAt: '', reason: 'sleep', bytes: 60e9, serverCount: 1, shared: false } } })).toBe(0.046);
    // 20 GiB = 21.47483648 GB × 0.08 / 30 = 0.0572662… → 0.0573.
    expect(asleepDailyUsdOf({ data: { lastGeneration: 0, asleepAs: 'stop', stoppedGiB: 20 } })).toBe(0.0573);
    expect(asleepDailyUsdOf({})).toBe(0);
  });
});

describe('monthToDateUsd', () => {
  const env = (awake: Environment['awake']): Pick<Environment, 'awake' | 'hourlyCostUsd'> => ({ hourlyCostUsd: 0.1664, ...(awake ? { awake } : {}) });

  it('sums the awake hours of this UTC month, the open period until now', () => {
    const now = new Date('2026-11-10T12:00:00Z');
    const periods = [
      { from: '2026-10-20T08:00:00Z', to: '2026-10-20T18:00:00Z' }, // October: not counted
      { from: '2026-10-31T00:00:00Z', to: '2026-11-02T00:00:00Z' }, // 24 h of it in November
      { from: '2026-11-05T08:00:00Z', to: '2026-11-05T18:30:00Z' }, // 10.5 h
      { from: '2026-11-10T09:00:00Z' }, // open: 3 h until now
    ];
    // 37.5 h × 0.1664 = 6.24
    expect(monthToDateUsd(env(periods), now)).toBe(6.24);
  });

  it('starts again at the first of the month, at midnight UTC', () => {
    // Open since 20:00 on 30 November: 1 h of December by 01:00 on the 1st.
    expect(monthToDateUsd(env([{ from: '2026-11-30T20:00:00Z' }]), new Date('2026-12-01T01:00:00Z'))).toBe(0.1664);
  });

  it('is 0 for an environment that never ran', () => {
    expect(monthToDateUsd(env(undefined), new Date('2026-11-10T12:00:00Z'))).toBe(0);
    expect(monthToDateUsd(env([]), new Date('2026-11-10T12:00:00Z'))).toBe(0);
  });
});
