import type { Access } from '../policies/permissions.js';
import { startStep, transition, type Environment } from '../environment/environment.js';
import { DomainError, ErrorCodes } from '../environment/errors.js';
import { availableActions, describeState } from '../environment/lifecycle.js';
import type { Clock, Logger } from '../ports/clock.port.js';
import type { EnvironmentRepository } from '../ports/environment-repository.port.js';
import type { NotifierPort } from '../ports/notifier.port.js';
import type { WorkflowRunner } from '../workflow/runner.js';
import { assertMayManage, assertSameIncarnation, audit, getTarget, tell, type Target } from './shared.js';

export interface RetryDeps {
  repo: Pick<EnvironmentRepository, 'get'>;
  events: Pick<EnvironmentRepository, 'appendEvent'>;
  runner: Pick<WorkflowRunner, 'begin' | 'hasFlowFor'>;
  notifier: NotifierPort;
  clock: Clock;
  logger: Logger;
  access: Access;
}

/**
 * Sends a failed environment back to the state it failed in (`failure.from`);
 * the flow of that state picks up from what is stored: a launch finds what
 * the failed attempt left (and launches anew when that is not a whole set),
 * a bootstrap resumes after each server's last finished step (on new servers
 * when the old ones are gone). Of two clicks, the one whose write lands
 * retries; the other is told it is already under way.
 */
export class RetryEnvironment {
  constructor(private readonly deps: RetryDeps) {}

  async execute(target: Target, actor: string): Promise<Environment> {
    const { deps } = this;
    const seen = await getTarget(deps.repo, target);
    assertMayManage(seen, actor, deps.access, 'retry');
    if (!availableActions(seen).retry) throw notRetryable(seen);
    if (seen.failure && !deps.runner.hasFlowFor(seen.failure.from)) throw notRetryable(seen);
    const { environment, changed } = await deps.runner.begin(target.name, (e) => {
      assertSameIncarnation(e, target);
      // Only the version we looked at may be retried: a second click finds it changed.
      if (e.version !== seen.version || !e.failure || !availableActions(e).retry) return undefined;
      const now = deps.clock.now();
      const back = { ...transition(e, e.failure.from, now), retries: e.retries + 1, retriedBy: actor };
      // Steps that did not finish are shown again as they run.
      const progress = back.progress.filter((p) => p.status === 'done' && p.key !== 'ready');
      return back.state === 'destroying' ? startStep({ ...back, progress }, 'destroy', 'Terminating every instance', now) : { ...back, progress };
    });
    if (!changed) throw alreadyRetried(environment);
    await audit(deps, environment, 'retry', `Retry ${environment.retries}: back to ${environment.state}`, actor);
    tell(deps.logger, () => deps.notifier.showProgress(environment));
    return environment;
  }
}

/** Someone else's click landed first (or the failure changed meanwhile). */
function alreadyRetried(env: Environment): DomainError {
  return new DomainError(ErrorCodes.INVALID_TRANSITION, `${env.name} is already being retried; it is ${describeState(env.state)}.`, {
    variant: 'already_retried',
    name: env.name,
    state: env.state,
  });
}

function notRetryable(env: Environment): DomainError {
  return new DomainError(ErrorCodes.INVALID_TRANSITION, `${env.name} cannot be retried now; it is ${describeState(env.state)}.`, {
    variant: 'not_retryable',
    name: env.name,
    state: env.state,
  });
}
