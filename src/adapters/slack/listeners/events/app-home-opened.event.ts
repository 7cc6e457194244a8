/** The person opened Dormouse's Home tab: show their environments. */
import type { AllMiddlewareArgs, SlackEventMiddlewareArgs } from '@slack/bolt';
import { homeView } from '../../blocks/home.view.js';
import type { ListenerDeps } from '../deps.js';

type Args = SlackEventMiddlewareArgs<'app_home_opened'> & AllMiddlewareArgs;

export function appHomeOpenedEvent(deps: ListenerDeps) {
  return async ({ event, client }: Args): Promise<void> => {
    if (event.tab !== 'home') return;
    const envs = await deps.useCases.queries.mine(event.user);
    await client.views.publish({ user_id: event.user, view: homeView(envs, deps.clock.now()) });
  };
}
