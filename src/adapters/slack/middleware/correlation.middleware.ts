/**
 * Every Slack request runs under a correlation id, and says so in one line:
 *
 *   {"correlationId":"c-…","kind":"command","command":"/server","subcommand":"new","user":"U…","msg":"slack request"}
 *
 * The first global middleware: what comes after it (the other middleware, the
 * listeners, and whatever they start without awaiting, such as a flow in the
 * background) runs in its async context, so every log line and AWS call of it
 * carries the id. The HTTP receiver makes the id before Bolt sees the request
 * (its own lines about the request carry it too) and hands it over in
 * `context.correlationId`; with Socket Mode it is made here. Nothing a person
 * typed is logged: the command and its first word, ids, the user.
 */
import type { AnyMiddlewareArgs, Middleware } from '@slack/bolt';
import type { Logger } from '../../../core/ports/clock.port.js';
import { newCorrelationId, withCorrelation } from '../../../core/ports/correlation.js';

export function correlation(logger: Logger): Middleware<AnyMiddlewareArgs> {
  return async ({ body, context, next }) => {
    const given = context.correlationId;
    const correlationId = typeof given === 'string' && given ? given : newCorrelationId();
    context.correlationId = correlationId;
    return withCorrelation(correlationId, () => {
      logger.info({ correlationId, ...requestLabel(body as Record<string, unknown>), ...(context.retryNum ? { retryNum: context.retryNum } : {}) }, 'slack request');
      return next();
    });
  };
}

/** What a request is, in a few fields a reader can join and filter on. */
export function requestLabel(body: Record<string, unknown>): Record<string, string> {
  const type = typeof body.type === 'string' ? body.type : undefined;
  const label: Record<string, string> = { kind: kindOf(type, body) };
  const put = (key: string, value: unknown) => {
    if (typeof value === 'string' && value) label[key] = value.slice(0, 100);
  };
  put('command', body.command);
  // The subcommand only when it looks like one: the rest of the text is what a person typed.
  const first = typeof body.text === 'string' ? body.text.trim().split(/\s+/, 1)[0] : undefined;
  if (first && /^[a-z][a-z-]{0,19}$/.test(first)) label.subcommand = first;
  put('actionId', at(body, 'actions', 0, 'action_id') ?? body.action_id);
  put('callbackId', at(body, 'view', 'callback_id') ?? body.callback_id);
  put('event', at(body, 'event', 'type'));
  put('user', body.user_id ?? at(body, 'user', 'id') ?? at(body, 'event', 'user'));
  return label;
}

function kindOf(type: string | undefined, body: Record<string, unknown>): string {
  if (type === undefined) return typeof body.command === 'string' ? 'command' : 'unknown';
  if (type === 'block_actions' || type === 'interactive_message') return 'action';
  if (type === 'view_submission' || type === 'view_closed') return 'view';
  if (type === 'event_callback') return 'event';
  if (type === 'block_suggestion') return 'options';
  if (type === 'shortcut' || type === 'message_action') return 'shortcut';
  return type.slice(0, 40);
}

function at(value: unknown, ...path: Array<string | number>): unknown {
  let v = value;
  for (const key of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<string | number, unknown>)[key];
  }
  return v;
}
