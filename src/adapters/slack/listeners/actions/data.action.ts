/**
 * Sleep and Wake buttons on an environment's message. Like Destroy, each
 * names the environment by name and id, so a button from an earlier
 * environment's message acts on nothing.
 */
import { formatBytes } from '../../../../core/environment/sizes.js';
import { infoReply } from '../../blocks/replies.js';
import { dataUseCases } from '../commands/server/data-use-cases.js';
import type { ListenerDeps } from '../deps.js';
import { environmentButton } from './environment-button.js';

export function sleepAction(deps: ListenerDeps) {
  return environmentButton(deps, async ({ target, user }) => {
    const { environment, started } = await dataUseCases(deps.useCases).save.execute(target, user, 'sleep');
    const generation = environment.data?.saving?.generation;
    return infoReply(
      started
        ? `:zzz: <@${user}> is putting \`${target.name}\` to sleep: generation ${generation} is saved first; its message shows the progress.`
        : `\`${target.name}\` is already saving its data; its message shows the progress.`,
    );
  });
}

export function wakeAction(deps: ListenerDeps) {
  return environmentButton(deps, async ({ target, user }) => {
    const { started, manifest } = await dataUseCases(deps.useCases).wake.execute(target, user);
    const what = manifest ? `generation ${manifest.generation} (${formatBytes(manifest.bytes)})` : 'no saved data';
    return infoReply(
      started
        ? `:sunrise: <@${user}> is waking \`${target.name}\` with ${what}; its message shows the progress.`
        : `\`${target.name}\` is already waking up; its message shows the progress.`,
    );
  });
}
