/** `/server data <name>`: its generations, and the one a wake would use. Read only. */
import { dataReply } from '../../../blocks/data.blocks.js';
import { dataUseCases } from './data-use-cases.js';
import { oneName, type Subcommand } from './subcommand.js';

export const dataSubcommand: Subcommand = async ({ deps, args, reply }) => {
  const name = oneName(args, '/server data <name>');
  const { environment, generations, wakeWould } = await dataUseCases(deps.useCases).queries.generations(name);
  await reply(dataReply(environment, generations, wakeWould));
};
