/** Requests to the app over real HTTP, signed as Slack signs them (or not, when a test says so). */
import { request } from 'node:http';
import { signedHeaders } from '../../../../../src/adapters/sandbox/slack-console/slack-signature.js';

export const FORM = 'application/x-www-form-urlencoded';
export const JSON_TYPE = 'application/json';

export interface Answer {
  status: number;
  contentType: string;
  text: string;
  json: unknown;
}

/** POSTs `body` to `url`, signed with `secret` unless `sign: false`; `headers` win over the signature's. */
export async function post(
  url: string,
  body: string,
  opts: { secret?: string; contentType?: string; headers?: Record<string, string>; sign?: boolean; nowMs?: number } = {},
): Promise<Answer> {
  const signature = opts.sign === false || !opts.secret ? {} : signedHeaders(opts.secret, body, opts.nowMs);
  const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': opts.contentType ?? FORM, ...signature, ...opts.headers } });
  return read(res);
}

export async function get(url: string): Promise<Answer> {
  return read(await fetch(url));
}

async function read(res: Response): Promise<Answer> {
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', text, json };
}

/** A form `payload` field holding `value` as JSON. */
export const payload = (value: unknown): string => `payload=${encodeURIComponent(JSON.stringify(value))}`;

/**
 * Sends `bytes` of body in chunks and never ends it; resolves with the status
 * of the answer, which must therefore come before the body does.
 */
export function streamWithoutEnd(url: string, bytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': FORM, 'transfer-encoding': 'chunked' } }, (res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      req.destroy();
    });
    req.on('error', reject);
    const chunk = Buffer.alloc(64 * 1024, 'a');
    let sent = 0;
    const pump = (): void => {
      while (sent < bytes) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
    };
    pump();
  });
}
