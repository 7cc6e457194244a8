/** A modal that only says something and can only be closed: what replaces a form Dormouse cannot take. Pure. */
import type { types } from '@slack/bolt';

export function noticeModal(text: string): types.ModalView {
  return {
    type: 'modal',
    title: { type: 'plain_text', text: 'Dormouse' },
    close: { type: 'plain_text', text: 'Close' },
    blocks: [{ type: 'section', text: { type: 'mrkdwn', text } }],
  };
}
