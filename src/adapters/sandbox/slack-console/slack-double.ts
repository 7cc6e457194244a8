/**
 * A Slack that lives on loopback: the Web API methods the bot calls, and the
 * people who type slash commands, fill in modals and click buttons.
 *
 * Two directions, both real HTTP:
 *  - the bot → the double: `POST {apiUrl}{method}` (form- or JSON-encoded,
 *    `Authorization: Bearer <token>`), plus `POST /response/<id>` for
 *    response_url. Answers are Slack's (`{ok:false, error:'invalid_blocks'}`…).
 *  - the double → the bot: signed requests (`x-slack-signature` v0) to the
 *    app's events URL, shaped like Slack's slash command, block_actions,
 *    view_submission, view_closed and event_callback deliveries. The double
 *    waits for the app's HTTP answer (its ack) and applies it the way Slack
 *    does (close the modal, show errors, post the ack text as an ephemeral…).
 *
 * Every Web API call is recorded in `calls`. Anything Slack would refuse, or
 * that shows a bug in the bot (over a Block Kit limit, unknown method, bad
 * token, a slow or failed ack), is also a line in `problems`; tests end with
 * `assertNoProblems()`, the console shows them as a red banner.
 *
 * Faults a test asks for (`failNext`: a 429 with Retry-After, a 500 or 503)
 * answer the next calls of a method or of response URLs without applying
 * them. They are recorded in `calls` (`injected: true`) but are no problem:
 * they are Slack's bad moments, not the bot's bugs.
 *
 * Simplifications, on purpose:
 *  - A person action on a button with a `confirm` object confirms at once
 *    (the console shows the dialog first; tests that click are saying yes).
 *  - A response_url post without `replace_original` or `delete_original`
 *    makes a new message (ephemeral unless `response_type: 'in_channel'`).
 *  - Everyone is a member of every channel; a slash command is never echoed.
 *  - Ephemerals are kept until dismissed (Slack drops them on reload; the
 *    console keeps them so a refresh loses nothing).
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { randomBytes } from 'node:crypto';
import { validateBlocks, validateView } from './block-kit.limits.js';
import { slackSignature } from './slack-signature.js';
import type {
  ActionLocation,
  ApiCall,
  Block,
  DoubleChange,
  EphemeralMessage,
  InteractionKind,
  InteractionRecord,
  InteractionResult,
  RawInputValues,
  SlackChannel,
  SlackFault,
  SlackFaultStatus,
  SlackMessage,
  SlackUser,
  SlackView,
  StateValue,
  StateValues,
} from './slack-double.types.js';

export type * from './slack-double.types.js';

export interface SlackDoubleOptions {
  signingSecret: string;
  botToken: string;
  /** Where the app receives Slack's requests, e.g. `http://127.0.0.1:3000/slack/events`. */
  eventsUrl?: string;
  users?: SlackUser[];
  channels?: SlackChannel[];
  teamId?: string;
  /** How long a trigger_id stays usable (Slack: 3 s). */
  triggerTtlMs?: number;
  /** How long to wait for the app's answer before giving up (Slack gives up at 3 s but the double waits to see it). */
  appTimeoutMs?: number;
}

export const BOT_USER_ID = 'U0BOT';
export const BOT_ID = 'B0BOT';
export const APP_ID = 'A0DORMOUSE';
export const BOT_NAME = 'Dormouse';

export const DEFAULT_USERS: readonly SlackUser[] = [
  { id: 'U0DEV', name: 'dana', realName: 'Dana Developer', role: 'developer' },
  { id: 'U0LEAD', name: 'lee', realName: 'Lee Lead', role: 'team lead' },
  { id: 'U0OPS', name: 'omar', realName: 'Omar Ops', role: 'ops', isAdmin: true },
];

export const DEFAULT_CHANNELS: readonly SlackChannel[] = [
  { id: 'C0GENERAL', name: 'general' },
  { id: 'C0OPS', name: 'ops' },
];

/** Slack acks within 3 s or the person sees an error. */
export const ACK_DEADLINE_MS = 3000;

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const bool = (v: unknown): boolean => v === true || v === 'true' || v === '1' || v === 1;
const clone = <T>(v: T): T => structuredClone(v);
const FORM = 'application/x-www-form-urlencoded';
const JSON_TYPE = 'application/json';
const MAX_BODY = 5 * 1024 * 1024;
const RESPONSE_URL_USES = 5;
const RESPONSE_URL_TTL_MS = 30 * 60 * 1000;
const MAX_VIEW_STACK = 3;

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
function randomId(length = 5): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const b of bytes) out += ALPHABET[b % ALPHABET.length];
  return out;
}

/** A refusal the way Slack answers it, and whether it shows a bug in the bot. */
class ApiRefusal extends Error {
  constructor(
    readonly code: string,
    readonly problem: string | undefined,
    readonly details: string[] = [],
  ) {
    super(code);
  }
}

interface ResponseContext {
  user: string;
  channel: string;
  source?: { type: 'message'; ts: string } | { type: 'ephemeral'; ts: string };
  threadTs?: string;
  uses: number;
  createdAt: number;
  description: string;
}

interface ArmedFault {
  method: string;
  status: SlackFaultStatus;
  remaining: number;
  retryAfterSeconds: number;
}

const FAULT_STATUSES: readonly number[] = [429, 500, 503];

interface ElementRef {
  block: Block;
  element: Obj;
}

/** Text a person would read in a message or blocks: headers, sections, fields, context, button labels. */
export function visibleText(m: { text?: string; blocks?: readonly unknown[] }): string {
  const parts: string[] = [];
  const text = (t: unknown): void => {
    if (isObj(t) && typeof t.text === 'string') parts.push(t.text);
  };
  const element = (e: unknown): void => {
    if (!isObj(e)) return;
    if (e.type === 'button') text(e.text);
    else if (e.type === 'image') return;
    else if (isObj(e.text)) text(e.text);
  };
  const rich = (e: unknown): void => {
    if (!isObj(e)) return;
    if (typeof e.text === 'string') parts.push(e.text);
    if (Array.isArray(e.elements)) e.elements.forEach(rich);
  };
  for (const b of m.blocks ?? []) {
    if (!isObj(b)) continue;
    switch (b.type) {
      case 'header':
      case 'section':
        text(b.text);
        if (Array.isArray(b.fields)) b.fields.forEach(text);
        element(b.accessory);
        break;
      case 'context':
        if (Array.isArray(b.elements)) b.elements.forEach((e) => (isObj(e) && e.type === 'image' ? undefined : text(e)));
        break;
      case 'actions':
        if (Array.isArray(b.elements)) b.elements.forEach(element);
        break;
      case 'input':
        text(b.label);
        break;
      case 'rich_text':
        rich(b);
        break;
      case 'markdown':
        if (typeof b.text === 'string') parts.push(b.text);
        break;
      default:
        break;
    }
  }
  if (parts.length === 0 && m.text) parts.push(m.text);
  return parts.join('\n');
}

/** Every interactive element in blocks, with the block it sits in. */
function elementsOf(blocks: readonly Block[]): ElementRef[] {
  const out: ElementRef[] = [];
  for (const block of blocks) {
    if (block.type === 'actions' && Array.isArray(block.elements)) {
      for (const e of block.elements) if (isObj(e)) out.push({ block, element: e });
    } else if (block.type === 'section' && isObj(block.accessory)) {
      out.push({ block, element: block.accessory });
    } else if (block.type === 'input' && isObj(block.element)) {
      out.push({ block, element: block.element });
    }
  }
  return out;
}

const textOf = (t: unknown): string => (isObj(t) && typeof t.text === 'string' ? t.text : '');

/** Gives every block a block_id and every element an action_id, as Slack does when they are left out. */
function withIds(blocks: readonly unknown[]): Block[] {
  return blocks.map((raw) => {
    const block = clone(raw) as Block;
    if (typeof block.block_id !== 'string') block.block_id = randomId();
    for (const { element } of elementsOf([block])) {
      if (element.type !== 'image' && typeof element.action_id !== 'string') element.action_id = randomId(4);
    }
    return block;
  });
}

function optionsOf(element: Obj): Obj[] {
  const out: Obj[] = [];
  if (Array.isArray(element.options)) for (const o of element.options) if (isObj(o)) out.push(o);
  if (Array.isArray(element.option_groups)) {
    for (const g of element.option_groups) {
      if (isObj(g) && Array.isArray(g.options)) for (const o of g.options) if (isObj(o)) out.push(o);
    }
  }
  return out;
}

function tsParts(ts: string): [number, number] {
  const [a, b] = ts.split('.');
  return [Number(a), Number(b)];
}
function compareTs(a: string, b: string): number {
  const [a1, a2] = tsParts(a);
  const [b1, b2] = tsParts(b);
  return a1 - b1 || a2 - b2;
}

export class SlackDouble {
  /** Every Web API call (and response_url post, as method `response_url`), in order. */
  readonly calls: ApiCall[] = [];
  /** Everything Slack would refuse or that shows a bug in the bot. */
  readonly problems: string[] = [];
  /** Every request sent to the app, with how long its ack took. */
  readonly interactions: InteractionRecord[] = [];
  readonly users: readonly SlackUser[];
  readonly channels: readonly SlackChannel[];
  readonly teamId: string;
  readonly botUserId = BOT_USER_ID;

  private readonly signingSecret: string;
  private readonly botToken: string;
  private readonly triggerTtlMs: number;
  private readonly appTimeoutMs: number;
  private eventsUrl: string | undefined;
  private base: string | undefined;
  private server: Server | undefined;

  private readonly messages = new Map<string, SlackMessage[]>();
  private ephemeralList: EphemeralMessage[] = [];
  private readonly viewStacks = new Map<string, SlackView[]>();
  private readonly homes = new Map<string, SlackView>();
  private readonly triggers = new Map<string, { user: string; expiresAt: number; used: boolean }>();
  private readonly responseUrls = new Map<string, ResponseContext>();
  private readonly listeners = new Set<(change: DoubleChange) => void>();
  private faults: ArmedFault[] = [];
  private seq = 0;

