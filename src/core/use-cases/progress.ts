import type { Environment } from '../environment/environment.js';
import { tell, update, type UseCaseContext } from './context.js';

/** Shows the environment's message; remembers where it was posted the first time. */
export async function showProgress(ctx: UseCaseContext, env: Environment): Promise<Environment> {
  let ref: Awaited<ReturnType<UseCaseContext['notifier']['showProgress']>>;
  await tell(ctx, 'progress', async () => {
    ref = await ctx.notifier.showProgress(env);
  });
  if (!ref || (env.message && env.message.ts === ref.ts)) return env;
  const message = ref;
  return update(ctx, env.name, (current) => (current.message ? undefined : { ...current, message }));
}
