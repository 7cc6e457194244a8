/** `/server restore <name>`: a destroyed environment back, from the data kept when it was destroyed. */
import { formatBytes } from '../../../../../core/environment/sizes.js';
import { infoReply } from '../../../blocks/replies.js';
import { stateNow } from '../../truth.js';
import { dataUseCases } from './data-use-cases.js';
import { oneName, type Subcommand } from './subcommand.js';

export const restoreSubcommand: Subcommand = async ({ deps, command, args, reply, onFault }) => {
  const name = oneName(args, '/server restore <name>');
  onFault(() => stateNow(deps, name));
  const { environment, created } = await dataUseCases(deps.useCases).restore.execute(name, command.user_id);
  const g = environment.data?.latest;
  await reply(
    infoReply(
      created
        ? `:sunrise: Restoring \`${name}\` on fresh servers from generation ${g?.number ?? '?'}${g ? ` (${formatBytes(g.bytes)})` : ''}, kept when it was destroyed. Its message shows the progress.`
        : `\`${name}\` is already being restored; its message shows the progress.`,
    ),
  );
};
