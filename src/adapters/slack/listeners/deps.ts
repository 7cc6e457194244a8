import type { Clock, Logger } from '../../../core/ports/clock.port.js';
import type { UseCases } from '../../../core/use-cases/index.js';
import { asDomainError, isOurFault } from '../../../core/environment/errors.js';
import { newReference } from '../../../core/environment/reference.js';
import { errorReply, type Reply } from '../blocks/replies.js';
import { errorSentence } from '../text/errors.text.js';

export interface ListenerDeps {
  useCases: UseCases;
  clock: Clock;
  logger: Logger;
}

/**
 * An error as the person who can act on it should read it. A problem with
 * what they asked is its sentence. A fault on Dormouse's side (the store,
 * the cloud, a bug) is a sentence and a reference; what went wrong inside
 * goes to the log under that reference, never to the person. `outcome` says
 * what really happened, when the caller knows (it read the store again).
 */
export function replyForError(error: unknown, logger: Logger, outcome?: string): Reply {
  const domain = asDomainError(error);
  if (!isOurFault(error)) return errorReply(outcome ? `${errorSentence(domain)} ${outcome}` : errorSentence(domain));
  const ref = newReference();
  logger.error({ err: error, ref, code: domain.code, details: domain.details }, 'a request failed on our side');
  const what = domain.code === 'STORE.ERROR' ? 'Dormouse could not reach its database just now' : domain.code === 'CLOUD.ERROR' ? 'AWS did not answer as expected' : 'Something went wrong inside Dormouse';
  return errorReply(`${what} (ref \`${ref}\`). ${outcome ?? 'Try again in a minute.'} If it keeps happening, tell ops and quote the ref.`);
}
