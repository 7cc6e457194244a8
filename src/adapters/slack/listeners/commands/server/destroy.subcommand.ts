/** `/server destroy <name>`: the checks, then Destroy / Cancel buttons (the click destroys). */
import { destroyConfirmReply } from '../../../blocks/replies.js';
import { oneName, type Subcommand } from './subcommand.js';

export const destroySubcommand: Subcommand = async ({ deps, command, args, reply }) => {
  const env = await deps.useCases.destroy.check({ name: oneName(args, '/server destroy <name>') }, command.user_id);
  const data = deps.useCases.data;
  await reply(destroyConfirmReply(env, data ? { retentionDays: data.retentionDays } : undefined));
};
