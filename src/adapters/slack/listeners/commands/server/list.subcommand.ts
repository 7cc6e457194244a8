/** `/server list` (yours) and `/server list all` (everyone's). */
import { DomainError, ErrorCodes } from '../../../../../core/environment/errors.js';
import { listReply } from '../../../blocks/replies.js';
import type { Subcommand } from './subcommand.js';

export const listSubcommand: Subcommand = async ({ deps, command, args, reply }) => {
  if (args.length > 1 || (args[0] && args[0] !== 'all')) {
    throw new DomainError(ErrorCodes.INPUT_INVALID, '`/server list` shows yours; `/server list all` shows everyone\'s.');
  }
  const all = args[0] === 'all';
  const envs = all ? await deps.useCases.queries.all() : await deps.useCases.queries.mine(command.user_id);
  await reply(listReply(envs, deps.clock.now(), all ? 'all' : 'mine'));
};
