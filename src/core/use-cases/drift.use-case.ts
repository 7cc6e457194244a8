/**
 * Drift, found and acted on.
 *
 * The reconciler runs on the leader every few minutes. It reads what it
 * needs (the live environments by state, one listing of the instances tagged
 * as Dormouse's, and for environments whose data sits in the store the
 * generation's manifest and a HEAD per part), finds what disagrees
 * (drift.ts), and keeps one finding per disagreement in the store:
 *
 *   new            stored, then one alert posted to ops
 *   still there    nothing written (unless what was found changed: the alert is updated)
 *   gone           resolved, the alert updated ("resolved by itself", or what was done)
 *   ignored        nothing said until the day is over; then the alert says it is still there
 *
 * A template with `repair: auto` has a lost server replaced as soon as it is
 * found. Otherwise ops act from the alert (DriftActions): Terminate an
 * orphan, Adopt it in place of a lost server, Repair, Ignore for a day. Each
 * button checks who clicks and what is true now before it acts, and claims
 * the finding with a conditional write first, so two clicks act once.
 */
import type { Environment } from '../environment/environment.js';
import { DomainError, ErrorCodes } from '../environment/errors.js';
import { LIVE_STATES, describeState, isLive, isTransitional } from '../environment/lifecycle.js';
import type { Template } from '../environment/template.js';
import { findDrift, type Finding, type FindingKind } from '../drift/drift.js';
import { assertMayActOnDrift, RECONCILER_ACTOR, type Access } from '../policies/permissions.js';
import type { Clock, Logger } from '../ports/clock.port.js';
import type { ComputePort } from '../ports/compute.port.js';
import type { DataStorePort } from '../ports/data-store.port.js';
import type { EnvironmentRepository } from '../ports/environment-repository.port.js';
import type { DriftAlerts, FindingRecord, FindingStore } from '../ports/finding-store.port.js';
import type { RepairEnvironment } from './repair.use-case.js';

/** How long a resolved finding is kept (its alert can still be updated, a click on it is answered). */
const KEEP_RESOLVED_MS = 7 * 24 * 3600_000;
const IGNORE_MS = 24 * 3600_000;
/** A replica that set out to post an alert and has not recorded it within this time is taken to have died. */
const POSTING_MS = 60_000;
/** A finding someone acted on that is still there this long after, its environment at rest, is open again (the action died). */
const ACTING_MS = 10 * 60_000;

export interface ReconcilerDeps {
  repo: Pick<EnvironmentRepository, 'listByState' | 'get'>;
  compute: Pick<ComputePort, 'listManaged' | 'terminate' | 'findByEnvironment'>;
  findings: FindingStore;
  alerts: DriftAlerts;
  data?: Pick<DataStorePort, 'getGeneration' | 'inspectPart' | 'listKept'>;
  clock: Clock;
  logger: Logger;
  templates: readonly Template[];
  access: Access;
  repair: RepairEnvironment;
  /** Instances younger than this are left alone (a launch whose record is on its way). */
  graceMs: number;
  /** Open findings by kind, after each run (`/metrics`). */
  onFindings?: (open: Record<FindingKind, number>) => void;
}

export interface ReconcileSummary {
  found: number;
  opened: number;
  resolved: number;
  repairs: number;
}

export class Reconciler {
  constructor(private readonly deps: ReconcilerDeps) {}

