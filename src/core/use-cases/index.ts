import { DestroyEnvironment } from './destroy.use-case.js';
import { ProvisionEnvironment } from './provision.use-case.js';
import { EnvironmentQueries } from './queries.use-case.js';
import { RequestEnvironment } from './request.use-case.js';
import { ResumeStuckEnvironments } from './resume.use-case.js';
import { RetryEnvironment } from './retry.use-case.js';
import type { UseCaseContext } from './context.js';

export type UseCases = ReturnType<typeof createUseCases>;

/** One instance of each use case: Slack listeners and scheduled jobs call the same ones. */
export function createUseCases(ctx: UseCaseContext) {
  const provision = new ProvisionEnvironment(ctx);
  const destroy = new DestroyEnvironment(ctx);
  return {
    request: new RequestEnvironment(ctx, provision),
    provision,
    destroy,
    retry: new RetryEnvironment(ctx, provision, destroy),
    resume: new ResumeStuckEnvironments(ctx, provision, destroy),
    queries: new EnvironmentQueries(ctx),
    background: ctx.background,
  };
}
export type { UseCaseContext } from './context.js';
