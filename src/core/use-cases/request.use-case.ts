import { newEnvironment, type Environment } from '../environment/environment.js';
import { DomainError, ErrorCodes } from '../environment/errors.js';
import { isLive } from '../environment/lifecycle.js';
import { assertValidName } from '../environment/name.rules.js';
import { validateChoice, validateRequest, type RequestInput } from '../policies/request.policy.js';
import { audit, withLease, type UseCaseContext } from './context.js';
import { showProgress } from './progress.js';
import type { ProvisionEnvironment } from './provision.use-case.js';

export interface RequestCommand extends RequestInput {
  owner: string;
  /** Identifies this request across retried deliveries and double submits. */
  requestId: string;
  channel?: string;
}

/**
 * Records the intent first (so a crash after this point is resumed, not
 * lost), shows the message, then provisions in the background. A repeated
 * request (same requestId) returns the existing environment and does nothing.
 */
export class RequestEnvironment {
  constructor(
    private readonly ctx: UseCaseContext,
    private readonly provision: ProvisionEnvironment,
  ) {}

  /** Validation only: what the modal and the command check before anything is written. */
  validate(input: RequestInput) {
    return validateRequest(input, this.ctx.templates);
  }

  /** The parts of a request checked before the form opens: a name (rules, free) and a template choice. */
  async precheck(input: { name?: string; template?: string; count?: number | undefined; instanceType?: string | undefined; purpose?: string | undefined }): Promise<void> {
    if (input.name) {
      assertValidName(input.name);
      await this.assertAvailable(input.name);
    }
    if (input.template) validateChoice({ ...input, template: input.template }, this.ctx.templates);
  }

  /** NAME_TAKEN, naming the owner, when a live environment holds the name. */
  async assertAvailable(name: string, requestId?: string): Promise<void> {
    const existing = await this.ctx.repo.get(name);
    if (existing && isLive(existing.state) && existing.requestId !== requestId) {
      throw new DomainError(
        ErrorCodes.NAME_TAKEN,
        `\`${name}\` is already taken by <@${existing.owner}> (it is ${existing.state.replace('_', ' ')}). Pick another name, or ask them to destroy it.`,
        { name, owner: existing.owner },
      );
    }
  }

  async execute(cmd: RequestCommand): Promise<{ environment: Environment; created: boolean }> {
    const valid = this.validate(cmd);
    const draft = newEnvironment(
      {
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
      this.ctx.clock.now(),
    );
    // Created with this worker's lease: a sweep elsewhere must not take it over before provisioning starts.
    const result = await this.ctx.repo.create(withLease(this.ctx, draft));
    if (!result.created) return { environment: result.environment, created: false };
    let env = result.environment;
    await audit(this.ctx, env, 'requested', `Requested ${valid.count} × ${valid.instanceType} from \`${valid.template.name}\``, cmd.owner);
    env = await showProgress(this.ctx, env);
    this.ctx.background.run(`provision ${env.name}`, () => this.provision.execute(env.name));
    return { environment: env, created: true };
  }
}