  async run(): Promise<ReconcileSummary> {
    const { deps } = this;
    const now = deps.clock.now();
    const envs = (await Promise.all(LIVE_STATES.map((s) => deps.repo.listByState(s)))).flat();
    const instances = await deps.compute.listManaged();
    const byId = new Map(envs.map((e) => [e.id, e]));
    const found = await this.confirmed(findDrift(envs, instances, now, { graceMs: deps.graceMs }), byId);
    if (deps.data) found.push(...(await this.dataDrift(envs, now)));
    const stored = new Map((await deps.findings.list()).map((r) => [r.key, r]));
    const summary: ReconcileSummary = { found: found.length, opened: 0, resolved: 0, repairs: 0 };
    for (const f of found) {
      try {
        await this.seen(f, stored.get(f.key), byId, now, summary);
      } catch (err) {
        deps.logger.warn({ err, finding: f.key }, 'could not record a drift finding; the next run tries again');
      }
    }
    for (const rec of stored.values()) {
      if (found.some((f) => f.key === rec.key)) continue;
      try {
        await this.gone(rec, byId, now, summary);
      } catch (err) {
        deps.logger.warn({ err, finding: rec.key }, 'could not resolve a drift finding; the next run tries again');
      }
    }
    const open = { orphan: 0, ghost: 0, config: 0, data: 0 } as Record<FindingKind, number>;
    for (const f of found) if (stored.get(f.key)?.status !== 'ignored') open[f.kind] += 1;
    deps.onFindings?.(open);
    if (summary.opened || summary.resolved) deps.logger.info({ ...summary }, 'drift reconciled');
    return summary;
  }

  /**
   * The listing of environments is a dozen index queries, not one snapshot: an environment changing
   * state meanwhile can be missing from all of them. An orphan whose tags name an environment is
   * checked against that environment read by key (consistent) before it is a finding.
   */
  private async confirmed(found: Finding[], byId: Map<string, Environment>): Promise<Finding[]> {
    const out: Finding[] = [];
    for (const f of found) {
      if (f.kind !== 'orphan' || f.why !== 'no-environment' || !f.environment || !f.environmentId) {
        out.push(f);
        continue;
      }
      const env = await this.deps.repo.get(f.environment);
      if (!env || env.id !== f.environmentId) out.push(f);
      else if (!isLive(env.state)) out.push({ ...f, why: 'ended' });
      else {
        byId.set(env.id, env);
        if (!isTransitional(env.state) && !env.servers.some((s) => s.instanceId === f.instanceId)) out.push({ ...f, why: 'not-listed' });
      }
    }
    return out;
  }

  /** Found at this run: stored and alerted if new, updated if it changed or was ignored for long enough. */
  private async seen(f: Finding, rec: FindingRecord | undefined, byId: Map<string, Environment>, now: Date, summary: ReconcileSummary): Promise<void> {
    const at = now.toISOString();
    if (!rec) {
      const fresh: FindingRecord = { key: f.key, finding: f, status: 'open', firstSeen: at, lastSeen: at, posting: at, version: 0 };
      if (!(await this.deps.findings.put(fresh))) return;
      summary.opened += 1;
      this.deps.logger.warn({ finding: f.key, kind: f.kind, environment: 'environment' in f ? f.environment : undefined }, 'drift found');
      const posted = await this.alert({ ...fresh, version: 1 }, true);
      await this.autoRepair(posted, byId, summary);
      return;
    }
    const envId = 'environmentId' in f ? f.environmentId : undefined;
    const env = envId ? byId.get(envId) : undefined;
    let next: FindingRecord | undefined;
    if (rec.status === 'resolved') {
      next = { key: rec.key, finding: f, status: 'open', firstSeen: at, lastSeen: at, version: rec.version, ...(rec.alert ? { alert: rec.alert } : {}), note: { text: 'found again', by: RECONCILER_ACTOR, at } };
      summary.opened += 1;
    } else if (rec.status === 'ignored' && rec.ignoredUntil && Date.parse(rec.ignoredUntil) > now.getTime()) {
      return;
    } else if (rec.status === 'ignored') {
      next = { ...rec, finding: f, status: 'open', lastSeen: at, note: { text: `still there after being ignored until ${clock(rec.ignoredUntil ?? at)}`, by: RECONCILER_ACTOR, at } };
      delete next.ignoredUntil;
    } else if (rec.status === 'acting' && (!rec.note || now.getTime() - Date.parse(rec.note.at) > ACTING_MS) && !(env && isTransitional(env.state))) {
      // Someone acted, nothing is under way, and it is still there: what they did did not take (a crash, a failure).
      next = { ...rec, finding: f, status: 'open', lastSeen: at, note: { text: `still there after: ${rec.note?.text ?? 'an action'}`, by: RECONCILER_ACTOR, at } };
    } else if (JSON.stringify(rec.finding) !== JSON.stringify(f)) {
      next = { ...rec, finding: f, lastSeen: at };
    }
    if (next) {
      if (!(await this.deps.findings.put(next))) return;
      rec = { ...next, version: next.version + 1 };
      // Found again after it was resolved and its alert forgotten: this replica posts it.
      rec = await this.alert(rec, !rec.alert);
    } else if (!rec.alert && (!rec.posting || now.getTime() - Date.parse(rec.posting) > POSTING_MS)) {
      // Stored, but its alert never went out (Slack failed, or a crash in between): now, once, claimed first.
      const claimed = { ...rec, posting: at };
      if (!(await this.deps.findings.put(claimed))) return;
      rec = await this.alert({ ...claimed, version: claimed.version + 1 }, true);
    }
    await this.autoRepair(rec, byId, summary);
  }

