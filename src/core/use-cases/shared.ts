import type { Environment } from '../environment/environment.js';
import { assertMay, type Access, type Verb } from '../policies/permissions.js';
import { DomainError, ErrorCodes, isOurFault, notFound } from '../environment/errors.js';
import { newReference } from '../environment/reference.js';
import { ENVIRONMENT_ID } from '../environment/ids.js';
import { assertValidName } from '../environment/name.rules.js';
import type { Template } from '../environment/template.js';
import type { Clock, Logger } from '../ports/clock.port.js';
import type { EnvironmentRepository } from '../ports/environment-repository.port.js';

export function templateOf(templates: readonly Template[], env: Environment): Template {
  const t = templates.find((x) => x.name === env.template);
  if (!t) {
    throw new DomainError(ErrorCodes.TEMPLATE_UNKNOWN, `The template ${env.template} of ${env.name} is no longer in the catalogue.`, {
      variant: 'removed',
      template: env.template,
      name: env.name,
    });
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
 * Tells people something without waiting for it: a flow must not be held up
 * by Slack (a 429 with a long Retry-After, a slow API), nor fail because of
 * it. The notifier keeps the order of what it is told for each environment
 * and logs what it could not say.
 */
export function tell(logger: Logger, say: () => Promise<void>): void {
  try {
    // Called now, so what is said keeps the order of the calls; not awaited.
    say().catch((err: unknown) => logger.warn({ err }, 'could not tell people'));
  } catch (err) {
    logger.warn({ err }, 'could not tell people');
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
    throw new DomainError(ErrorCodes.STALE_ACTION, `The action is about an earlier environment called ${env.name}, which has ended.`, { name: env.name });
  }
}

/** The permissions matrix (policies/permissions.ts): refuses, naming who can. */
export function assertMayManage(env: Environment, actor: string, access: Access, verb: Verb): void {
  assertMay(access, actor, verb, env);
}

/**
 * What a failure records of its error, for people: the code, its parameters
 * (the chat tool makes its sentence from them) and plain words; and for a
 * fault on Dormouse's side (the store, the cloud, a bug) a reference to the
 * log line that holds what went wrong inside.
 */
export function failureOf(error: DomainError, logger: Logger, facts: Record<string, unknown>): { code: string; reason: string; params: Record<string, string | number | boolean | string[]>; ref?: string } {
  const params: Record<string, string | number | boolean | string[]> = {};
  for (const [k, v] of Object.entries(error.details)) {
    if (k === 'output') continue;
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') params[k] = v;
    else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) params[k] = v as string[];
  }
  if (!isOurFault(error)) return { code: error.code, reason: error.message, params };
  const ref = newReference();
  logger.error({ err: error.cause ?? error, ref, code: error.code, details: error.details, ...facts }, 'a flow failed on our side');
  return { code: error.code, reason: error.message, params, ref };
}