  constructor(options: SlackDoubleOptions) {
    this.signingSecret = options.signingSecret;
    this.botToken = options.botToken;
    this.eventsUrl = options.eventsUrl;
    this.users = [...(options.users ?? DEFAULT_USERS)];
    this.channels = [...(options.channels ?? DEFAULT_CHANNELS)];
    this.teamId = options.teamId ?? 'T0SANDBOX';
    this.triggerTtlMs = options.triggerTtlMs ?? 3000;
    this.appTimeoutMs = options.appTimeoutMs ?? 10_000;
  }

  // ---------------------------------------------------------------- serving

  /** The base URL the bot uses as SLACK_API_URL / Bolt `clientOptions.slackApiUrl`. */
  get apiUrl(): string {
    return `${this.requireBase()}/api/`;
  }

  /** The base URL its response_urls and apiUrl use, once known. */
  get baseUrl(): string | undefined {
    return this.base;
  }

  /** Base URL of whatever server mounts `handle` (set by `listen`, or by the console that mounts it). */
  setBaseUrl(url: string): void {
    this.base = url.replace(/\/+$/, '');
  }

  setEventsUrl(url: string): void {
    this.eventsUrl = url;
  }

  /** Starts a server of its own on loopback; resolves with its base URL. */
  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    if (this.server) throw new Error('SlackDouble is already listening');
    const server = createServer((req, res) => {
      void this.handle(req, res).then((handled) => {
        if (!handled) {
          res.writeHead(404, { 'content-type': 'text/plain' });
          res.end('not found');
        }
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    const address = server.address();
    const actualPort = typeof address === 'object' && address ? address.port : port;
    const shownHost = host.includes(':') ? `[${host}]` : host;
    this.setBaseUrl(`http://${shownHost}:${actualPort}`);
    return this.requireBase();
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /**
   * Node request handler for `/api/<method>` and `/response/<id>`. Resolves
   * false (and leaves `res` alone) for any other path, so it can be mounted
   * inside another server.
   */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = new URL(req.url ?? '/', 'http://double.invalid');
    const isApi = url.pathname.startsWith('/api/');
    const isResponse = url.pathname.startsWith('/response/');
    if (!isApi && !isResponse) return false;
    try {
      if (isApi) await this.handleApi(url, req, res);
      else await this.handleResponseUrl(url.pathname.slice('/response/'.length), req, res);
    } catch (e) {
      this.problem(`${url.pathname}: the double failed to handle the request: ${e instanceof Error ? e.message : String(e)}`);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: false, error: 'internal_error' }));
    }
    return true;
  }

  // ------------------------------------------------------ state for assertions

  /** Top-level messages of a channel (id, `#name`, name, or a user id for their DM with the bot), oldest first. */
  channelMessages(channel: string): SlackMessage[] {
    return clone(this.messages.get(this.requireChannel(channel).id) ?? []);
  }

  /** A message (top-level or reply) by its ts. */
  message(channel: string, ts: string): SlackMessage | undefined {
    const found = this.findMessage(this.requireChannel(channel).id, ts);
    return found ? clone(found) : undefined;
  }

  /** The newest top-level message in a channel. */
  lastMessage(channel: string): SlackMessage | undefined {
    return this.channelMessages(channel).at(-1);
  }

  /** Ephemerals one person sees, oldest first. */
  ephemerals(user: string): EphemeralMessage[] {
    const id = this.user(user).id;
    return clone(this.ephemeralList.filter((e) => e.user === id));
  }

  /** The person's modal stack, bottom first (the one on screen is last). */
  openViews(user: string): SlackView[] {
    return clone(this.viewStacks.get(this.user(user).id) ?? []);
  }

  /** The App Home the bot published for the person, if any. */
  home(user: string): SlackView | undefined {
    const v = this.homes.get(this.user(user).id);
    return v ? clone(v) : undefined;
  }

  /** The DM channel id between a person and the bot. */
  dmChannel(user: string): string {
    return `D${this.user(user).id.replace(/^U/, '')}`;
  }

  /** Finds a person by id or handle. */
  user(idOrName: string): SlackUser {
    const u = this.findUser(idOrName);
    if (!u) throw new Error(`No such user ${JSON.stringify(idOrName)} (known: ${this.users.map((x) => `${x.id} ${x.name}`).join(', ')})`);
    return u;
  }

  findUser(idOrName: string): SlackUser | undefined {
    if (idOrName === BOT_USER_ID) return { id: BOT_USER_ID, name: 'dormouse', realName: BOT_NAME, isBot: true };
    const key = idOrName.replace(/^@/, '');
    return this.users.find((u) => u.id === key || u.name === key);
  }

  /** A channel by id or name, a person's DM by its D id or the person's id. */
  resolveChannel(ref: string): (SlackChannel & { kind: 'channel' | 'im'; user?: string }) | undefined {
    const byId = this.channels.find((c) => c.id === ref);
    if (byId) return { ...byId, kind: 'channel' };
    const name = ref.replace(/^#/, '');
    const byName = this.channels.find((c) => c.name === name);
    if (byName) return { ...byName, kind: 'channel' };
    const userId = ref.startsWith('D') ? `U${ref.slice(1)}` : ref;
    const u = this.users.find((x) => x.id === userId);
    if (u && (ref.startsWith('D') || ref.startsWith('U'))) {
      return { id: `D${u.id.replace(/^U/, '')}`, name: u.name, kind: 'im', user: u.id };
    }
    return undefined;
  }

  /** Subscribe to changes (the console pushes them to the page). Returns the unsubscribe function. */
  subscribe(listener: (change: DoubleChange) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Resolves with the first truthy value of `check`, re-checked on every change; rejects after the timeout. */
  async waitFor<T>(check: () => T | undefined | null | false, opts: { timeoutMs?: number; what?: string } = {}): Promise<T> {
    const timeoutMs = opts.timeoutMs ?? 5000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = check();
      if (value) return value;
      if (Date.now() > deadline) {
        throw new Error(`Timed out after ${timeoutMs} ms waiting for ${opts.what ?? 'a condition'}${this.problems.length ? `\nProblems so far:\n- ${this.problems.join('\n- ')}` : ''}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, 25);
        const off = this.subscribe(done);
        function done(): void {
          clearTimeout(timer);
          off();
          resolve();
        }
      });
    }
  }

  /** Resolves once nothing has changed for `quietMs` (the app has finished its follow-up calls). */
  async settled(quietMs = 100, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = Date.now();
    const off = this.subscribe(() => {
      last = Date.now();
    });
    try {
      while (Date.now() - last < quietMs) {
        if (Date.now() > deadline) throw new Error(`The Slack double did not settle within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, Math.max(10, quietMs - (Date.now() - last))));
      }
    } finally {
      off();
    }
  }

  assertNoProblems(): void {
    if (this.problems.length > 0) {
      throw new Error(`The Slack double saw ${this.problems.length} problem(s):\n- ${this.problems.join('\n- ')}`);
    }
  }

  clearProblems(): void {
    this.problems.length = 0;
    this.emit({ kind: 'problems' });
  }

  /**
   * The next `times` (default 1) calls of `method` (a Web API method, or
   * `'response_url'` for posts to response URLs the double issued) fail with
   * `status`, as Slack fails them: 429 with `Retry-After` and
   * `{ok:false, error:'ratelimited'}`, 500 with `{ok:false, error:'internal_error'}`,
   * 503 with a plain-text body. A failed call changes nothing and uses up no
   * response URL; it is recorded in `calls` with `injected: true` and is not
   * a problem. Faults armed for the same method are used in the order armed.
   * Calls Slack would refuse anyway (bad token, unknown method, a response URL
   * it never issued) are refused as before and leave the fault armed.
   */
  failNext(opts: SlackFault): void {
    const times = opts.times ?? 1;
    const retryAfterSeconds = opts.retryAfterSeconds ?? 1;
    if (opts.method !== 'response_url' && !Object.hasOwn(this.methods, opts.method)) {
      throw new Error(`failNext: the double does not know the Web API method ${JSON.stringify(opts.method)} (or use 'response_url')`);
    }
    if (!FAULT_STATUSES.includes(opts.status)) throw new Error(`failNext: status must be one of ${FAULT_STATUSES.join(', ')}, not ${opts.status}`);
    if (!Number.isInteger(times) || times < 1) throw new Error(`failNext: times must be a whole number of at least 1, not ${times}`);
    if (!Number.isInteger(retryAfterSeconds) || retryAfterSeconds < 0) throw new Error(`failNext: retryAfterSeconds must be a whole number of seconds, not ${retryAfterSeconds}`);
    this.faults.push({ method: opts.method, status: opts.status, remaining: times, retryAfterSeconds });
  }

  /** Disarms every fault `failNext` armed and that has not fired yet. */
  clearFaults(): void {
    this.faults = [];
  }

  /** Faults still armed, in the order they fire. */
  pendingFaults(): Array<Required<SlackFault>> {
    return this.faults.map((f) => ({ method: f.method, status: f.status, times: f.remaining, retryAfterSeconds: f.retryAfterSeconds }));
  }

  /** Forgets every message, view, call, problem and armed fault (users and channels stay). */
  reset(): void {
    this.faults = [];
    this.calls.length = 0;
    this.problems.length = 0;
    this.interactions.length = 0;
    this.messages.clear();
    this.ephemeralList = [];
    this.viewStacks.clear();
    this.homes.clear();
    this.triggers.clear();
    this.responseUrls.clear();
    this.emit({ kind: 'reset' });
  }

  // ----------------------------------------------------------- person actions

