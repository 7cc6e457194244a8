/**
 * The buttons of the schedule's direct messages: a reminder's Extend 1 h,
 * Extend until …, Sleep now and Skip tonight (each carries the sleep it is
 * about: a click after it passed is told what happened instead), and an idle
 * reminder's Keep. The answer replaces the message clicked, so its buttons go.
 */
import type { Postpone } from '../../../../core/schedule/timers.js';
import { infoReply } from '../../blocks/replies.js';
import { when } from '../../blocks/schedule.blocks.js';
import { Ids, parseReminderValue } from '../../ids.js';
import { scheduleService } from '../commands/server/schedule.subcommand.js';
import type { ListenerDeps } from '../deps.js';
import { environmentButton } from './environment-button.js';

const HOW: Record<string, Postpone> = { [Ids.action.extendHour]: 'hour', [Ids.action.extendTomorrow]: 'tomorrow', [Ids.action.skipTonight]: 'skip' };

export function postponeAction(deps: ListenerDeps) {
  return environmentButton(
    deps,
    async ({ target, user, actionId, value }) => {
      const { sleepAt } = parseReminderValue(value);
      const { environment, sleepAt: moved } = await scheduleService(deps.useCases).postpone(target, user, HOW[actionId] ?? 'hour', sleepAt);
      const zone = environment.timers?.zone ?? 'UTC';
      const text =
        actionId === Ids.action.skipTonight
          ? `Skipped tonight: \`${target.name}\` stays up; its next sleep is ${when(moved, zone)}, with a reminder first.`
          : `Extended: \`${target.name}\` now goes to sleep at ${when(moved, zone)}, with a reminder first.`;
      return { ...infoReply(text), replace_original: true };
    },
    (v) => parseReminderValue(v).target,
  );
}

export function sleepNowAction(deps: ListenerDeps) {
  return environmentButton(
    deps,
    async ({ target, user, value }) => {
      const { sleepAt } = parseReminderValue(value);
      const env = await scheduleService(deps.useCases).sleepNow(target, user, sleepAt);
      const generation = env.data?.saving?.generation;
      return { ...infoReply(`Putting \`${target.name}\` to sleep now: its data is saved first${generation ? ` (generation ${generation})` : ''}; its message shows the progress.`), replace_original: true };
    },
    (v) => parseReminderValue(v).target,
  );
}

export function keepAction(deps: ListenerDeps) {
  return environmentButton(deps, async ({ target, user }) => {
    await scheduleService(deps.useCases).keep(target, user);
    return { ...infoReply(`Kept \`${target.name}\` asleep: it will not be cleaned up for being idle, for now. \`/server wake ${target.name}\` brings it back.`), replace_original: true };
  });
}
