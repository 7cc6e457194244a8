/** How Slack signs what it sends an app: the double signs its deliveries, tests sign their own. */
import { createHmac } from 'node:crypto';

/**
 * Slack's v0 request signature: `v0=` + hex HMAC-SHA256 of `v0:<timestamp>:<raw body>`
 * keyed with the app's signing secret. The timestamp is in whole seconds.
 */
export function slackSignature(signingSecret: string, timestampSec: number | string, rawBody: string): string {
  const hmac = createHmac('sha256', signingSecret);
  hmac.update(`v0:${timestampSec}:${rawBody}`);
  return `v0=${hmac.digest('hex')}`;
}

/** The two headers Slack adds to every request it sends an app. */
export function signedHeaders(signingSecret: string, rawBody: string, nowMs = Date.now()): Record<string, string> {
  const ts = Math.floor(nowMs / 1000);
  return {
    'x-slack-request-timestamp': String(ts),
    'x-slack-signature': slackSignature(signingSecret, ts, rawBody),
  };
}
