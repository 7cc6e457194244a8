/**
 * The `/server new` form is submitted. What can be checked without I/O (the
 * name's rules, the template, count, type and purpose) is checked before the
 * ack, and a problem goes back under the field at fault, changing nothing.
 * The rest needs the store, so it happens after the ack: the form turns into
 * "recording…", then into what happened, or back into the form with the
 * problem under its field (a name taken meanwhile). The form's view id is
 * the request's id, so a form sent twice creates one environment.
 */
import type { Template } from '../../../../core/environment/template.js';
import type { AllMiddlewareArgs, SlackViewMiddlewareArgs, ViewSubmitAction } from '@slack/bolt';
import { ErrorCodes, isDomainError, type DomainError } from '../../../../core/environment/errors.js';
import { errorSentence, plainSentence } from '../../text/errors.text.js';
import { noticeModal } from '../../blocks/notice.modal.js';
import { approversText } from '../../blocks/approval.blocks.js';
import { blockIdFor, readRequestMetadata, readRequestModal, requestModal, type FormProblem } from '../../blocks/request.modal.js';
import { replyForError, type ListenerDeps } from '../deps.js';
import { requestTruthfully } from '../truth.js';

type Args = SlackViewMiddlewareArgs<ViewSubmitAction> & AllMiddlewareArgs;

const FIELD_OF: Partial<Record<string, FormProblem['field']>> = {
  [ErrorCodes.NAME_INVALID]: 'name',
  [ErrorCodes.NAME_TAKEN]: 'name',
  [ErrorCodes.TEMPLATE_UNKNOWN]: 'template',
  [ErrorCodes.COUNT_OUT_OF_RANGE]: 'count',
  [ErrorCodes.INSTANCE_TYPE_NOT_ALLOWED]: 'type',
  [ErrorCodes.PURPOSE_INVALID]: 'purpose',
};

const FORM_TITLE = 'New environment';

const fieldOf = (error: unknown): FormProblem['field'] | undefined => (isDomainError(error) ? FIELD_OF[error.code] : undefined);

export function serverNewView(deps: ListenerDeps) {
  return async ({ ack, view, body, client }: Args): Promise<void> => {
    const log = deps.logger.child({ user: body.user.id, view: view.callback_id });
    const form = readRequestModal(view.state.values);
    const templates = deps.useCases.queries.templates;
    const template = templates.find((t) => t.name === form.template);
    const request = { ...form, template: form.template ?? '' };
    try {
      deps.useCases.request.validate(request);
    } catch (error) {
      const field = fieldOf(error);
      if (!field) throw error;
      // Form errors are plain text.
      await ack({ response_action: 'errors', errors: { [blockIdFor(field, template)]: plainSentence(error as DomainError) } });
      return;
    }
    await ack({ response_action: 'update', view: noticeModal(`Recording your request for \`${form.name}\`…`, FORM_TITLE) });

    const metadata = readRequestMetadata(view.private_metadata);
    let next;
    let sentence: string;
    try {
      const reply = await requestTruthfully(
        deps,
        { ...request, owner: body.user.id, requestId: `view:${view.id}`, ...(metadata.channel ? { channel: metadata.channel } : {}) },
        log,
        (env) =>
          env.state === 'awaiting_approval'
            ? { text: `:hourglass: \`${env.name}\` needs approval from ${approversText(env)}; nothing is launched until then. Its message${env.channel ? ` in <#${env.channel}>` : ''} says when they answer; you can close this.` }
            : { text: `:rocket: \`${env.name}\` is on its way. Its message${env.channel ? ` in <#${env.channel}>` : ''} shows the progress; you can close this.` },
      );
      sentence = reply.text;
      next = noticeModal(sentence, FORM_TITLE);
    } catch (error) {
      const field = fieldOf(error);
      sentence = field ? errorSentence(error as DomainError) : replyForError(error, log).text;
      next = field
        ? requestModal(
            templates,
            {
              name: form.name,
              ...(template ? { template } : {}),
              ...(form.count ? { count: form.count } : {}),
              ...(form.instanceType ? { instanceType: form.instanceType } : {}),
              purpose: form.purpose,
              ...(deps.useCases.schedule ? { scheduleOf: (t: Template) => deps.useCases.schedule!.scheduleForTemplate(t) } : {}),
            },
            metadata,
            { field, text: sentence },
          )
        : noticeModal(sentence, FORM_TITLE);
    }
    try {
      await client.views.update({ view_id: view.id, view: next });
    } catch (err) {
      // The person closed the form meanwhile: tell them where they asked.
      log.info({ err }, 'the form is gone; answering in the channel');
      await client.chat
        .postEphemeral({ channel: metadata.channel ?? body.user.id, user: body.user.id, text: sentence })
        .catch((e: unknown) => log.warn({ err: e }, 'could not tell the requester'));
    }
  };
}
