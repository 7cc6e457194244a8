import { fail, finishStep, mayManage, startStep, transition, type Environment } from '../environment/environment.js';
import { DomainError, ErrorCodes, isDomainError } from '../environment/errors.js';
import { assertTransition } from '../environment/lifecycle.js';
import { assertValidName } from '../environment/name.rules.js';
import { audit, getOrThrow, leaseLapsed, tell, tryUpdate, update, withLease, type UseCaseContext } from './context.js';
import { showProgress } from './progress.js';

/**
 * Terminates every server of an environment (those on record and any found
 * by its tags) and records it as destroyed. Safe to run again after a crash;
 * a second click while it runs starts nothing.
 */
export class DestroyEnvironment {
  constructor(private readonly ctx: UseCaseContext) {}

  /** The checks a confirmation button repeats: exists, may be managed by `actor`, may be destroyed. */
  async check(name: string, actor: string): Promise<Environment> {
    assertValidName(name);
    const env = await getOrThrow(this.ctx, name);
    if (!mayManage(env, actor, this.ctx.admins)) {
      throw new DomainError(
        ErrorCodes.NOT_AUTHORIZED,
        `Only <@${env.owner}> (the owner) or an admin can destroy \`${env.name}\`. Ask them in a thread, or ask ops.`,
        { name, actor },
      );
    }
    if (env.state !== 'destroying') assertTransition(env.name, env.state, 'destroying');
    return env;
  }

  /**
   * Marks it destroying and terminates in the background. `started` is false
   * when it was already being destroyed by a live worker (nothing new begins).
   */
  async execute(name: string, actor: string): Promise<{ environment: Environment; started: boolean }> {
    const { ctx } = this;
    await this.check(name, actor);
    const { environment, changed } = await tryUpdate(ctx, name, (e) => {
      if (e.state === 'destroying') return leaseLapsed(e, ctx.clock.now()) ? withLease(ctx, e) : undefined;
      if (!mayManage(e, actor, ctx.admins)) return undefined;
      const now = ctx.clock.now();
      return withLease(ctx, startStep({ ...transition(e, 'destroying', now), destroyedBy: actor }, 'destroy', 'Terminating every instance', now));
    });
    if (!changed) return { environment, started: false };
    await audit(ctx, environment, 'destroy:requested', 'Destroy requested', actor);
    ctx.background.run(`destroy ${name}`, () => this.terminate(name));
    return { environment: await showProgress(ctx, environment), started: true };
  }

  /** The work itself; also what a resumed sweep calls. Claims the lease first, so one worker does it. */
  async terminate(name: string): Promise<Environment> {
    const { ctx } = this;
    const claim = await tryUpdate(ctx, name, (e) =>
      e.state === 'destroying' && (leaseLapsed(e, ctx.clock.now()) || e.lease?.holder === ctx.workerId) ? withLease(ctx, e) : undefined,
    );
    let env = claim.environment;
    if (!claim.changed) return env;
    try {
      const tagged = await ctx.compute.findByEnvironment(name);
      const ids = [...new Set([...env.servers.map((s) => s.instanceId), ...tagged.map((i) => i.instanceId)])];
      if (ids.length) {
        await ctx.compute.terminate(ids);
        await ctx.compute.waitUntilTerminated(ids, { timeoutMs: ctx.timeouts.runningMs });
      }
      const done = await tryUpdate(ctx, name, (e) => {
        if (e.state !== 'destroying') return undefined;
        const now = ctx.clock.now();
        const next = transition(finishStep(e, 'destroy', now, `${ids.length} terminated`), 'destroyed', now);
        delete next.lease;
        delete next.dueAt;
        return { ...next, servers: next.servers.map((s) => ({ ...s, state: 'terminated' as const })) };
      });
      env = done.environment;
      if (!done.changed) return env;
      await audit(ctx, env, 'state:destroyed', `Destroyed; terminated ${ids.join(', ') || 'nothing (no servers)'}`);
      env = await showProgress(ctx, env);
      await tell(ctx, 'destroyed note', () => ctx.notifier.threadNote(env, `\`${env.name}\` was destroyed.`));
      return env;
    } catch (error) {
      const domain = isDomainError(error) ? error : new DomainError(ErrorCodes.CLOUD_ERROR, String((error as Error)?.message ?? error), {}, true);
      env = await update(ctx, name, (e) =>
        e.state === 'destroying'
          ? fail(e, { step: 'destroy', code: domain.code, reason: domain.message, retryable: true }, ctx.clock.now())
          : undefined,
      );
      await audit(ctx, env, 'state:failed', `Destroy failed: ${domain.message}`);
      env = await showProgress(ctx, env);
      await tell(ctx, 'owner failure', () => ctx.notifier.failed(env));
      await tell(ctx, 'ops alert', () => ctx.notifier.opsAlert(env));
      return env;
    }
  }
}
