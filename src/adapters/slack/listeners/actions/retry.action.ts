/** Retry buttons, on the environment's message and in the ops alert. */
import type { AllMiddlewareArgs, BlockButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { infoReply } from '../../blocks/replies.js';
import { replyForError, type ListenerDeps } from '../deps.js';

type Args = SlackActionMiddlewareArgs<BlockButtonAction> & AllMiddlewareArgs;

export function retryAction(deps: ListenerDeps) {
  return async ({ ack, body, action, respond }: Args): Promise<void> => {
    await ack();
    const log = deps.logger.child({ user: body.user.id, action: action.action_id, environment: action.value });
    try {
      const env = await deps.useCases.retry.execute(action.value ?? '', body.user.id);
      await respond({
        ...infoReply(`:arrows_counterclockwise: <@${body.user.id}> is retrying \`${env.name}\` (attempt ${env.attempt}).`),
        response_type: 'ephemeral',
        replace_original: false,
      } as never);
    } catch (error) {
      await respond({ ...replyForError(error, log), response_type: 'ephemeral', replace_original: false } as never);
    }
  };
}
