import type { Access, Verb } from '../policies/permissions.js';
import { startStep, transition, type Environment, type SavePart, type WakeInProgress } from '../environment/environment.js';
import { DomainError, ErrorCodes } from '../environment/errors.js';
import { assertTransition, describeState } from '../environment/lifecycle.js';
import { dataSpecOf, type Template } from '../environment/template.js';
import type { Clock, Logger } from '../ports/clock.port.js';
import type { DataStorePort, GenerationManifest, GenerationReason } from '../ports/data-store.port.js';
import type { EnvironmentRepository } from '../ports/environment-repository.port.js';
import type { NotifierPort } from '../ports/notifier.port.js';
import type { WorkflowRunner } from '../workflow/runner.js';
import { partLabel } from './save.flow.js';
import { assertMayManage, assertSameIncarnation, audit, getTarget, tell, templateOf, type Target } from './shared.js';

export interface DataUseCaseDeps {
  repo: Pick<EnvironmentRepository, 'get'>;
  events: Pick<EnvironmentRepository, 'appendEvent'>;
  runner: Pick<WorkflowRunner, 'begin'>;
  data: DataStorePort;
  notifier: NotifierPort;
  clock: Clock;
  logger: Logger;
  templates: readonly Template[];
  access: Access;
}

/** What a save is for: a sleep (the servers go), a save on its own, or a save before a destroy. */
const THEN: Record<GenerationReason, 'asleep' | 'ready' | 'destroying'> = { sleep: 'asleep', save: 'ready', destroy: 'destroying' };
const VERB: Record<GenerationReason, Verb> = { sleep: 'put to sleep', save: 'save the data of', destroy: 'destroy' };

/**
 * `/server sleep`, `/server save`, and the save of "Save data and destroy":
 * the environment moves to `saving` with the plan of its save (a new
 * generation number, a part per server, or one shared part) in the same
 * write that takes the lease, so two clicks make one generation.
 */
export class SaveEnvironment {
  constructor(private readonly deps: DataUseCaseDeps) {}

  async check(target: Target, actor: string, reason: GenerationReason): Promise<Environment> {
    const env = await getTarget(this.deps.repo, target);
    assertMayManage(env, actor, this.deps.access, VERB[reason]);
    if (env.state === 'saving') throw alreadySaving(env);
    // Only a ready environment's data is whole: a failed one (half provisioned, half restored) is retried, not saved.
    if (env.state !== 'ready') throw notReady(env, 'saving');
    return env;
  }

  /** `started` is false when a save was already under way (nothing new begins). */
  async execute(target: Target, actor: string, reason: GenerationReason): Promise<{ environment: Environment; started: boolean }> {
    const { deps } = this;
    await this.check(target, actor, reason);
    const { environment, changed } = await deps.runner.begin(target.name, (e) => {
      assertSameIncarnation(e, target);
      assertMayManage(e, actor, deps.access, VERB[reason]);
      if (e.state === 'saving') return undefined;
      if (e.state !== 'ready') throw notReady(e, 'saving');
      const spec = dataSpecOf(templateOf(deps.templates, e));
      const now = deps.clock.now();
      // A stopped sleep keeps the data on the servers' volumes: no generation, no parts.
      const stop = spec.sleep === 'stop' && reason === 'sleep';
      const generation = stop ? (e.data?.lastGeneration ?? 0) : (e.data?.lastGeneration ?? 0) + 1;
      const parts: SavePart[] = stop ? [] : spec.shared
        ? [{ part: 'shared', server: 0, tries: 0 }]
        : [...e.servers].sort((a, b) => a.index - b.index).map((s) => ({ part: `server-${s.index}` as const, server: s.index, tries: 0 }));
      if (!stop && parts.length === 0) throw notReady(e, 'saving');
      const saving = { mode: stop ? ('stop' as const) : ('archive' as const), generation, reason, then: THEN[reason], by: actor, startedAt: now.toISOString(), parts };
      let next: Environment = { ...transition(e, 'saving', now), data: { ...(e.data ?? {}), lastGeneration: generation, saving }, progress: [] };
      for (const p of parts) next = startStep(next, `save:${p.server}`, partLabel(p), now);
      if (reason === 'sleep') next.sleptBy = actor;
      if (reason === 'destroy') next.destroyedBy = actor;
      return next;
    });
    if (!changed || environment.state !== 'saving') {
      if (environment.state === 'saving') return { environment, started: false };
      throw alreadySaving(environment);
    }
    await audit(deps, environment, `${reason}:requested`, `${reason === 'sleep' ? 'Sleep' : reason === 'save' ? 'Save' : 'Save and destroy'} requested: generation ${environment.data?.saving?.generation}`, actor);
    tell(deps.logger, () => deps.notifier.showProgress(environment));
    return { environment, started: true };
  }
}

/**
 * `/server wake` and the Wake button: the generation to restore is chosen
 * and checked (it exists, its server count fits) before anything starts;
 * then the environment moves to `waking`, on a new launch attempt.
 */
export class WakeEnvironment {
  constructor(private readonly deps: DataUseCaseDeps) {}

  /** The checks a wake makes before it starts: what it would restore. */
  async check(target: Target, actor: string, generation?: number): Promise<{ environment: Environment; manifest?: GenerationManifest }> {
    const env = await getTarget(this.deps.repo, target);
    assertMayManage(env, actor, this.deps.access, 'wake');
    if (env.state === 'waking') throw alreadyWaking(env);
    // Only an asleep environment wakes: a failed one is retried (its servers may hold the newest data).
    if (env.state !== 'asleep') throw notReady(env, 'waking');
    if (env.data?.asleepAs === 'stop' && generation !== undefined) {
      throw new DomainError(ErrorCodes.INPUT_INVALID, `${env.name} sleeps stopped, with its data on its volumes: it wakes as it was, not from a generation.`, { variant: 'stopped_no_generation', name: env.name });
    }
    // Stopped servers start again with their volumes: nothing to restore (unless a generation is asked for).
    if (env.data?.asleepAs === 'stop' && generation === undefined) return { environment: env };
    const manifest = await this.generationFor(env, generation);
    return { environment: env, ...(manifest ? { manifest } : {}) };
  }

