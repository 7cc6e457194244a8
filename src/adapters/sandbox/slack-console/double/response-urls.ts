/**
 * Response URLs (`POST /response/<id>`): the double issues one with every
 * slash command and block action, and applies what the bot posts to it as
 * Slack does: replace or delete the original message (or ephemeral), or
 * post a new one, ephemeral unless `response_type: 'in_channel'`. Five uses
 * and 30 minutes each, as in Slack.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Block } from '../slack-double.types.js';
import { messageContent } from './blocks.js';
import type { Conversations } from './conversations.js';
import type { Faults } from './faults.js';
import { ApiRefusal, bool, isObj, readBody, str, type Obj } from './util.js';
import { BOT_USER_ID, type Workspace } from './workspace.js';

const RESPONSE_URL_USES = 5;
const RESPONSE_URL_TTL_MS = 30 * 60 * 1000;

/** Where a response URL posts: who asked, in which channel, and the message or ephemeral it came from. */
export interface ResponseContext {
  user: string;
  channel: string;
  source?: { type: 'message'; ts: string } | { type: 'ephemeral'; ts: string };
  threadTs?: string | undefined;
  uses: number;
  createdAt: number;
  description: string;
}

export class ResponseUrls {
  private readonly contexts = new Map<string, ResponseContext>();

  constructor(
    private readonly ws: Workspace,
    private readonly conversations: Conversations,
    private readonly faults: Faults,
  ) {}

  issue(ctx: Omit<ResponseContext, 'uses' | 'createdAt'>): string {
    const id = `${this.ws.teamId}/${randomBytes(12).toString('hex')}`;
    this.contexts.set(id, { ...ctx, uses: 0, createdAt: Date.now() });
    return `${this.ws.requireBase()}/response/${id}`;
  }

  clear(): void {
    this.contexts.clear();
  }

  async handle(id: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    let body: Obj = {};
    try {
      body = parseBody(raw, String(req.headers['content-type'] ?? ''));
    } catch {
      return this.refuse(res, 400, body, 'invalid_payload', 'response_url: the body is not valid JSON');
    }
    const ctx = this.contexts.get(id);
    if (!ctx) return this.refuse(res, 404, body, 'expired_url', `response_url: /response/${id} was never issued`);
    if (Date.now() - ctx.createdAt > RESPONSE_URL_TTL_MS) return this.refuse(res, 404, body, 'expired_url', 'response_url: expired (30 minutes)');
    if (ctx.uses >= RESPONSE_URL_USES) return this.refuse(res, 404, body, 'used_url', `response_url: used more than ${RESPONSE_URL_USES} times`);
    if (this.faults.answerIfArmed(res, 'response_url', body)) return;
    ctx.uses += 1;
    try {
      this.apply(ctx, body);
    } catch (e) {
      if (!(e instanceof ApiRefusal)) throw e;
      return this.refuse(res, 400, body, e.code, ...e.problemLines());
    }
    this.ws.record('response_url', body, true);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ok: true }));
  }

  private refuse(res: ServerResponse, status: number, body: Obj, error: string, ...problems: string[]): void {
    this.ws.record('response_url', body, false, error);
    for (const p of problems) this.ws.problem(p);
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ok: false, error }));
  }

  private apply(ctx: ResponseContext, body: Obj): void {
    const source = ctx.source;
    if (bool(body.delete_original)) {
      if (source?.type === 'message') this.conversations.delete(ctx.channel, source.ts);
      if (source?.type === 'ephemeral') this.conversations.dismissEphemeral(ctx.user, source.ts);
      return;
    }
    const { text, blocks } = messageContent('response_url', body, true);
    if (bool(body.replace_original) && source) return this.replaceOriginal(ctx, source, { text, blocks: blocks ?? [] });
    const threadTs = str(body.thread_ts) ?? ctx.threadTs;
    if (body.response_type === 'in_channel') {
      this.conversations.add(ctx.channel, { user: BOT_USER_ID, text, blocks: blocks ?? [], threadTs: threadTs && this.conversations.find(ctx.channel, threadTs) ? threadTs : undefined });
    } else {
      this.conversations.addEphemeral({ channel: ctx.channel, user: ctx.user, text, blocks: blocks ?? [], threadTs, source: 'response_url' });
    }
  }

  private replaceOriginal(ctx: ResponseContext, source: NonNullable<ResponseContext['source']>, content: { text: string; blocks: Block[] }): void {
    if (source.type === 'message') {
      const msg = this.conversations.find(ctx.channel, source.ts);
      if (!msg) throw new ApiRefusal('message_not_found', 'response_url: the original message is gone');
      this.conversations.edit(ctx.channel, msg, content);
    } else {
      const eph = this.conversations.findEphemeral(ctx.user, source.ts);
      if (!eph) throw new ApiRefusal('message_not_found', 'response_url: the original ephemeral is gone');
      this.conversations.editEphemeral(eph, content);
    }
  }
}

/** A response_url body: JSON, or form fields (with the JSON in `payload`, as some clients send it). */
function parseBody(raw: string, contentType: string): Obj {
  if (contentType.includes('application/json')) {
    const parsed: unknown = JSON.parse(raw);
    return isObj(parsed) ? parsed : {};
  }
  const params = Object.fromEntries(new URLSearchParams(raw));
  return typeof params.payload === 'string' ? (JSON.parse(params.payload) as Obj) : params;
}
