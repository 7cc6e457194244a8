import {
  fail,
  finishStep,
  startStep,
  transition,
  type Environment,
  type FailedStep,
  type ProgressStep,
  type ServerRecord,
} from '../environment/environment.js';
import { DomainError, ErrorCodes, isDomainError } from '../environment/errors.js';
import type { BootstrapStep } from '../environment/template.js';
import type { CommandResult } from '../ports/remote-command.port.js';
import { isTransitional } from '../environment/lifecycle.js';
import { audit, leaseLapsed, Superseded, templateOf, tell, update, withLease, type UseCaseContext } from './context.js';
import { showProgress } from './progress.js';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * Takes an environment from `requested` (or wherever a crash left it) to
 * `ready`: launch, wait for running, bootstrap every server, ready. Each phase
 * starts by reading the stored state, so running it twice, or after a crash,
 * resumes instead of repeating: the launch is idempotent per attempt, and
 * bootstrap resumes after the last step each server finished.
 */
export class ProvisionEnvironment {
  constructor(private readonly ctx: UseCaseContext) {}

  async execute(name: string): Promise<Environment> {
    const { ctx } = this;
    const log = ctx.logger.child({ environment: name });
    let heldByOther = false;
    let env = await update(ctx, name, (e) => {
      if (e.state === 'requested') return this.beginProvisioning(e);
      if (e.state !== 'provisioning' && e.state !== 'bootstrapping') return undefined;
      // Another live worker is on it: leave it alone (the sweep resumes it if that worker stops).
      heldByOther = Boolean(e.lease && e.lease.holder !== ctx.workerId && !leaseLapsed(e, ctx.clock.now()));
      return heldByOther ? undefined : withLease(ctx, e);
    });
    if (heldByOther) return env;
    // Long steps (a bootstrap may run for hours) must not look abandoned to the sweep.
    const heartbeat = setInterval(() => {
      update(ctx, name, (e) => (e.lease?.holder === ctx.workerId && isTransitional(e.state) ? withLease(ctx, e) : undefined)).catch((err: unknown) =>
        log.warn({ err }, 'could not renew the lease'),
      );
    }, Math.max(1000, ctx.leaseMs / 3));
    heartbeat.unref();
    try {
      if (env.state === 'provisioning') env = await this.launch(env);
      if (env.state === 'bootstrapping') env = await this.bootstrap(env);
      return env;
    } catch (error) {
      if (error instanceof Superseded) {
        log.info({ state: error.environment.state }, 'provisioning stopped: the environment moved on');
        return error.environment;
      }
      log.warn({ err: error }, 'provisioning failed');
      return this.recordFailure(name, error);
    } finally {
      clearInterval(heartbeat);
      for (const id of this.lastShown.keys()) if (id.startsWith(`${name}@`)) this.lastShown.delete(id);
    }
  }

  private beginProvisioning(env: Environment): Environment {
    const now = this.ctx.clock.now();
    const next = transition(env, 'provisioning', now);
    return withLease(this.ctx, startStep(next, 'launch', `Launching ${plural(env.count, 'instance')} (${env.instanceType})`, now));
  }

  /** Updates only while the environment is still in `state`; otherwise stops this worker. */
  private guarded(env: Environment, state: Environment['state'], change: (e: Environment) => Environment): Promise<Environment> {
    return update(this.ctx, env.name, (current) => {
      if (current.state !== state) throw new Superseded(current);
      return withLease(this.ctx, change(current));
    });
  }

