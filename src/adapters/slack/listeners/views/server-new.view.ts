/**
 * The `/server new` form is submitted. Validation problems go back to the
 * form (`response_action: errors`, under the field at fault) and change
 * nothing; a valid request closes the form and starts the environment.
 */
import type { AllMiddlewareArgs, SlackViewMiddlewareArgs, ViewSubmitAction } from '@slack/bolt';
import { ErrorCodes, isDomainError } from '../../../../core/environment/errors.js';
import { blockIdFor, readRequestModal, type RequestModalMetadata } from '../../blocks/request.modal.js';
import { replyForError, type ListenerDeps } from '../deps.js';

type Args = SlackViewMiddlewareArgs<ViewSubmitAction> & AllMiddlewareArgs;

const FIELD_OF: Partial<Record<string, 'name' | 'template' | 'count' | 'type' | 'purpose'>> = {
  [ErrorCodes.NAME_INVALID]: 'name',
  [ErrorCodes.NAME_TAKEN]: 'name',
  [ErrorCodes.TEMPLATE_UNKNOWN]: 'template',
  [ErrorCodes.COUNT_OUT_OF_RANGE]: 'count',
  [ErrorCodes.INSTANCE_TYPE_NOT_ALLOWED]: 'type',
  [ErrorCodes.PURPOSE_INVALID]: 'purpose',
};

export function serverNewView(deps: ListenerDeps) {
  return async ({ ack, view, body, client }: Args): Promise<void> => {
    const log = deps.logger.child({ user: body.user.id, view: view.callback_id });
    const form = readRequestModal(view.state.values as never);
    const template = deps.useCases.queries.templates.find((t) => t.name === form.template);
    const requestId = `view:${view.id}`;
    try {
      // Checked before the ack so that the person sees the problem in the form.
      deps.useCases.request.validate({ ...form, template: form.template ?? '' });
      await deps.useCases.request.assertAvailable(form.name, requestId);
    } catch (error) {
      const field = isDomainError(error) ? FIELD_OF[error.code] : undefined;
      if (field) {
        await ack({ response_action: 'errors', errors: { [blockIdFor(field, template)]: (error as Error).message.replace(/`/g, '') } });
        return;
      }
      await ack();
      log.error({ err: error }, 'could not check the form');
      return;
    }
    await ack();
    const metadata = parseMetadata(view.private_metadata);
    try {
      await deps.useCases.request.execute({
        ...form,
        template: form.template ?? '',
        owner: body.user.id,
        requestId,
        ...(metadata.channel ? { channel: metadata.channel } : {}),
      });
    } catch (error) {
      // Lost a race for the name after the check, or the store failed: tell the person directly.
      const reply = replyForError(error, log);
      const channel = metadata.channel ?? body.user.id;
      await client.chat.postEphemeral({ channel, user: body.user.id, text: reply.text }).catch((err: unknown) => log.warn({ err }, 'could not tell the requester'));
    }
  };
}

function parseMetadata(raw: string | undefined): RequestModalMetadata {
  try {
    const parsed = JSON.parse(raw || '{}') as RequestModalMetadata;
    return typeof parsed.channel === 'string' && /^[CDG][A-Z0-9]+$/.test(parsed.channel) ? { channel: parsed.channel } : {};
  } catch {
    return {};
  }
}
