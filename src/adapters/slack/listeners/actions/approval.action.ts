/**
 * Approve, Reject and Cancel on a request waiting for approval. Approve and
 * Cancel act at once; Reject first checks that the request still waits and
 * that the clicker may reject it (a click on a decided request, or one's own,
 * is told so without a form), then opens the reason modal
 * (views/approval-reject.view.ts).
 */
import type { AllMiddlewareArgs, BlockButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { rejectModal } from '../../blocks/approval.blocks.js';
import { infoReply } from '../../blocks/replies.js';
import { parseEnvironmentValue } from '../../ids.js';
import { clickReplier } from '../../reply.js';
import { replyForError, type ListenerDeps } from '../deps.js';
import { environmentButton } from './environment-button.js';

export function approveAction(deps: ListenerDeps) {
  return environmentButton(deps, async ({ target, user }) => {
    const env = await deps.useCases.approvals.approve(target, user);
    return infoReply(`:white_check_mark: You approved \`${env.name}\` for <@${env.owner}>: it is launching now.`);
  });
}

export function cancelRequestAction(deps: ListenerDeps) {
  return environmentButton(deps, async ({ target, user }) => {
    const env = await deps.useCases.approvals.cancel(target, user);
    return infoReply(`${env.owner === user ? 'Your request' : `<@${env.owner}>'s request`} for \`${env.name}\` is cancelled; the approvers' message says so.`);
  });
}

type Args = SlackActionMiddlewareArgs<BlockButtonAction> & AllMiddlewareArgs;

export function rejectAction(deps: ListenerDeps) {
  return async ({ ack, body, action, client }: Args): Promise<void> => {
    await ack();
    const target = parseEnvironmentValue(action.value);
    const user = body.user.id;
    const log = deps.logger.child({ user, action: action.action_id, environment: target.name });
    try {
      const env = await deps.useCases.approvals.mayReject(target, user);
      await client.views.open({ trigger_id: body.trigger_id, view: rejectModal(env) });
    } catch (error) {
      await clickReplier(body, client, log)(replyForError(error, log));
    }
  };
}