  private async launch(initial: Environment): Promise<Environment> {
    const { ctx } = this;
    let env = await this.guarded(initial, 'provisioning', (e) =>
      startStep(e, 'launch', `Launching ${plural(e.count, 'instance')} (${e.instanceType})`, ctx.clock.now()),
    );
    env = await showProgress(ctx, env);
    const template = templateOf(ctx, env);
    const instances = await this.step('launch', () =>
      ctx.compute.launch({
        environment: env.name,
        owner: env.owner,
        template: template.name,
        image: template.image,
        instanceType: env.instanceType,
        count: env.count,
        subnets: template.subnets,
        securityGroups: template.securityGroups,
        ...(template.instanceProfile ? { instanceProfile: template.instanceProfile } : {}),
        volumes: template.volumes,
        tags: template.tags,
        attempt: env.attempt,
        // Per incarnation and attempt: EC2 remembers a token for a day, and a name can be reused sooner.
        idempotencyKey: `dormouse-${env.name}-${Date.parse(env.createdAt).toString(36)}-${env.attempt}`,
      }),
    );
    const servers: ServerRecord[] = instances
      .map((i) => ({ index: i.index, instanceId: i.instanceId, state: 'pending' as const, ...(i.privateIp ? { privateIp: i.privateIp } : {}) }))
      .sort((a, b) => a.index - b.index);
    try {
      env = await this.guarded(env, 'provisioning', (e) => {
        const now = ctx.clock.now();
        const launched = finishStep({ ...e, servers }, 'launch', now, servers.map((s) => s.instanceId).join(', '));
        return startStep(launched, 'running', 'Waiting for the instances to run', now);
      });
    } catch (e) {
      // Destroyed while we were launching: do not leave what we just made behind.
      if (e instanceof Superseded) await ctx.compute.terminate(servers.map((s) => s.instanceId)).catch(() => undefined);
      throw e;
    }
    await audit(ctx, env, 'launched', `Launched ${servers.map((s) => s.instanceId).join(', ')}`);
    env = await showProgress(ctx, env);

    const running = await this.step('running', () =>
      ctx.compute.waitUntilRunning(
        servers.map((s) => s.instanceId),
        { timeoutMs: ctx.timeouts.runningMs, onPoll: (now) => this.showWaiting(env, 'running', now.filter((i) => i.state === 'running').length, servers.length) },
      ),
    );
    env = await this.guarded(env, 'provisioning', (e) => {
      const now = ctx.clock.now();
      const withIps = e.servers.map((s) => {
        const r = running.find((i) => i.instanceId === s.instanceId);
        return { ...s, state: 'running' as const, ...(r?.privateIp ? { privateIp: r.privateIp } : {}) };
      });
      const next = finishStep({ ...e, servers: withIps }, 'running', now, e.count > 1 ? `all ${e.count} running` : undefined);
      return startStep(transition(next, 'bootstrapping', now), 'agent', 'Waiting for the SSM agent', now);
    });
    await audit(ctx, env, 'state:bootstrapping', 'Instances running');
    return showProgress(ctx, env);
  }

  private async bootstrap(initial: Environment): Promise<Environment> {
    const { ctx } = this;
    const template = templateOf(ctx, initial);
    let env = await this.guarded(initial, 'bootstrapping', (e) => {
      const now = ctx.clock.now();
      let next = e.progress.some((p) => p.key === 'agent' && p.status === 'done') ? e : startStep(e, 'agent', 'Waiting for the SSM agent', now);
      for (const s of e.servers) {
        if (s.state !== 'ready') next = startStep(next, `bootstrap:${s.index}`, `Bootstrap server ${s.index + 1}`, now);
      }
      return next;
    });
    env = await showProgress(ctx, env);

    let accepted = new Set(env.progress.some((p) => p.key === 'agent' && p.status === 'done') ? env.servers.map((s) => s.index) : []);
    const onAccepted = async (index: number) => {
      if (accepted.has(index)) return;
      accepted = new Set([...accepted, index]);
      if (accepted.size === env.servers.length) {
        env = await this.guarded(env, 'bootstrapping', (e) => finishStep(e, 'agent', ctx.clock.now(), 'online on every server'));
        await showProgress(ctx, env);
      } else {
        this.showWaiting(env, 'agent', accepted.size, env.servers.length);
      }
    };

    // The first server to fail fails the environment at once; the others stop at their next write.
    await Promise.all(env.servers.filter((s) => s.state !== 'ready').map((server) => this.bootstrapServer(env, server, template.bootstrap, onAccepted)));

    env = await update(ctx, env.name, (e) => {
      if (e.state !== 'bootstrapping') throw new Superseded(e);
      const now = ctx.clock.now();
      const done = finishStep(e, 'agent', now);
      const ready = transition(done, 'ready', now);
      // The last step's time is the whole wait, from request to ready.
      const total: ProgressStep = { key: 'ready', label: 'Ready', status: 'done', startedAt: e.createdAt, endedAt: now.toISOString(), detail: 'in all' };
      ready.progress = [...ready.progress.filter((p) => p.key !== 'ready'), total];
      delete ready.lease; // nothing is under way any more
      return ready;
    });
    await audit(ctx, env, 'state:ready', `Ready: ${env.servers.map((s) => `${s.instanceId} (${s.privateIp ?? 'no IP'})`).join(', ')}`);
    env = await showProgress(ctx, env);
    await tell(ctx, 'ready note', () => ctx.notifier.threadNote(env, `\`${env.name}\` is ready.`));
    return env;
  }

