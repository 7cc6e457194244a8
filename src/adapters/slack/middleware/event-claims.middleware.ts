/**
 * Slack redelivers an Events API event it thinks was answered late
 * (`x-slack-retry-num`). Bolt acknowledges events before any middleware
 * runs, so this costs the ack nothing. Each event is claimed by its
 * `event_id`: in progress while a listener works on it, done after. A
 * redelivery that finds it in progress or done is dropped; if the worker
 * died, its in-progress claim lapses and the redelivery does the work.
 * Commands, clicks and forms are not claimed here: their repeats are made
 * harmless where they happen (a conditional write on `version`, the form's
 * view id as the request id).
 */
import type { AnyMiddlewareArgs, Middleware } from '@slack/bolt';
import type { Logger } from '../../../core/ports/clock.port.js';
import type { DeliveryClaims } from '../../../core/ports/delivery-claims.port.js';

/** Slack retries for about an hour at most: a done claim is kept that long. */
export const DONE_SECONDS = 60 * 60;
/** How long a listener may work before its claim is taken as abandoned. */
export const IN_PROGRESS_SECONDS = 60;

export function eventClaims(claims: DeliveryClaims, logger: Logger): Middleware<AnyMiddlewareArgs> {
  return async ({ body, next, context }) => {
    const eventId = (body as { type?: unknown; event_id?: unknown }).type === 'event_callback' ? (body as { event_id?: unknown }).event_id : undefined;
    if (typeof eventId !== 'string') return next();
    const key = `event:${eventId}`;
    let outcome;
    try {
      outcome = await claims.begin(key, IN_PROGRESS_SECONDS);
    } catch (err) {
      // Without the store, a redelivery may be handled twice; not handling the event at all would be worse.
      logger.warn({ err, eventId }, 'could not claim an event; handling it anyway');
      return next();
    }
    if (outcome !== 'claimed') {
      logger.info({ eventId, outcome, retryNum: context.retryNum }, 'repeated event dropped');
      return;
    }
    try {
      await next();
      await claims.finish(key, DONE_SECONDS);
    } catch (err) {
      await claims.abandon(key).catch(() => undefined);
      throw err;
    }
  };
}
