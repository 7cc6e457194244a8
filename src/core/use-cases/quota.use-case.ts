/**
 * Quotas under concurrency, without transactions.
 *
 * Each scope (a person, a team) has a quota book (ports/quota-ledger.port.ts):
 * the environments admitted against it, with the servers and $ a day each
 * holds. Admitting a request reads the book, decides with the pure
 * arithmetic of quota.policy.ts, and writes the book back conditional on the
 * version it read. Of twenty requests admitted at once, on any number of
 * replicas, each write that lands was decided on the book as it was: the
 * others read again and decide anew. So a book never holds more than its
 * limit.
 *
 * A request is admitted against its person's book, then each of its teams'.
 * When a later book refuses, the earlier holds are taken back. Meanwhile the
 * earlier book counts a request that may not stay: a concurrent request may
 * be refused that would have fitted a moment later. Quotas err on the side of
 * holding.
 *
 * What a book holds stays until the environment ends (destroyed, rejected,
 * cancelled, expired): an asleep environment keeps its servers reserved for
 * its wake, so sleeping and waking never lets anybody past their quota.
 * Releases can be lost (a crash just after the end): when a book is full,
 * its holds are checked against the environments before anybody is refused,
 * and the holds of environments that ended (or never were) are dropped.
 */
import type { Environment } from '../environment/environment.js';
import { isLive } from '../environment/lifecycle.js';
import type { Clock, Logger } from '../ports/clock.port.js';
import type { EnvironmentRepository } from '../ports/environment-repository.port.js';
import type { QuotaHold, QuotaLedger } from '../ports/quota-ledger.port.js';
import { estimateCost } from '../policies/estimate.js';
import { exceededIn, hasQuotas, quotaScopes, usageOfHolds, type QuotaDecision, type Quotas, type Usage } from '../policies/quota.policy.js';
import type { Schedule } from '../schedule/schedule.js';

export interface QuotaDeps {
  ledger: QuotaLedger;
  repo: Pick<EnvironmentRepository, 'get'>;
  quotas: Quotas;
  teams: Readonly<Record<string, readonly string[]>>;
  clock: Clock;
  logger: Logger;
  /** The schedule an environment runs on (its own, its template's, the default): its $ a day. */
  scheduleOf: (env: Environment) => Schedule | undefined;
}

/** Rounds of read-decide-write before giving up: each lost round means another request's admission landed. */
const MAX_ROUNDS = 200;

export class QuotaGuard {
  constructor(private readonly deps: QuotaDeps) {}

  get enabled(): boolean {
    return hasQuotas(this.deps.quotas);
  }

  /** What `env` holds against a quota: its servers, and its average day on its schedule. */
  holdOf(env: Environment): QuotaHold {
    return {
      environmentId: env.id,
      name: env.name,
      owner: env.owner,
      servers: env.count,
      usdPerDay: estimateCost({ hourlyCostUsd: env.hourlyCostUsd, schedule: this.deps.scheduleOf(env) }).dailyUsd,
      at: this.deps.clock.now().toISOString(),
    };
  }

  /**
   * Admits `env` against every quota of its owner, or refuses it (and holds
   * nothing). Admitting again is harmless: a book that holds it already is
   * left as it is. `approved`: a team lead approved it (with the policy's
   * approvalOverrides, it is admitted past the limits).
   */
  async admit(env: Environment, approved = false): Promise<QuotaDecision> {
    const { quotas, teams } = this.deps;
    const hold = this.holdOf(env);
    const override = approved && quotas.approvalOverrides;
    const admitted: string[] = [];
    for (const scope of quotaScopes(env.owner, teams, quotas)) {
      for (let round = 1; ; round++) {
        const book = await this.deps.ledger.read(scope.key);
        if (book.holds[env.id]) break;
        let holds = book.holds;
        let exceeded = override ? undefined : exceededIn(scope, this.usage(holds), hold2request(hold), quotas, approved);
        if (exceeded) {
          holds = await this.live(holds);
          exceeded = exceededIn(scope, this.usage(holds), hold2request(hold), quotas, approved);
        }
        if (exceeded) {
          await this.releaseFrom(env.id, admitted);
          return exceeded;
        }
        if (await this.deps.ledger.write(scope.key, { ...holds, [env.id]: hold }, book.version)) break;
        if (round >= MAX_ROUNDS) throw new Error(`the quota book ${scope.key} kept changing under ${MAX_ROUNDS} admissions`);
        await pause(round);
      }
      admitted.push(scope.key);
    }
    return { ok: true };
  }

  /** Takes back what `env` holds, in every book of its owner (nothing held: nothing to do). */
  async release(env: Pick<Environment, 'id' | 'owner'>): Promise<void> {
    await this.releaseFrom(env.id, quotaScopes(env.owner, this.deps.teams, this.deps.quotas).map((s) => s.key));
  }

  /** What each quota of `owner` holds now, with its limits (for `/server quota` and the Home tab). */
  async usageFor(owner: string): Promise<{ key: string; scope: 'person' | 'team'; team?: string; usage: Usage; limits: { servers?: number; usdPerDay?: number } }[]> {
    const out = [];
    for (const scope of quotaScopes(owner, this.deps.teams, this.deps.quotas)) {
      const book = await this.deps.ledger.read(scope.key);
      out.push({ key: scope.key, scope: scope.scope, ...(scope.team ? { team: scope.team } : {}), usage: this.usage(book.holds), limits: scope.limits });
    }
    return out;
  }

  private usage(holds: Record<string, QuotaHold>): Usage {
    return usageOfHolds(Object.values(holds));
  }

  private async releaseFrom(environmentId: string, keys: readonly string[]): Promise<void> {
    for (const key of keys) {
      for (let round = 1; ; round++) {
        const book = await this.deps.ledger.read(key);
        if (!book.holds[environmentId]) break;
        const { [environmentId]: _released, ...rest } = book.holds;
        if (await this.deps.ledger.write(key, rest, book.version)) break;
        if (round >= MAX_ROUNDS) throw new Error(`the quota book ${key} kept changing under ${MAX_ROUNDS} releases`);
        await pause(round);
      }
    }
  }

  /** The holds whose environment is still that one and live; a hold younger than a minute is kept (its record may be on its way). */
  private async live(holds: Record<string, QuotaHold>): Promise<Record<string, QuotaHold>> {
    const now = this.deps.clock.now().getTime();
    const kept: Record<string, QuotaHold> = {};
    const dropped: string[] = [];
    await Promise.all(
      Object.entries(holds).map(async ([id, hold]) => {
        if (now - Date.parse(hold.at) < 60_000) {
          kept[id] = hold;
          return;
        }
        const env = await this.deps.repo.get(hold.name);
        if (env && env.id === id && isLive(env.state)) kept[id] = hold;
        else dropped.push(hold.name);
      }),
    );
    if (dropped.length) this.deps.logger.info({ dropped }, 'quota holds of environments that ended are dropped');
    return kept;
  }
}

const hold2request = (hold: QuotaHold) => ({ count: hold.servers, dailyUsd: hold.usdPerDay });

/** A short jittered pause (real time: it only spreads racing writers apart) before reading again. */
const pause = (round: number): Promise<void> => new Promise((r) => setTimeout(r, Math.round(Math.min(50, 3 * round) * (0.5 + Math.random()))));