  private async bootstrapServer(
    env: Environment,
    server: ServerRecord,
    steps: readonly BootstrapStep[],
    onAccepted: (index: number) => Promise<void>,
  ): Promise<void> {
    const { ctx } = this;
    const key = `bootstrap:${server.index}`;
    // Resume after the last step this server finished (steps must be safe to repeat anyway).
    const from = server.lastStep ? steps.findIndex((s) => s.name === server.lastStep) + 1 : 0;
    for (const step of steps.slice(from)) {
      await this.guarded(env, 'bootstrapping', (e) => ({
        ...e,
        servers: e.servers.map((s) => (s.index === server.index ? { ...s, state: 'bootstrapping' as const } : s)),
        progress: e.progress.map((p) => (p.key === key ? { ...p, detail: `running \`${step.name}\`` } : p)),
      })).then((e) => showProgress(ctx, e));
      const result = await this.step('bootstrap', () =>
        ctx.commands.run(
          server.instanceId,
          {
            name: step.name,
            script: step.run,
            timeoutSeconds: step.timeoutSeconds,
            sandboxSafe: step.sandboxSafe,
            env: {
              DORMOUSE_ENVIRONMENT: env.name,
              DORMOUSE_SERVER_INDEX: String(server.index),
              DORMOUSE_SERVER_COUNT: String(env.count),
              ...(ctx.serverDataDir ? { DORMOUSE_DATA_DIR: ctx.serverDataDir } : {}),
            },
          },
          {
            agentTimeoutMs: ctx.timeouts.agentMs,
            // Progress only: a lost race here (a destroy) is found again by the next guarded write.
            onAccepted: () => void onAccepted(server.index).catch((err: unknown) => ctx.logger.debug({ err }, 'agent progress not recorded')),
          },
        ),
        server.index,
      );
      if (result.status !== 'Success') throw new StepError('bootstrap', commandFailure(server, step, result), server.index);
      await this.guarded(env, 'bootstrapping', (e) => ({
        ...e,
        servers: e.servers.map((s) => (s.index === server.index ? { ...s, lastStep: step.name } : s)),
      }));
      await audit(ctx, env, `step:${step.name}`, `Server ${server.index + 1}: \`${step.name}\` finished in ${Math.round(result.durationMs / 100) / 10} s`);
    }
    const env2 = await this.guarded(env, 'bootstrapping', (e) => {
      const next = finishStep(e, key, ctx.clock.now(), `${steps.length} step${steps.length === 1 ? '' : 's'}`);
      return { ...next, servers: next.servers.map((s) => (s.index === server.index ? { ...s, state: 'ready' as const } : s)) };
    });
    await onAccepted(server.index);
    await showProgress(ctx, env2);
  }

