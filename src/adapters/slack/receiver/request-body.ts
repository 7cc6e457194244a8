/** Reads a request body up to a limit, and no further. */
import type { IncomingMessage } from 'node:http';

/** Slack's largest payloads (a modal of 100 blocks) are far below this. */
const MAX_BODY_BYTES = 1024 * 1024;

export type BodyRead = { ok: true; raw: Buffer } | { ok: false; reason: 'too_large' | 'aborted' };

const TOO_LARGE: BodyRead = { ok: false, reason: 'too_large' };
const ABORTED: BodyRead = { ok: false, reason: 'aborted' };

/**
 * Resolves with the whole body, or `too_large` as soon as it is known to be
 * over `limit`: from `content-length` before reading a byte, or while
 * streaming. What is left of a large body is discarded as it arrives, never
 * kept, so a big upload costs no memory.
 */
export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<BodyRead> {
  if (Number(req.headers['content-length']) > limit) return Promise.resolve(TOO_LARGE);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (result: BodyRead): void => {
      req.off('data', onData).off('end', onEnd).off('error', onAbort).off('close', onAbort);
      if (!result.ok) req.resume(); // drain and drop the rest
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        chunks.length = 0;
        finish(TOO_LARGE);
      } else chunks.push(chunk);
    };
    const onEnd = (): void => finish({ ok: true, raw: Buffer.concat(chunks) });
    const onAbort = (): void => finish(ABORTED);
    // `close` before `end` is a client that went away mid-body.
    req.on('data', onData).once('end', onEnd).once('error', onAbort).once('close', onAbort);
  });
}
