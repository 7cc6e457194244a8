/** `/server help` (and `/server` alone): the usage. Needs no store. */
import { helpReply } from '../../../blocks/replies.js';
import type { Subcommand } from './subcommand.js';

export const helpSubcommand: Subcommand = async ({ reply }) => {
  await reply(helpReply());
};
