/**
 * Nobody runs past their quota: per person and per team, in servers and in $
 * a day. Pure arithmetic.
 *
 * Admission (use-cases/quota.use-case.ts) keeps a book per scope: what each
 * admitted environment holds, from its request until it ends (destroyed,
 * rejected, cancelled, expired). Asleep ones keep holding what they asked
 * for: their servers come back at their wake, and a quota that sleeping
 * freed would be passed by sleeping and waking. `quotaScopes`, `exceededIn`
 * and `usageOfHolds` are that arithmetic.
 *
 * `usageOf` and `checkQuota` are the same limits over a list of environments
 * as they are now (asleep ones holding only what their data costs): what a
 * report of current use shows.
 *
 * $ a day is the average day of the environment's schedule (estimate.ts):
 * the same measure as a request's estimate, so the two add up. An environment
 * without its own schedule counts 24 hours a day unless the caller says which
 * schedule it runs on (`scheduleOf`: its template's, or the default).
 *
 * Limits are inclusive: usage + request = limit is allowed, a cent or a
 * server more is not.
 */
import type { Environment } from '../environment/environment.js';
import { isLive } from '../environment/lifecycle.js';
import type { Schedule } from '../schedule/schedule.js';
import { asleepDailyUsdOf, estimateCost, roundUsd } from './estimate.js';

export interface Limits {
  servers?: number;
  usdPerDay?: number;
}

export interface Quotas {
  /** Each person's own environments. */
  person?: Limits;
  /** Each team's, all its members' environments together (an owner in two teams counts in both). */
  team?: Limits;
  /** A request a team lead approved may go past the quota; false: quotas hold for everyone. */
  approvalOverrides: boolean;
  /** Who can raise the quota (Slack user ids): whom a refused requester is pointed to. */
  raisedBy: readonly string[];
}

/** No quotas: what runs without a policy file. */
export const NO_QUOTAS: Quotas = Object.freeze({ approvalOverrides: false, raisedBy: [] });

export interface Usage {
  servers: number;
  usdPerDay: number;
}

/** Which schedule an environment runs on; the default reads its own (none: always on). */
export type ScheduleOf = (env: Environment) => Schedule | undefined;

const ownSchedule: ScheduleOf = (env) => env.schedule;

/** What the live environments owned by `members` hold (`exclude`: an environment id left out). */
export function usageOf(envs: readonly Environment[], members: readonly string[], opts: { scheduleOf?: ScheduleOf; exclude?: string } = {}): Usage {
  const scheduleOf = opts.scheduleOf ?? ownSchedule;
  let servers = 0;
  let usdPerDay = 0;
  const seen = new Set<string>();
  for (const env of envs) {
    if (!members.includes(env.owner) || !isLive(env.state) || env.id === opts.exclude || seen.has(env.id)) continue;
    seen.add(env.id); // the same environment listed twice (a page read twice) counts once
    if (env.state === 'asleep') {
      usdPerDay += asleepDailyUsdOf(env);
    } else {
      servers += env.count;
      usdPerDay += estimateCost({ hourlyCostUsd: env.hourlyCostUsd, schedule: scheduleOf(env) }).dailyUsd;
    }
  }
  return { servers, usdPerDay: roundUsd(usdPerDay) };
}

export interface QuotaRequest {
  owner: string;
  count: number;
  /** The estimate's dailyUsd (estimate.ts). */
  dailyUsd: number;
  /** The environment's id, once recorded: it is not counted among the environments. */
  id?: string;
}

export interface QuotaExceeded {
  ok: false;
  scope: 'person' | 'team';
  /** The team whose quota it is (scope `team`). */
  team?: string;
  what: 'servers' | 'usdPerDay';
  /** Held now, without this request. */
  usage: number;
  limit: number;
  /** What this request adds. */
  requested: number;
  raisedBy: readonly string[];
  /** A team lead's approval would let it through (approvalOverrides, and not approved yet). */
  approvalMayOverride: boolean;
  /** Plain words, for logs: `the team platform would hold 12 servers, over its quota of 10 (10 now, 2 asked)`. */
  reason: string;
}

export type QuotaDecision = { ok: true } | QuotaExceeded;

export interface QuotaCheck {
  request: QuotaRequest;
  /** The live environments of the owner and of their teams' members (more is harmless: others are ignored). */
  envs: readonly Environment[];
  teams: Readonly<Record<string, readonly string[]>>;
  quotas: Quotas;
  /** A team lead approved it. */
  approved: boolean;
  scheduleOf?: ScheduleOf;
}

/** Tolerance on $: sums of prices with four decimals are not exact in floating point. */
const EPSILON = 1e-6;

