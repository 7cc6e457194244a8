/** The person opened Dormouse's Home tab: show their environments (and, to an admin, the fleet). */
import type { AllMiddlewareArgs, SlackEventMiddlewareArgs } from '@slack/bolt';
import type { UseCases } from '../../../../core/use-cases/index.js';
import { homeView } from '../../blocks/home.view.js';
import type { ListenerDeps } from '../deps.js';

type Args = SlackEventMiddlewareArgs<'app_home_opened'> & AllMiddlewareArgs;

/** The Home view for `user`, as of now. */
export async function homeFor(useCases: UseCases, user: string, now: Date) {
  const [mine, waiting, quotas] = await Promise.all([useCases.queries.mine(user), useCases.queries.waitingFor(user), useCases.queries.quotasOf(user)]);
  return homeView(mine, now, useCases.queries.isAdmin(user) ? { environments: await useCases.queries.all() } : undefined, { waiting, quotas });
}

export function appHomeOpenedEvent(deps: ListenerDeps) {
  return async ({ event, client }: Args): Promise<void> => {
    if (event.tab !== 'home') return;
    await client.views.publish({ user_id: event.user, view: await homeFor(deps.useCases, event.user, deps.clock.now()) });
  };
}
