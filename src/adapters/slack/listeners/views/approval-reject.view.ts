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

type Args = SlackViewMiddlewareArgs<ViewSubmitAction> & AllMiddlewareArgs;

export function approvalRejectView(deps: ListenerDeps) {
  return async ({ ack, view, body }: Args): Promise<void> => {
    const target = parseEnvironmentValue(view.private_metadata);
    const reason = view.state.values[Ids.block.reason]?.[Ids.action.value]?.value ?? '';
    const log = deps.logger.child({ user: body.user.id, view: view.callback_id, environment: target.name });
    try {
      await deps.useCases.approvals.reject(target, body.user.id, reason);
      await ack();
    } catch (error) {
      const text = isOurFault(error) ? replyForError(error, log).text : plainSentence(asDomainError(error));
      await ack({ response_action: 'errors', errors: { [Ids.block.reason]: text.slice(0, 1900) } });
    }
  };
}
