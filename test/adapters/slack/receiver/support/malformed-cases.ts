/**
 * Signed bodies that are not what Slack sends, each with what the receiver
 * must answer and log. Shared by the receiver's own suite and the one that
 * drives the whole Dormouse app.
 */
import { expect } from 'vitest';
import { validateView } from '../../../../../src/adapters/sandbox/slack-console/block-kit.limits.js';
import { FORM, JSON_TYPE, payload, type Answer } from './http.js';

/** Put in bodies so a test can prove that no body reaches a log line. */
export const BODY_MARKER = 'body-marker-5c1e';

/** How the person is answered: a 400 with the sentence, an ephemeral, or the modal updated with it. */
export type AnswerKind = 'text' | 'ephemeral' | 'modal';

export interface MalformedCase {
  name: string;
  body: string;
  contentType: string;
  status: number;
  answer: AnswerKind;
  /** What the log line names; undefined when the body never got as far as a type. */
  type: string | undefined;
  field: string;
}

const user = { id: 'U0DEV', team_id: 'T0SANDBOX' };
const team = { id: 'T0SANDBOX' };
const blockActions = { type: 'block_actions', user, team, trigger_id: 't', note: BODY_MARKER, actions: [{ type: 'button', action_id: 'env_destroy', block_id: 'b', value: 'x' }] };
const view = { id: 'V0TEST', callback_id: 'server_new', state: { values: {} }, title: { type: 'plain_text', text: 'x' } };
const viewSubmission = { type: 'view_submission', user, team, note: BODY_MARKER, view };
const command = {
  command: '/server',
  text: `help ${BODY_MARKER}`,
  user_id: 'U0DEV',
  channel_id: 'C0GENERAL',
  team_id: 'T0SANDBOX',
  response_url: 'http://127.0.0.1:9/response/never',
  trigger_id: 't',
};

/** A copy of `value` without the field at `path` (`view.state`). */
export function without<T extends object>(value: T, path: string): T {
  const copy = structuredClone(value) as Record<string, unknown>;
  const keys = path.split('.');
  let at = copy;
  for (const key of keys.slice(0, -1)) at = at[key] as Record<string, unknown>;
  delete at[keys.at(-1)!];
  return copy as T;
}

const form = (fields: Record<string, string>): string => new URLSearchParams(fields).toString();

