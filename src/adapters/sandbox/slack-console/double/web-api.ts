/**
 * The Web API methods the bot calls (`POST /api/<method>`, form- or
 * JSON-encoded, `Authorization: Bearer <token>`), answered as Slack answers:
 * `{ok:true, …}`, or `{ok:false, error}` with the refusal recorded as a
 * problem when it shows a bug in the bot (bad blocks, an unknown method,
 * someone else's token). An armed fault answers first.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { messageContent } from './blocks.js';
import type { Conversations } from './conversations.js';
import type { Faults } from './faults.js';
import { conversationJson, messageJson, userJson, viewJson } from './payloads.js';
import { ApiRefusal, bool, isObj, readBody, refuseQuietly, str, type Obj } from './util.js';
import type { Views } from './views.js';
import { APP_ID, BOT_ID, BOT_USER_ID, type ResolvedChannel, type Workspace } from './workspace.js';

type Method = (args: Obj) => Obj;

export class WebApi {
  constructor(
    private readonly ws: Workspace,
    private readonly conversations: Conversations,
    private readonly views: Views,
    private readonly faults: Faults,
  ) {}

  knows(method: string): boolean {
    return Object.hasOwn(this.methods, method);
  }

  async handle(url: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = url.pathname.slice('/api/'.length);
    let args: Obj = Object.fromEntries(url.searchParams);
    let answer: Obj;
    try {
      args = { ...args, ...parseArgs(method, await readBody(req), String(req.headers['content-type'] ?? '')) };
      const token = bearer(req) ?? str(args.token);
      delete args.token;
      if (!token) throw new ApiRefusal('not_authed', `${method}: called without a token`);
      if (token !== this.ws.botToken) throw new ApiRefusal('invalid_auth', `${method}: called with a token that is not the bot's`);
      const handler = this.methods[method];
      if (!handler) throw new ApiRefusal('unknown_method', `${method}: the double does not know this Web API method`);
      if (this.faults.answerIfArmed(res, method, args)) return;
      answer = { ok: true, ...handler(decodeJsonArgs(method, args)) };
      this.ws.record(method, args, true);
    } catch (e) {
      if (!(e instanceof ApiRefusal)) throw e;
      answer = refusalAnswer(e);
      this.ws.record(method, args, false, e.code);
      for (const line of e.problemLines()) this.ws.problem(line);
    }
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(answer));
  }

  private channelArg(method: string, value: unknown): ResolvedChannel {
    const ch = typeof value === 'string' ? this.ws.resolveChannel(value) : undefined;
    if (!ch) throw new ApiRefusal('channel_not_found', `${method}: no channel ${JSON.stringify(value)}`);
    return ch;
  }

  private readonly methods: Record<string, Method> = {
    // Slack's connectivity check: it echoes its arguments (none needed, no scope).
    'api.test': (a) => ({ args: a }),
    'auth.test': () => ({
      url: 'https://dormouse-sandbox.slack.com/',
      team: 'Dormouse Sandbox',
      user: 'dormouse',
      team_id: this.ws.teamId,
      user_id: BOT_USER_ID,
      bot_id: BOT_ID,
      app_id: APP_ID,
      is_enterprise_install: false,
    }),

    'chat.postMessage': (a) => {
      const ch = this.channelArg('chat.postMessage', a.channel);
      const { text, blocks } = messageContent('chat.postMessage', a, true);
      let threadTs = str(a.thread_ts) ?? (typeof a.thread_ts === 'number' ? String(a.thread_ts) : undefined);
      if (threadTs && !this.conversations.find(ch.id, threadTs)) {
        this.ws.problem(`chat.postMessage: thread_ts ${threadTs} is not a message in ${this.ws.where(ch)}; Slack posts it as a new message`);
        threadTs = undefined;
      }
      const metadata = messageMetadata(a.metadata);
      const msg = this.conversations.add(ch.id, { user: BOT_USER_ID, text, blocks, threadTs, broadcast: bool(a.reply_broadcast), ...(metadata ? { metadata } : {}) });
      return { channel: ch.id, ts: msg.ts, message: messageJson(this.ws, msg) };
    },

    // The newest messages first, thread replies left out, as Slack answers; metadata only when asked for.
    'conversations.history': (a) => {
      const ch = this.channelArg('conversations.history', a.channel);
      const limit = Math.min(999, Math.max(1, Number(a.limit ?? 100) || 100));
      const withMetadata = bool(a.include_all_metadata);
      const messages = [...this.conversations.topLevel(ch.id)]
        .reverse()
        .slice(0, limit)
        .map((m) => ({ ...messageJson(this.ws, m), ...(withMetadata && m.metadata ? { metadata: m.metadata } : {}) }));
      return { messages, has_more: false };
    },

    'chat.update': (a) => {
      const ch = this.channelArg('chat.update', a.channel);
      const ts = str(a.ts);
      const msg = ts ? this.conversations.find(ch.id, ts) : undefined;
      if (!msg) throw new ApiRefusal('message_not_found', `chat.update: no message ${String(a.ts)} in ${this.ws.where(ch)}`);
      if (msg.user !== BOT_USER_ID) throw new ApiRefusal('cant_update_message', `chat.update: message ${msg.ts} was not posted by the bot`);
      const { text, blocks } = messageContent('chat.update', a, false);
      if (text === '' && blocks === undefined && a.text === undefined) throw new ApiRefusal('no_text', 'chat.update: needs text or blocks');
      this.conversations.edit(ch.id, msg, { ...(a.text !== undefined ? { text } : {}), ...(blocks !== undefined ? { blocks } : {}) });
      return { channel: ch.id, ts: msg.ts, text: msg.text, message: messageJson(this.ws, msg) };
    },

    'chat.postEphemeral': (a) => {
      const ch = this.channelArg('chat.postEphemeral', a.channel);
      const userId = str(a.user);
      const u = userId ? this.ws.users.find((x) => x.id === userId) : undefined;
      if (!u) throw new ApiRefusal('user_not_found', `chat.postEphemeral: no user ${JSON.stringify(a.user)}`);
      const { text, blocks } = messageContent('chat.postEphemeral', a, true);
      const e = this.conversations.addEphemeral({ channel: ch.id, user: u.id, text, blocks, threadTs: str(a.thread_ts), source: 'chat.postEphemeral' });
      return { message_ts: e.ts };
    },

    'chat.delete': (a) => {
      const ch = this.channelArg('chat.delete', a.channel);
      const ts = str(a.ts);
      if (!ts || !this.conversations.delete(ch.id, ts)) throw new ApiRefusal('message_not_found', `chat.delete: no message ${String(a.ts)}`);
      return { channel: ch.id, ts };
    },

    'chat.getPermalink': (a) => {
      const ch = this.channelArg('chat.getPermalink', a.channel);
      const ts = str(a.message_ts);
      if (!ts || !this.conversations.find(ch.id, ts)) throw new ApiRefusal('message_not_found', `chat.getPermalink: no message ${String(a.message_ts)}`);
      return { channel: ch.id, permalink: `${this.ws.requireBase()}/#channel=${ch.id}&ts=${ts}` };
    },

    'views.open': (a) => {
      const user = this.ws.useTrigger('views.open', a.trigger_id);
      return { view: viewJson(this.ws, this.views.open(user, a.view)) };
    },

    'views.push': (a) => {
      const user = this.ws.useTrigger('views.push', a.trigger_id);
      return { view: viewJson(this.ws, this.views.push(user, a.view)) };
    },

    'views.update': (a) => {
      const viewId = str(a.view_id);
      const externalId = str(a.external_id);
      if (!viewId && !externalId) throw new ApiRefusal('invalid_arguments', 'views.update: needs view_id or external_id');
      const view = this.views.all().find((v) => (viewId ? v.id === viewId : v.external_id === externalId));
      if (!view) return refuseQuietly('not_found');
      const hash = str(a.hash);
      if (hash && hash !== view.hash) return refuseQuietly('hash_conflict');
      this.views.update(view, a.view);
      return { view: viewJson(this.ws, view) };
    },

    'views.publish': (a) => {
      const userId = str(a.user_id);
      const u = userId ? this.ws.users.find((x) => x.id === userId) : undefined;
      if (!u) throw new ApiRefusal('user_not_found', `views.publish: no user ${JSON.stringify(a.user_id)}`);
      const existing = this.views.home(u.id);
      const hash = str(a.hash);
      if (existing && hash && hash !== existing.hash) return refuseQuietly('hash_conflict');
      return { view: viewJson(this.ws, this.views.publish(u.id, a.view)) };
    },

    'users.info': (a) => {
      const u = typeof a.user === 'string' ? this.ws.findUser(a.user) : undefined;
      if (!u || a.user !== u.id) throw new ApiRefusal('user_not_found', `users.info: no user ${JSON.stringify(a.user)}`);
      return { user: userJson(this.ws, u) };
    },

    'usergroups.users.list': (a) => {
      const group = this.ws.userGroups.find((g) => g.id === a.usergroup);
      if (!group) throw new ApiRefusal('no_such_subteam', `usergroups.users.list: no user group ${JSON.stringify(a.usergroup)}`);
      return { users: [...group.users] };
    },

    'conversations.open': (a) => {
      const ids = (str(a.users) ?? '').split(',').map((s) => s.trim()).filter((s) => s && s !== BOT_USER_ID);
      if (ids.length === 0 && typeof a.channel === 'string') {
        const ch = this.channelArg('conversations.open', a.channel);
        return { channel: { id: ch.id } };
      }
      if (ids.length !== 1) throw new ApiRefusal('not_supported', `conversations.open: the double opens DMs with one person, not ${ids.length}`);
      const u = this.ws.users.find((x) => x.id === ids[0]);
      if (!u) throw new ApiRefusal('user_not_found', `conversations.open: no user ${JSON.stringify(ids[0])}`);
      const id = this.ws.dmChannel(u.id);
      return { no_op: true, already_open: true, channel: bool(a.return_im) ? conversationJson(this.ws, id) : { id } };
    },

    'conversations.info': (a) => {
      const ch = this.channelArg('conversations.info', a.channel);
      return { channel: conversationJson(this.ws, ch.id) };
    },
  };
}

function bearer(req: IncomingMessage): string | undefined {
  const auth = str(req.headers.authorization);
  return auth?.startsWith('Bearer ') ? auth.slice('Bearer '.length) : undefined;
}

/** The call's arguments from its body: a JSON object, or form fields. */
function parseArgs(method: string, raw: string, contentType: string): Obj {
  if (raw.length === 0) return {};
  if (!contentType.includes('application/json')) return Object.fromEntries(new URLSearchParams(raw));
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ApiRefusal('invalid_json', `${method}: the body is not valid JSON`);
  }
  if (!isObj(parsed)) throw new ApiRefusal('invalid_json', `${method}: the JSON body is not an object`);
  return parsed;
}

