/**
 * Slack's v0 request signature: `x-slack-signature` is `v0=` + hex
 * HMAC-SHA256(signing secret, `v0:<timestamp>:<raw body>`), and the
 * timestamp bounds how long a captured request can be replayed.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** How far `x-slack-request-timestamp` may be from now, either way (Slack's own advice is 5 minutes). */
const MAX_CLOCK_SKEW_SECONDS = 300;

export interface SignedRequest {
  signingSecret: string;
  timestamp: string | undefined;
  signature: string | undefined;
  rawBody: Buffer;
  nowMs: number;
}

/** Why the request is not Slack's, as a short reason for the log; undefined when it is. */
export function signatureProblem(req: SignedRequest): string | undefined {
  if (!req.timestamp || !req.signature) return 'missing signature headers';
  if (!/^\d{1,12}$/.test(req.timestamp)) return 'timestamp is not an integer';
  // A request from the future is refused too: a clock far ahead would otherwise stretch the replay window.
  const skew = req.nowMs / 1000 - Number(req.timestamp);
  if (skew > MAX_CLOCK_SKEW_SECONDS) return 'timestamp too old';
  if (skew < -MAX_CLOCK_SKEW_SECONDS) return 'timestamp in the future';
  const expected = Buffer.from(expectedSignature(req.signingSecret, req.timestamp, req.rawBody));
  const given = Buffer.from(req.signature);
  // The length of a v0 signature is public; only the bytes are compared in constant time.
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'signature mismatch';
  return undefined;
}

function expectedSignature(signingSecret: string, timestamp: string, rawBody: Buffer): string {
  // Over the raw bytes, not a decoded string: a body that is not valid UTF-8 still verifies as Slack signed it.
  const hmac = createHmac('sha256', signingSecret).update(`v0:${timestamp}:`).update(rawBody);
  return `v0=${hmac.digest('hex')}`;
}
