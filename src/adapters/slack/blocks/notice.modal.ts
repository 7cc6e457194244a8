/** A modal that only says something and can only be closed: what a form turns into once sent, or what replaces one Dormouse cannot take. Pure. */
import type { types } from '@slack/bolt';
import { Ids } from '../ids.js';
import { truncate } from './text.js';

export function noticeModal(text: string, title = 'Dormouse'): types.ModalView {
  return {
    type: 'modal',
    callback_id: Ids.view.notice,
    title: { type: 'plain_text', text: truncate(title, 24) },
    close: { type: 'plain_text', text: 'Close' },
    blocks: [{ type: 'section', text: { type: 'mrkdwn', text: truncate(text, 3000) } }],
  };
}
