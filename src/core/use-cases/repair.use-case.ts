import { transition, type Environment, type LossReason, type RepairedServer } from '../environment/environment.js';
import { DomainError, ErrorCodes } from '../environment/errors.js';
import { describeState } from '../environment/lifecycle.js';
import type { Access } from '../policies/permissions.js';
import type { Clock, Logger } from '../ports/clock.port.js';
import type { ComputePort } from '../ports/compute.port.js';
import type { EnvironmentRepository } from '../ports/environment-repository.port.js';
import type { NotifierPort } from '../ports/notifier.port.js';
import type { WorkflowRunner } from '../workflow/runner.js';
import { assertMayManage, assertSameIncarnation, audit, getTarget, tell, type Target } from './shared.js';

export interface RepairRequest {
  /** The servers to replace, by index, and why (what the reconciler found). */
  servers: { index: number; lost: string; why: LossReason; adopt?: string }[];
  /** The drift finding it answers. */
  finding?: string;
}

export interface RepairEnvironmentDeps {
  repo: Pick<EnvironmentRepository, 'get'>;
  events: Pick<EnvironmentRepository, 'appendEvent'>;
  runner: Pick<WorkflowRunner, 'begin'>;
  compute: Pick<ComputePort, 'findByEnvironment'>;
  notifier: NotifierPort;
  clock: Clock;
  logger: Logger;
  access: Access;
}

/**
 * Starts a repair: checks who asks and what is true now (the servers named
 * are still the environment's and, unless drifted, really not running), then
 * moves the environment from `ready` to `repairing` in one conditional write
 * that takes the flow's lease. Of two clicks (or a click and the reconciler),
 * one starts it; the other is told it is under way. A repair of servers that
 * are back, or already replaced, says so and changes nothing.
 */
export class RepairEnvironment {
  constructor(private readonly deps: RepairEnvironmentDeps) {}

  async execute(target: Target, actor: string, request: RepairRequest): Promise<Environment> {
    const { deps } = this;
    const seen = await getTarget(deps.repo, target);
    assertMayManage(seen, actor, deps.access, 'repair');
    if (seen.state === 'repairing') throw invalid(seen, 'already_repairing');
    if (seen.state !== 'ready') throw invalid(seen, 'repair_not_ready');
    const live = await deps.compute.findByEnvironment(seen.id);
    const running = (id: string) => live.some((i) => i.instanceId === id && (i.state === 'running' || i.state === 'pending'));
    // What was asked, and every other server of the environment that is not running: a repair that left one
    // lost server behind would fail on it (it bootstraps and checks the whole set).
    const asked: RepairRequest['servers'] = [
      ...request.servers,
      ...seen.servers.filter((s) => !request.servers.some((r) => r.index === s.index) && !running(s.instanceId)).map((s) => ({ index: s.index, lost: s.instanceId, why: 'missing' as LossReason })),
    ];
    let serial = seen.repairs ?? 0;
    const wanted: RepairedServer[] = [];
    for (const s of asked) {
      const record = seen.servers.find((x) => x.index === s.index);
      // Already replaced (another repair got there first), or no such server.
      if (!record || record.instanceId !== s.lost) continue;
      if (running(s.lost) && s.why !== 'drifted') continue;
      if (s.adopt && !live.some((i) => i.instanceId === s.adopt && i.state === 'running')) continue;
      wanted.push({ index: s.index, lost: s.lost, why: s.why, serial: ++serial, ...(s.adopt ? { adopt: s.adopt } : {}) });
    }
    if (wanted.length === 0) throw invalid(seen, 'nothing_to_repair');
    const { environment, changed } = await deps.runner.begin(target.name, (e) => {
      assertSameIncarnation(e, target);
      // Another write meanwhile (a timer, a message) is no reason to refuse; a changed set of servers is.
      if (e.state !== 'ready' || (e.repairs ?? 0) !== (seen.repairs ?? 0)) return undefined;
      if (!wanted.every((w) => e.servers.find((x) => x.index === w.index)?.instanceId === w.lost)) return undefined;
      const now = deps.clock.now();
      const progress = e.progress.filter((p) => !p.key.startsWith('repair:') && !p.key.startsWith('restore:'));
      return {
        ...transition(e, 'repairing', now),
        progress,
        repairs: serial,
        servers: e.servers.map((s) => (wanted.some((w) => w.index === s.index) ? { ...s, state: 'failed' as const } : s)),
        repair: { servers: wanted, phase: 'launch', by: actor, startedAt: now.toISOString(), ...(request.finding ? { finding: request.finding } : {}) },
      };
    });
    if (!changed) throw invalid(environment, environment.state === 'repairing' ? 'already_repairing' : environment.state === 'ready' ? 'nothing_to_repair' : 'repair_not_ready');
    await audit(deps, environment, 'repair:requested', `Repair of ${wanted.map((w) => `server ${w.index + 1} (${w.lost}, ${w.why})`).join(', ')}`, actor);
    tell(deps.logger, () => deps.notifier.showProgress(environment));
    return environment;
  }
}

function invalid(env: Environment, variant: 'already_repairing' | 'nothing_to_repair' | 'repair_not_ready'): DomainError {
  const words = {
    already_repairing: `${env.name} is already being repaired.`,
    nothing_to_repair: `${env.name} has all its servers: nothing to repair.`,
    repair_not_ready: `${env.name} cannot be repaired now; it is ${describeState(env.state)}.`,
  };
  return new DomainError(ErrorCodes.INVALID_TRANSITION, words[variant], { variant, name: env.name, state: env.state });
}
