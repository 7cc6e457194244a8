/**
 * Destroy buttons. On an environment's message and in the ops alert the
 * button carries Slack's own confirmation dialog, so a click is the
 * confirmed intent; `/server destroy` answers with Destroy / Cancel buttons.
 */
import type { AllMiddlewareArgs, BlockButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { infoReply } from '../../blocks/replies.js';
import { replyForError, type ListenerDeps } from '../deps.js';

type Args = SlackActionMiddlewareArgs<BlockButtonAction> & AllMiddlewareArgs;

export function destroyAction(deps: ListenerDeps, opts: { replaceOriginal: boolean }) {
  return async ({ ack, body, action, respond }: Args): Promise<void> => {
    await ack();
    const log = deps.logger.child({ user: body.user.id, action: action.action_id, environment: action.value });
    const name = action.value ?? '';
    try {
      const { started } = await deps.useCases.destroy.execute(name, body.user.id);
      const r = started
        ? infoReply(`:wastebasket: Destroying \`${name}\` (by <@${body.user.id}>); its message shows the progress.`)
        : infoReply(`\`${name}\` is already being destroyed; its message shows the progress.`);
      await respond({ ...r, response_type: 'ephemeral', replace_original: opts.replaceOriginal } as never);
    } catch (error) {
      await respond({ ...replyForError(error, log), response_type: 'ephemeral', replace_original: false } as never);
    }
  };
}

export function destroyCancelAction(deps: ListenerDeps) {
  return async ({ ack, action, respond }: Args): Promise<void> => {
    await ack();
    await respond({ ...infoReply(`Kept \`${action.value ?? ''}\`: nothing was destroyed.`), replace_original: true } as never).catch((err: unknown) =>
      deps.logger.warn({ err }, 'could not answer cancel'),
    );
  };
}
