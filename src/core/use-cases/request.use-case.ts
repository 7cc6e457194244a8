import { afterGate, RequestGate } from './approval.use-case.js';
import { newEnvironment, type Environment } from '../environment/environment.js';
import { newEnvironmentId } from '../environment/ids.js';
import { isLive } from '../environment/lifecycle.js';
import { assertValidName, nameTaken } from '../environment/name.rules.js';
import type { Template } from '../environment/template.js';
import { templateForFlags, validateChoice, validateRequest, type RequestInput } from '../policies/request.policy.js';
import type { Clock, Logger } from '../ports/clock.port.js';
import type { EnvironmentRepository } from '../ports/environment-repository.port.js';
import type { NotifierPort } from '../ports/notifier.port.js';
import type { WorkflowRunner } from '../workflow/runner.js';
import { audit, tell } from './shared.js';

export interface RequestCommand extends RequestInput {
  owner: string;
  /** Identifies this request across retried deliveries and double submits. */
  requestId: string;
  channel?: string;
}

export interface RequestDeps {
  repo: Pick<EnvironmentRepository, 'get' | 'create' | 'appendEvent'>;
  runner: Pick<WorkflowRunner, 'leaseNew' | 'adopt' | 'begin'>;
  notifier: NotifierPort;
  clock: Clock;
  logger: Logger;
  templates: readonly Template[];
  /** Quotas and approval (without: every request goes ahead). */
  gate?: RequestGate;
}

/**
 * Records the intent first, holding the lease (so a crash after this point
 * is resumed, not lost), shows the message, then provisions in the
 * background. A repeated request (same requestId) returns the existing
 * environment and does nothing.
 */
export class RequestEnvironment {
  constructor(private readonly deps: RequestDeps) {}

  /** Validation only, no I/O: what the form checks before it is acknowledged. */
  validate(input: RequestInput) {
    return validateRequest(input, this.deps.templates);
  }

  /**
   * The parts of a request checked before the form opens: a name (rules, free), and the options given
   * (with a template, against it; without one, against every template). Returns the template the form
   * should start from.
   */
  async precheck(input: { name?: string; template?: string; count?: number | undefined; instanceType?: string | undefined; purpose?: string | undefined }): Promise<Template | undefined> {
    // Checked before the name's availability: an option out of range is told without asking the store.
    const template = input.template ? validateChoice({ ...input, template: input.template }, this.deps.templates).template : templateForFlags(input, this.deps.templates);
    if (input.name) {
      assertValidName(input.name);
      await this.assertAvailable(input.name);
    }
    return template;
  }

  /** NAME_TAKEN, naming the owner, when a live environment holds the name. */
  async assertAvailable(name: string, requestId?: string): Promise<void> {
    const existing = await this.deps.repo.get(name);
    if (existing && isLive(existing.state) && existing.requestId !== requestId) throw nameTaken(name, existing);
  }

  async execute(cmd: RequestCommand): Promise<{ environment: Environment; created: boolean }> {
    const { deps } = this;
    const valid = this.validate(cmd);
    const now = deps.clock.now();
    const draft = newEnvironment(
      {
        id: newEnvironmentId(now),
        name: valid.name,
        owner: cmd.owner,
        template: valid.template.name,
        instanceType: valid.instanceType,
        count: valid.count,
        purpose: valid.purpose,
        requestId: cmd.requestId,
        hourlyCostUsd: valid.hourlyCostUsd,
        ...(cmd.channel ? { channel: cmd.channel } : {}),
      },
      now,
    );
    const result = await deps.repo.create(deps.runner.leaseNew(draft));
    if (!result.created) return { environment: result.environment, created: false };
    const env = result.environment;
    const events = { ...deps, events: deps.repo };
    await audit(events, env, 'requested', `Requested ${valid.count} × ${valid.instanceType} from ${valid.template.name}`, cmd.owner);
    if (deps.gate?.active) {
      // The quotas and the approval rules decide before anything is launched. Should this fail (the store is
      // down), the request stays `requested` under this lease and the provision flow runs the gate again.
      const outcome = await deps.gate.decide(env).catch((err: unknown) => {
        deps.logger.warn({ err, environment: env.name }, 'the quota and approval check failed; the flow tries again');
        return undefined;
      });
      if (outcome && outcome.kind !== 'go') {
        const { environment } = await deps.runner.begin(env.name, (e) => (e.id === env.id ? RequestGate.apply(e, outcome, deps.clock.now()) : undefined));
        await afterGate(events, environment);
        if (outcome.kind === 'refused' && environment.state === 'rejected') throw RequestGate.refusalError(environment, outcome.quota);
        return { environment, created: true };
      }
    }
    deps.runner.adopt(env);
    tell(deps.logger, () => deps.notifier.showProgress(env));
    return { environment: env, created: true };
  }
}
