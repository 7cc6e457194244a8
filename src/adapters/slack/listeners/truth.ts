/**
 * What a person is told after a fault on Dormouse's side is what the store
 * says happened: a write may have landed before the error (a timeout), and
 * "nothing was changed" would then be untrue, and following it would make a
 * duplicate.
 */
import type { Environment } from '../../../core/environment/environment.js';
import { isOurFault } from '../../../core/environment/errors.js';
import { describeState } from '../../../core/environment/lifecycle.js';
import type { RequestCommand } from '../../../core/use-cases/request.use-case.js';
import { infoReply, requestedReply, type Reply } from '../blocks/replies.js';
import { replyForError, type ListenerDeps } from './deps.js';

/** What the store says of an environment now, as a sentence (after a fault, to tell what really happened). */
export async function stateNow(deps: ListenerDeps, name: string): Promise<string> {
  const env = await deps.useCases.queries.find(name).then(
    (e) => ({ e }),
    () => undefined,
  );
  if (!env) return `Dormouse cannot tell yet whether it took effect: \`/server status ${name}\` will say in a minute.`;
  return env.e ? `\`${name}\` is ${describeState(env.e.state)} now.` : `There is no \`${name}\` now.`;
}

/**
 * Asks for an environment and says what really happened. A fault on our
 * side (the store timing out, say) may strike after the record was written:
 * then the store is asked again, and the answer says whether it exists, so
 * nobody is told "nothing was changed" while servers start, or asks twice.
 */
export async function requestTruthfully(
  deps: ListenerDeps,
  request: RequestCommand,
  log: ListenerDeps['logger'],
  requested: (env: Environment) => Reply = requestedReply,
): Promise<Reply> {
  try {
    const { environment, created } = await deps.useCases.request.execute(request);
    if (created || environment.requestId === request.requestId) return requested(environment);
    return infoReply(`\`${environment.name}\` was already requested; its message shows the progress.`);
  } catch (error) {
    if (!isOurFault(error)) throw error;
    const now = await deps.useCases.queries.find(request.name).then(
      (env) => ({ env }),
      () => undefined,
    );
    if (now?.env && now.env.requestId === request.requestId) {
      log.warn({ err: error, environment: request.name }, 'the request was recorded, then something failed; it goes on');
      return requested(now.env);
    }
    const outcome = !now
      ? `Dormouse cannot tell yet whether \`${request.name}\` was created: \`/server status ${request.name}\` will say in a minute. Do not ask again before that.`
      : now.env
        ? `Nothing was created: \`${request.name}\` belongs to <@${now.env.owner}>.`
        : `Nothing was created. Ask again.`;
    return replyForError(error, log, outcome);
  }
}
