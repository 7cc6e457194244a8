/** `/server savings`: what sleeping saved over the last seven days, per owner, per team and for the fleet. */
import { DomainError, ErrorCodes } from '../../../../../core/environment/errors.js';
import { savingsReply } from '../../../blocks/savings.blocks.js';
import type { Subcommand } from './subcommand.js';

export const savingsSubcommand: Subcommand = async ({ deps, args, reply }) => {
  if (args.length) throw new DomainError(ErrorCodes.INPUT_INVALID, '`/server savings` takes no name: it reports on every environment.');
  const savings = deps.useCases.savings;
  if (!savings) throw new DomainError(ErrorCodes.INPUT_INVALID, 'Schedules are not set up here, so there are no savings to report.');
  await reply(savingsReply(await savings.week()));
};
