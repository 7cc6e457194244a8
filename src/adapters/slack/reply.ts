/**
 * Answers through a response URL (what `/server …` and buttons reply with),
 * retried: Slack may answer 429 (with Retry-After) or 5xx, and an answer lost
 * to that would leave a person guessing whether their request happened.
 * A response URL takes up to 5 answers within 30 minutes.
 */
import type { WebClient } from '@slack/web-api';
import type { Logger } from '../../core/ports/clock.port.js';
import type { Reply } from './blocks/replies.js';

export interface ReplyOptions {
  /** Tries in all (default 4). */
  attempts?: number;
  /** The first pause between tries (default 500 ms, doubling, capped at 8 s unless Retry-After says more, up to 30 s). */
  initialDelayMs?: number;
  /** Each try gives up after this long (default 10 s). */
  timeoutMs?: number;
}

export type Replier = (reply: Reply & { replace_original?: boolean; response_type?: 'ephemeral' | 'in_channel' }) => Promise<boolean>;

/** A function that answers on `responseUrl`; it resolves to whether the answer landed, and never throws. */
export function replier(responseUrl: string | undefined, logger: Logger, options: ReplyOptions = {}): Replier {
  const { attempts = 4, initialDelayMs = 500, timeoutMs = 10_000 } = options;
  return async (reply) => {
    if (!responseUrl) return false;
    const body = JSON.stringify({ response_type: 'ephemeral', replace_original: false, ...reply });
    let delay = initialDelayMs;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      let retryAfterMs: number | undefined;
      try {
        const res = await fetch(responseUrl, { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8' }, body, signal: AbortSignal.timeout(timeoutMs) });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) return true;
        if (res.status !== 429 && res.status < 500) {
          logger.warn({ status: res.status }, 'Slack refused an answer; not retried');
          return false;
        }
        const header = Number(res.headers.get('retry-after'));
        if (Number.isFinite(header) && header > 0) retryAfterMs = Math.min(header * 1000, 30_000);
        logger.info({ status: res.status, attempt }, 'an answer to Slack failed; retrying');
      } catch (err) {
        logger.info({ err, attempt }, 'an answer to Slack failed; retrying');
      }
      if (attempt < attempts) await new Promise((r) => setTimeout(r, retryAfterMs ?? delay));
      delay = Math.min(delay * 2, 8_000);
    }
    logger.warn({ attempts }, 'gave up answering Slack');
    return false;
  };
}

/**
 * The answer to a click: on its response URL, or, for a click that has none (a button on the Home
 * tab), in a direct message from the bot, so that a refusal or a "someone was first" is never lost.
 */
export function clickReplier(body: { response_url?: string | undefined; user: { id: string } }, client: Pick<WebClient, 'conversations' | 'chat'>, logger: Logger): Replier {
  if (body.response_url) return replier(body.response_url, logger);
  return async (reply) => {
    try {
      const dm = await client.conversations.open({ users: body.user.id });
      const channel = dm.channel?.id;
      if (!channel) return false;
      await client.chat.postMessage({ channel, text: reply.text, ...(reply.blocks ? { blocks: reply.blocks } : {}) });
      return true;
    } catch (err) {
      logger.warn({ err }, 'could not answer a click from the Home tab');
      return false;
    }
  };
}
