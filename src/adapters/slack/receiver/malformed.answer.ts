/**
 * What a malformed delivery is answered with. Where a person waits (a slash
 * command, a form, a button) they get one sentence with a reference that
 * ops can find in the log; anything else gets a plain 400.
 */
import type { Body } from './delivery.shapes.js';
import type { AnswerBody } from './http-answer.js';
import { noticeModal } from '../blocks/notice.modal.js';
import { notices } from '../text/notices.text.js';


export interface MalformedAnswer {
  status: number;
  body?: AnswerBody;
  /** A response_url to post the sentence to after answering (a button's message can only be reached that way). */
  followUp?: string;
}

export function malformedAnswer(type: string | undefined, body: Body | undefined, ref: string): MalformedAnswer {
  const sentence = notices.couldNotRead(ref);
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
