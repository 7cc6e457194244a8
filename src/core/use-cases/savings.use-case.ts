/**
 * `/server savings` and the weekly post: what sleeping saved over the last
 * seven days, per owner, per team and for the fleet, beside what the default
 * schedule would avoid on its own. The post goes out once per week, however
 * many replicas tick (a claim in the store).
 */
import { STATES } from '../environment/lifecycle.js';
import type { Environment } from '../environment/environment.js';
import type { Clock, Logger } from '../ports/clock.port.js';
import type { DeliveryClaims } from '../ports/delivery-claims.port.js';
import type { EnvironmentRepository } from '../ports/environment-repository.port.js';
import type { NotifierPort } from '../ports/notifier.port.js';
import { avoidedShare, formatSchedule, type Schedule } from '../schedule/schedule.js';
import { savingsReport, type SavingsReport } from '../schedule/savings.js';

const DAY = 24 * 3600_000;

export interface SavingsView extends SavingsReport {
  /** The default schedule, and the share of always-on hours it avoids by itself. */
  defaultSchedule: string;
  defaultAvoids: number;
}

export class SavingsQuery {
  constructor(
    private readonly deps: {
      repo: Pick<EnvironmentRepository, 'listByState'>;
      clock: Clock;
      logger: Logger;
      teams: Readonly<Record<string, readonly string[]>>;
      defaultSchedule: Schedule;
      notifier: Pick<NotifierPort, 'savingsReport'>;
      claims?: Pick<DeliveryClaims, 'begin' | 'finish' | 'abandon'>;
    },
  ) {}

  /** The seven days up to `to` (default: now). */
  async week(to: Date = this.deps.clock.now()): Promise<SavingsView> {
    const from = new Date(to.getTime() - 7 * DAY);
    const lists = await Promise.all(STATES.map((s) => this.deps.repo.listByState(s)));
    // Ended before the week began: not part of it (each list is small but the ended ones grow).
    const envs: Environment[] = lists.flat().filter((e) => !(['destroyed', 'rejected'].includes(e.state) && Date.parse(e.stateChangedAt) < from.getTime()));
    const report = savingsReport(envs, from, to, this.deps.teams);
    return { ...report, defaultSchedule: formatSchedule(this.deps.defaultSchedule), defaultAvoids: avoidedShare(this.deps.defaultSchedule) };
  }

  /** The weekly post: once per week (the leader's job calls it; a claim keeps a second replica or a rerun from posting again). */
  async postWeekly(): Promise<boolean> {
    const { deps } = this;
    const to = deps.clock.now();
    const key = `savings:${to.toISOString().slice(0, 10)}`;
    if (deps.claims && (await deps.claims.begin(key, 600)) !== 'claimed') return false;
    try {
      const told = await deps.notifier.savingsReport(await this.week(to));
      if (deps.claims) await (told ? deps.claims.finish(key, 8 * 24 * 3600) : deps.claims.abandon(key));
      return told;
    } catch (err) {
      if (deps.claims) await deps.claims.abandon(key).catch(() => undefined);
      throw err;
    }
  }
}