export const MALFORMED: readonly MalformedCase[] = [
  { name: 'payload=null', body: 'payload=null', contentType: FORM, status: 400, answer: 'text', type: undefined, field: 'payload' },
  { name: 'payload=[]', body: 'payload=[]', contentType: FORM, status: 400, answer: 'text', type: undefined, field: 'payload' },
  { name: 'payload="x"', body: 'payload="x"', contentType: FORM, status: 400, answer: 'text', type: undefined, field: 'payload' },
  { name: 'payload=3', body: 'payload=3', contentType: FORM, status: 400, answer: 'text', type: undefined, field: 'payload' },
  { name: 'payload={}', body: 'payload={}', contentType: FORM, status: 400, answer: 'text', type: undefined, field: 'type' },
  { name: 'payload that is not JSON', body: `payload={"type":"block_actions",${BODY_MARKER}`, contentType: FORM, status: 400, answer: 'text', type: undefined, field: 'payload' },
  { name: 'a payload whose type is not a string', body: payload({ type: 7, note: BODY_MARKER }), contentType: FORM, status: 400, answer: 'text', type: undefined, field: 'type' },
  { name: 'a JSON body that is an array', body: JSON.stringify([{ type: 'event_callback' }]), contentType: JSON_TYPE, status: 400, answer: 'text', type: undefined, field: 'body' },
  { name: 'a JSON body that is not JSON', body: `{"type":"event_callback",${BODY_MARKER}`, contentType: JSON_TYPE, status: 400, answer: 'text', type: undefined, field: 'body' },
  { name: 'a body of another content type', body: BODY_MARKER, contentType: 'text/plain', status: 400, answer: 'text', type: undefined, field: 'content-type' },
  { name: 'block_actions without user', body: payload(without(blockActions, 'user')), contentType: FORM, status: 400, answer: 'text', type: 'block_actions', field: 'user.id' },
  { name: 'block_actions without actions', body: payload(without(blockActions, 'actions')), contentType: FORM, status: 400, answer: 'text', type: 'block_actions', field: 'actions' },
  { name: 'block_actions with an empty actions list', body: payload({ ...blockActions, actions: [] }), contentType: FORM, status: 400, answer: 'text', type: 'block_actions', field: 'actions' },
  { name: 'block_actions with an action without action_id', body: payload({ ...blockActions, actions: [null] }), contentType: FORM, status: 400, answer: 'text', type: 'block_actions', field: 'actions[].action_id' },
  { name: 'view_submission without view', body: payload(without(viewSubmission, 'view')), contentType: FORM, status: 200, answer: 'modal', type: 'view_submission', field: 'view' },
  { name: 'view_submission with a view without state', body: payload(without(viewSubmission, 'view.state')), contentType: FORM, status: 200, answer: 'modal', type: 'view_submission', field: 'view.state.values' },
  { name: 'view_submission without user', body: payload(without(viewSubmission, 'user')), contentType: FORM, status: 200, answer: 'modal', type: 'view_submission', field: 'user.id' },
  { name: 'view_closed without view', body: payload({ type: 'view_closed', user, team }), contentType: FORM, status: 400, answer: 'text', type: 'view_closed', field: 'view.callback_id' },
  { name: 'block_suggestion without action_id', body: payload({ type: 'block_suggestion', user, team, value: 'a' }), contentType: FORM, status: 400, answer: 'text', type: 'block_suggestion', field: 'action_id' },
  { name: 'shortcut without callback_id', body: payload({ type: 'shortcut', user, team, trigger_id: 't' }), contentType: FORM, status: 400, answer: 'text', type: 'shortcut', field: 'callback_id' },
  { name: 'message_action without user', body: payload({ type: 'message_action', callback_id: 'c', team }), contentType: FORM, status: 400, answer: 'text', type: 'message_action', field: 'user.id' },
  { name: 'a slash command without user_id', body: form(without(command, 'user_id')), contentType: FORM, status: 200, answer: 'ephemeral', type: 'slash_command', field: 'user_id' },
  { name: 'a slash command without response_url', body: form(without(command, 'response_url')), contentType: FORM, status: 200, answer: 'ephemeral', type: 'slash_command', field: 'response_url' },
  { name: 'a slash command that does not start with /', body: form({ ...command, command: 'server' }), contentType: FORM, status: 200, answer: 'ephemeral', type: 'slash_command', field: 'command' },
  {
    name: 'event_callback without event_id',
    body: JSON.stringify({ type: 'event_callback', team_id: 'T0SANDBOX', event: { type: 'app_home_opened', user: 'U0DEV' }, note: BODY_MARKER }),
    contentType: JSON_TYPE,
    status: 400,
    answer: 'text',
    type: 'event_callback',
    field: 'event_id',
  },
  { name: 'event_callback with an event that is a string', body: JSON.stringify({ type: 'event_callback', event: 'x', event_id: 'Ev1' }), contentType: JSON_TYPE, status: 400, answer: 'text', type: 'event_callback', field: 'event' },
  { name: 'url_verification without a challenge', body: JSON.stringify({ type: 'url_verification' }), contentType: JSON_TYPE, status: 400, answer: 'text', type: 'url_verification', field: 'challenge' },
];

const SENTENCE = /^Dormouse could not read that request \(ref ([0-9A-HJKMNP-TV-Z]{8})\)\. Try again; if it keeps happening, tell ops and quote the ref\.$/;

/** Checks the answer a person would see and returns the reference it quotes. */
export function expectMalformedAnswer(res: Answer, c: MalformedCase): string {
  expect(res.status, c.name).toBe(c.status);
  switch (c.answer) {
    case 'text':
      expect(res.contentType).toMatch(/^text\/plain/);
      return refIn(res.text);
    case 'ephemeral': {
      expect(res.contentType).toMatch(/^application\/json/);
      const json = res.json as { response_type: string; text: string };
      expect(json.response_type).toBe('ephemeral');
      return refIn(json.text);
    }
    case 'modal': {
      expect(res.contentType).toMatch(/^application\/json/);
      const json = res.json as { response_action: string; view: Record<string, unknown> };
      expect(json.response_action).toBe('update');
      return expectNoticeModal(json.view, SENTENCE);
    }
  }
}

/**
 * A modal that Slack would take (checked by the double's Block Kit rules),
 * titled Dormouse, closed with "Close", saying `sentence`; returns the ref
 * when the sentence quotes one.
 */
export function expectNoticeModal(view: Record<string, unknown>, sentence: RegExp): string {
  expect(validateView(view, 'modal')).toEqual([]);
  expect(view).toMatchObject({ type: 'modal', title: { type: 'plain_text', text: 'Dormouse' }, close: { type: 'plain_text', text: 'Close' } });
  const blocks = view.blocks as Array<{ type: string; text?: { text: string } }>;
  const section = blocks.find((b) => b.type === 'section');
  expect(section?.text?.text).toMatch(sentence);
  return section!.text!.text.match(/\(ref ([0-9A-HJKMNP-TV-Z]{8})\)/)?.[1] ?? '';
}

function refIn(text: string): string {
  const match = SENTENCE.exec(text);
  expect(match, `the sentence with a ref, got ${JSON.stringify(text)}`).not.toBeNull();
  return match![1]!;
}

export { SENTENCE as COULD_NOT_READ };
