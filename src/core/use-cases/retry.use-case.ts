import { mayManage, startStep, transition, type Environment } from '../environment/environment.js';
import { DomainError, ErrorCodes } from '../environment/errors.js';
import { audit, getOrThrow, update, withLease, type UseCaseContext } from './context.js';
import type { DestroyEnvironment } from './destroy.use-case.js';
import { showProgress } from './progress.js';
import type { ProvisionEnvironment } from './provision.use-case.js';

/**
 * Resumes a failed environment from the step that failed. A failed launch or
 * wait starts a new attempt (a new idempotency token) after terminating what
 * the failed attempt left; a failed bootstrap reruns on the same servers,
 * from the step that failed, when they are still there.
 */
export class RetryEnvironment {
  constructor(
    private readonly ctx: UseCaseContext,
    private readonly provision: ProvisionEnvironment,
    private readonly destroy: DestroyEnvironment,
  ) {}

  async execute(name: string, actor: string): Promise<Environment> {
    const { ctx } = this;
    const env = await getOrThrow(ctx, name);
    if (!mayManage(env, actor, ctx.admins)) {
      throw new DomainError(ErrorCodes.NOT_AUTHORIZED, `Only <@${env.owner}> (the owner) or an admin can retry \`${name}\`.`, { name, actor });
    }
    if (env.state !== 'failed' || !env.failure) {
      throw new DomainError(ErrorCodes.INVALID_TRANSITION, `\`${name}\` is ${env.state}, not failed: there is nothing to retry.`, { name, state: env.state });
    }
    const failure = env.failure;
    let next: Environment;
    if (failure.step === 'destroy') {
      next = await update(ctx, name, (e) => (e.state === 'failed' ? withLease(ctx, startStep(transition(e, 'destroying', ctx.clock.now()), 'destroy', 'Terminating every instance', ctx.clock.now())) : undefined));
      await audit(ctx, next, 'retry', 'Retrying destroy', actor);
      ctx.background.run(`destroy ${name}`, () => this.destroy.terminate(name));
      return showProgress(ctx, next);
    }
    const alive = await ctx.compute.findByEnvironment(name);
    const serversStillThere = env.servers.length > 0 && env.servers.every((s) => alive.some((a) => a.instanceId === s.instanceId && a.state === 'running'));
    if ((failure.step === 'bootstrap' || failure.step === 'agent') && serversStillThere) {
      next = await update(ctx, name, (e) => {
        if (e.state !== 'failed') return undefined;
        const now = ctx.clock.now();
        const progress = e.progress.filter((p) => !p.key.startsWith('bootstrap:') || p.status === 'done');
        return withLease(ctx, { ...transition(e, 'bootstrapping', now), progress, servers: e.servers.map((s) => (s.state === 'ready' ? s : { ...s, state: 'running' as const })) });
      });
    } else {
      // A new attempt: terminate whatever the failed one left, then launch afresh.
      const leftovers = alive.map((i) => i.instanceId);
      if (leftovers.length) await ctx.compute.terminate(leftovers);
      next = await update(ctx, name, (e) => {
        if (e.state !== 'failed') return undefined;
        const now = ctx.clock.now();
        const fresh = { ...transition(e, 'provisioning', now), attempt: e.attempt + 1, servers: [], progress: [] };
        return withLease(ctx, startStep(fresh, 'launch', `Launching ${e.count} instance${e.count === 1 ? '' : 's'} (${e.instanceType})`, now));
      });
    }
    await audit(ctx, next, 'retry', `Retry from ${failure.step} (attempt ${next.attempt})`, actor);
    next = await showProgress(ctx, next);
    ctx.background.run(`provision ${name}`, () => this.provision.execute(name));
    return next;
  }
}
