/**
 * The form changed: a template picked (count and type then follow that template), or a count or type
 * chosen. It is redrawn, with what the request costs.
 */
import type { AllMiddlewareArgs, BlockStaticSelectAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { readRequestMetadata, readRequestModal, requestModal } from '../../blocks/request.modal.js';
import { Ids } from '../../ids.js';
import type { ListenerDeps } from '../deps.js';

type Args = SlackActionMiddlewareArgs<BlockStaticSelectAction> & AllMiddlewareArgs;

export function templatePickAction(deps: ListenerDeps) {
  return async ({ ack, body, action, client }: Args): Promise<void> => {
    await ack();
    const view = body.view;
    if (!view) return;
    const templates = deps.useCases.queries.templates;
    const form = readRequestModal(view.state.values);
    const picked = action.action_id === Ids.action.templatePick ? action.selected_option?.value : form.template;
    const template = templates.find((t) => t.name === picked);
    // A new template starts from its own count and type; a count or type change keeps the rest of the form.
    const keep = action.action_id === Ids.action.templatePick ? {} : { ...(form.count ? { count: form.count } : {}), ...(form.instanceType ? { instanceType: form.instanceType } : {}) };
    const schedule = deps.useCases.schedule;
    try {
      await client.views.update({
        view_id: view.id,
        hash: view.hash,
        view: requestModal(
          templates,
          { name: form.name, ...(template ? { template } : {}), ...keep, purpose: form.purpose, ...(schedule ? { scheduleOf: (t) => schedule.scheduleForTemplate(t) } : {}) },
          readRequestMetadata(view.private_metadata),
        ),
      });
    } catch (err) {
      // hash_conflict: the person changed the form meanwhile; their newer view stands.
      deps.logger.debug({ err }, 'form not redrawn');
    }
  };
}