  async execute(target: Target, actor: string, generation?: number): Promise<{ environment: Environment; started: boolean; manifest?: GenerationManifest }> {
    const { deps } = this;
    const { manifest } = await this.check(target, actor, generation);
    const { environment, changed } = await deps.runner.begin(target.name, (e) => {
      assertSameIncarnation(e, target);
      if (e.state === 'waking') return undefined;
      if (e.state !== 'asleep') throw notReady(e, 'waking');
      const now = deps.clock.now();
      const start = e.data?.asleepAs === 'stop' && !manifest;
      const waking: WakeInProgress = {
        environmentId: manifest?.environmentId ?? e.id,
        ...(manifest ? { generation: manifest.generation } : {}),
        phase: start ? 'start' : 'launch',
        by: actor,
        startedAt: now.toISOString(),
        restored: [],
      };
      if (start) {
        const next: Environment = { ...transition(e, 'waking', now), progress: [], wokenBy: actor, data: { ...(e.data ?? { lastGeneration: 0 }), waking } };
        return startStep(next, 'start', `Starting ${e.count === 1 ? 'the stopped server' : `the ${e.count} stopped servers`}`, now);
      }
      const next: Environment = { ...transition(e, 'waking', now), attempt: e.attempt + 1, servers: [], progress: [], wokenBy: actor, data: { ...(e.data ?? { lastGeneration: 0 }), waking } };
      return startStep(next, 'launch', `Launching ${e.count} instance${e.count === 1 ? '' : 's'} (${e.instanceType})`, now);
    });
    if (!changed || environment.state !== 'waking') {
      if (environment.state === 'waking') return { environment, started: false };
      throw alreadyWaking(environment);
    }
    await audit(deps, environment, 'wake:requested', `Wake requested${manifest ? `: generation ${manifest.generation}` : ''}`, actor);
    tell(deps.logger, () => deps.notifier.showProgress(environment));
    return { environment, started: true, ...(manifest ? { manifest } : {}) };
  }

  private async generationFor(env: Environment, asked?: number): Promise<GenerationManifest | undefined> {
    const { deps } = this;
    const number = asked ?? env.data?.latest?.number;
    const owner = asked === undefined ? (env.data?.latest?.environmentId ?? env.id) : env.id;
    if (number === undefined) {
      // Never saved (a stopped sleep keeps its data on its volumes): nothing to restore.
      if (env.data?.asleepAs === 'stop' || !env.data?.latest) return undefined;
    }
    const manifest = number === undefined ? undefined : await deps.data.getGeneration(owner, number);
    if (!manifest) {
      const known = (await deps.data.listGenerations(env.id)).map((g) => g.generation);
      throw new DomainError(ErrorCodes.DATA_NO_GENERATION, `${env.name} has no generation ${number ?? ''}.`, { name: env.name, generation: number ?? 0, known: known.map(String) });
    }
    if (manifest.serverCount !== env.count && !manifest.shared) {
      throw new DomainError(
        ErrorCodes.DATA_COUNT_MISMATCH,
        `Generation ${manifest.generation} was taken from ${manifest.serverCount} servers; ${env.name} has ${env.count}, and its data is not shared.`,
        { name: env.name, generation: manifest.generation, serverCount: manifest.serverCount, count: env.count },
      );
    }
    return manifest;
  }
}

/** `/server data`: the generations, and the one a wake would use. */
export class DataQueries {
  constructor(private readonly deps: Pick<DataUseCaseDeps, 'repo' | 'data'>) {}

  async generations(name: string): Promise<{ environment: Environment; generations: GenerationManifest[]; wakeWould?: number }> {
    const environment = await getTarget(this.deps.repo, { name });
    const generations = await this.deps.data.listGenerations(environment.id);
    const latest = environment.data?.latest?.number;
    const wakeWould = latest !== undefined && generations.some((g) => g.generation === latest) ? latest : generations[0]?.generation;
    return { environment, generations, ...(wakeWould !== undefined ? { wakeWould } : {}) };
  }
}

/** The table allows more (failed → saving, failed → waking: a retry), but a person asks this only of the state it is for. */
function notReady(env: Environment, to: 'saving' | 'waking'): DomainError {
  try {
    assertTransition(env.name, env.state, to);
  } catch (e) {
    return e as DomainError;
  }
  const want = to === 'saving' ? 'ready' : 'asleep';
  return new DomainError(ErrorCodes.INVALID_TRANSITION, `${env.name} is ${describeState(env.state)}, not ${want}.`, { variant: to === 'saving' ? 'save_not_ready' : 'wake_not_asleep', name: env.name, state: env.state });
}

function alreadySaving(env: Environment): DomainError {
  return new DomainError(ErrorCodes.INVALID_TRANSITION, `${env.name} is already ${describeState(env.state)}.`, { variant: 'already_saving', name: env.name, state: env.state });
}

function alreadyWaking(env: Environment): DomainError {
  return new DomainError(ErrorCodes.INVALID_TRANSITION, `${env.name} is already ${describeState(env.state)}.`, { variant: 'already_waking', name: env.name, state: env.state });
}