  /** Not found at this run: resolved (by itself, or by what someone did), and forgotten a week later. */
  private async gone(rec: FindingRecord, byId: Map<string, Environment>, now: Date, summary: ReconcileSummary): Promise<void> {
    if (rec.status === 'resolved') {
      if (now.getTime() - Date.parse(rec.resolvedAt ?? rec.lastSeen) > KEEP_RESOLVED_MS) await this.deps.findings.remove(rec.key, rec.version);
      return;
    }
    const envId = 'environmentId' in rec.finding ? rec.finding.environmentId : undefined;
    const env = envId ? byId.get(envId) : undefined;
    // A flow at work on its environment (a repair, say): what it owns is changing. Judged once it is at rest.
    if (env && isTransitional(env.state)) return;
    const at = now.toISOString();
    const text =
      env?.state === 'failed'
        ? `no longer found: the environment failed${rec.note ? ` after: ${rec.note.text}` : ''} (see its alert)`
        : rec.status === 'acting' && rec.note
          ? `${rec.note.text}; resolved`
          : 'resolved by itself';
    const next: FindingRecord = { ...rec, status: 'resolved', resolvedAt: at, note: { text, by: rec.note?.by ?? RECONCILER_ACTOR, at } };
    if (!(await this.deps.findings.put(next))) return;
    summary.resolved += 1;
    await this.alert({ ...next, version: next.version + 1 });
  }

  /**
   * Updates the alert, or, for the replica holding the posting claim (`poster`), posts it. Its place is
   * then stored on the newest version of the finding (others may have written meanwhile), and if that
   * version says something else than what was posted, the alert is updated to it. Slack failing is
   * logged: the next run posts it once the claim has lapsed.
   */
  private async alert(rec: FindingRecord, poster = false): Promise<FindingRecord> {
    if (!rec.alert && !poster) return rec;
    const where = await this.deps.alerts.driftAlert(rec).catch((err: unknown) => {
      this.deps.logger.warn({ err, finding: rec.key }, 'could not alert ops about drift');
      return undefined;
    });
    if (!where || (rec.alert && rec.alert.ts === where.ts)) return rec;
    for (let attempt = 0; attempt < 5; attempt++) {
      const newest = attempt === 0 ? rec : await this.deps.findings.get(rec.key);
      if (!newest) return rec;
      const placed = { ...newest, alert: where };
      if (!(await this.deps.findings.put(placed))) continue;
      const stored = { ...placed, version: placed.version + 1 };
      if (newest.status !== rec.status || newest.note?.text !== rec.note?.text) await this.deps.alerts.driftAlert(stored).catch(() => undefined);
      return stored;
    }
    return rec;
  }

