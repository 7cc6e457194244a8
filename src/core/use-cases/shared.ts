import { mayManage, type Environment } from '../environment/environment.js';
import { DomainError, ErrorCodes, notFound } from '../environment/errors.js';
import { ENVIRONMENT_ID } from '../environment/ids.js';
import { assertValidName } from '../environment/name.rules.js';
import type { Template } from '../environment/template.js';
import type { Clock, Logger } from '../ports/clock.port.js';
import type { EnvironmentRepository } from '../ports/environment-repository.port.js';

export function templateOf(templates: readonly Template[], env: Environment): Template {
  const t = templates.find((x) => x.name === env.template);
  if (!t) {
    throw new DomainError(
      ErrorCodes.TEMPLATE_UNKNOWN,
      `The template \`${env.template}\` of \`${env.name}\` is no longer in the catalogue; an admin must restore it, or destroy the environment.`,
      { template: env.template },
    );
  }
  return t;
}

/** The audit trail never breaks the flow it records: a failure to write it is logged. */
export async function audit(
  deps: { events: Pick<EnvironmentRepository, 'appendEvent'>; clock: Clock; logger: Logger },
  env: Environment,
  type: string,
  message: string,
  actor?: string,
): Promise<void> {
  try {
    await deps.events.appendEvent({ environment: env.name, at: deps.clock.now().toISOString(), type, message, ...(actor ? { actor } : {}) });
  } catch (err) {
    deps.logger.warn({ err, environment: env.name, type }, 'could not record audit event');
  }
}

/**
 * Which environment a button or command means: a name, and for a button the
 * id of the environment its message was about. A button from the message of
 * an earlier environment of the same name acts on nothing.
 */
export interface Target {
  name: string;
  id?: string | undefined;
}

export async function getTarget(repo: Pick<EnvironmentRepository, 'get'>, target: Target): Promise<Environment> {
  assertValidName(target.name);
  const env = await repo.get(target.name);
  if (!env) throw notFound(target.name);
  assertSameIncarnation(env, target);
  return env;
}

export function assertSameIncarnation(env: Environment, target: Target): void {
  if (target.id && ENVIRONMENT_ID.test(target.id) && target.id !== env.id) {
    throw new DomainError(
      ErrorCodes.STALE_ACTION,
      `That button belongs to an earlier environment called \`${env.name}\`, which has ended; it does nothing to the one that has the name now. \`/server status ${env.name}\` shows it.`,
      { name: env.name },
    );
  }
}

export function assertMayManage(env: Environment, actor: string, admins: readonly string[], verb: string): void {
  if (!mayManage(env, actor, admins)) {
    throw new DomainError(
      ErrorCodes.NOT_AUTHORIZED,
      `Only <@${env.owner}> (the owner) or an admin can ${verb} \`${env.name}\`. Ask them in a thread, or ask ops.`,
      { name: env.name, actor },
    );
  }
}
