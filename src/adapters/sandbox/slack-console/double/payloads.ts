/**
 * The JSON Slack puts in its answers and in the payloads it sends the app:
 * a user, a conversation, a message, a view. One shape each, so the Web API
 * and the deliveries to the app always agree.
 */
import { DateTime, IANAZone } from 'luxon';
import type { SlackMessage, SlackUser, SlackView, StateValues } from '../slack-double.types.js';
import { clone, type Obj } from './util.js';
import { APP_ID, BOT_ID, BOT_USER_ID, type Workspace } from './workspace.js';

/** `user` in an interaction payload. */
export function userRef(ws: Workspace, u: SlackUser): Obj {
  return { id: u.id, username: u.name, name: u.name, team_id: ws.teamId };
}

/** users.info's `user`. */
export function userJson(ws: Workspace, u: SlackUser): Obj {
  return {
    id: u.id,
    team_id: ws.teamId,
    name: u.name,
    real_name: u.realName ?? u.name,
    is_bot: u.isBot ?? false,
    is_admin: u.isAdmin ?? false,
    deleted: false,
    ...timeZoneJson(u.tz),
    profile: { real_name: u.realName ?? u.name, display_name: u.name, email: `${u.name}@sandbox.invalid`, title: u.role ?? '' },
  };
}

/**
 * `tz`, `tz_label` and `tz_offset` (seconds east of UTC) as Slack gives them: the zone's name, its
 * long name now (`Central European Standard Time`) and its offset now. No zone (or an unknown one): UTC.
 */
export function timeZoneJson(tz: string | undefined): { tz: string; tz_label: string; tz_offset: number } {
  const zone = tz && IANAZone.isValidZone(tz) ? tz : 'UTC';
  const now = DateTime.now().setZone(zone);
  return { tz: zone, tz_label: now.offsetNameLong ?? zone, tz_offset: now.offset * 60 };
}

export function conversationJson(ws: Workspace, id: string): Obj {
  const ch = ws.resolveChannel(id);
  if (!ch) return { id };
  if (ch.kind === 'im') return { id: ch.id, is_im: true, is_channel: false, is_private: true, user: ch.user, is_open: true, created: 0 };
  return { id: ch.id, name: ch.name, is_channel: true, is_im: false, is_private: false, is_member: true, is_archived: false, created: 0 };
}

export function messageJson(ws: Workspace, m: SlackMessage): Obj {
  return {
    type: 'message',
    ...(m.user === BOT_USER_ID ? { bot_id: BOT_ID, app_id: APP_ID } : {}),
    user: m.user,
    text: m.text,
    blocks: clone(m.blocks),
    ts: m.ts,
    team: ws.teamId,
    ...(m.threadTs ? { thread_ts: m.threadTs } : {}),
    ...(m.replies.length ? { reply_count: m.replies.length } : {}),
  };
}

export function viewJson(ws: Workspace, v: SlackView, state: { values: StateValues } = v.state): Obj {
  return {
    id: v.id,
    team_id: ws.teamId,
    type: v.type,
    blocks: clone(v.blocks),
    private_metadata: v.private_metadata,
    callback_id: v.callback_id,
    state: clone(state),
    hash: v.hash,
    ...(v.title ? { title: clone(v.title) } : {}),
    ...(v.submit ? { submit: clone(v.submit) } : {}),
    ...(v.close ? { close: clone(v.close) } : {}),
    clear_on_close: v.clear_on_close,
    notify_on_close: v.notify_on_close,
    previous_view_id: v.previous_view_id,
    root_view_id: v.root_view_id,
    app_id: APP_ID,
    external_id: v.external_id,
    app_installed_team_id: ws.teamId,
    bot_id: BOT_ID,
  };
}

/** The team, app and token fields every interaction payload carries. */
export function interactionEnvelope(ws: Workspace, u: SlackUser): Obj {
  return {
    team: { id: ws.teamId, domain: 'dormouse-sandbox' },
    user: userRef(ws, u),
    api_app_id: APP_ID,
    token: 'sandbox-verification-token',
    is_enterprise_install: false,
    enterprise: null,
  };
}
