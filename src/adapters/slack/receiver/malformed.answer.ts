/**
 * What a malformed delivery is answered with. Where a person waits (a slash
 * command, a form, a button) they get one sentence with a reference that
 * ops can find in the log; anything else gets a plain 400.
 */
import { randomBytes } from 'node:crypto';
import type { Body } from './delivery.shapes.js';
import type { AnswerBody } from './http-answer.js';
import { noticeModal } from './notice.modal.js';

export const couldNotRead = (ref: string): string =>
  `Dormouse could not read that request (ref ${ref}). Try again; if it keeps happening, tell ops and quote the ref.`;

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** 8 base32 characters (40 random bits): short enough to read out, unique enough to grep for. */
export function newRef(): string {
  // 256 is a multiple of 32, so the low 5 bits of a random byte are uniform.
  return [...randomBytes(8)].map((byte) => BASE32[byte & 31]).join('');
}

export interface MalformedAnswer {
  status: number;
  body?: AnswerBody;
  /** A response_url to post the sentence to after answering (a button's message can only be reached that way). */
  followUp?: string;
}

export function malformedAnswer(type: string | undefined, body: Body | undefined, ref: string): MalformedAnswer {
  const sentence = couldNotRead(ref);
  switch (type) {
    case 'slash_command':
      return { status: 200, body: { response_type: 'ephemeral', text: sentence } };
    case 'view_submission':
      return { status: 200, body: { response_action: 'update', view: noticeModal(sentence) } };
    case 'block_actions': {
      const responseUrl = httpUrl(body?.response_url);
      if (responseUrl) return { status: 200, followUp: responseUrl };
      return { status: 400, body: sentence };
    }
    default:
      return { status: 400, body: sentence };
  }
}

function httpUrl(value: unknown): string | undefined {
  if (typeof value !== 'string' || !URL.canParse(value)) return undefined;
  return ['https:', 'http:'].includes(new URL(value).protocol) ? value : undefined;
}

/** Tells the person through a response_url as an ephemeral; rejects when Slack does not take it. */
export async function postToResponseUrl(responseUrl: string, text: string): Promise<void> {
  const res = await fetch(responseUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ response_type: 'ephemeral', replace_original: false, text }),
    signal: AbortSignal.timeout(5000),
  });
  if (!res.ok) throw new Error(`response_url answered HTTP ${res.status}`);
}
