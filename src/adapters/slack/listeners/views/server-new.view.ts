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
        const message = await plainText((error as Error).message, client, log);
        await ack({ response_action: 'errors', errors: { [blockIdFor(field, template)]: message } });
        return;
      }
      // Not the person's input (the store is down, say): keep the form open and say so there.
      const reply = replyForError(error, log);
      await ack({ response_action: 'errors', errors: { [blockIdFor('name', template)]: reply.text.replace(/^:warning: /, '') } });
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

/**
 * Form errors are plain text: mentions become @names (users.info), code
 * marks go. The lookup is bounded so the form is still answered in time.
 */
async function plainText(message: string, client: Args['client'], log: ListenerDeps['logger']): Promise<string> {
  const ids = [...new Set([...message.matchAll(/<@([UW][A-Z0-9]+)>/g)].map((m) => m[1] as string))];
  let text = message;
  for (const id of ids) {
    let name = 'its owner';
    try {
      const res = await Promise.race([
        client.users.info({ user: id }),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('users.info took too long')), 1000)),
      ]);
      name = `@${res.user?.profile?.display_name || res.user?.real_name || res.user?.name || id}`;
    } catch (err) {
      log.debug({ err }, 'could not name a user');
    }
    text = text.split(`<@${id}>`).join(name);
  }
  return text.replace(/`/g, '');
}

function parseMetadata(raw: string | undefined): RequestModalMetadata {
  try {
    const parsed = JSON.parse(raw || '{}') as RequestModalMetadata;
    return typeof parsed.channel === 'string' && /^[CDG][A-Z0-9]+$/.test(parsed.channel) ? { channel: parsed.channel } : {};
  } catch {
    return {};
  }
}
