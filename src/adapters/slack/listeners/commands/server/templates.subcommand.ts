/** `/server templates`: what can be asked for, with prices. */
import { templatesReply } from '../../../blocks/replies.js';
import type { Subcommand } from './subcommand.js';

export const templatesSubcommand: Subcommand = async ({ deps, reply }) => {
  await reply(templatesReply(deps.useCases.queries.templates));
};
