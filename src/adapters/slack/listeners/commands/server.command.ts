/**
 * `/server …`: acknowledged at once, with no I/O before it; then parsed and
 * handed to its subcommand (one file each, in server/), which answers
 * ephemerally through the response URL (retried), or with the form. A fault
 * on Dormouse's side is answered with what really happened.
 */
import type { AllMiddlewareArgs, SlackCommandMiddlewareArgs } from '@slack/bolt';
import { isOurFault } from '../../../../core/environment/errors.js';
import { clip } from '../../../../core/environment/name.rules.js';
import { parseServerCommand } from '../../command-parser.js';
import { helpReply, type Reply } from '../../blocks/replies.js';
import { replier } from '../../reply.js';
import { code } from '../../text/errors.text.js';
import { replyForError, type ListenerDeps } from '../deps.js';
import { SUBCOMMANDS } from './server/index.js';

type Args = SlackCommandMiddlewareArgs & AllMiddlewareArgs;

export function serverCommand(deps: ListenerDeps) {
  return async ({ ack, command, client }: Args): Promise<void> => {
    await ack();
    const log = deps.logger.child({ user: command.user_id, command: 'server' });
    const answer = replier(command.response_url, log);
    const reply = (r: Reply) => answer(r);
    let outcome: (() => Promise<string>) | undefined;
    try {
      const parsed = parseServerCommand(command.text ?? '');
      if (!parsed.ok) return void (await reply(helpReply(`:warning: ${parsed.problem}`)));
      // Own properties only: `/server constructor` is not a subcommand.
      const run = Object.hasOwn(SUBCOMMANDS, parsed.sub) ? SUBCOMMANDS[parsed.sub] : undefined;
      if (!run) return void (await reply(helpReply(`:warning: ${code(clip(parsed.sub, 30))} is not a \`/server\` command.`)));
      await run({ deps, command, client, log, args: parsed.args, flags: parsed.flags, reply, onFault: (o) => (outcome = o) });
    } catch (error) {
      const happened = isOurFault(error) ? await (outcome?.() ?? Promise.resolve('Nothing was changed.')) : undefined;
      await reply(replyForError(error, log, happened));
    }
  };
}
