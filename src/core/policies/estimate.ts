/**
 * What an environment is expected to cost, and what it has cost this month.
 * Pure arithmetic.
 *
 * Prices come from one place: the template catalogue. A server's $ per hour
 * is its template's price for its instance type, times the count
 * (`hourlyCost(template, type, count)`, which `estimateRequest` calls and
 * which a request stores as `hourlyCostUsd`); storage asleep is priced by
 * cost.policy.ts. Nothing here holds a price of its own.
 *
 * The figures (all $):
 * - hourly: the servers, while they run;
 * - daily: the average day of the schedule: awake hours a week / 7 × hourly.
 *   `off`, or no schedule at all, counts 24 hours a day (the worst case: pass
 *   the schedule it will really run on, its own, its template's or the default);
 * - monthly: daily × 30 (the month of cost.policy.ts);
 * - asleepDaily: what its data costs a day while it sleeps (archived in the store).
 */
import type { Environment } from '../environment/environment.js';
import { hourlyCost, type Template } from '../environment/template.js';
import { awakeHoursPerWeek, type Schedule } from '../schedule/schedule.js';
import { archivedDailyUsd, stoppedDailyUsd } from './cost.policy.js';

const DAYS_PER_MONTH = 30;
const DAYS_PER_WEEK = 7;
const HOUR_MS = 3600_000;

export interface CostEstimate {
  hourlyUsd: number;
  dailyUsd: number;
  monthlyUsd: number;
  asleepDailyUsd: number;
}

/** To a ten-thousandth of a dollar, as `hourlyCost` gives prices: no float dust (1.2479999…) in a comparison. */
export const roundUsd = (usd: number): number => Math.round(usd * 10_000) / 10_000;

/** The awake hours of an average day on this schedule: 24 for off or none. */
export const awakeHoursPerDay = (schedule: Schedule | undefined): number => (schedule ? awakeHoursPerWeek(schedule) : 24 * DAYS_PER_WEEK) / DAYS_PER_WEEK;

export function estimateCost(input: { hourlyCostUsd: number; schedule?: Schedule | undefined; storageBytes?: number | undefined }): CostEstimate {
  const hourly = input.hourlyCostUsd;
  const daily = hourly * awakeHoursPerDay(input.schedule);
  return {
    hourlyUsd: roundUsd(hourly),
    dailyUsd: roundUsd(daily),
    monthlyUsd: roundUsd(daily * DAYS_PER_MONTH),
    asleepDailyUsd: roundUsd(archivedDailyUsd(input.storageBytes ?? 0)),
  };
}

/** The estimate of a request, priced from its template (the one place prices come from). */
export function estimateRequest(input: {
  template: Template;
  instanceType: string;
  count: number;
  schedule?: Schedule | undefined;
  storageBytes?: number | undefined;
}): CostEstimate {
  return estimateCost({ hourlyCostUsd: hourlyCost(input.template, input.instanceType, input.count), schedule: input.schedule, storageBytes: input.storageBytes });
}

/** What an asleep environment costs a day: its generation in the store, or its stopped servers' volumes. */
export function asleepDailyUsdOf(env: Pick<Environment, 'data'>): number {
  return roundUsd(storageDailyUsd(env));
}

/** The same, unrounded (what sums over hours, like the savings report, start from). */
export function storageDailyUsd(env: Pick<Environment, 'data'>): number {
  const data = env.data;
  return data?.asleepAs === 'stop' ? stoppedDailyUsd(data.stoppedGiB ?? 0, 1) : archivedDailyUsd(data?.latest?.bytes ?? 0);
}

/**
 * What its servers cost since the start of the current calendar month (UTC)
 * until `now`: the hours of its `awake` periods within the month (an open
 * period counts until `now`) × its hourly price. Storage asleep is not counted.
 */
export function monthToDateUsd(env: Pick<Environment, 'awake' | 'hourlyCostUsd'>, now: Date): number {
  return spentSinceUsd(env, new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)), now);
}

/** What its servers cost since the start of today (UTC) until `now`. */
export function todayUsd(env: Pick<Environment, 'awake' | 'hourlyCostUsd'>, now: Date): number {
  return spentSinceUsd(env, new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate())), now);
}

/** Its awake hours between `since` and `now` × its hourly price. */
export function spentSinceUsd(env: Pick<Environment, 'awake' | 'hourlyCostUsd'>, since: Date, now: Date): number {
  const monthStart = since.getTime();
  const end = now.getTime();
  let ms = 0;
  for (const period of env.awake ?? []) {
    const from = Math.max(monthStart, Date.parse(period.from));
    const to = Math.min(end, period.to === undefined ? end : Date.parse(period.to));
    if (to > from) ms += to - from;
  }
  return roundUsd((ms / HOUR_MS) * env.hourlyCostUsd);
}
