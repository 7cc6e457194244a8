/**
 * What every button about one environment does around its own work: ack at
 * once, read the environment (name and id) from the button's value, do the
 * work, and answer the person who clicked; on an error, answer with its
 * sentence, and after a fault on Dormouse's side with what the store says
 * happened (a write may have landed).
 */
import type { AllMiddlewareArgs, BlockButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { isOurFault } from '../../../../core/environment/errors.js';
import type { Target } from '../../../../core/use-cases/shared.js';
import { parseEnvironmentValue } from '../../ids.js';
import { clickReplier, type Replier } from '../../reply.js';
import { stateNow } from '../truth.js';
import { replyForError, type ListenerDeps } from '../deps.js';

type Args = SlackActionMiddlewareArgs<BlockButtonAction> & AllMiddlewareArgs;

export interface ButtonClick {
  target: Target;
  user: string;
  actionId: string;
  /** The button's whole value (a reminder's also names the sleep it is about). */
  value: string;
}

/** `act` returns the answer (undefined: nothing more to say), with `replace_original` when it replaces the prompt clicked. */
export function environmentButton(
  deps: ListenerDeps,
  act: (click: ButtonClick) => Promise<Parameters<Replier>[0] | undefined>,
  targetOf: (value: string | undefined) => Target = parseEnvironmentValue,
) {
  return async ({ ack, body, action, client }: Args): Promise<void> => {
    await ack();
    const target = targetOf(action.value);
    const log = deps.logger.child({ user: body.user.id, action: action.action_id, environment: target.name });
    const answer = clickReplier(body, client, log);
    try {
      const reply = await act({ target, user: body.user.id, actionId: action.action_id, value: action.value ?? '' });
      if (reply) await answer(reply);
    } catch (error) {
      const happened = isOurFault(error) ? await stateNow(deps, target.name) : undefined;
      await answer(replyForError(error, log, happened));
    }
  };
}
