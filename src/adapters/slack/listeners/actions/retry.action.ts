/** Retry buttons, on the environment's message and in the ops alert. */
import { infoReply } from '../../blocks/replies.js';
import type { ListenerDeps } from '../deps.js';
import { environmentButton } from './environment-button.js';

export function retryAction(deps: ListenerDeps) {
  return environmentButton(deps, async ({ target, user }) => {
    const env = await deps.useCases.retry.execute(target, user);
    return infoReply(`:arrows_counterclockwise: <@${user}> is retrying \`${env.name}\` (try ${env.retries + 1}).`);
  });
}
