/** `/server history <name>`: everything recorded about it, newest first: who, when, what and why. */
import { historyReply } from '../../../blocks/replies.js';
import { oneName, type Subcommand } from './subcommand.js';

/** As many events as one answer shows (Slack's 50 blocks, a few lines each). */
const HISTORY_EVENTS = 200;

export const historySubcommand: Subcommand = async ({ deps, args, reply }) => {
  const { environment, events } = await deps.useCases.queries.status(oneName(args, '/server history <name>'), HISTORY_EVENTS);
  await reply(historyReply(environment, events));
};
