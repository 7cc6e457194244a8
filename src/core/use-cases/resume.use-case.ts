import type { Environment } from '../environment/environment.js';
import type { EnvironmentState } from '../environment/lifecycle.js';
import { leaseLapsed, type UseCaseContext } from './context.js';
import type { DestroyEnvironment } from './destroy.use-case.js';
import type { ProvisionEnvironment } from './provision.use-case.js';

const RESUMABLE: EnvironmentState[] = ['requested', 'provisioning', 'bootstrapping', 'destroying'];

/**
 * On start and on every sweep: environments left in a transitional state by
 * a worker that stopped (its lease lapsed) are resumed, never abandoned.
 */
export class ResumeStuckEnvironments {
  constructor(
    private readonly ctx: UseCaseContext,
    private readonly provision: ProvisionEnvironment,
    private readonly destroy: DestroyEnvironment,
  ) {}

  async execute(): Promise<string[]> {
    const now = this.ctx.clock.now();
    const stuck: Environment[] = [];
    for (const state of RESUMABLE) {
      for (const env of await this.ctx.repo.listByState(state)) if (leaseLapsed(env, now)) stuck.push(env);
    }
    for (const env of stuck) {
      this.ctx.logger.info({ environment: env.name, state: env.state }, 'resuming an environment whose worker stopped');
      if (env.state === 'destroying') this.ctx.background.run(`destroy ${env.name}`, () => this.destroy.terminate(env.name));
      else this.ctx.background.run(`provision ${env.name}`, () => this.provision.execute(env.name));
    }
    return stuck.map((e) => e.name);
  }
}
