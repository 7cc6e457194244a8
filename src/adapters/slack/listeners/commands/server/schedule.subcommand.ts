/**
 * `/server schedule <name>` shows when it is awake; `/server schedule <name> <schedule>` changes it
 * (owner or admin): `weekdays 09:00-18:00 [Europe/Paris] [--wake-at 08:30]`, `every day 07:00-23:00`, `off`.
 */
import { DomainError, ErrorCodes } from '../../../../../core/environment/errors.js';
import type { UseCases } from '../../../../../core/use-cases/index.js';
import { scheduleReply } from '../../../blocks/schedule.blocks.js';
import { stateNow } from '../../truth.js';
import type { Subcommand } from './subcommand.js';

export function scheduleService(useCases: UseCases): NonNullable<UseCases['schedule']> {
  if (useCases.schedule) return useCases.schedule;
  throw new DomainError(ErrorCodes.INPUT_INVALID, 'Schedules are not set up here.', { variant: 'no_schedule' });
}

export const scheduleSubcommand: Subcommand = async ({ deps, command, args, flags, reply, onFault }) => {
  const [name, ...words] = args;
  if (!name) throw new DomainError(ErrorCodes.INPUT_INVALID, 'Say which environment: `/server schedule <name>` shows its schedule; `/server schedule <name> weekdays 09:00-18:00` changes it.');
  const service = scheduleService(deps.useCases);
  const wakeAt = flags['wake-at'];
  if (!words.length && !wakeAt) {
    const { environment, view } = await service.show({ name });
    await reply(scheduleReply(environment, view));
    return;
  }
  if (!words.length) {
    throw new DomainError(ErrorCodes.INPUT_INVALID, `Give the whole schedule with \`--wake-at\`, e.g. \`/server schedule ${name} weekdays 09:00-18:00 --wake-at ${wakeAt}\`.`);
  }
  onFault(() => stateNow(deps, name));
  const text = [...words, ...(wakeAt ? ['--wake-at', wakeAt] : [])].join(' ');
  const { environment, view } = await service.set({ name }, command.user_id, text);
  await reply(scheduleReply(environment, view, true));
};
