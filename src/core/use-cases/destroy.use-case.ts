import type { QuotaGuard } from './quota.use-case.js';
import type { Access } from '../policies/permissions.js';
import { finishStep, startStep, transition, type Environment } from '../environment/environment.js';
import { asDomainError } from '../environment/errors.js';
import { assertTransition } from '../environment/lifecycle.js';
import type { ComputePort } from '../ports/compute.port.js';
import type { DataStorePort } from '../ports/data-store.port.js';
import type { Clock, Logger } from '../ports/clock.port.js';
import type { EnvironmentRepository } from '../ports/environment-repository.port.js';
import type { NotifierPort } from '../ports/notifier.port.js';
import { LeaseLost, leaseLapsed, type HeldLease, type WorkflowRunner } from '../workflow/runner.js';
import { assertMayManage, assertSameIncarnation, audit, failureOf, getTarget, tell, type Target } from './shared.js';

/** How many times destroy looks for servers, when a launch may still be in flight. */
const SWEEPS = 3;
/** The pause between looks then: longer than a RunInstances call takes to land. */
const SWEEP_PAUSE_MS = 10_000;

export interface DestroyDeps {
  repo: Pick<EnvironmentRepository, 'get'>;
  events: Pick<EnvironmentRepository, 'appendEvent'>;
  runner: Pick<WorkflowRunner, 'begin'>;
  notifier: NotifierPort;
  clock: Clock;
  logger: Logger;
  access: Access;
}

/**
 * A person asks to destroy an environment: it moves to `destroying` (taking
 * the lease from any flow at work on it, which stops at its next write) and
 * the destroy flow terminates its servers. A second click while it runs
 * starts nothing.
 */
export class DestroyEnvironment {
  constructor(private readonly deps: DestroyDeps) {}

  /** The checks a confirmation repeats: exists, is the one meant, may be managed by `actor`, may be destroyed. */
  async check(target: Target, actor: string): Promise<Environment> {
    const env = await getTarget(this.deps.repo, target);
    assertMayManage(env, actor, this.deps.access, 'destroy');
    if (env.state !== 'destroying') assertTransition(env.name, env.state, 'destroying');
    return env;
  }

  /** `started` is false when it was already being destroyed (nothing new begins). */
  async execute(target: Target, actor: string): Promise<{ environment: Environment; started: boolean }> {
    const { deps } = this;
    await this.check(target, actor);
    const { environment, changed } = await deps.runner.begin(target.name, (e) => {
      assertSameIncarnation(e, target);
      assertMayManage(e, actor, deps.access, 'destroy');
      // Already being destroyed: a lapsed worker's destroy is taken over; a live one is left alone.
      if (e.state === 'destroying') return leaseLapsed(e, deps.clock.now()) ? { ...e } : undefined;
      const now = deps.clock.now();
      return startStep({ ...transition(e, 'destroying', now), destroyedBy: actor }, 'destroy', 'Terminating every instance', now);
    });
    if (!changed || environment.state !== 'destroying') return { environment, started: false };
    await audit(deps, environment, 'destroy:requested', 'Destroy requested', actor);
    tell(deps.logger, () => deps.notifier.showProgress(environment));
    return { environment, started: true };
  }
}

export interface DestroyFlowDeps {
  compute: ComputePort;
  /** Where its data is kept: a destroyed environment's last generation is kept `retentionDays` for `/server restore`. */
  data?: { store: DataStorePort; retentionDays: number };
  notifier: NotifierPort;
  events: Pick<EnvironmentRepository, 'appendEvent'>;
  clock: Clock;
  logger: Logger;
  timeouts: { runningMs: number };
  /** Its quota is given back once it is destroyed. */
  quota?: Pick<QuotaGuard, 'release'> | undefined;
}

/**
 * Terminates every server of an environment (those on record and any found
 * by its id's tag) and records it as destroyed. Safe to run again after a
 * crash: terminating is idempotent, and it finds the servers again by tag.
 */
export class DestroyFlow {
  constructor(private readonly deps: DestroyFlowDeps) {}

