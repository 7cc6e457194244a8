/** `/server retry <name>`: back to where it failed. */
import { infoReply } from '../../../blocks/replies.js';
import { stateNow } from '../../truth.js';
import { oneName, type Subcommand } from './subcommand.js';

export const retrySubcommand: Subcommand = async ({ deps, command, args, reply, onFault }) => {
  const name = oneName(args, '/server retry <name>');
  onFault(() => stateNow(deps, name));
  const env = await deps.useCases.retry.execute({ name }, command.user_id);
  await reply(infoReply(`:arrows_counterclockwise: Retrying \`${env.name}\` (try ${env.retries + 1}); its message shows the progress.`));
};
