import { RequestGate } from './approval.use-case.js';
import type { QuotaGuard } from './quota.use-case.js';
import type { Access } from '../policies/permissions.js';
import { newEnvironment, startStep, type Environment } from '../environment/environment.js';
import { DomainError, ErrorCodes, notFound } from '../environment/errors.js';
import { newEnvironmentId } from '../environment/ids.js';
import { assertValidName } from '../environment/name.rules.js';
import type { Template } from '../environment/template.js';
import type { Clock, Logger } from '../ports/clock.port.js';
import type { DataStorePort } from '../ports/data-store.port.js';
import type { EnvironmentRepository } from '../ports/environment-repository.port.js';
import type { NotifierPort } from '../ports/notifier.port.js';
import type { WorkflowRunner } from '../workflow/runner.js';
import { assertMayManage, audit, tell, templateOf } from './shared.js';

export interface RestoreDeps {
  repo: Pick<EnvironmentRepository, 'get' | 'create' | 'appendEvent'>;
  runner: Pick<WorkflowRunner, 'leaseNew' | 'adopt'>;
  data: Pick<DataStorePort, 'getGeneration'>;
  notifier: NotifierPort;
  clock: Clock;
  logger: Logger;
  templates: readonly Template[];
  access: Access;
  /** Quotas: a restore is admitted like a request. */
  quota?: QuotaGuard | undefined;
}

/**
 * `/server restore <name>`: a destroyed environment comes back, under its
 * old name (the name must be free: the destroyed one still holds its record
 * there), from the generation kept when it was destroyed, while the
 * retention lasts. It is a new environment (a new id: its own launches, its
 * own generations) that starts waking, with the kept generation to restore.
 * Asking twice brings it back once.
 */
export class RestoreEnvironment {
  constructor(private readonly deps: RestoreDeps) {}

  async execute(name: string, actor: string): Promise<{ environment: Environment; created: boolean }> {
    const { deps } = this;
    assertValidName(name);
    const old = await deps.repo.get(name);
    if (!old) throw notFound(name);
    if (old.state !== 'destroyed') {
      throw new DomainError(ErrorCodes.INVALID_TRANSITION, `${name} is ${old.state}: only a destroyed environment can be restored.`, { variant: 'not_destroyed', name, state: old.state });
    }
    assertMayManage(old, actor, deps.access, 'restore');
    const kept = old.data?.keptUntil;
    const latest = old.data?.latest;
    const now = deps.clock.now();
    if (!kept || !latest) throw new DomainError(ErrorCodes.DATA_NO_GENERATION, `${name} kept no data when it was destroyed.`, { variant: 'nothing_kept', name });
    if (Date.parse(kept) <= now.getTime()) throw new DomainError(ErrorCodes.DATA_NO_GENERATION, `The data of ${name} was kept until ${kept}.`, { variant: 'expired', name, keptUntil: kept });
    const manifest = await deps.data.getGeneration(latest.environmentId, latest.number);
    if (!manifest) throw new DomainError(ErrorCodes.DATA_NO_GENERATION, `Generation ${latest.number} of ${name} is no longer in the data store.`, { variant: 'gone', name, generation: latest.number });
    const template = templateOf(deps.templates, old);

    const base = newEnvironment(
      {
        id: newEnvironmentId(now),
        name,
        owner: old.owner,
        template: template.name,
        instanceType: old.instanceType,
        count: old.count,
        purpose: old.purpose,
        // One restore per destroyed environment: asking again finds this one.
        requestId: `restore:${old.id}`,
        hourlyCostUsd: old.hourlyCostUsd,
        ...(old.channel ? { channel: old.channel } : {}),
      },
      now,
    );
    const draft: Environment = startStep(
      {
        ...base,
        state: 'waking',
        restoredFrom: { environmentId: old.id, generation: manifest.generation },
        wokenBy: actor,
        data: {
          lastGeneration: 0,
          latest: { environmentId: old.id, number: manifest.generation, createdAt: manifest.createdAt, reason: manifest.reason, bytes: manifest.bytes, serverCount: manifest.serverCount, shared: manifest.shared },
          waking: { environmentId: old.id, generation: manifest.generation, phase: 'launch', by: actor, startedAt: now.toISOString(), restored: [] },
        },
      },
      'launch',
      `Launching ${old.count} instance${old.count === 1 ? '' : 's'} (${old.instanceType})`,
      now,
    );
    // A restore launches servers like a request: it is admitted against the owner's quotas first (before anything is recorded).
    if (deps.quota?.enabled) {
      const admitted = await deps.quota.admit(draft);
      if (!admitted.ok) throw RequestGate.refusalError(draft, admitted);
    }
    const created = await deps.repo.create(deps.runner.leaseNew(draft)).catch(async (err: unknown) => {
      await deps.quota?.release(draft).catch(() => undefined);
      throw err;
    });
    const result = created;
    if (!result.created) {
      // Asked again: the first restore holds the quota; this draft's hold goes.
      await deps.quota?.release(draft).catch(() => undefined);
      return result;
    }
    deps.runner.adopt(result.environment);
    await audit({ events: deps.repo, clock: deps.clock, logger: deps.logger }, result.environment, 'restore:requested', `Restored from ${old.id}, generation ${manifest.generation}`, actor);
    tell(deps.logger, () => deps.notifier.showProgress(result.environment));
    return result;
  }
}

/** The retention job: data kept after a destroy goes once its time is up. */
export class PurgeExpiredData {
  constructor(private readonly deps: { data: Pick<DataStorePort, 'listKept' | 'purge'>; clock: Clock; logger: Logger }) {}

  async execute(): Promise<number> {
    const { deps } = this;
    const now = deps.clock.now().getTime();
    let purged = 0;
    for (const mark of await deps.data.listKept()) {
      if (Date.parse(mark.keepUntil) > now) continue;
      const objects = await deps.data.purge(mark.environmentId);
      deps.logger.info({ environment: mark.environment, environmentId: mark.environmentId, objects, keptUntil: mark.keepUntil }, 'the data of a destroyed environment reached the end of its retention, and was removed');
      purged += 1;
    }
    return purged;
  }
}