  /** A lost server of a template with `repair: auto` is replaced at once (with every other lost server of its environment). */
  private async autoRepair(rec: FindingRecord, byId: Map<string, Environment>, summary: ReconcileSummary): Promise<void> {
    const f = rec.finding;
    if (rec.status !== 'open' || f.kind !== 'ghost') return;
    const env = byId.get(f.environmentId);
    if (!env || env.state !== 'ready' || this.deps.templates.find((t) => t.name === env.template)?.repair !== 'auto') return;
    const claimed: FindingRecord = { ...rec, status: 'acting', note: { text: 'replaced automatically', by: RECONCILER_ACTOR, at: this.deps.clock.now().toISOString() } };
    if (!(await this.deps.findings.put(claimed))) return;
    try {
      await this.deps.repair.execute({ name: f.environment, id: f.environmentId }, RECONCILER_ACTOR, { servers: [{ index: f.index, lost: f.instanceId, why: f.cloud }], finding: f.key });
      summary.repairs += 1;
      await this.alert({ ...claimed, version: claimed.version + 1 });
    } catch (err) {
      this.deps.logger.warn({ err, finding: f.key }, 'the automatic repair did not start');
      await this.deps.findings.put({ ...claimed, version: claimed.version + 1, status: 'open', note: { text: `the automatic repair did not start: ${(err as Error).message}`, by: RECONCILER_ACTOR, at: this.deps.clock.now().toISOString() } });
    }
  }

  /** Asleep (archived) environments and destroyed ones whose data is kept: is their generation all there, at its size? */
  private async dataDrift(envs: readonly Environment[], now: Date): Promise<Finding[]> {
    const data = this.deps.data!;
    const checks: { environment: string; environmentId: string; generationOf: string; generation: number }[] = [];
    for (const e of envs) {
      const latest = e.data?.latest;
      if (e.state === 'asleep' && e.data?.asleepAs !== 'stop' && latest) checks.push({ environment: e.name, environmentId: e.id, generationOf: latest.environmentId, generation: latest.number });
    }
    const kept = await data.listKept().catch((err: unknown) => {
      this.deps.logger.warn({ err }, 'could not list the data kept after destroys; checked again next time');
      return [];
    });
    for (const mark of kept) {
      if (Date.parse(mark.keepUntil) > now.getTime()) checks.push({ environment: mark.environment, environmentId: mark.environmentId, generationOf: mark.environmentId, generation: mark.generation });
    }
    const findings: Finding[] = [];
    for (const c of checks) {
      try {
        const found = await this.checkGeneration(c);
        if (found) findings.push(found);
      } catch (err) {
        // One unreadable generation does not stop the run (the orphans, the lost servers); it is looked at again next time.
        this.deps.logger.warn({ err, environment: c.environment, generation: c.generation }, 'could not check a generation in the data store');
      }
    }
    return findings;
  }

  private async checkGeneration(c: { environment: string; environmentId: string; generationOf: string; generation: number }): Promise<Finding | undefined> {
    const data = this.deps.data!;
    const base = { kind: 'data' as const, key: `data:${c.generationOf}:${c.generation}`, environment: c.environment, environmentId: c.environmentId, generation: c.generation };
    const manifest = await data.getGeneration(c.generationOf, c.generation);
    if (!manifest) return { ...base, problem: 'manifest-missing' };
    for (const part of manifest.parts) {
      const seen = await data.inspectPart(part);
      if (!seen.exists) return { ...base, problem: 'part-missing', part: part.part, expected: part.bytes };
      if (seen.bytes !== part.bytes) return { ...base, problem: 'size-mismatch', part: part.part, expected: part.bytes, actual: seen.bytes };
    }
    return undefined;
  }
}

export type DriftAction = 'terminate' | 'adopt' | 'repair' | 'ignore';

export interface DriftActionsDeps {
  repo: Pick<EnvironmentRepository, 'get'>;
  compute: Pick<ComputePort, 'terminate' | 'findByEnvironment' | 'listManaged'>;
  findings: FindingStore;
  alerts: DriftAlerts;
  clock: Clock;
  logger: Logger;
  access: Access;
  repair: RepairEnvironment;
}

