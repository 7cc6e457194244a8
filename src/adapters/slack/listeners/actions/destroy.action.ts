/**
 * Destroy buttons. On an environment's message and in the ops alert the
 * button carries Slack's own confirmation dialog, so a click is the
 * confirmed intent; `/server destroy` answers with Destroy / Cancel buttons.
 * The button names the environment by name and id: one from the message of
 * an earlier environment of that name acts on nothing.
 */
import type { AllMiddlewareArgs, BlockButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { destroyConfirmReply, infoReply } from '../../blocks/replies.js';
import { Ids, parseEnvironmentValue } from '../../ids.js';
import { dataUseCases } from '../commands/server/data-use-cases.js';
import { replier } from '../../reply.js';
import type { ListenerDeps } from '../deps.js';
import { environmentButton } from './environment-button.js';

type Args = SlackActionMiddlewareArgs<BlockButtonAction> & AllMiddlewareArgs;

export function destroyAction(deps: ListenerDeps, opts: { replaceOriginal: boolean }) {
  return environmentButton(deps, async ({ target, user, actionId }) => {
    // The message's Destroy on a ready environment whose data can be kept asks first: save it, or not.
    if (actionId === Ids.action.destroy && deps.useCases.data) {
      const env = await deps.useCases.destroy.check(target, user);
      if (env.state === 'ready') return destroyConfirmReply(env, { retentionDays: deps.useCases.data.retentionDays });
    }
    if (actionId === Ids.action.destroySave) {
      const { started } = await dataUseCases(deps.useCases).save.execute(target, user, 'destroy');
      const r = started
        ? infoReply(`:floppy_disk: Saving the data of \`${target.name}\`, then destroying it (by <@${user}>); its message shows the progress.`)
        : infoReply(`\`${target.name}\` is already saving its data; its message shows the progress.`);
      return { ...r, replace_original: true };
    }
    const { started } = await deps.useCases.destroy.execute(target, user);
    const r = started
      ? infoReply(`:wastebasket: Destroying \`${target.name}\` (by <@${user}>); its message shows the progress.`)
      : infoReply(`\`${target.name}\` is already being destroyed; its message shows the progress.`);
    return { ...r, replace_original: opts.replaceOriginal };
  });
}

export function destroyCancelAction(deps: ListenerDeps) {
  return async ({ ack, action, body }: Args): Promise<void> => {
    await ack();
    const { name } = parseEnvironmentValue(action.value);
    await replier(body.response_url, deps.logger)({ ...infoReply(`Kept \`${name}\`: nothing was destroyed.`), replace_original: true });
  };
}
