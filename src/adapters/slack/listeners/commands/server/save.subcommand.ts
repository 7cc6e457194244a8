/** `/server sleep <name>` (save every server's data, then let the servers go) and `/server save <name>` (a generation, staying up). */
import { infoReply } from '../../../blocks/replies.js';
import { stateNow } from '../../truth.js';
import { dataUseCases } from './data-use-cases.js';
import { oneName, type Subcommand } from './subcommand.js';

function savingSubcommand(reason: 'sleep' | 'save'): Subcommand {
  return async ({ deps, command, args, reply, onFault }) => {
    const name = oneName(args, `/server ${reason} <name>`);
    onFault(() => stateNow(deps, name));
    const { environment, started } = await dataUseCases(deps.useCases).save.execute({ name }, command.user_id, reason);
    const generation = environment.data?.saving?.generation;
    if (!started) {
      await reply(infoReply(`\`${name}\` is already saving its data (generation ${generation}); its message shows the progress.`));
      return;
    }
    await reply(
      infoReply(
        reason === 'sleep'
          ? `:zzz: Putting \`${name}\` to sleep: saving generation ${generation} of its data first; its servers go only once every part is stored and verified. Its message shows the progress.`
          : `:floppy_disk: Saving generation ${generation} of \`${name}\`; it stays up meanwhile. Its message shows the progress.`,
      ),
    );
  };
}

export const sleepSubcommand = savingSubcommand('sleep');
export const saveSubcommand = savingSubcommand('save');