  /** A person types `/command text` in a channel (id or name, or their DM). */
  async slashCommand(args: { user: string; channel: string; command: string; text?: string }): Promise<InteractionResult> {
    const u = this.user(args.user);
    const ch = this.requireChannel(args.channel);
    const command = args.command.startsWith('/') ? args.command : `/${args.command}`;
    const text = args.text ?? '';
    const responseUrl = this.issueResponseUrl({ user: u.id, channel: ch.id, description: `${command} ${text}`.trim() });
    const fields: Record<string, string> = {
      token: 'sandbox-verification-token',
      team_id: this.teamId,
      team_domain: 'dormouse-sandbox',
      channel_id: ch.id,
      channel_name: ch.kind === 'im' ? 'directmessage' : ch.name,
      user_id: u.id,
      user_name: u.name,
      command,
      text,
      api_app_id: APP_ID,
      is_enterprise_install: 'false',
      response_url: responseUrl,
      trigger_id: this.issueTrigger(u.id),
    };
    const rawBody = new URLSearchParams(fields).toString();
    const shown = text.length > 80 ? `${text.slice(0, 80)}… (${text.length} characters)` : text;
    const summary = `${u.name}: ${command}${shown ? ` ${shown}` : ''}`;
    const result = await this.deliver('slash_command', rawBody, FORM, summary, u.id);
    if (result.status === 200) {
      this.applyCommandAck(result, u.id, ch.id, command);
    } else {
      this.slackSays(u.id, ch.id, `${command} failed with the error "${this.failureCode(result)}"`);
    }
    if (result.ackMs > ACK_DEADLINE_MS && result.status === 200) {
      this.slackSays(u.id, ch.id, `${command} failed with the error "operation_timeout"`);
    }
    return result;
  }

  /**
   * A person clicks the most recent visible button labelled `label`: in their
   * open modal first, then their App Home, their ephemerals, then messages
   * (thread replies included), newest first. A button with a `confirm`
   * dialog is confirmed at once.
   */
  async clickButton(args: { user: string; label: string; channel?: string }): Promise<InteractionResult> {
    const u = this.user(args.user);
    const found = this.findVisible(u.id, args.channel, (ref) => ref.element.type === 'button' && this.labelMatches(textOf(ref.element.text), args.label));
    if (!found) {
      const visible = this.visibleButtons(u.id, args.channel);
      throw new Error(`${u.name} sees no button labelled ${JSON.stringify(args.label)}${args.channel ? ` in ${args.channel}` : ''}. Visible buttons: ${visible.length ? visible.map((l) => JSON.stringify(l)).join(', ') : 'none'}`);
    }
    return this.sendBlockAction({
      user: u.id,
      location: found.location,
      blockId: String(found.ref.block.block_id),
      actionId: String(found.ref.element.action_id),
    });
  }

  /**
   * A person picks an option in a select (or radio buttons / checkboxes /
   * overflow). In their open modal the select is found by its input label
   * or block_id, and a request is only sent when the input block has
   * `dispatch_action` (as in Slack); elsewhere by placeholder or action_id.
   * Resolves undefined when nothing was sent.
   */
  async selectOption(args: { user: string; label: string; option: string | string[]; channel?: string }): Promise<InteractionResult | undefined> {
    const u = this.user(args.user);
    const top = this.topView(u.id);
    const selected = Array.isArray(args.option) ? args.option : [args.option];
    if (top) {
      const input = this.findInputBlock(top, args.label);
      if (input) {
        const element = input.element as Obj;
        const value = this.toStateValue(element, selected, String(input.block_id));
        this.setStateValue(top, String(input.block_id), String(element.action_id), value);
        this.emit({ kind: 'views', user: u.id });
        if (!input.dispatch_action) return undefined;
        return this.sendBlockAction({ user: u.id, location: { type: 'view', viewId: top.id }, blockId: String(input.block_id), actionId: String(element.action_id), selected });
      }
    }
    const isSelect = (ref: ElementRef): boolean =>
      ref.element.type !== 'button' &&
      ref.block.type !== 'input' &&
      (this.labelMatches(textOf(ref.element.placeholder), args.label) || ref.element.action_id === args.label || ref.block.block_id === args.label);
    const found = this.findVisible(u.id, args.channel, isSelect);
    if (!found) throw new Error(`${u.name} sees no select labelled ${JSON.stringify(args.label)}`);
    return this.sendBlockAction({
      user: u.id,
      location: found.location,
      blockId: String(found.ref.block.block_id),
      actionId: String(found.ref.element.action_id),
      selected,
    });
  }

  /**
   * A person fills the modal on top of their stack and presses its submit
   * button. `values` is keyed by input label (or block_id): a string for text
   * and number inputs, the option's text or value for selects and radio
   * buttons, a list for checkboxes and multi selects. Inputs not named keep
   * what was entered before (or their initial value).
   *
   * Bolt's answer is applied as Slack would: an empty ack closes the modal;
   * `response_action` errors / update / push / clear do what they say.
   */
  async submitView(args: { user: string; values?: Record<string, string | number | boolean | string[] | null> }): Promise<InteractionResult> {
    const u = this.user(args.user);
    const top = this.topView(u.id);
    if (!top) throw new Error(`${u.name} has no open modal to submit`);
    const raw: RawInputValues = {};
    for (const [key, value] of Object.entries(args.values ?? {})) {
      const block = this.findInputBlock(top, key);
      if (!block) {
        const labels = top.blocks.filter((b) => b.type === 'input').map((b) => textOf(b.label) || String(b.block_id));
        throw new Error(`The modal ${JSON.stringify(textOf(top.title))} has no input labelled ${JSON.stringify(key)} (inputs: ${labels.join(', ')})`);
      }
      const element = block.element as Obj;
      raw[String(block.block_id)] = {
        [String(element.action_id)]: value === null ? null : Array.isArray(value) ? value : typeof value === 'boolean' ? (value ? optionsOf(element).map((o) => String(o.value)) : []) : String(value),
      };
    }
    return this.submitViewValues({ user: u.id, viewId: top.id, values: raw });
  }

  /** Low level: submit the modal `viewId` with values keyed by block_id and action_id (what the console sends). */
  async submitViewValues(args: { user: string; viewId: string; values: RawInputValues }): Promise<InteractionResult> {
    const u = this.user(args.user);
    const view = this.topView(u.id);
    if (!view || view.id !== args.viewId) throw new Error(`The modal ${args.viewId} is not the one on ${u.name}'s screen`);
    this.mergeRaw(view, args.values);
    const state = this.submissionState(view);
    const clientErrors = this.clientValidation(view, state);
    if (Object.keys(clientErrors).length > 0) {
      view.errors = clientErrors;
      this.emit({ kind: 'views', user: u.id });
      return { kind: 'view_submission', status: 0, body: '', ackMs: 0, rawBody: '', contentType: '', clientErrors };
    }
    const payload = {
      type: 'view_submission',
      team: { id: this.teamId, domain: 'dormouse-sandbox' },
      user: this.userRef(u),
      api_app_id: APP_ID,
      token: 'sandbox-verification-token',
      trigger_id: this.issueTrigger(u.id),
      view: this.viewJson(view, state),
      response_urls: [],
      is_enterprise_install: false,
      enterprise: null,
    };
    const summary = `${u.name}: submit ${JSON.stringify(textOf(view.title))} (${view.callback_id || view.id})`;
    const result = await this.deliver('view_submission', `payload=${encodeURIComponent(JSON.stringify(payload))}`, FORM, summary, u.id);
    if (result.status === 200) this.applyViewAnswer(u.id, view, result, summary);
    return result;
  }

  /** Keeps what a person typed in a modal without submitting it (the console saves drafts so a reload keeps them). */
  saveDraft(args: { user: string; viewId: string; values: RawInputValues }): void {
    const u = this.user(args.user);
    const view = (this.viewStacks.get(u.id) ?? []).find((v) => v.id === args.viewId) ?? (this.homes.get(u.id)?.id === args.viewId ? this.homes.get(u.id) : undefined);
    if (view) this.mergeRaw(view, args.values);
  }

  /**
   * A person closes their modal: the top one (`all: false`, the Cancel
   * button) or the whole stack (the ✕). Sends view_closed only when the
   * view asked for it with `notify_on_close`.
   */
  async closeView(user: string, opts: { all?: boolean } = {}): Promise<InteractionResult | undefined> {
    const u = this.user(user);
    const stack = this.viewStacks.get(u.id) ?? [];
    const top = stack.at(-1);
    if (!top) throw new Error(`${u.name} has no open modal to close`);
    const all = opts.all ?? false;
    const closed = all ? [...stack] : [top];
    if (all || stack.length <= 1) this.viewStacks.delete(u.id);
    else stack.pop();
    this.emit({ kind: 'views', user: u.id });
    const notify = closed.find((v) => v.notify_on_close);
    if (!notify) return undefined;
    const payload = {
      type: 'view_closed',
      team: { id: this.teamId, domain: 'dormouse-sandbox' },
      user: this.userRef(u),
      api_app_id: APP_ID,
      token: 'sandbox-verification-token',
      view: this.viewJson(notify),
      is_cleared: all && closed.length > 1,
      is_enterprise_install: false,
      enterprise: null,
    };
    return this.deliver('view_closed', `payload=${encodeURIComponent(JSON.stringify(payload))}`, FORM, `${u.name}: close ${JSON.stringify(textOf(notify.title))}`, u.id);
  }

  /** A person opens the app's Home tab: Slack sends `app_home_opened`. */
  async openHome(user: string): Promise<InteractionResult> {
    const u = this.user(user);
    const home = this.homes.get(u.id);
    return this.sendEvent(
      { type: 'app_home_opened', user: u.id, channel: this.dmChannel(u.id), tab: 'home', ...(home ? { view: this.viewJson(home) } : {}) },
      `${u.name}: open App Home`,
      u.id,
    );
  }

  /** Sends an Events API `event_callback` with this event. */
  async sendEvent(event: Obj, summary = `event ${String(event.type)}`, user?: string): Promise<InteractionResult> {
    const now = Date.now();
    const body = {
      token: 'sandbox-verification-token',
      team_id: this.teamId,
      api_app_id: APP_ID,
      event: { event_ts: `${(now / 1000).toFixed(6)}`, ...event },
      type: 'event_callback',
      event_id: `Ev${randomId(10).toUpperCase()}`,
      event_time: Math.floor(now / 1000),
      authorizations: [{ enterprise_id: null, team_id: this.teamId, user_id: BOT_USER_ID, is_bot: true, is_enterprise_install: false }],
      is_ext_shared_channel: false,
    };
    return this.deliver('event_callback', JSON.stringify(body), JSON_TYPE, summary, user);
  }

