/**
 * The reason modal of a Reject is submitted. An empty reason, a request
 * decided meanwhile (another approver was quicker) or a clicker who may not
 * reject are shown under the reason field, and nothing changes; otherwise the
 * request is rejected before the ack (a couple of conditional writes), the
 * modal closes, and both messages say who rejected it and why.
 */
import type { AllMiddlewareArgs, SlackViewMiddlewareArgs, ViewSubmitAction } from '@slack/bolt';
import { asDomainError, isOurFault } from '../../../../core/environment/errors.js';
import { Ids, parseEnvironmentValue } from '../../ids.js';
import { plainSentence } from '../../text/errors.text.js';
import { replyForError, type ListenerDeps } from '../deps.js';
import { clickReplier } from '../../reply.js';

/** Slack waits 3 s for the ack of a submission. */
const ACK_WITHIN_MS = 2_500;

type Args = SlackViewMiddlewareArgs<ViewSubmitAction> & AllMiddlewareArgs;

export function approvalRejectView(deps: ListenerDeps) {
  return async ({ ack, view, body, client }: Args): Promise<void> => {
    const target = parseEnvironmentValue(view.private_metadata);
    const reason = view.state.values[Ids.block.reason]?.[Ids.action.value]?.value ?? '';
    const log = deps.logger.child({ user: body.user.id, view: view.callback_id, environment: target.name });
    const rejecting = Promise.resolve()
      .then(() => deps.useCases.approvals.reject(target, body.user.id, reason))
      .then(
      () => undefined,
      (error: unknown) => (isOurFault(error) ? replyForError(error, log).text : plainSentence(asDomainError(error))),
    );
    // The answer goes under the reason field when it comes within Slack's 3 s; a slower store gets the form
    // closed at 2.5 s and the answer in a direct message.
    const late = Symbol('late');
    const problem = await Promise.race([rejecting, new Promise<typeof late>((r) => setTimeout(() => r(late), ACK_WITHIN_MS).unref())]);
    if (problem !== late) {
      await ack(problem ? { response_action: 'errors', errors: { [Ids.block.reason]: problem.slice(0, 1900) } } : undefined);
      return;
    }
    await ack();
    const outcome = await rejecting;
    await clickReplier({ user: body.user }, client, log)({ text: outcome ?? `You rejected \`${target.name}\`; both messages say why.` });
  };
}
