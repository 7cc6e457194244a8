/** `/server status <name>`: one environment in detail, with its recent story. */
import { statusReply } from '../../../blocks/replies.js';
import { oneName, type Subcommand } from './subcommand.js';

export const statusSubcommand: Subcommand = async ({ deps, args, reply }) => {
  const { environment, events } = await deps.useCases.queries.status(oneName(args, '/server status <name>'));
  // The schedule is shown where there is one; reading a profile's time zone must not cost the answer.
  const schedule = await deps.useCases.schedule?.view(environment).catch(() => undefined);
  await reply(statusReply(environment, events, deps.clock.now(), schedule));
};