/** What a button did, for the Slack layer to tell the person who clicked. */
export type DriftOutcome =
  | { action: 'ignore'; finding: Finding; until: string }
  | { action: 'terminate'; finding: Finding; instanceId: string }
  | { action: 'adopt'; finding: Finding; instanceId: string; environment: string; index: number }
  | { action: 'repair'; finding: Finding; environment: string; index: number };

/** The buttons on a drift alert. Each returns what it did; what stops it is a DRIFT.SETTLED error saying what is so. */
export class DriftActions {
  constructor(private readonly deps: DriftActionsDeps) {}

  async act(key: string, action: DriftAction, actor: string): Promise<DriftOutcome> {
    const { deps } = this;
    assertMayActOnDrift(deps.access, actor);
    const rec = await deps.findings.get(key);
    if (!rec) throw settled('unknown', 'This finding is no longer tracked: it was resolved more than a week ago.', { key });
    if (rec.status === 'resolved') throw settled('resolved', `Already resolved at ${rec.resolvedAt ?? rec.lastSeen}.`, { at: rec.resolvedAt ?? rec.lastSeen, ...noteParams(rec) });
    if (rec.status === 'acting' && action !== 'ignore') throw settled('acting', 'Already being dealt with.', noteParams(rec));
    const f = rec.finding;
    const at = deps.clock.now().toISOString();
    if (action === 'ignore') {
      const until = new Date(Date.parse(at) + IGNORE_MS).toISOString();
      const next: FindingRecord = { ...rec, status: 'ignored', ignoredUntil: until, note: { text: `ignored until ${clock(until)}`, by: actor, at } };
      await this.claim(next);
      return { action, finding: f, until };
    }
    if (action === 'terminate') {
      if (f.kind !== 'orphan') throw settled('not-an-orphan', 'Only an orphan is terminated from its alert; a lost server is repaired.', {});
      const env = f.environment ? await deps.repo.get(f.environment) : undefined;
      if (env && env.id === f.environmentId && (isTransitional(env.state) || env.servers.some((s) => s.instanceId === f.instanceId))) {
        throw settled('owned', `${f.instanceId} belongs to ${env.name} now (it is ${describeState(env.state)}): not terminated.`, { instanceId: f.instanceId, name: env.name, state: env.state });
      }
      const claimed = await this.claim({ ...rec, status: 'acting', note: { text: `terminating ${f.instanceId}`, by: actor, at } });
      await this.orReopen(claimed, () => deps.compute.terminate([f.instanceId]));
      await this.claim({ ...claimed, status: 'resolved', resolvedAt: deps.clock.now().toISOString(), note: { text: `${f.instanceId} terminated`, by: actor, at } });
      return { action, finding: f, instanceId: f.instanceId };
    }
    if (action === 'adopt') {
      if (f.kind !== 'orphan' || f.why !== 'not-listed' || !f.environment) throw settled('no-environment', 'There is no live environment to adopt this instance into.', {});
      const env = await deps.repo.get(f.environment);
      if (!env || env.id !== f.environmentId || env.state !== 'ready') {
        throw settled('not-ready', `${f.environment} is not ready: only a ready environment adopts a server.`, { name: f.environment, ...(env ? { state: env.state } : {}) });
      }
      const index = f.index ?? 0;
      const record = env.servers.find((s) => s.index === index);
      const live = await deps.compute.findByEnvironment(env.id);
      if (!record || live.some((i) => i.instanceId === record.instanceId && i.state === 'running')) {
        throw settled('nothing-lost', `${env.name} has its server ${index + 1} running: nothing to adopt ${f.instanceId} in place of.`, { name: env.name, server: index + 1, instanceId: f.instanceId, ...(record ? { running: record.instanceId } : {}) });
      }
      const claimed = await this.claim({ ...rec, status: 'acting', note: { text: `adopted into ${env.name} as server ${index + 1}`, by: actor, at } });
      await this.orReopen(claimed, () => deps.repair.execute({ name: env.name, id: env.id }, actor, { servers: [{ index, lost: record.instanceId, why: 'missing', adopt: f.instanceId }], finding: key }));
      return { action, finding: f, instanceId: f.instanceId, environment: env.name, index };
    }
    if (f.kind !== 'ghost' && f.kind !== 'config') throw settled('not-repairable', 'This finding is not repaired from its alert.', {});
    if (f.kind === 'config') await this.assertStillDrifted(f, key);
    const claimed = await this.claim({ ...rec, status: 'acting', note: { text: 'repair started', by: actor, at } });
    await this.orReopen(claimed, () =>
      deps.repair.execute({ name: f.environment, id: f.environmentId }, actor, { servers: [{ index: f.index, lost: f.instanceId, why: f.kind === 'ghost' ? f.cloud : 'drifted' }], finding: key }),
    );
    return { action: 'repair', finding: f, environment: f.environment, index: f.index };
  }

