/** `/server new <name> [--template t --count n --type x --purpose "…"]`: the form, or the request at once when all is given. */
import type { Template } from '../../../../../core/environment/template.js';
import { DomainError, ErrorCodes } from '../../../../../core/environment/errors.js';
import { clip } from '../../../../../core/environment/name.rules.js';
import type { RequestCommand } from '../../../../../core/use-cases/request.use-case.js';
import { requestModal } from '../../../blocks/request.modal.js';
import { requestTruthfully } from '../../truth.js';
import type { Subcommand } from './subcommand.js';

export const newSubcommand: Subcommand = async ({ deps, command, client, log, args, flags, reply }) => {
  if (args.length > 1) {
    throw new DomainError(ErrorCodes.INPUT_INVALID, `Give one name without spaces (\`/server new api-staging\`); got ${args.length} words. Put the purpose in quotes after --purpose.`);
  }
  const name = args[0] ?? '';
  // A whole number is checked against the templates' ranges (which say what is allowed); anything else is not a count.
  if (flags.count !== undefined && !/^\d{1,9}$/.test(flags.count)) {
    throw new DomainError(ErrorCodes.COUNT_OUT_OF_RANGE, `--count takes a whole number of servers; ${clip(flags.count)} is not one.`, { variant: 'not_a_number', value: clip(flags.count) });
  }
  const count = flags.count === undefined ? undefined : Number(flags.count);
  const input = { name, template: flags.template ?? '', count, instanceType: flags.type, purpose: flags.purpose };
  const { useCases } = deps;
  if (name && flags.template) {
    // Everything needed is there: no form.
    const request: RequestCommand = { ...input, template: flags.template, owner: command.user_id, requestId: `cmd:${command.trigger_id}`, channel: command.channel_id };
    await reply(await requestTruthfully(deps, request, log));
    return;
  }
  // Tell about a bad name or option now, not after the form is filled in.
  const template = await useCases.request.precheck({ ...input, ...(flags.template ? { template: flags.template } : {}) });
  await client.views.open({
    trigger_id: command.trigger_id,
    view: requestModal(
      useCases.queries.templates,
      {
        name,
        ...(template ? { template } : {}),
        ...(count ? { count } : {}),
        ...(flags.type ? { instanceType: flags.type } : {}),
        ...(flags.purpose ? { purpose: flags.purpose } : {}),
        ...(useCases.schedule ? { scheduleOf: (t: Template) => useCases.schedule!.scheduleForTemplate(t) } : {}),
      },
      { channel: command.channel_id },
    ),
  });
};
