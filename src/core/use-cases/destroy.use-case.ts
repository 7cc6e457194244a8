import { finishStep, startStep, transition, type Environment } from '../environment/environment.js';
import { asDomainError } from '../environment/errors.js';
import { assertTransition } from '../environment/lifecycle.js';
import type { ComputePort } from '../ports/compute.port.js';
import type { Clock, Logger } from '../ports/clock.port.js';
import type { EnvironmentRepository } from '../ports/environment-repository.port.js';
import type { NotifierPort } from '../ports/notifier.port.js';
import { LeaseLost, leaseLapsed, type HeldLease, type WorkflowRunner } from '../workflow/runner.js';
import { assertMayManage, assertSameIncarnation, audit, getTarget, type Target } from './shared.js';

/** How many times destroy looks again for servers a launch still in flight may have added. */
const SWEEPS = 3;

export interface DestroyDeps {
  repo: Pick<EnvironmentRepository, 'get'>;
  events: Pick<EnvironmentRepository, 'appendEvent'>;
  runner: Pick<WorkflowRunner, 'begin'>;
  notifier: NotifierPort;
  clock: Clock;
  logger: Logger;
  admins: readonly string[];
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
    assertMayManage(env, actor, this.deps.admins, 'destroy');
    if (env.state !== 'destroying') assertTransition(env.name, env.state, 'destroying');
    return env;
  }

  /** `started` is false when it was already being destroyed (nothing new begins). */
  async execute(target: Target, actor: string): Promise<{ environment: Environment; started: boolean }> {
    const { deps } = this;
    await this.check(target, actor);
    const { environment, changed } = await deps.runner.begin(target.name, (e) => {
      assertSameIncarnation(e, target);
      assertMayManage(e, actor, deps.admins, 'destroy');
      // Already being destroyed: a lapsed worker's destroy is taken over; a live one is left alone.
      if (e.state === 'destroying') return leaseLapsed(e, deps.clock.now()) ? { ...e } : undefined;
      const now = deps.clock.now();
      return startStep({ ...transition(e, 'destroying', now), destroyedBy: actor }, 'destroy', 'Terminating every instance', now);
    });
    if (!changed || environment.state !== 'destroying') return { environment, started: false };
    await audit(deps, environment, 'destroy:requested', 'Destroy requested', actor);
    await deps.notifier.showProgress(environment);
    return { environment, started: true };
  }
}

export interface DestroyFlowDeps {
  compute: ComputePort;
  notifier: NotifierPort;
  events: Pick<EnvironmentRepository, 'appendEvent'>;
  clock: Clock;
  logger: Logger;
  timeouts: { runningMs: number };
}

/**
 * Terminates every server of an environment (those on record and any found
 * by its id's tag) and records it as destroyed. Safe to run again after a
 * crash: terminating is idempotent, and it finds the servers again by tag.
 */
export class DestroyFlow {
  constructor(private readonly deps: DestroyFlowDeps) {}

  readonly run = async (lease: HeldLease): Promise<void> => {
    const { deps } = this;
    let env = lease.environment;
    const terminated = new Set<string>();
    try {
      // A launch still in flight when destroy began may add servers late: look again until none is left.
      for (let sweep = 1; sweep <= SWEEPS; sweep++) {
        await lease.ensureHeld();
        const tagged = await deps.compute.findByEnvironment(env.id);
        // The first time, the servers on record too (tags may be missing on what a crash left); after that, what is new.
        const onRecord = sweep === 1 ? env.servers.map((s) => s.instanceId) : [];
        const ids = [...new Set([...onRecord, ...tagged.map((i) => i.instanceId)])];
        if (!ids.length) break;
        await deps.compute.terminate(ids);
        await deps.compute.waitUntilTerminated(ids, { timeoutMs: deps.timeouts.runningMs, signal: lease.signal });
        ids.forEach((id) => terminated.add(id));
      }
      env = await lease.update((e) => {
        const now = deps.clock.now();
        const next = transition(finishStep(e, 'destroy', now, `${terminated.size} terminated`), 'destroyed', now);
        delete next.dueAt;
        return { ...next, servers: next.servers.map((s) => ({ ...s, state: 'terminated' as const })) };
      });
      await audit(deps, env, 'state:destroyed', `Destroyed; terminated ${[...terminated].join(', ') || 'nothing (no servers)'}`);
      await deps.notifier.showProgress(env);
      await deps.notifier.threadNote(env, `destroyed:${env.stateChangedAt}`, `\`${env.name}\` was destroyed.`);
    } catch (error) {
      if (error instanceof LeaseLost) throw error;
      const domain = asDomainError(error);
      deps.logger.warn({ err: error, environment: env.name }, 'destroy failed');
      env = await lease.fail({ step: 'destroy', code: domain.code, reason: domain.message, retryable: true });
      await audit(deps, env, 'state:failed', `Destroy failed: ${domain.message}`);
      await deps.notifier.showProgress(env);
      await deps.notifier.failed(env);
      await deps.notifier.opsAlert(env);
    }
  };
}