  /**
   * Long waits show how far they got ("2 of 3"), when that changes. Fire and
   * forget: progress must never hold up or fail the wait itself.
   */
  private readonly lastShown = new Map<string, string>();
  private showWaiting(env: Environment, key: 'running' | 'agent', done: number, of: number): void {
    if (of < 2) return;
    const detail = `${done} of ${of}`;
    const id = `${env.name}@${env.createdAt}:${env.attempt}:${key}`;
    if (this.lastShown.get(id) === detail) return;
    this.lastShown.set(id, detail);
    const state = key === 'running' ? 'provisioning' : 'bootstrapping';
    this.guarded(env, state, (e) => ({
      ...e,
      progress: e.progress.map((p) => (p.key === key && p.status === 'running' ? { ...p, detail } : p)),
    }))
      .then((e) => showProgress(this.ctx, e))
      .catch((err: unknown) => this.ctx.logger.debug({ err }, 'wait progress not shown'));
  }

  /** Runs one phase, labelling any error with the step it happened in. */
  private async step<T>(step: FailedStep, work: () => Promise<T>, server?: number): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof Superseded) throw error;
      throw new StepError(step, error, server);
    }
  }

  private async recordFailure(name: string, error: unknown): Promise<Environment> {
    const { ctx } = this;
    const stepError = error instanceof StepError ? error : undefined;
    const cause = stepError ? stepError.cause : error;
    const domain = isDomainError(cause)
      ? cause
      : new DomainError(ErrorCodes.CLOUD_ERROR, `Unexpected error: ${(cause as Error)?.message ?? String(cause)}`, {}, true);
    let env: Environment;
    try {
      env = await update(ctx, name, (e) => {
        if (e.state !== 'provisioning' && e.state !== 'bootstrapping' && e.state !== 'requested') throw new Superseded(e);
        return fail(
          e,
          {
            // An error outside a labelled step (the store, say) is put on the phase under way.
            step: stepError?.step ?? (e.state === 'bootstrapping' ? 'bootstrap' : 'launch'),
            code: domain.code,
            reason: domain.message,
            retryable: true,
            ...(typeof domain.details.output === 'string' ? { output: domain.details.output } : {}),
            ...(stepError?.server !== undefined ? { server: stepError.server } : {}),
          },
          ctx.clock.now(),
        );
      });
    } catch (e) {
      if (e instanceof Superseded) return e.environment;
      throw e;
    }
    await audit(ctx, env, 'state:failed', `Failed at ${env.failure?.step}: ${domain.message}`);
    env = await showProgress(ctx, env);
    await tell(ctx, 'owner failure', () => ctx.notifier.failed(env));
    await tell(ctx, 'ops alert', () => ctx.notifier.opsAlert(env));
    return env;
  }
}

class StepError extends Error {
  constructor(
    readonly step: FailedStep,
    override readonly cause: unknown,
    readonly server?: number,
  ) {
    super(`step ${step} failed`);
  }
}

function commandFailure(server: ServerRecord, step: BootstrapStep, result: CommandResult): DomainError {
  const output = [result.stdoutTail.trim(), result.stderrTail.trim()].filter(Boolean).join('\n').split('\n').slice(-15).join('\n');
  if (result.status === 'TimedOut') {
    return new DomainError(
      ErrorCodes.COMMAND_TIMED_OUT,
      `Server ${server.index + 1} (${server.instanceId}): step \`${step.name}\` did not finish within ${step.timeoutSeconds} s.`,
      { output, step: step.name },
      true,
    );
  }
  return new DomainError(
    ErrorCodes.COMMAND_FAILED,
    `Server ${server.index + 1} (${server.instanceId}): step \`${step.name}\` ${result.status === 'Cancelled' ? 'was cancelled' : `exited with code ${result.exitCode ?? '?'}`}.`,
    { output, step: step.name, exitCode: result.exitCode },
    true,
  );
}
