import type { Logger, Clock } from '../../../core/ports/notifier.port.js';
import type { UseCases } from '../../../core/use-cases/index.js';
import { isDomainError } from '../../../core/environment/errors.js';
import { errorReply, type Reply } from '../blocks/replies.js';

export interface ListenerDeps {
  useCases: UseCases;
  clock: Clock;
  logger: Logger;
}

/** A domain error becomes the sentence for the person; anything else a generic one (and a log line). */
export function replyForError(error: unknown, logger: Logger): Reply {
  if (isDomainError(error)) return errorReply(error.message);
  logger.error({ err: error }, 'unexpected error in a Slack listener');
  return errorReply('Something went wrong on our side; nothing was changed. Try again in a minute, and tell ops if it keeps happening.');
}
