/**
 * Sleep and Wake buttons on an environment's message. Like Destroy, each
 * names the environment by name and id, so a button from an earlier
 * environment's message acts on nothing.
 */
import type { AllMiddlewareArgs, BlockButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { isOurFault } from '../../../../core/environment/errors.js';
import { formatBytes } from '../../../../core/environment/sizes.js';
import { infoReply } from '../../blocks/replies.js';
import { parseEnvironmentValue } from '../../ids.js';
import { replier } from '../../reply.js';
import { dataUseCases } from '../commands/server/data-use-cases.js';
import { stateNow } from '../truth.js';
import { replyForError, type ListenerDeps } from '../deps.js';

type Args = SlackActionMiddlewareArgs<BlockButtonAction> & AllMiddlewareArgs;

export function sleepAction(deps: ListenerDeps) {
  return async ({ ack, body, action }: Args): Promise<void> => {
    await ack();
    const target = parseEnvironmentValue(action.value);
    const log = deps.logger.child({ user: body.user.id, action: action.action_id, environment: target.name });
    const answer = replier(body.response_url, log);
    try {
      const { environment, started } = await dataUseCases(deps.useCases).save.execute(target, body.user.id, 'sleep');
      const generation = environment.data?.saving?.generation;
      await answer(
        infoReply(
          started
            ? `:zzz: <@${body.user.id}> is putting \`${target.name}\` to sleep: generation ${generation} is saved first; its message shows the progress.`
            : `\`${target.name}\` is already saving its data; its message shows the progress.`,
        ),
      );
    } catch (error) {
      const happened = isOurFault(error) ? await stateNow(deps, target.name) : undefined;
      await answer(replyForError(error, log, happened));
    }
  };
}

export function wakeAction(deps: ListenerDeps) {
  return async ({ ack, body, action }: Args): Promise<void> => {
    await ack();
    const target = parseEnvironmentValue(action.value);
    const log = deps.logger.child({ user: body.user.id, action: action.action_id, environment: target.name });
    const answer = replier(body.response_url, log);
    try {
      const { started, manifest } = await dataUseCases(deps.useCases).wake.execute(target, body.user.id);
      const what = manifest ? `generation ${manifest.generation} (${formatBytes(manifest.bytes)})` : 'no saved data';
      await answer(
        infoReply(
          started
            ? `:sunrise: <@${body.user.id}> is waking \`${target.name}\` with ${what}; its message shows the progress.`
            : `\`${target.name}\` is already waking up; its message shows the progress.`,
        ),
      );
    } catch (error) {
      const happened = isOurFault(error) ? await stateNow(deps, target.name) : undefined;
      await answer(replyForError(error, log, happened));
    }
  };
}
