/**
 * The buttons on a drift alert: Terminate, Adopt, Repair, Ignore for a day.
 * Ack at once; the use case checks who clicked and what is true now, acts
 * once across clicks and replicas, and updates the alert itself. The person
 * who clicked is told what happened (ephemeral), or why nothing did.
 */
import type { AllMiddlewareArgs, BlockButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import type { DriftAction } from '../../../../core/use-cases/drift.use-case.js';
import { infoReply } from '../../blocks/replies.js';
import { driftOutcomeText } from '../../blocks/drift.blocks.js';
import { Ids } from '../../ids.js';
import { clickReplier } from '../../reply.js';
import { replyForError, type ListenerDeps } from '../deps.js';

type Args = SlackActionMiddlewareArgs<BlockButtonAction> & AllMiddlewareArgs;

const ACTIONS: Record<string, DriftAction> = {
  [Ids.action.driftTerminate]: 'terminate',
  [Ids.action.driftAdopt]: 'adopt',
  [Ids.action.driftRepair]: 'repair',
  [Ids.action.driftIgnore]: 'ignore',
};

export function driftAction(deps: ListenerDeps) {
  return async ({ ack, body, action, client }: Args): Promise<void> => {
    await ack();
    const key = action.value ?? '';
    const what = ACTIONS[action.action_id] ?? 'ignore';
    const log = deps.logger.child({ user: body.user.id, action: action.action_id, finding: key });
    const answer = clickReplier(body, client, log);
    const drift = deps.useCases.drift;
    try {
      if (!drift) throw new Error('drift actions are not configured');
      const outcome = await drift.actions.act(key, what, body.user.id);
      await answer({ ...infoReply(driftOutcomeText(outcome)), response_type: 'ephemeral', replace_original: false });
    } catch (error) {
      await answer({ ...replyForError(error, log), response_type: 'ephemeral', replace_original: false });
    }
  };
}
