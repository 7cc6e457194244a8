/**
 * `/server …`: acknowledged at once, with no I/O before it; then answered
 * ephemerally through the response URL (retried), or with the form.
 */
import type { AllMiddlewareArgs, SlackCommandMiddlewareArgs } from '@slack/bolt';
import { DomainError, ErrorCodes, isOurFault } from '../../../../core/environment/errors.js';
import { clip } from '../../../../core/environment/name.rules.js';
import type { RequestCommand } from '../../../../core/use-cases/request.use-case.js';
import { parseServerCommand } from '../../command-parser.js';
import { destroyConfirmReply, helpReply, infoReply, listReply, statusReply, templatesReply, type Reply } from '../../blocks/replies.js';
import { requestModal } from '../../blocks/request.modal.js';
import { replier } from '../../reply.js';
import { replyForError, type ListenerDeps } from '../deps.js';
import { requestTruthfully, stateNow } from '../truth.js';

type Args = SlackCommandMiddlewareArgs & AllMiddlewareArgs;

export function serverCommand(deps: ListenerDeps) {
  return async ({ ack, command, client }: Args): Promise<void> => {
    await ack();
    const log = deps.logger.child({ user: command.user_id, command: 'server' });
    const answer = replier(command.response_url, log);
    const reply = (r: Reply) => answer(r);
    /** For a fault on our side: what really happened, when the command could have changed something. */
    let outcome: (() => Promise<string>) | undefined;
    try {
      const parsed = parseServerCommand(command.text ?? '');
      if (!parsed.ok) return void (await reply(helpReply(`:warning: ${parsed.problem}`)));
      const { sub, args, flags } = parsed;
      const { useCases } = deps;
      const needName = (usage: string): string => {
        const name = args[0];
        if (!name) throw new DomainError(ErrorCodes.INPUT_INVALID, `Say which environment: \`${usage}\`.`);
        if (args.length > 1) throw new DomainError(ErrorCodes.INPUT_INVALID, `\`${usage}\` takes one name; got ${args.length} words.`);
        return name;
      };
      switch (sub) {
        case 'new': {
          if (args.length > 1) {
            throw new DomainError(ErrorCodes.INPUT_INVALID, `Give one name without spaces (\`/server new api-staging\`); got ${args.length} words. Put the purpose in quotes after --purpose.`);
          }
          const name = args[0] ?? '';
          const count = flags.count === undefined ? undefined : Number(flags.count);
          if (flags.count !== undefined && !/^\d{1,3}$/.test(flags.count)) {
            throw new DomainError(ErrorCodes.COUNT_OUT_OF_RANGE, `\`--count\` takes a whole number of servers; \`${clip(flags.count)}\` is not one.`);
          }
          const input = { name, template: flags.template ?? '', count, instanceType: flags.type, purpose: flags.purpose };
          if (name && flags.template) {
            // Everything needed is there: no form.
            const request: RequestCommand = { ...input, template: flags.template, owner: command.user_id, requestId: `cmd:${command.trigger_id}`, channel: command.channel_id };
            return void (await reply(await requestTruthfully(deps, request, log)));
          }
          // Tell about a bad name or option now, not after the form is filled in.
          const template = await useCases.request.precheck({ ...input, ...(flags.template ? { template: flags.template } : {}) });
          await client.views.open({
            trigger_id: command.trigger_id,
            view: requestModal(
              useCases.queries.templates,
              { name, ...(template ? { template } : {}), ...(count ? { count } : {}), ...(flags.type ? { instanceType: flags.type } : {}), ...(flags.purpose ? { purpose: flags.purpose } : {}) },
              { channel: command.channel_id },
            ) as never,
          });
          return;
        }
        case 'list': {
          if (args.length > 1 || (args[0] && args[0] !== 'all')) {
            throw new DomainError(ErrorCodes.INPUT_INVALID, '`/server list` shows yours; `/server list all` shows everyone\'s.');
          }
          const all = args[0] === 'all';
          const envs = all ? await useCases.queries.all() : await useCases.queries.mine(command.user_id);
          return void (await reply(listReply(envs, deps.clock.now(), all ? 'all' : 'mine')));
        }
        case 'status': {
          const { environment, events } = await useCases.queries.status(needName('/server status <name>'));
          return void (await reply(statusReply(environment, events, deps.clock.now())));
        }
        case 'destroy': {
          const env = await useCases.destroy.check({ name: needName('/server destroy <name>') }, command.user_id);
          return void (await reply(destroyConfirmReply(env)));
        }
        case 'retry': {
          const name = needName('/server retry <name>');
          outcome = () => stateNow(deps, name);
          const env = await useCases.retry.execute({ name }, command.user_id);
          return void (await reply(infoReply(`:arrows_counterclockwise: Retrying \`${env.name}\`; its message shows the progress.`)));
        }
        case 'templates':
          return void (await reply(templatesReply(useCases.queries.templates)));
        case 'help':
          return void (await reply(helpReply()));
        default:
          return void (await reply(helpReply(`:warning: \`${clip(sub, 30)}\` is not a \`/server\` command.`)));
      }
    } catch (error) {
      const happened = isOurFault(error) ? await (outcome?.() ?? Promise.resolve('Nothing was changed.')) : undefined;
      await reply(replyForError(error, log, happened));
    }
  };
}
