/**
 * Destroy buttons. On an environment's message and in the ops alert the
 * button carries Slack's own confirmation dialog, so a click is the
 * confirmed intent; `/server destroy` answers with Destroy / Cancel buttons.
 * The button names the environment by name and id: one from the message of
 * an earlier environment of that name acts on nothing.
 */
import type { AllMiddlewareArgs, BlockButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { isOurFault } from '../../../../core/environment/errors.js';
import { destroyConfirmReply, infoReply } from '../../blocks/replies.js';
import { Ids, parseEnvironmentValue } from '../../ids.js';
import { dataUseCases } from '../commands/server/data-use-cases.js';
import { replier } from '../../reply.js';
import { stateNow } from '../truth.js';
import { replyForError, type ListenerDeps } from '../deps.js';

type Args = SlackActionMiddlewareArgs<BlockButtonAction> & AllMiddlewareArgs;

export function destroyAction(deps: ListenerDeps, opts: { replaceOriginal: boolean }) {
  return async ({ ack, body, action }: Args): Promise<void> => {
    await ack();
    const target = parseEnvironmentValue(action.value);
    const log = deps.logger.child({ user: body.user.id, action: action.action_id, environment: target.name });
    const answer = replier(body.response_url, log);
    try {
      // The message's Destroy on a ready environment whose data can be kept asks first: save it, or not.
      if (action.action_id === Ids.action.destroy && deps.useCases.data) {
        const env = await deps.useCases.destroy.check(target, body.user.id);
        if (env.state === 'ready') {
          await answer(destroyConfirmReply(env, { retentionDays: deps.useCases.data.retentionDays }));
          return;
        }
      }
      if (action.action_id === Ids.action.destroySave) {
        const { started } = await dataUseCases(deps.useCases).save.execute(target, body.user.id, 'destroy');
        const r = started
          ? infoReply(`:floppy_disk: Saving the data of \`${target.name}\`, then destroying it (by <@${body.user.id}>); its message shows the progress.`)
          : infoReply(`\`${target.name}\` is already saving its data; its message shows the progress.`);
        await answer({ ...r, replace_original: true });
        return;
      }
      const { started } = await deps.useCases.destroy.execute(target, body.user.id);
      const r = started
        ? infoReply(`:wastebasket: Destroying \`${target.name}\` (by <@${body.user.id}>); its message shows the progress.`)
        : infoReply(`\`${target.name}\` is already being destroyed; its message shows the progress.`);
      await answer({ ...r, replace_original: opts.replaceOriginal });
    } catch (error) {
      const happened = isOurFault(error) ? await stateNow(deps, target.name) : undefined;
      await answer(replyForError(error, log, happened));
    }
  };
}

export function destroyCancelAction(deps: ListenerDeps) {
  return async ({ ack, action, body }: Args): Promise<void> => {
    await ack();
    const { name } = parseEnvironmentValue(action.value);
    await replier(body.response_url, deps.logger)({ ...infoReply(`Kept \`${name}\`: nothing was destroyed.`), replace_original: true });
  };
}
