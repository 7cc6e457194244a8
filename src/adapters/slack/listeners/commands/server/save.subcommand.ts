/** `/server save <name>`: a generation of its data, without sleeping. */
import { infoReply } from '../../../blocks/replies.js';
import { stateNow } from '../../truth.js';
import { dataUseCases } from './data-use-cases.js';
import { oneName, type Subcommand } from './subcommand.js';

export const saveSubcommand: Subcommand = async ({ deps, command, args, reply, onFault }) => {
  const name = oneName(args, '/server save <name>');
  onFault(() => stateNow(deps, name));
  const { environment, started } = await dataUseCases(deps.useCases).save.execute({ name }, command.user_id, 'save');
  const generation = environment.data?.saving?.generation;
  await reply(
    infoReply(
      started
        ? `:floppy_disk: Saving generation ${generation} of \`${name}\`; it stays up meanwhile. Its message shows the progress.`
        : `\`${name}\` is already saving its data (generation ${generation}); its message shows the progress.`,
    ),
  );
};
