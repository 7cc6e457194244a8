/** Writing an HTTP answer, once, without ever throwing. */
import type { ServerResponse } from 'node:http';

/** An object is sent as JSON, a string as text, nothing as an empty body. */
export type AnswerBody = string | object | undefined;

export function answer(res: ServerResponse, status: number, body?: AnswerBody, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.writableEnded) return;
  try {
    const { contentType, text } = encode(body);
    res.writeHead(status, { ...headers, ...(contentType ? { 'content-type': contentType } : {}) });
    res.end(text);
  } catch {
    // A body that cannot be written as JSON (a cycle), or a client that went away mid-answer.
    if (!res.headersSent) res.writeHead(500).end();
    else res.destroy();
  }
}

function encode(body: AnswerBody): { contentType?: string; text: string } {
  if (body === undefined || body === '') return { text: '' };
  if (typeof body === 'string') return { contentType: 'text/plain; charset=utf-8', text: body };
  return { contentType: 'application/json; charset=utf-8', text: JSON.stringify(body) };
}