/** Form-encoded calls carry blocks and views as JSON strings. */
function decodeJsonArgs(method: string, args: Obj): Obj {
  const out = { ...args };
  for (const key of ['blocks', 'view', 'attachments', 'metadata']) {
    const v = out[key];
    if (typeof v !== 'string') continue;
    try {
      out[key] = JSON.parse(v);
    } catch {
      if (key === 'blocks') throw new ApiRefusal('invalid_blocks_format', `${method}: blocks is not valid JSON`);
      throw new ApiRefusal('invalid_arguments', `${method}: ${key} is not valid JSON`);
    }
  }
  return out;
}

/** `{ok:false, error}`, with Slack's `errors` and `response_metadata.messages` when there are details. */
function refusalAnswer(e: ApiRefusal): Obj {
  const answer: Obj = { ok: false, error: e.code };
  if (e.details.length) {
    answer.errors = e.details;
    answer.response_metadata = { messages: e.details.map((d) => `[ERROR] ${d}`) };
  }
  return answer;
}

/** `metadata: {event_type, event_payload}` as Slack takes it; anything else is not metadata. */
function messageMetadata(value: unknown): { event_type: string; event_payload: Record<string, unknown> } | undefined {
  if (!isObj(value) || typeof value.event_type !== 'string' || !isObj(value.event_payload)) return undefined;
  return { event_type: value.event_type, event_payload: value.event_payload };
}
