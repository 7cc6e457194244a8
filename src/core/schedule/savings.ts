/**
 * What sleeping saved over a period: for each environment, the hours its
 * servers ran (its `awake` periods) against the hours they would have run
 * always on (from its first launch until it ended, within the period); $ spent
 * (servers awake, plus its data kept asleep) and $ saved (servers asleep, less
 * that storage). Per owner, per team and for the fleet. Pure.
 */
import type { Environment } from '../environment/environment.js';
import { storageDailyUsd } from '../policies/estimate.js';

const HOUR = 3600_000;

export interface SavingsLine {
  /** An owner's id, a team's name, or `fleet`. */
  key: string;
  environments: number;
  awakeHours: number;
  alwaysOnHours: number;
  spentUsd: number;
  savedUsd: number;
  /** The share of always-on hours avoided (0..1); 0 when nothing ran. */
  avoidedShare: number;
}

export interface SavingsReport {
  from: string;
  to: string;
  fleet: SavingsLine;
  byOwner: SavingsLine[];
  byTeam: SavingsLine[];
}

/** One environment within [from, to): its hours and dollars. */
export function environmentSavings(env: Environment, from: Date, to: Date): Omit<SavingsLine, 'key' | 'environments' | 'avoidedShare'> | undefined {
  const periods = env.awake ?? [];
  if (!periods.length) return undefined; // never launched: nothing ran, nothing was saved
  const start = Math.max(from.getTime(), Date.parse(periods[0]!.from));
  const ended = env.state === 'destroyed' || env.state === 'rejected' ? Date.parse(env.stateChangedAt) : Infinity;
  const end = Math.min(to.getTime(), ended);
  if (end <= start) return undefined;
  let awakeMs = 0;
  for (const p of periods) {
    const a = Math.max(start, Date.parse(p.from));
    const b = Math.min(end, p.to ? Date.parse(p.to) : to.getTime());
    if (b > a) awakeMs += b - a;
  }
  const alwaysOnMs = end - start;
  const asleepHours = (alwaysOnMs - awakeMs) / HOUR;
  // Asleep, its data costs a little: the generation in S3, or the stopped servers' volumes.
  const storageUsd = (asleepHours / 24) * storageDailyUsd(env);
  const awakeHours = awakeMs / HOUR;
  return {
    awakeHours,
    alwaysOnHours: alwaysOnMs / HOUR,
    spentUsd: awakeHours * env.hourlyCostUsd + storageUsd,
    savedUsd: asleepHours * env.hourlyCostUsd - storageUsd,
  };
}

/** The report over [from, to); `teams` maps a team's name to its members' ids (an owner in none is under `no team`). */
export function savingsReport(envs: readonly Environment[], from: Date, to: Date, teams: Readonly<Record<string, readonly string[]>> = {}): SavingsReport {
  const fleet = empty('fleet');
  const owners = new Map<string, SavingsLine>();
  const byTeam = new Map<string, SavingsLine>();
  const teamOf = (owner: string) => Object.keys(teams).filter((t) => teams[t]!.includes(owner));
  for (const env of envs) {
    const s = environmentSavings(env, from, to);
    if (!s) continue;
    const teamNames = teamOf(env.owner);
    const lines = [fleet, lineOf(owners, env.owner), ...(teamNames.length ? teamNames : ['no team']).map((t) => lineOf(byTeam, t))];
    for (const line of lines) {
      line.environments += 1;
      line.awakeHours += s.awakeHours;
      line.alwaysOnHours += s.alwaysOnHours;
      line.spentUsd += s.spentUsd;
      line.savedUsd += s.savedUsd;
    }
  }
  const done = (l: SavingsLine): SavingsLine => ({ ...l, avoidedShare: l.alwaysOnHours > 0 ? 1 - l.awakeHours / l.alwaysOnHours : 0 });
  const sorted = (m: Map<string, SavingsLine>) => [...m.values()].map(done).sort((a, b) => b.savedUsd - a.savedUsd || a.key.localeCompare(b.key));
  return { from: from.toISOString(), to: to.toISOString(), fleet: done(fleet), byOwner: sorted(owners), byTeam: sorted(byTeam) };
}

function empty(key: string): SavingsLine {
  return { key, environments: 0, awakeHours: 0, alwaysOnHours: 0, spentUsd: 0, savedUsd: 0, avoidedShare: 0 };
}

function lineOf(map: Map<string, SavingsLine>, key: string): SavingsLine {
  let line = map.get(key);
  if (!line) map.set(key, (line = empty(key)));
  return line;
}
