/** A template picked in the form: redraw it so count and type match that template. */
import type { AllMiddlewareArgs, BlockStaticSelectAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { readRequestMetadata, readRequestModal, requestModal } from '../../blocks/request.modal.js';
import type { ListenerDeps } from '../deps.js';

type Args = SlackActionMiddlewareArgs<BlockStaticSelectAction> & AllMiddlewareArgs;

export function templatePickAction(deps: ListenerDeps) {
  return async ({ ack, body, action, client }: Args): Promise<void> => {
    await ack();
    const view = body.view;
    if (!view) return;
    const templates = deps.useCases.queries.templates;
    const template = templates.find((t) => t.name === action.selected_option?.value);
    const form = readRequestModal(view.state.values);
    try {
      await client.views.update({
        view_id: view.id,
        hash: view.hash,
        view: requestModal(
          templates,
          { name: form.name, ...(template ? { template } : {}), purpose: form.purpose },
          readRequestMetadata(view.private_metadata),
        ),
      });
    } catch (err) {
      // hash_conflict: the person changed the form meanwhile; their newer view stands.
      deps.logger.debug({ err }, 'form not redrawn');
    }
  };
}
