/** Retry buttons, on the environment's message and in the ops alert. */
import type { AllMiddlewareArgs, BlockButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { isOurFault } from '../../../../core/environment/errors.js';
import { infoReply } from '../../blocks/replies.js';
import { parseEnvironmentValue } from '../../ids.js';
import { replier } from '../../reply.js';
import { stateNow } from '../truth.js';
import { replyForError, type ListenerDeps } from '../deps.js';

type Args = SlackActionMiddlewareArgs<BlockButtonAction> & AllMiddlewareArgs;

export function retryAction(deps: ListenerDeps) {
  return async ({ ack, body, action }: Args): Promise<void> => {
    await ack();
    const target = parseEnvironmentValue(action.value);
    const log = deps.logger.child({ user: body.user.id, action: action.action_id, environment: target.name });
    const answer = replier(body.response_url, log);
    try {
      const env = await deps.useCases.retry.execute(target, body.user.id);
      await answer(infoReply(`:arrows_counterclockwise: <@${body.user.id}> is retrying \`${env.name}\` (try ${env.retries + 1}).`));
    } catch (error) {
      const happened = isOurFault(error) ? await stateNow(deps, target.name) : undefined;
      await answer(replyForError(error, log, happened));
    }
  };
}