  /**
   * Its data outlives it for the retention period: the last generation is
   * marked kept (the retention job removes it later), and what an interrupted
   * save left is removed now. Returns until when it is kept, when there is a
   * generation. A store that fails here fails the destroy (Retry): data is
   * never left behind without the mark that makes it expire, nor removed
   * without being asked.
   */
  private async keepData(lease: HeldLease): Promise<string | undefined> {
    const { deps } = this;
    const env = lease.environment;
    if (!deps.data) return undefined;
    await deps.data.store.removeLeftovers(env.id);
    const latest = env.data?.latest;
    if (!latest || latest.environmentId !== env.id) return undefined;
    const now = deps.clock.now();
    const keepUntil = new Date(now.getTime() + deps.data.retentionDays * 86_400_000).toISOString();
    await deps.data.store.markKept({ environmentId: env.id, environment: env.name, destroyedAt: now.toISOString(), keepUntil, generation: latest.number });
    return keepUntil;
  }

  readonly run = async (lease: HeldLease): Promise<void> => {
    const { deps } = this;
    let env = lease.environment;
    const terminated = new Set<string>();
    // Destroyed while its servers (or a repair's replacement) were being launched: the launch may land after the first look.
    const launchInFlight = env.progress.some((p) => (p.key === 'launch' || p.key === 'repair:launch') && p.status === 'running');
    try {
      for (let sweep = 1; sweep <= (launchInFlight ? SWEEPS : 1); sweep++) {
        if (sweep > 1) await deps.clock.sleep(SWEEP_PAUSE_MS, lease.signal);
        await lease.ensureHeld();
        const tagged = await deps.compute.findByEnvironment(env.id);
        // The first time, the servers on record too (tags may be missing on what a crash left); after that, what is new.
        const onRecord = sweep === 1 ? env.servers.map((s) => s.instanceId) : [];
        const ids = [...new Set([...onRecord, ...tagged.map((i) => i.instanceId)])].filter((id) => sweep === 1 || !terminated.has(id));
        if (!ids.length) continue;
        await deps.compute.terminate(ids);
        await deps.compute.waitUntilTerminated(ids, { timeoutMs: deps.timeouts.runningMs, signal: lease.signal });
        ids.forEach((id) => terminated.add(id));
      }
      const keptUntil = await this.keepData(lease);
      env = await lease.update((e) => {
        const now = deps.clock.now();
        const next = transition(finishStep(e, 'destroy', now, `${terminated.size} terminated`), 'destroyed', now);
        if (keptUntil && next.data) {
          next.data = { ...next.data, keptUntil };
          delete next.data.saving;
          delete next.data.waking;
        }
        // What destroy interrupted did not finish, and never will.
        next.progress = next.progress.map((p) => (p.status === 'running' ? { ...p, status: 'skipped' as const, endedAt: now.toISOString() } : p));
        delete next.dueAt;
        return { ...next, servers: next.servers.map((s) => ({ ...s, state: 'terminated' as const })) };
      });
      const ended = env;
      await deps.quota?.release(ended).catch((err: unknown) => deps.logger.warn({ err, environment: ended.name }, 'could not release the quota; the next admission drops it'));
      await audit(deps, env, 'state:destroyed', `Destroyed; terminated ${[...terminated].join(', ') || 'nothing (no servers)'}`);
      tell(deps.logger, () => deps.notifier.showProgress(env));
      tell(deps.logger, () => deps.notifier.threadNote(env, 'destroyed'));
    } catch (error) {
      if (error instanceof LeaseLost) throw error;
      const domain = asDomainError(error);
      deps.logger.warn({ err: error, environment: env.name }, 'destroy failed');
      const recorded = failureOf(domain, deps.logger, { environment: env.name });
      env = await lease.fail({ step: 'destroy', ...recorded, retryable: true });
      await audit(deps, env, 'state:failed', `Destroy failed: ${recorded.reason}`);
      tell(deps.logger, () => deps.notifier.showProgress(env));
      tell(deps.logger, () => deps.notifier.failed(env));
      tell(deps.logger, () => deps.notifier.opsAlert(env));
    }
  };
}
