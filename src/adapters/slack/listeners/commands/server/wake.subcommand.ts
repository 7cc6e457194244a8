/** `/server wake <name> [--generation N]`: fresh servers, bootstrapped, with the data restored. */
import { DomainError, ErrorCodes } from '../../../../../core/environment/errors.js';
import { formatBytes } from '../../../../../core/environment/sizes.js';
import { infoReply } from '../../../blocks/replies.js';
import { stateNow } from '../../truth.js';
import { dataUseCases } from './data-use-cases.js';
import { oneName, type Subcommand } from './subcommand.js';

export const wakeSubcommand: Subcommand = async ({ deps, command, args, flags, reply, onFault }) => {
  const name = oneName(args, '/server wake <name> [--generation N]');
  let generation: number | undefined;
  if (flags.generation !== undefined) {
    if (!/^\d{1,9}$/.test(flags.generation) || Number(flags.generation) < 1) {
      throw new DomainError(ErrorCodes.INPUT_INVALID, `--generation takes a generation number (\`/server data ${name}\` lists them); ${flags.generation.slice(0, 20)} is not one.`);
    }
    generation = Number(flags.generation);
  }
  onFault(() => stateNow(deps, name));
  const { started, manifest } = await dataUseCases(deps.useCases).wake.execute({ name }, command.user_id, generation);
  const what = manifest ? `generation ${manifest.generation} (${formatBytes(manifest.bytes)})` : 'no saved data';
  await reply(
    infoReply(
      started
        ? `:sunrise: Waking \`${name}\` on fresh servers with ${what}; it is ready once the data is restored and checked. Its message shows the progress.`
        : `\`${name}\` is already waking up; its message shows the progress.`,
    ),
  );
};
