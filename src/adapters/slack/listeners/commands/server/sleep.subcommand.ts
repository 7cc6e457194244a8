/** `/server sleep <name>`: save every server's data, then let the servers go. */
import { infoReply } from '../../../blocks/replies.js';
import { stateNow } from '../../truth.js';
import { dataUseCases } from './data-use-cases.js';
import { oneName, type Subcommand } from './subcommand.js';

export const sleepSubcommand: Subcommand = async ({ deps, command, args, reply, onFault }) => {
  const name = oneName(args, '/server sleep <name>');
  onFault(() => stateNow(deps, name));
  const { environment, started } = await dataUseCases(deps.useCases).save.execute({ name }, command.user_id, 'sleep');
  const generation = environment.data?.saving?.generation;
  await reply(
    infoReply(
      started
        ? `:zzz: Putting \`${name}\` to sleep: saving generation ${generation} of its data first; its servers go only once every part is stored and verified. Its message shows the progress.`
        : `\`${name}\` is already saving its data (generation ${generation}); its message shows the progress.`,
    ),
  );
};
