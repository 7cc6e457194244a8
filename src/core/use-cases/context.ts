import type { Environment } from '../environment/environment.js';
import { DomainError, ErrorCodes, notFound } from '../environment/errors.js';
import type { Template } from '../environment/template.js';
import type { ComputePort } from '../ports/compute.port.js';
import type { EnvironmentRepository } from '../ports/environment-repository.port.js';
import type { Clock, Logger, NotifierPort } from '../ports/notifier.port.js';
import type { RemoteCommandPort } from '../ports/remote-command.port.js';
import type { BackgroundWork } from './background.js';

/** Everything a use case may touch: ports and settings, nothing concrete. */
export interface UseCaseContext {
  repo: EnvironmentRepository;
  compute: ComputePort;
  commands: RemoteCommandPort;
  notifier: NotifierPort;
  clock: Clock;
  logger: Logger;
  background: BackgroundWork;
  templates: readonly Template[];
  admins: readonly string[];
  timeouts: { runningMs: number; agentMs: number };
  /** Identifies this process in leases. */
  workerId: string;
  /** How long a worker's lease lasts without being renewed. */
  leaseMs: number;
  /** Where bootstrap scripts find the environment's data on a server (the sandbox sets its own per server). */
  serverDataDir?: string;
}

/** Thrown inside an update when the environment moved on under a worker: the worker stops. */
export class Superseded extends Error {
  override readonly name = 'Superseded';
  constructor(readonly environment: Environment) {
    super(`${environment.name} is now ${environment.state}`);
  }
}

export async function getOrThrow(ctx: UseCaseContext, name: string): Promise<Environment> {
  const env = await ctx.repo.get(name);
  if (!env) throw notFound(name);
  return env;
}

/** Writes from this process to one environment go one at a time: parallel servers do not race each other. */
const queues = new WeakMap<UseCaseContext, Map<string, Promise<unknown>>>();

function serialised<T>(ctx: UseCaseContext, name: string, work: () => Promise<T>): Promise<T> {
  let byName = queues.get(ctx);
  if (!byName) queues.set(ctx, (byName = new Map()));
  const previous = byName.get(name) ?? Promise.resolve();
  const next = previous.then(work, work);
  const settled = next.catch(() => undefined);
  byName.set(name, settled);
  void settled.then(() => {
    if (byName.get(name) === settled) byName.delete(name);
  });
  return next;
}

/**
 * Read, change, write conditionally; on a lost race (another process wrote
 * first) read again, after a short jittered pause, and re-apply `change`
 * (which may throw to give up). Never overwrites someone else's write.
 * `changed` says whether this call wrote: only the caller whose write
 * landed may start the work that follows it.
 */
export async function tryUpdate(
  ctx: UseCaseContext,
  name: string,
  change: (env: Environment) => Environment | undefined,
): Promise<{ environment: Environment; changed: boolean }> {
  return serialised(ctx, name, async () => {
    for (let attempt = 1; ; attempt++) {
      const current = await getOrThrow(ctx, name);
      const next = change(current);
      if (!next || next === current) return { environment: current, changed: false };
      try {
        return { environment: await ctx.repo.save(next), changed: true };
      } catch (e) {
        if (!(e instanceof DomainError && e.code === ErrorCodes.CONCURRENT_MODIFICATION) || attempt >= 10) throw e;
        await ctx.clock.sleep(Math.round(20 * attempt * (0.5 + Math.random())));
      }
    }
  });
}

export async function update(
  ctx: UseCaseContext,
  name: string,
  change: (env: Environment) => Environment | undefined,
): Promise<Environment> {
  return (await tryUpdate(ctx, name, change)).environment;
}

export function withLease(ctx: UseCaseContext, env: Environment): Environment {
  return { ...env, lease: { holder: ctx.workerId, until: new Date(ctx.clock.now().getTime() + ctx.leaseMs).toISOString() } };
}

export function leaseLapsed(env: Environment, now: Date): boolean {
  return !env.lease || Date.parse(env.lease.until) <= now.getTime();
}

export function templateOf(ctx: UseCaseContext, env: Environment): Template {
  const t = ctx.templates.find((x) => x.name === env.template);
  if (!t) {
    throw new DomainError(
      ErrorCodes.TEMPLATE_UNKNOWN,
      `The template \`${env.template}\` of \`${env.name}\` is no longer in the catalogue; an admin must restore it, or destroy the environment.`,
      { template: env.template },
    );
  }
  return t;
}

export async function audit(ctx: UseCaseContext, env: Environment, type: string, message: string, actor?: string): Promise<void> {
  try {
    await ctx.repo.appendEvent({ environment: env.name, at: ctx.clock.now().toISOString(), type, message, ...(actor ? { actor } : {}) });
  } catch (err) {
    ctx.logger.warn({ err, environment: env.name, type }, 'could not record audit event');
  }
}

/** Notifications never break the flow they report on: a failure to tell is logged. */
export async function tell(ctx: UseCaseContext, what: string, send: () => Promise<unknown>): Promise<void> {
  try {
    await send();
  } catch (err) {
    ctx.logger.warn({ err, what }, 'notification failed');
  }
}
