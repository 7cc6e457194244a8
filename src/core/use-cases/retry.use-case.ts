import { mayManage, startStep, transition, type Environment } from '../environment/environment.js';
import { DomainError, ErrorCodes } from '../environment/errors.js';
import { assertValidName } from '../environment/name.rules.js';
import { audit, getOrThrow, tryUpdate, withLease, type UseCaseContext } from './context.js';
import type { DestroyEnvironment } from './destroy.use-case.js';
import { showProgress } from './progress.js';
import type { ProvisionEnvironment } from './provision.use-case.js';

/**
 * Resumes a failed environment from the step that failed. A failed launch or
 * wait starts a new attempt (a new idempotency token) after terminating what
 * the failed attempt left; a failed bootstrap reruns on the same servers,
 * from the step that failed, when they are still there. Of two clicks, the
 * one whose write lands retries; the other is told it is already under way.
 */
export class RetryEnvironment {
  constructor(
    private readonly ctx: UseCaseContext,
    private readonly provision: ProvisionEnvironment,
    private readonly destroy: DestroyEnvironment,
  ) {}

  async execute(name: string, actor: string): Promise<Environment> {
    const { ctx } = this;
    assertValidName(name);
    const env = await getOrThrow(ctx, name);
    if (!mayManage(env, actor, ctx.admins)) {
      throw new DomainError(ErrorCodes.NOT_AUTHORIZED, `Only <@${env.owner}> (the owner) or an admin can retry \`${name}\`.`, { name, actor });
    }
    if (env.state !== 'failed' || !env.failure) throw notRetryable(env);
    const failure = env.failure;
    // Only the version we looked at may be retried: a second click finds it changed.
    const still = (e: Environment) => e.state === 'failed' && e.version === env.version;

    if (failure.step === 'destroy') {
      const { environment, changed } = await tryUpdate(ctx, name, (e) =>
        still(e) ? withLease(ctx, startStep(transition(e, 'destroying', ctx.clock.now()), 'destroy', 'Terminating every instance', ctx.clock.now())) : undefined,
      );
      if (!changed) throw notRetryable(environment);
      await audit(ctx, environment, 'retry', 'Retrying destroy', actor);
      ctx.background.run(`destroy ${name}`, () => this.destroy.terminate(name));
      return showProgress(ctx, environment);
    }

    const alive = await ctx.compute.findByEnvironment(name);
    const serversStillThere = env.servers.length > 0 && env.servers.every((s) => alive.some((a) => a.instanceId === s.instanceId && a.state === 'running'));
    const resumeBootstrap = (failure.step === 'bootstrap' || failure.step === 'agent') && serversStillThere;
    const { environment, changed } = await tryUpdate(ctx, name, (e) => {
      if (!still(e)) return undefined;
      const now = ctx.clock.now();
      if (resumeBootstrap) {
        const progress = e.progress.filter((p) => !p.key.startsWith('bootstrap:') || p.status === 'done');
        return withLease(ctx, { ...transition(e, 'bootstrapping', now), progress, servers: e.servers.map((s) => (s.state === 'ready' ? s : { ...s, state: 'running' as const })) });
      }
      const fresh = { ...transition(e, 'provisioning', now), attempt: e.attempt + 1, servers: [], progress: [] };
      return withLease(ctx, startStep(fresh, 'launch', `Launching ${e.count} instance${e.count === 1 ? '' : 's'} (${e.instanceType})`, now));
    });
    if (!changed) throw notRetryable(environment);
    if (!resumeBootstrap && alive.length) {
      // A new attempt: what the failed one left is terminated (by tag, so nothing is missed).
      await ctx.compute.terminate(alive.map((i) => i.instanceId));
    }
    await audit(ctx, environment, 'retry', `Retry from ${failure.step} (attempt ${environment.attempt})`, actor);
    const shown = await showProgress(ctx, environment);
    ctx.background.run(`provision ${name}`, () => this.provision.execute(name));
    return shown;
  }
}

function notRetryable(env: Environment): DomainError {
  const what = env.state === 'failed' ? 'is already being retried' : `is ${env.state.replace('_', ' ')}, not failed: there is nothing to retry`;
  return new DomainError(ErrorCodes.INVALID_TRANSITION, `\`${env.name}\` ${what}.`, { name: env.name, state: env.state });
}