/**
 * The first quota the request would pass, checked in this order: the person's
 * servers, the person's $ a day, then for each of the owner's teams (in the
 * order of `teams`) its servers and its $ a day.
 */
export function checkQuota(check: QuotaCheck): QuotaDecision {
  const { request, envs, teams, quotas, approved } = check;
  if (approved && quotas.approvalOverrides) return { ok: true };
  const opts = { ...(check.scheduleOf ? { scheduleOf: check.scheduleOf } : {}), ...(request.id !== undefined ? { exclude: request.id } : {}) };
  for (const scope of quotaScopes(request.owner, teams, quotas)) {
    const exceeded = exceededIn(scope, usageOf(envs, scope.members, opts), request, quotas, approved);
    if (exceeded) return exceeded;
  }
  return { ok: true };
}

/** A quota that applies to a request: the person's own, or one of their teams'. */
export interface QuotaScope {
  /** The quota book's key: `person:<user id>` or `team:<team name>`. */
  key: string;
  scope: 'person' | 'team';
  team?: string;
  members: readonly string[];
  limits: Limits;
}

/**
 * The quotas that apply to `owner`'s requests, in the order they are checked:
 * the person's, then each of their teams' (in the order of `teams`). A scope
 * without any limit is left out.
 */
export function quotaScopes(owner: string, teams: Readonly<Record<string, readonly string[]>>, quotas: Quotas): QuotaScope[] {
  const scopes: QuotaScope[] = [];
  const limited = (l: Limits | undefined): l is Limits => l?.servers !== undefined || l?.usdPerDay !== undefined;
  if (limited(quotas.person)) scopes.push({ key: `person:${owner}`, scope: 'person', members: [owner], limits: quotas.person });
  for (const [team, members] of Object.entries(teams)) {
    if (members.includes(owner) && limited(quotas.team)) scopes.push({ key: `team:${team}`, scope: 'team', team, members, limits: quotas.team });
  }
  return scopes;
}

/** Whether the quotas apply at all (some limit is set). */
export const hasQuotas = (quotas: Quotas): boolean => quotas.person !== undefined || quotas.team !== undefined;

/** The scope's limit the request would pass, given what the scope holds now (servers first, then $ a day). */
export function exceededIn(scope: QuotaScope, usage: Usage, request: Pick<QuotaRequest, 'count' | 'dailyUsd'>, quotas: Quotas, approved: boolean): QuotaExceeded | undefined {
  const over = (what: 'servers' | 'usdPerDay', limit: number | undefined, requested: number): QuotaExceeded | undefined => {
    if (limit === undefined || usage[what] + requested <= limit + EPSILON) return undefined;
    const exceeded: Omit<QuotaExceeded, 'reason'> = {
      ok: false,
      scope: scope.scope,
      ...(scope.team !== undefined ? { team: scope.team } : {}),
      what,
      usage: usage[what],
      limit,
      requested,
      raisedBy: quotas.raisedBy,
      approvalMayOverride: quotas.approvalOverrides && !approved,
    };
    return { ...exceeded, reason: describeQuota(exceeded) };
  };
  return over('servers', scope.limits.servers, request.count) ?? over('usdPerDay', scope.limits.usdPerDay, request.dailyUsd);
}

/** What the holds of a quota book add up to (`exclude`: an environment id left out). */
export function usageOfHolds(holds: Iterable<{ environmentId: string; servers: number; usdPerDay: number }>, exclude?: string): Usage {
  let servers = 0;
  let usdPerDay = 0;
  for (const h of holds) {
    if (h.environmentId === exclude) continue;
    servers += h.servers;
    usdPerDay += h.usdPerDay;
  }
  return { servers, usdPerDay: roundUsd(usdPerDay) };
}

/** `$3.00`: cents when they say it all; otherwise the ten-thousandths a price has (`$3.0001` is over `$3.00`). */
export function quotaUsd(n: number): string {
  return `$${Math.abs(n * 100 - Math.round(n * 100)) < 1e-6 ? n.toFixed(2) : String(roundUsd(n))}`;
}

/** The quota passed, in plain words. */
export function describeQuota(q: Omit<QuotaExceeded, 'reason'>): string {
  const who = q.scope === 'team' ? `the team ${q.team ?? ''}` : 'its owner';
  const whose = q.scope === 'team' ? 'its' : 'their';
  if (q.what === 'servers') {
    return `${who} would hold ${q.usage + q.requested} servers, over ${whose} quota of ${q.limit} (${q.usage} now, ${q.requested} asked)`;
  }
  const usd = quotaUsd;
  return `${who} would spend ${usd(q.usage + q.requested)} a day, over ${whose} quota of ${usd(q.limit)} (${usd(q.usage)} now, ${usd(q.requested)} asked)`;
}