  /** A person posts a plain message (no event is sent: the bot subscribes to none). */
  postAsUser(args: { user: string; channel: string; text: string; threadTs?: string }): SlackMessage {
    const u = this.user(args.user);
    const ch = this.requireChannel(args.channel);
    const msg = this.addMessage(ch.id, { user: u.id, text: args.text, blocks: [], threadTs: args.threadTs });
    return clone(msg);
  }

  /** A person dismisses one of their ephemerals. */
  dismissEphemeral(user: string, ts: string): void {
    const id = this.user(user).id;
    this.ephemeralList = this.ephemeralList.filter((e) => !(e.user === id && e.ts === ts));
    this.emit({ kind: 'ephemerals', user: id });
  }

  /**
   * Low level: an interaction on an element, found by block_id and action_id
   * where it lives. `selected` names options (by value or text) for selects,
   * radio buttons, checkboxes and overflow menus, a user/channel id for
   * pickers, a date for date pickers. `values` are the modal's current
   * inputs, kept in `view.state` as Slack does.
   */
  async sendBlockAction(args: {
    user: string;
    location: ActionLocation;
    blockId: string;
    actionId: string;
    selected?: string | string[];
    values?: RawInputValues;
  }): Promise<InteractionResult> {
    const u = this.user(args.user);
    const payload: Obj = {
      type: 'block_actions',
      user: this.userRef(u),
      api_app_id: APP_ID,
      token: 'sandbox-verification-token',
      trigger_id: this.issueTrigger(u.id),
      team: { id: this.teamId, domain: 'dormouse-sandbox' },
      enterprise: null,
      is_enterprise_install: false,
    };
    let blocks: Block[];
    let where: string;
    let view: SlackView | undefined;
    const loc = args.location;
    if (loc.type === 'message') {
      const ch = this.requireChannel(loc.channel);
      const msg = this.findMessage(ch.id, loc.ts);
      if (!msg) throw new Error(`No message ${loc.ts} in ${loc.channel}`);
      blocks = msg.blocks;
      where = ch.kind === 'im' ? 'the DM' : `#${ch.name}`;
      payload.container = { type: 'message', message_ts: msg.ts, channel_id: ch.id, is_ephemeral: false, ...(msg.threadTs ? { thread_ts: msg.threadTs } : {}) };
      payload.channel = { id: ch.id, name: ch.kind === 'im' ? 'directmessage' : ch.name };
      payload.message = this.messageJson(msg);
      payload.state = { values: {} };
      payload.response_url = this.issueResponseUrl({ user: u.id, channel: ch.id, source: { type: 'message', ts: msg.ts }, threadTs: msg.threadTs, description: 'button' });
    } else if (loc.type === 'ephemeral') {
      const eph = this.ephemeralList.find((e) => e.ts === loc.ts && e.user === u.id);
      if (!eph) throw new Error(`${u.name} has no ephemeral ${loc.ts}`);
      const ch = this.requireChannel(eph.channel);
      blocks = eph.blocks;
      where = 'an ephemeral';
      payload.container = { type: 'message', message_ts: eph.ts, channel_id: eph.channel, is_ephemeral: true };
      payload.channel = { id: ch.id, name: ch.kind === 'im' ? 'directmessage' : ch.name };
      payload.state = { values: {} };
      payload.response_url = this.issueResponseUrl({ user: u.id, channel: eph.channel, source: { type: 'ephemeral', ts: eph.ts }, threadTs: eph.threadTs, description: 'ephemeral button' });
    } else {
      view = this.findViewById(u.id, loc.viewId);
      if (!view) throw new Error(`${u.name} has no open view ${loc.viewId}`);
      if (args.values) this.mergeRaw(view, args.values);
      blocks = view.blocks;
      where = view.type === 'home' ? 'App Home' : `modal ${JSON.stringify(textOf(view.title))}`;
      payload.container = { type: 'view', view_id: view.id };
    }
    const ref = elementsOf(blocks).find((r) => r.block.block_id === args.blockId && r.element.action_id === args.actionId);
    if (!ref) throw new Error(`No element ${args.blockId}/${args.actionId} in ${where}`);
    const action = this.actionFor(ref, args.selected);
    if (view) {
      const stateValue = this.stateValueFromAction(ref.element, action);
      if (stateValue) this.setStateValue(view, args.blockId, args.actionId, stateValue);
      payload.view = this.viewJson(view, this.submissionState(view));
    }
    payload.actions = [action];
    const label = textOf(ref.element.text) || textOf(ref.element.placeholder) || String(ref.element.action_id);
    const summary = `${u.name}: ${String(ref.element.type)} ${JSON.stringify(label)} in ${where}`;
    return this.deliver('block_actions', `payload=${encodeURIComponent(JSON.stringify(payload))}`, FORM, summary, u.id);
  }

  /**
   * Sends any body to the app, signed with the app's secret unless `headers`
   * bring their own `x-slack-signature`. A `x-slack-request-timestamp` in
   * `headers` is used for the signature (to test stale requests). Nothing is
   * applied to the double's state and no problem is recorded.
   */
  async sendSigned(rawBody: string, contentType: string, headers: Record<string, string> = {}): Promise<InteractionResult> {
    return this.deliver('raw', rawBody, contentType, 'signed request', undefined, headers);
  }

  /** Sends an earlier delivery again, as Slack's retries do (`x-slack-retry-num`). */
  async redeliver(previous: InteractionResult, retryNum = 1, reason = 'http_timeout'): Promise<InteractionResult> {
    return this.sendSigned(previous.rawBody, previous.contentType, { 'x-slack-retry-num': String(retryNum), 'x-slack-retry-reason': reason });
  }

  // ------------------------------------------------------------ Web API side