  /**
   * A server replaced for configuration drift is a running server: the drift is looked at again now
   * (one listing), and a server that is as recorded again is left alone.
   */
  private async assertStillDrifted(f: Extract<Finding, { kind: 'config' }>, key: string): Promise<void> {
    const env = await this.deps.repo.get(f.environment);
    if (!env || env.id !== f.environmentId || env.state !== 'ready') return; // the repair itself says why not
    const listing = (await this.deps.compute.listManaged()).filter((i) => i.environmentId === env.id);
    if (!findDrift([env], listing, this.deps.clock.now(), { graceMs: 0 }).some((x) => x.key === key)) {
      throw settled('as-recorded', `Server ${f.index + 1} of ${env.name} is as recorded again: nothing to repair.`, { name: env.name, server: f.index + 1 });
    }
  }

  /** What a button started did not happen (nothing to repair any more, not ready, the cloud refused): the finding is open again. */
  private async orReopen(claimed: FindingRecord, act: () => Promise<unknown>): Promise<void> {
    try {
      await act();
    } catch (err) {
      const reopened: FindingRecord = { ...claimed, status: 'open', note: { text: `${claimed.note?.text ?? 'an action'} did not happen`, by: claimed.note?.by ?? RECONCILER_ACTOR, at: this.deps.clock.now().toISOString() } };
      if ((await this.deps.findings.put(reopened).catch(() => false)) && claimed.alert) {
        await this.deps.alerts.driftAlert({ ...reopened, version: reopened.version + 1 }).catch(() => undefined);
      }
      throw err;
    }
  }

  /** Writes the finding conditional on the version read (two clicks: one acts) and updates its alert. */
  private async claim(next: FindingRecord): Promise<FindingRecord> {
    if (!(await this.deps.findings.put(next))) {
      const now = await this.deps.findings.get(next.key);
      throw settled('raced', 'Someone acted on this first.', now ? noteParams(now) : {});
    }
    const stored = { ...next, version: next.version + 1 };
    // Its alert says so at once (one not posted yet is posted by the reconciler, with what is true then).
    if (!stored.alert) return stored;
    const where = await this.deps.alerts.driftAlert(stored).catch((err: unknown) => {
      this.deps.logger.warn({ err, finding: next.key }, 'could not update the drift alert');
      return undefined;
    });
    // Deleted in Slack and posted again: its new place is kept, so the next update does not post a third.
    if (where && where.ts !== stored.alert.ts) {
      const placed = { ...stored, alert: where };
      if (await this.deps.findings.put(placed).catch(() => false)) return { ...placed, version: placed.version + 1 };
    }
    return stored;
  }
}

function settled(variant: string, words: string, params: Record<string, string | number>): DomainError {
  return new DomainError(ErrorCodes.DRIFT_SETTLED, words, { variant, ...params });
}

/** What was done last, for a sentence: the words, who, when. */
function noteParams(rec: FindingRecord): Record<string, string> {
  return rec.note ? { note: rec.note.text, by: rec.note.by, noteAt: rec.note.at } : {};
}

function clock(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}