  private async handleApi(url: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = url.pathname.slice('/api/'.length);
    let args: Obj = Object.fromEntries(url.searchParams);
    let answer: Obj;
    try {
      const raw = await readBody(req);
      const contentType = String(req.headers['content-type'] ?? '');
      if (raw.length > 0) {
        if (contentType.includes('application/json')) {
          let parsed: unknown;
          try {
            parsed = JSON.parse(raw);
          } catch {
            throw new ApiRefusal('invalid_json', `${method}: the body is not valid JSON`);
          }
          if (!isObj(parsed)) throw new ApiRefusal('invalid_json', `${method}: the JSON body is not an object`);
          args = { ...args, ...parsed };
        } else {
          args = { ...args, ...Object.fromEntries(new URLSearchParams(raw)) };
        }
      }
      const auth = str(req.headers.authorization);
      const token = auth?.startsWith('Bearer ') ? auth.slice('Bearer '.length) : str(args.token);
      delete args.token;
      if (!token) throw new ApiRefusal('not_authed', `${method}: called without a token`);
      if (token !== this.botToken) throw new ApiRefusal('invalid_auth', `${method}: called with a token that is not the bot's`);
      const handler = this.methods[method];
      if (!handler) throw new ApiRefusal('unknown_method', `${method}: the double does not know this Web API method`);
      const fault = this.takeFault(method);
      if (fault) return this.answerFault(res, method, args, fault);
      answer = { ok: true, ...handler(this.decodeJsonArgs(method, args)) };
      this.record(method, args, true);
    } catch (e) {
      if (!(e instanceof ApiRefusal)) throw e;
      answer = { ok: false, error: e.code };
      if (e.details.length) {
        answer.errors = e.details;
        answer.response_metadata = { messages: e.details.map((d) => `[ERROR] ${d}`) };
      }
      this.record(method, args, false, e.code);
      if (e.problem) {
        if (e.details.length) for (const d of e.details) this.problem(`${e.problem}: ${d}`);
        else this.problem(e.problem);
      }
    }
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(answer));
  }

  private record(method: string, args: Obj, ok: boolean, error?: string, fault?: ArmedFault): void {
    this.calls.push({ method, args: clone(args), ok, ...(error ? { error } : {}), at: Date.now(), ...(fault ? { status: fault.status, injected: true as const } : {}) });
    this.emit({ kind: 'calls' });
  }

  /** Uses up one firing of the first fault armed for `method`, if any. */
  private takeFault(method: string): ArmedFault | undefined {
    const index = this.faults.findIndex((f) => f.method === method);
    if (index < 0) return undefined;
    const fault = this.faults[index]!;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.faults.splice(index, 1);
    return fault;
  }

  /** Answers an injected fault the way Slack does, and records it (as a failed call, not a problem). */
  private answerFault(res: ServerResponse, method: string, args: Obj, fault: ArmedFault): void {
    if (fault.status === 429) {
      this.record(method, args, false, 'ratelimited', fault);
      res.writeHead(429, { 'content-type': 'application/json; charset=utf-8', 'retry-after': String(fault.retryAfterSeconds) });
      res.end(JSON.stringify({ ok: false, error: 'ratelimited' }));
    } else if (fault.status === 500) {
      this.record(method, args, false, 'internal_error', fault);
      res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify({ ok: false, error: 'internal_error' }));
    } else {
      // Slack's edge answers a 503 itself, in plain text.
      this.record(method, args, false, 'service_unavailable', fault);
      res.writeHead(fault.status, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('Service Unavailable');
    }
  }

  /** Form-encoded calls carry blocks and views as JSON strings. */
  private decodeJsonArgs(method: string, args: Obj): Obj {
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

  private readonly methods: Record<string, (args: Obj) => Obj> = {
    'auth.test': () => ({
      url: 'https://dormouse-sandbox.slack.com/',
      team: 'Dormouse Sandbox',
      user: 'dormouse',
      team_id: this.teamId,
      user_id: BOT_USER_ID,
      bot_id: BOT_ID,
      app_id: APP_ID,
      is_enterprise_install: false,
    }),

    'chat.postMessage': (a) => {
      const ch = this.channelArg('chat.postMessage', a.channel);
      const { text, blocks } = this.messageContent('chat.postMessage', a, true);
      let threadTs = str(a.thread_ts) ?? (typeof a.thread_ts === 'number' ? String(a.thread_ts) : undefined);
      if (threadTs && !this.findMessage(ch.id, threadTs)) {
        this.problem(`chat.postMessage: thread_ts ${threadTs} is not a message in ${ch.kind === 'im' ? 'the DM' : `#${ch.name}`}; Slack posts it as a new message`);
        threadTs = undefined;
      }
      const msg = this.addMessage(ch.id, { user: BOT_USER_ID, text, blocks, threadTs, broadcast: bool(a.reply_broadcast) });
      return { channel: ch.id, ts: msg.ts, message: this.messageJson(msg) };
    },

    'chat.update': (a) => {
      const ch = this.channelArg('chat.update', a.channel);
      const ts = str(a.ts);
      const msg = ts ? this.findMessage(ch.id, ts) : undefined;
      if (!msg) throw new ApiRefusal('message_not_found', `chat.update: no message ${String(a.ts)} in ${ch.kind === 'im' ? 'the DM' : `#${ch.name}`}`);
      if (msg.user !== BOT_USER_ID) throw new ApiRefusal('cant_update_message', `chat.update: message ${msg.ts} was not posted by the bot`);
      const { text, blocks } = this.messageContent('chat.update', a, false);
      if (text === '' && blocks === undefined && a.text === undefined) throw new ApiRefusal('no_text', 'chat.update: needs text or blocks');
      if (a.text !== undefined) msg.text = text;
      if (blocks !== undefined) msg.blocks = blocks;
      msg.edited += 1;
      this.emit({ kind: 'messages', channel: ch.id });
      return { channel: ch.id, ts: msg.ts, text: msg.text, message: this.messageJson(msg) };
    },

    'chat.postEphemeral': (a) => {
      const ch = this.channelArg('chat.postEphemeral', a.channel);
      const userId = str(a.user);
      const u = userId ? this.users.find((x) => x.id === userId) : undefined;
      if (!u) throw new ApiRefusal('user_not_found', `chat.postEphemeral: no user ${JSON.stringify(a.user)}`);
      const { text, blocks } = this.messageContent('chat.postEphemeral', a, true);
      const e = this.addEphemeral({ channel: ch.id, user: u.id, text, blocks, threadTs: str(a.thread_ts), source: 'chat.postEphemeral' });
      return { message_ts: e.ts };
    },

    'chat.delete': (a) => {
      const ch = this.channelArg('chat.delete', a.channel);
      const ts = str(a.ts);
      if (!ts || !this.deleteMessage(ch.id, ts)) throw new ApiRefusal('message_not_found', `chat.delete: no message ${String(a.ts)}`);
      return { channel: ch.id, ts };
    },

    'chat.getPermalink': (a) => {
      const ch = this.channelArg('chat.getPermalink', a.channel);
      const ts = str(a.message_ts);
      if (!ts || !this.findMessage(ch.id, ts)) throw new ApiRefusal('message_not_found', `chat.getPermalink: no message ${String(a.message_ts)}`);
      return { channel: ch.id, permalink: `${this.requireBase()}/#channel=${ch.id}&ts=${ts}` };
    },

    'views.open': (a) => {
      const user = this.useTrigger('views.open', a.trigger_id);
      const view = this.newView('views.open', a.view, 'modal', user, null);
      this.viewStacks.set(user, [view]);
      this.emit({ kind: 'views', user });
      return { view: this.viewJson(view) };
    },

    'views.push': (a) => {
      const user = this.useTrigger('views.push', a.trigger_id);
      const stack = this.viewStacks.get(user);
      const top = stack?.at(-1);
      if (!stack || !top) throw new ApiRefusal('not_found', 'views.push: the person has no open modal to push onto');
      if (stack.length >= MAX_VIEW_STACK) throw new ApiRefusal('push_limit_reached', `views.push: a modal stack holds at most ${MAX_VIEW_STACK} views`);
      const view = this.newView('views.push', a.view, 'modal', user, top);
      stack.push(view);
      this.emit({ kind: 'views', user });
      return { view: this.viewJson(view) };
    },

    'views.update': (a) => {
      const viewId = str(a.view_id);
      const externalId = str(a.external_id);
      if (!viewId && !externalId) throw new ApiRefusal('invalid_arguments', 'views.update: needs view_id or external_id');
      const view = this.allViews().find((v) => (viewId ? v.id === viewId : v.external_id === externalId));
      if (!view) return this.refuseQuietly('not_found');
      const hash = str(a.hash);
      if (hash && hash !== view.hash) return this.refuseQuietly('hash_conflict');
      this.replaceView('views.update', view, a.view);
      this.emit({ kind: view.type === 'home' ? 'home' : 'views', user: view.user });
      return { view: this.viewJson(view) };
    },

    'views.publish': (a) => {
      const userId = str(a.user_id);
      const u = userId ? this.users.find((x) => x.id === userId) : undefined;
      if (!u) throw new ApiRefusal('user_not_found', `views.publish: no user ${JSON.stringify(a.user_id)}`);
      const existing = this.homes.get(u.id);
      const hash = str(a.hash);
      if (existing && hash && hash !== existing.hash) return this.refuseQuietly('hash_conflict');
      if (existing) this.replaceView('views.publish', existing, a.view, 'home');
      else this.homes.set(u.id, this.newView('views.publish', a.view, 'home', u.id, null));
      this.emit({ kind: 'home', user: u.id });
      return { view: this.viewJson(this.homes.get(u.id) as SlackView) };
    },

    'users.info': (a) => {
      const u = typeof a.user === 'string' ? this.findUser(a.user) : undefined;
      if (!u || a.user !== u.id) throw new ApiRefusal('user_not_found', `users.info: no user ${JSON.stringify(a.user)}`);
      return { user: this.userJson(u) };
    },

    'conversations.open': (a) => {
      const ids = (str(a.users) ?? '').split(',').map((s) => s.trim()).filter((s) => s && s !== BOT_USER_ID);
      if (ids.length === 0 && typeof a.channel === 'string') {
        const ch = this.channelArg('conversations.open', a.channel);
        return { channel: { id: ch.id } };
      }
      if (ids.length !== 1) throw new ApiRefusal('not_supported', `conversations.open: the double opens DMs with one person, not ${ids.length}`);
      const u = this.users.find((x) => x.id === ids[0]);
      if (!u) throw new ApiRefusal('user_not_found', `conversations.open: no user ${JSON.stringify(ids[0])}`);
      const id = this.dmChannel(u.id);
      return { no_op: true, already_open: true, channel: bool(a.return_im) ? this.conversationJson(id) : { id } };
    },

    'conversations.info': (a) => {
      const ch = this.channelArg('conversations.info', a.channel);
      return { channel: this.conversationJson(ch.id) };
    },
  };

  /** Answers ok:false without calling it a bug (a stale hash, a modal the person already closed). */
  private refuseQuietly(code: string): never {
    throw new ApiRefusal(code, undefined);
  }

  private channelArg(method: string, value: unknown): ReturnType<SlackDouble['requireChannel']> {
    const ch = typeof value === 'string' ? this.resolveChannel(value) : undefined;
    if (!ch) throw new ApiRefusal('channel_not_found', `${method}: no channel ${JSON.stringify(value)}`);
    return ch;
  }

  private messageContent(method: string, a: Obj, requireContent: boolean): { text: string; blocks: Block[] | undefined } {
    const text = typeof a.text === 'string' ? a.text : a.text === undefined ? '' : String(a.text);
    const blocksArg = a.blocks;
    if (requireContent && !text && (blocksArg === undefined || (Array.isArray(blocksArg) && blocksArg.length === 0)) && a.attachments === undefined) {
      throw new ApiRefusal('no_text', `${method}: needs text or blocks`);
    }
    if (text.length > 40_000) throw new ApiRefusal('msg_too_long', `${method}: text is ${text.length} characters, Slack allows 40000`);
    if (blocksArg === undefined) return { text, blocks: undefined };
    const problems = validateBlocks(blocksArg, 'message');
    if (problems.length) throw new ApiRefusal('invalid_blocks', `${method}: invalid_blocks`, problems);
    return { text, blocks: withIds(blocksArg as unknown[]) };
  }

  private useTrigger(method: string, value: unknown): string {
    const id = str(value);
    const t = id ? this.triggers.get(id) : undefined;
    if (!t) throw new ApiRefusal('invalid_trigger_id', `${method}: trigger_id ${JSON.stringify(value)} was not issued by Slack`);
    if (t.used) throw new ApiRefusal('exchanged_trigger_id', `${method}: trigger_id was already used`);
    if (Date.now() > t.expiresAt) throw new ApiRefusal('expired_trigger_id', `${method}: trigger_id expired (Slack keeps them ${this.triggerTtlMs} ms); open the modal before any slow work`);
    t.used = true;
    return t.user;
  }

  private newView(method: string, raw: unknown, type: 'modal' | 'home', user: string, previous: SlackView | null): SlackView {
    const problems = validateView(raw, type);
    if (problems.length) throw new ApiRefusal('invalid_arguments', `${method}: invalid view`, problems);
    const v = raw as Obj;
    const id = `V${randomId(10).toUpperCase()}`;
    return {
      id,
      hash: this.newHash(),
      type,
      user,
      callback_id: str(v.callback_id) ?? '',
      external_id: str(v.external_id) ?? '',
      private_metadata: str(v.private_metadata) ?? '',
      ...(isObj(v.title) ? { title: clone(v.title) } : {}),
      ...(isObj(v.submit) ? { submit: clone(v.submit) } : {}),
      ...(isObj(v.close) ? { close: clone(v.close) } : {}),
      blocks: withIds(v.blocks as unknown[]),
      notify_on_close: bool(v.notify_on_close),
      clear_on_close: bool(v.clear_on_close),
      root_view_id: previous?.root_view_id ?? id,
      previous_view_id: previous?.id ?? null,
      state: { values: {} },
      errors: {},
    };
  }

  /** views.update / publish / response_action update: new content, same id, new hash; entered values kept where the input is still there. */
  private replaceView(method: string, view: SlackView, raw: unknown, expected: 'modal' | 'home' = view.type): void {
    const problems = validateView(raw, expected);
    if (problems.length) throw new ApiRefusal('invalid_arguments', `${method}: invalid view`, problems);
    const v = raw as Obj;
    view.hash = this.newHash();
    view.callback_id = str(v.callback_id) ?? '';
    view.external_id = str(v.external_id) ?? view.external_id;
    view.private_metadata = str(v.private_metadata) ?? '';
    for (const key of ['title', 'submit', 'close'] as const) {
      const value = v[key];
      if (isObj(value)) view[key] = clone(value);
      else delete view[key];
    }
    view.blocks = withIds(v.blocks as unknown[]);
    view.notify_on_close = bool(v.notify_on_close);
    view.clear_on_close = bool(v.clear_on_close);
    const kept: StateValues = {};
    for (const { block, element } of elementsOf(view.blocks)) {
      const prev = view.state.values[String(block.block_id)]?.[String(element.action_id)];
      if (prev && prev.type === element.type) (kept[String(block.block_id)] ??= {})[String(element.action_id)] = prev;
    }
    view.state = { values: kept };
    view.errors = {};
  }

  private newHash(): string {
    return `${Math.floor(Date.now() / 1000)}.${randomId(8)}`;
  }

  // ------------------------------------------------------------ response_url

  private async handleResponseUrl(id: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    let body: Obj = {};
    try {
      const contentType = String(req.headers['content-type'] ?? '');
      if (contentType.includes('application/json')) {
        const parsed: unknown = JSON.parse(raw);
        if (isObj(parsed)) body = parsed;
      } else {
        const params = Object.fromEntries(new URLSearchParams(raw));
        body = typeof params.payload === 'string' ? (JSON.parse(params.payload) as Obj) : params;
      }
    } catch {
      return this.answerResponseUrl(res, 400, body, 'invalid_payload', 'response_url: the body is not valid JSON');
    }
    const ctx = this.responseUrls.get(id);
    if (!ctx) return this.answerResponseUrl(res, 404, body, 'expired_url', `response_url: /response/${id} was never issued`);
    if (Date.now() - ctx.createdAt > RESPONSE_URL_TTL_MS) return this.answerResponseUrl(res, 404, body, 'expired_url', 'response_url: expired (30 minutes)');
    if (ctx.uses >= RESPONSE_URL_USES) return this.answerResponseUrl(res, 404, body, 'used_url', `response_url: used more than ${RESPONSE_URL_USES} times`);
    const fault = this.takeFault('response_url');
    if (fault) return this.answerFault(res, 'response_url', body, fault);
    ctx.uses += 1;
    try {
      this.applyResponse(ctx, body);
    } catch (e) {
      if (!(e instanceof ApiRefusal)) throw e;
      const problem = e.problem ? (e.details.length ? e.details.map((d) => `${e.problem}: ${d}`) : [e.problem]) : [];
      return this.answerResponseUrl(res, 400, body, e.code, ...problem);
    }
    this.record('response_url', body, true);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ok: true }));
  }

  private answerResponseUrl(res: ServerResponse, status: number, body: Obj, error: string, ...problems: string[]): void {
    this.record('response_url', body, false, error);
    for (const p of problems) this.problem(p);
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ok: false, error }));
  }

  private applyResponse(ctx: ResponseContext, body: Obj): void {
    const source = ctx.source;
    if (bool(body.delete_original)) {
      if (source?.type === 'message') this.deleteMessage(ctx.channel, source.ts);
      if (source?.type === 'ephemeral') this.dismissEphemeral(ctx.user, source.ts);
      return;
    }
    const { text, blocks } = this.messageContent('response_url', body, true);
    if (bool(body.replace_original) && source) {
      if (source.type === 'message') {
        const msg = this.findMessage(ctx.channel, source.ts);
        if (!msg) throw new ApiRefusal('message_not_found', 'response_url: the original message is gone');
        msg.text = text;
        msg.blocks = blocks ?? [];
        msg.edited += 1;
        this.emit({ kind: 'messages', channel: ctx.channel });
      } else {
        const eph = this.ephemeralList.find((e) => e.ts === source.ts && e.user === ctx.user);
        if (!eph) throw new ApiRefusal('message_not_found', 'response_url: the original ephemeral is gone');
        eph.text = text;
        eph.blocks = blocks ?? [];
        this.emit({ kind: 'ephemerals', user: ctx.user });
      }
      return;
    }
    const threadTs = str(body.thread_ts) ?? ctx.threadTs;
    if (body.response_type === 'in_channel') {
      this.addMessage(ctx.channel, { user: BOT_USER_ID, text, blocks: blocks ?? [], threadTs: threadTs && this.findMessage(ctx.channel, threadTs) ? threadTs : undefined });
    } else {
      this.addEphemeral({ channel: ctx.channel, user: ctx.user, text, blocks: blocks ?? [], threadTs, source: 'response_url' });
    }
  }

  // ------------------------------------------------------ applying app answers

  private applyCommandAck(result: InteractionResult, user: string, channel: string, command: string): void {
    if (!result.body.trim()) return;
    const json = result.json;
    const msg: Obj = isObj(json) ? json : { text: result.body };
    if (msg.text === undefined && msg.blocks === undefined) return;
    try {
      const { text, blocks } = this.messageContent(`${command} ack`, msg, false);
      if (msg.response_type === 'in_channel') this.addMessage(channel, { user: BOT_USER_ID, text, blocks: blocks ?? [] });
      else this.addEphemeral({ channel, user, text, blocks: blocks ?? [], source: 'ack' });
    } catch (e) {
      if (!(e instanceof ApiRefusal)) throw e;
      for (const d of e.details.length ? e.details : ['']) this.problem(`${e.problem ?? e.code}${d ? `: ${d}` : ''}`);
      this.slackSays(user, channel, `${command} failed with the error "${e.code}"`);
    }
  }

  private applyViewAnswer(user: string, view: SlackView, result: InteractionResult, summary: string): void {
    const stack = this.viewStacks.get(user) ?? [];
    const answer = isObj(result.json) ? result.json : undefined;
    const action = answer?.response_action;
    if (!result.body.trim() || action === undefined) {
      if (result.body.trim() && !answer) this.problem(`${summary}: the ack body ${JSON.stringify(result.body.slice(0, 200))} is not a response_action; Slack closes the modal`);
      this.popView(user, view);
      return;
    }
    try {
      switch (action) {
        case 'errors': {
          const errors = answer?.errors;
          if (!isObj(errors)) throw new ApiRefusal('invalid_arguments', `${summary}: response_action errors needs an errors object`);
          const inputIds = new Set(view.blocks.filter((b) => b.type === 'input').map((b) => String(b.block_id)));
          const unknown = Object.keys(errors).filter((k) => !inputIds.has(k));
          if (unknown.length) {
            throw new ApiRefusal('invalid_arguments', `${summary}: response_action errors names ${unknown.map((k) => JSON.stringify(k)).join(', ')}, not an input block of this modal (inputs: ${[...inputIds].join(', ')})`);
          }
          view.errors = Object.fromEntries(Object.entries(errors).map(([k, v]) => [k, String(v)]));
          break;
        }
        case 'update':
          this.replaceView(`${summary}: response_action update`, view, answer?.view, 'modal');
          break;
        case 'push': {
          if (stack.length >= MAX_VIEW_STACK) throw new ApiRefusal('push_limit_reached', `${summary}: a modal stack holds at most ${MAX_VIEW_STACK} views`);
          view.errors = {};
          stack.push(this.newView(`${summary}: response_action push`, answer?.view, 'modal', user, view));
          break;
        }
        case 'clear':
          this.viewStacks.delete(user);
          break;
        default:
          throw new ApiRefusal('invalid_arguments', `${summary}: unknown response_action ${JSON.stringify(action)}`);
      }
    } catch (e) {
      if (!(e instanceof ApiRefusal)) throw e;
      for (const d of e.details.length ? e.details : ['']) this.problem(`${e.problem ?? e.code}${d ? `: ${d}` : ''}`);
    }
    this.emit({ kind: 'views', user });
  }

  private popView(user: string, view: SlackView): void {
    const stack = this.viewStacks.get(user) ?? [];
    const i = stack.findIndex((v) => v.id === view.id);
    if (i >= 0) stack.splice(i, 1);
    if (stack.length === 0) this.viewStacks.delete(user);
    this.emit({ kind: 'views', user });
  }

  // ---------------------------------------------------------- sending to app

  private async deliver(
    kind: InteractionKind,
    rawBody: string,
    contentType: string,
    summary: string,
    user: string | undefined,
    extraHeaders: Record<string, string> = {},
  ): Promise<InteractionResult> {
    const target = this.eventsUrl;
    if (!target) throw new Error('SlackDouble has no eventsUrl: pass one to the constructor or call setEventsUrl()');
    const lower = Object.fromEntries(Object.entries(extraHeaders).map(([k, v]) => [k.toLowerCase(), v]));
    const timestamp = lower['x-slack-request-timestamp'] ?? String(Math.floor(Date.now() / 1000));
    const headers: Record<string, string> = {
      'content-type': contentType,
      'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
      ...lower,
      'x-slack-request-timestamp': timestamp,
      'x-slack-signature': lower['x-slack-signature'] ?? slackSignature(this.signingSecret, timestamp, rawBody),
    };
    const started = performance.now();
    const { status, body } = await this.post(target, rawBody, headers);
    const ackMs = Math.round(performance.now() - started);
    let json: unknown;
    if (body.trim().startsWith('{')) {
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
    }
    this.interactions.push({ kind, ...(user ? { user } : {}), summary, status, ackMs, at: Date.now() });
    this.emit({ kind: 'interactions', ...(user ? { user } : {}) });
    if (kind !== 'raw') {
      if (status === 0) this.problem(`${summary}: no answer from the app at ${target} within ${this.appTimeoutMs} ms`);
      else if (status !== 200) this.problem(`${summary}: the app answered HTTP ${status}${status === 404 ? ' (Bolt answers 404 when no listener acked within 3 s)' : ''}`);
      if (status !== 0 && ackMs > ACK_DEADLINE_MS) this.problem(`${summary}: the app took ${ackMs} ms to acknowledge; Slack gives up after ${ACK_DEADLINE_MS} ms`);
    }
    return { kind, status, body, ...(json !== undefined ? { json } : {}), ackMs, rawBody, contentType };
  }

  private post(target: string, rawBody: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
    const url = new URL(target);
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve) => {
      const req = send(url, { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(rawBody)) }, agent: false, timeout: this.appTimeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', () => resolve({ status: 0, body: '' }));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve({ status: 0, body: '' }));
      req.end(rawBody);
    });
  }

  private failureCode(result: InteractionResult): string {
    if (result.status === 0) return 'operation_timeout';
    if (result.status >= 500) return 'http_service_error';
    if (result.status === 404) return 'dispatch_failed';
    return 'http_client_error';
  }

  // -------------------------------------------------------------- bookkeeping

  private emit(change: DoubleChange): void {
    for (const l of [...this.listeners]) {
      try {
        l(change);
      } catch {
        // a listener's failure is its own business
      }
    }
  }

  private problem(text: string): void {
    this.problems.push(text);
    this.emit({ kind: 'problems' });
  }

  private requireBase(): string {
    if (!this.base) throw new Error('SlackDouble has no base URL yet: call listen(), or mount it with startConsole()');
    return this.base;
  }

  private requireChannel(ref: string): SlackChannel & { kind: 'channel' | 'im'; user?: string } {
    const ch = this.resolveChannel(ref);
    if (!ch) throw new Error(`No channel ${JSON.stringify(ref)} (known: ${this.channels.map((c) => `#${c.name}`).join(', ')}, or a user's DM)`);
    return ch;
  }

  private nextTs(): string {
    this.seq += 1;
    return `${Math.floor(Date.now() / 1000)}.${String(this.seq).padStart(6, '0')}`;
  }

  private issueTrigger(user: string): string {
    const id = `${Math.floor(Date.now() / 1000)}.${Math.floor(Math.random() * 1e12)}.${randomBytes(16).toString('hex')}`;
    this.triggers.set(id, { user, expiresAt: Date.now() + this.triggerTtlMs, used: false });
    return id;
  }

  private issueResponseUrl(ctx: Omit<ResponseContext, 'uses' | 'createdAt'>): string {
    const id = `${this.teamId}/${randomBytes(12).toString('hex')}`;
    this.responseUrls.set(id, { ...ctx, uses: 0, createdAt: Date.now() });
    return `${this.requireBase()}/response/${id}`;
  }

  private addMessage(channel: string, m: { user: string; text: string; blocks: Block[] | undefined; threadTs?: string | undefined; broadcast?: boolean }): SlackMessage {
    const msg: SlackMessage = { ts: this.nextTs(), channel, user: m.user, text: m.text, blocks: m.blocks ?? [], replies: [], edited: 0 };
    const list = this.messages.get(channel) ?? [];
    this.messages.set(channel, list);
    const parent = m.threadTs ? this.findMessage(channel, m.threadTs) : undefined;
    if (parent) {
      const root = parent.threadTs ? this.findMessage(channel, parent.threadTs) ?? parent : parent;
      msg.threadTs = root.ts;
      root.replies.push(msg);
      if (m.broadcast) {
        msg.broadcast = true;
        list.push(msg);
      }
    } else {
      list.push(msg);
    }
    this.emit({ kind: 'messages', channel });
    return msg;
  }

  private addEphemeral(e: Omit<EphemeralMessage, 'ts' | 'threadTs' | 'blocks'> & { threadTs?: string | undefined; blocks: Block[] | undefined }): EphemeralMessage {
    const eph: EphemeralMessage = {
      ts: this.nextTs(),
      channel: e.channel,
      user: e.user,
      text: e.text,
      blocks: e.blocks ?? [],
      source: e.source,
      ...(e.threadTs ? { threadTs: e.threadTs } : {}),
      ...(e.fromSlack ? { fromSlack: true } : {}),
    };
    this.ephemeralList.push(eph);
    this.emit({ kind: 'ephemerals', user: e.user, channel: e.channel });
    return eph;
  }

  /** An ephemeral from Slack itself ("/server failed with the error …"). */
  private slackSays(user: string, channel: string, text: string): void {
    this.addEphemeral({ channel, user, text, blocks: [], source: 'slack', fromSlack: true });
  }

  private findMessage(channel: string, ts: string): SlackMessage | undefined {
    for (const m of this.messages.get(channel) ?? []) {
      if (m.ts === ts) return m;
      const reply = m.replies.find((r) => r.ts === ts);
      if (reply) return reply;
    }
    return undefined;
  }

  private deleteMessage(channel: string, ts: string): boolean {
    const list = this.messages.get(channel) ?? [];
    const msg = this.findMessage(channel, ts);
    if (!msg) return false;
    const i = list.indexOf(msg);
    if (i >= 0) list.splice(i, 1);
    for (const m of list) m.replies = m.replies.filter((r) => r.ts !== ts);
    this.emit({ kind: 'messages', channel });
    return true;
  }

  private allViews(): SlackView[] {
    return [...[...this.viewStacks.values()].flat(), ...this.homes.values()];
  }

  private topView(user: string): SlackView | undefined {
    return this.viewStacks.get(user)?.at(-1);
  }

  private findViewById(user: string, viewId: string): SlackView | undefined {
    const home = this.homes.get(user);
    if (home?.id === viewId) return home;
    return (this.viewStacks.get(user) ?? []).find((v) => v.id === viewId);
  }

  private labelMatches(actual: string, wanted: string): boolean {
    return actual.trim() === wanted.trim() || actual.trim().toLowerCase() === wanted.trim().toLowerCase();
  }

  private findInputBlock(view: SlackView, labelOrId: string): Block | undefined {
    const inputs = view.blocks.filter((b) => b.type === 'input' && isObj(b.element));
    return (
      inputs.find((b) => textOf(b.label).trim() === labelOrId.trim()) ??
      inputs.find((b) => b.block_id === labelOrId) ??
      inputs.find((b) => textOf(b.label).trim().toLowerCase() === labelOrId.trim().toLowerCase())
    );
  }

  /** What a person can see, in the order they would look: modal, App Home, ephemerals, messages (newest first). */
  private visibleSurfaces(user: string, channel?: string): { location: ActionLocation; blocks: Block[] }[] {
    const out: { location: ActionLocation; blocks: Block[] }[] = [];
    const top = this.topView(user);
    if (top) out.push({ location: { type: 'view', viewId: top.id }, blocks: top.blocks });
    const home = this.homes.get(user);
    if (home && !channel) out.push({ location: { type: 'view', viewId: home.id }, blocks: home.blocks });
    const channelId = channel ? this.requireChannel(channel).id : undefined;
    const ephemerals = this.ephemeralList.filter((e) => e.user === user && (!channelId || e.channel === channelId));
    for (const e of [...ephemerals].reverse()) out.push({ location: { type: 'ephemeral', ts: e.ts }, blocks: e.blocks });
    const dm = this.dmChannel(user);
    const messages: SlackMessage[] = [];
    for (const [ch, list] of this.messages) {
      if (channelId ? ch !== channelId : ch.startsWith('D') && ch !== dm) continue;
      for (const m of list) {
        if (!m.broadcast) messages.push(m);
        messages.push(...m.replies);
      }
    }
    messages.sort((a, b) => compareTs(b.ts, a.ts));
    for (const m of messages) out.push({ location: { type: 'message', channel: m.channel, ts: m.ts }, blocks: m.blocks });
    return out;
  }

  private findVisible(user: string, channel: string | undefined, match: (ref: ElementRef) => boolean): { location: ActionLocation; ref: ElementRef } | undefined {
    for (const surface of this.visibleSurfaces(user, channel)) {
      const ref = elementsOf(surface.blocks).find(match);
      if (ref) return { location: surface.location, ref };
    }
    return undefined;
  }

  private visibleButtons(user: string, channel?: string): string[] {
    const labels = new Set<string>();
    for (const s of this.visibleSurfaces(user, channel)) {
      for (const r of elementsOf(s.blocks)) if (r.element.type === 'button') labels.add(textOf(r.element.text));
    }
    return [...labels];
  }

  private findOption(element: Obj, wanted: string, where: string): Obj {
    const options = optionsOf(element);
    const o = options.find((x) => x.value === wanted) ?? options.find((x) => this.labelMatches(textOf(x.text), wanted));
    if (!o) throw new Error(`No option ${JSON.stringify(wanted)} in ${where} (options: ${options.map((x) => JSON.stringify(textOf(x.text))).join(', ')})`);
    return clone(o);
  }

  /** The `actions[0]` of a block_actions payload for this element. */
  private actionFor(ref: ElementRef, selected: string | string[] | undefined): Obj {
    const el = ref.element;
    const type = String(el.type);
    const where = `${type} ${String(el.action_id)}`;
    const picks = selected === undefined ? [] : Array.isArray(selected) ? selected : [selected];
    const first = picks[0];
    const action: Obj = { type, action_id: el.action_id, block_id: ref.block.block_id, action_ts: (Date.now() / 1000).toFixed(6) };
    switch (type) {
      case 'button':
      case 'workflow_button':
        action.text = { type: 'plain_text', text: textOf(el.text), emoji: true };
        if (el.value !== undefined) action.value = el.value;
        if (el.style !== undefined) action.style = el.style;
        if (el.url !== undefined) action.url = el.url;
        break;
      case 'static_select':
      case 'external_select':
      case 'radio_buttons':
      case 'overflow':
        if (first === undefined) throw new Error(`Pick an option for ${where}`);
        action.selected_option = this.findOption(el, first, where);
        if (el.placeholder) action.placeholder = el.placeholder;
        break;
      case 'multi_static_select':
      case 'checkboxes':
        action.selected_options = picks.map((p) => this.findOption(el, p, where));
        break;
      case 'users_select':
        action.selected_user = first ?? null;
        break;
      case 'multi_users_select':
        action.selected_users = picks;
        break;
      case 'conversations_select':
        action.selected_conversation = first ?? null;
        break;
      case 'multi_conversations_select':
        action.selected_conversations = picks;
        break;
      case 'channels_select':
        action.selected_channel = first ?? null;
        break;
      case 'multi_channels_select':
        action.selected_channels = picks;
        break;
      case 'datepicker':
        action.selected_date = first ?? null;
        break;
      case 'timepicker':
        action.selected_time = first ?? null;
        break;
      default:
        action.value = first ?? null;
        break;
    }
    return action;
  }

  /** What a select / picker action leaves in `view.state` (buttons and overflow menus leave nothing). */
  private stateValueFromAction(element: Obj, action: Obj): StateValue | undefined {
    if (element.type === 'button' || element.type === 'overflow' || element.type === 'workflow_button') return undefined;
    const value: StateValue = { type: String(action.type) };
    for (const [k, v] of Object.entries(action)) {
      if (k.startsWith('selected_') || k === 'value') value[k] = v;
    }
    return value;
  }

  /** Converts what a person typed or picked into Slack's state value for the element. */
  private toStateValue(element: Obj, picks: (string | null)[], where: string): StateValue {
    const type = String(element.type);
    const first = picks[0] ?? null;
    const given = picks.filter((p): p is string => p !== null && p !== '');
    switch (type) {
      case 'static_select':
      case 'external_select':
      case 'radio_buttons':
        return { type, selected_option: first ? this.findOption(element, first, where) : null };
      case 'multi_static_select':
      case 'multi_external_select':
      case 'checkboxes':
        return { type, selected_options: given.map((p) => this.findOption(element, p, where)) };
      case 'users_select':
        return { type, selected_user: first || null };
      case 'multi_users_select':
        return { type, selected_users: given };
      case 'conversations_select':
        return { type, selected_conversation: first || null };
      case 'multi_conversations_select':
        return { type, selected_conversations: given };
      case 'channels_select':
        return { type, selected_channel: first || null };
      case 'multi_channels_select':
        return { type, selected_channels: given };
      case 'datepicker':
        return { type, selected_date: first || null };
      case 'timepicker':
        return { type, selected_time: first || null };
      case 'datetimepicker':
        return { type, selected_date_time: first ? Number(first) : null };
      case 'rich_text_input':
        return {
          type,
          rich_text_value: { type: 'rich_text', elements: first ? [{ type: 'rich_text_section', elements: [{ type: 'text', text: first }] }] : [] },
        };
      case 'file_input':
        return { type, files: [] };
      default:
        return { type, value: first === '' ? null : first };
    }
  }

  /** The value Slack reports for an input nobody touched: its initial value, or empty. */
  private initialStateValue(element: Obj): StateValue {
    const type = String(element.type);
    const initialOptions = Array.isArray(element.initial_options) ? (element.initial_options as unknown[]) : [];
    switch (type) {
      case 'static_select':
      case 'external_select':
      case 'radio_buttons':
        return { type, selected_option: isObj(element.initial_option) ? clone(element.initial_option) : null };
      case 'multi_static_select':
      case 'multi_external_select':
      case 'checkboxes':
        return { type, selected_options: clone(initialOptions) };
      case 'users_select':
        return { type, selected_user: str(element.initial_user) ?? null };
      case 'multi_users_select':
        return { type, selected_users: clone(Array.isArray(element.initial_users) ? element.initial_users : []) };
      case 'conversations_select':
        return { type, selected_conversation: str(element.initial_conversation) ?? null };
      case 'multi_conversations_select':
        return { type, selected_conversations: clone(Array.isArray(element.initial_conversations) ? element.initial_conversations : []) };
      case 'channels_select':
        return { type, selected_channel: str(element.initial_channel) ?? null };
      case 'multi_channels_select':
        return { type, selected_channels: clone(Array.isArray(element.initial_channels) ? element.initial_channels : []) };
      case 'datepicker':
        return { type, selected_date: str(element.initial_date) ?? null };
      case 'timepicker':
        return { type, selected_time: str(element.initial_time) ?? null };
      case 'datetimepicker':
        return { type, selected_date_time: typeof element.initial_date_time === 'number' ? element.initial_date_time : null };
      case 'rich_text_input':
        return { type, rich_text_value: isObj(element.initial_value) ? clone(element.initial_value) : { type: 'rich_text', elements: [] } };
      case 'file_input':
        return { type, files: [] };
      default: {
        const initial = element.initial_value;
        return { type, value: initial === undefined || initial === null ? null : String(initial) };
      }
    }
  }

  private setStateValue(view: SlackView, blockId: string, actionId: string, value: StateValue): void {
    (view.state.values[blockId] ??= {})[actionId] = value;
  }

  private mergeRaw(view: SlackView, raw: RawInputValues): void {
    for (const [blockId, byAction] of Object.entries(raw)) {
      for (const [actionId, value] of Object.entries(byAction)) {
        const ref = elementsOf(view.blocks).find((r) => r.block.block_id === blockId && r.element.action_id === actionId);
        if (!ref || ref.element.type === 'button' || ref.element.type === 'overflow') continue;
        const picks = value === null ? [] : Array.isArray(value) ? value : [value];
        this.setStateValue(view, blockId, actionId, this.toStateValue(ref.element, picks, `${textOf(ref.block.label) || blockId}`));
      }
    }
  }

  /** `view.state.values` as Slack sends it: every input block, entered or initial, plus touched stateful elements. */
  private submissionState(view: SlackView): { values: StateValues } {
    const values: StateValues = clone(view.state.values);
    for (const block of view.blocks) {
      if (block.type !== 'input' || !isObj(block.element)) continue;
      const blockId = String(block.block_id);
      const actionId = String(block.element.action_id);
      if (!values[blockId]?.[actionId]) (values[blockId] ??= {})[actionId] = this.initialStateValue(block.element);
    }
    return { values };
  }

  /** What Slack's own client refuses before sending: empty required inputs, numbers out of bounds, text too short or long. */
  private clientValidation(view: SlackView, state: { values: StateValues }): Record<string, string> {
    const errors: Record<string, string> = {};
    for (const block of view.blocks) {
      if (block.type !== 'input' || !isObj(block.element)) continue;
      const blockId = String(block.block_id);
      const el = block.element;
      const v = state.values[blockId]?.[String(el.action_id)];
      const empty =
        !v ||
        (('value' in v && (v.value === null || v.value === '')) ||
          ('selected_option' in v && v.selected_option === null) ||
          ('selected_options' in v && Array.isArray(v.selected_options) && v.selected_options.length === 0) ||
          ('selected_user' in v && !v.selected_user) ||
          ('selected_conversation' in v && !v.selected_conversation) ||
          ('selected_channel' in v && !v.selected_channel) ||
          ('selected_date' in v && !v.selected_date) ||
          ('selected_time' in v && !v.selected_time));
      if (empty) {
        if (!block.optional) errors[blockId] = 'Please complete this required field.';
        continue;
      }
      const value = str(v.value);
      if (el.type === 'number_input' && value !== undefined) {
        const n = Number(value);
        if (value.trim() === '' || Number.isNaN(n)) errors[blockId] = 'Please enter a number.';
        else if (!el.is_decimal_allowed && !Number.isInteger(n)) errors[blockId] = 'Please enter a whole number.';
        else if (el.min_value !== undefined && n < Number(el.min_value)) errors[blockId] = `Please enter a number ${String(el.min_value)} or higher.`;
        else if (el.max_value !== undefined && n > Number(el.max_value)) errors[blockId] = `Please enter a number ${String(el.max_value)} or lower.`;
      }
      if (el.type === 'plain_text_input' && value !== undefined) {
        if (typeof el.min_length === 'number' && value.length < el.min_length) errors[blockId] = `Please enter at least ${el.min_length} characters.`;
        if (typeof el.max_length === 'number' && value.length > el.max_length) errors[blockId] = `Please enter at most ${el.max_length} characters.`;
      }
    }
    return errors;
  }

  // ----------------------------------------------------------- JSON builders

  private userRef(u: SlackUser): Obj {
    return { id: u.id, username: u.name, name: u.name, team_id: this.teamId };
  }

  private userJson(u: SlackUser): Obj {
    return {
      id: u.id,
      team_id: this.teamId,
      name: u.name,
      real_name: u.realName ?? u.name,
      is_bot: u.isBot ?? false,
      is_admin: u.isAdmin ?? false,
      deleted: false,
      tz: 'Europe/London',
      profile: { real_name: u.realName ?? u.name, display_name: u.name, email: `${u.name}@sandbox.invalid`, title: u.role ?? '' },
    };
  }

  private conversationJson(id: string): Obj {
    const ch = this.resolveChannel(id);
    if (!ch) return { id };
    if (ch.kind === 'im') return { id: ch.id, is_im: true, is_channel: false, is_private: true, user: ch.user, is_open: true, created: 0 };
    return { id: ch.id, name: ch.name, is_channel: true, is_im: false, is_private: false, is_member: true, is_archived: false, created: 0 };
  }

  private messageJson(m: SlackMessage): Obj {
    return {
      type: 'message',
      ...(m.user === BOT_USER_ID ? { bot_id: BOT_ID, app_id: APP_ID } : {}),
      user: m.user,
      text: m.text,
      blocks: clone(m.blocks),
      ts: m.ts,
      team: this.teamId,
      ...(m.threadTs ? { thread_ts: m.threadTs } : {}),
      ...(m.replies.length ? { reply_count: m.replies.length } : {}),
    };
  }

  private viewJson(v: SlackView, state: { values: StateValues } = v.state): Obj {
    return {
      id: v.id,
      team_id: this.teamId,
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
      app_installed_team_id: this.teamId,
      bot_id: BOT_ID,
    };
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_BODY) throw new ApiRefusal('request_too_large', 'a request body over 5 MB');
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}
