/**
 * The Slack workspace the double pretends to be, and what every part of it
 * shares: its people and channels, the record of Web API calls, problems and
 * deliveries, the change feed the console listens to, trigger ids, message
 * timestamps, and the base URL it is served on.
 */
import { randomBytes } from 'node:crypto';
import type { ApiCall, DoubleChange, InteractionRecord, SlackChannel, SlackUser } from '../slack-double.types.js';
import { ApiRefusal, clone, str, type Obj } from './util.js';

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
  /**
   * A folder where channels' messages and threads are kept (JSON), so they
   * survive a restart of the sandbox. Without it, everything lives in memory.
   * Modals and ephemerals are never kept: Slack does not keep them either.
   */
  dataDir?: string;
}

export const BOT_USER_ID = 'U0BOT';
export const BOT_ID = 'B0BOT';
export const APP_ID = 'A0DORMOUSE';
export const BOT_NAME = 'Dormouse';

/** Three people in three time zones, so schedules read in each owner's zone can be seen side by side. */
export const DEFAULT_USERS: readonly SlackUser[] = [
  { id: 'U0DEV', name: 'dana', realName: 'Dana Developer', role: 'developer', tz: 'Europe/Paris' },
  { id: 'U0LEAD', name: 'lee', realName: 'Lee Lead', role: 'team lead', tz: 'America/New_York' },
  { id: 'U0OPS', name: 'omar', realName: 'Omar Ops', role: 'ops', isAdmin: true, tz: 'Asia/Tokyo' },
];

/** User groups (Slack's subteams): a team, and the people who approve for it. */
export interface SlackUserGroup {
  id: string;
  handle: string;
  users: readonly string[];
}

export const DEFAULT_USER_GROUPS: readonly SlackUserGroup[] = [
  { id: 'S0PLATFORM', handle: 'platform', users: ['U0DEV', 'U0LEAD'] },
  { id: 'S0LEADS', handle: 'platform-leads', users: ['U0LEAD'] },
];

export const DEFAULT_CHANNELS: readonly SlackChannel[] = [
  { id: 'C0GENERAL', name: 'general' },
  { id: 'C0OPS', name: 'ops' },
];

/** Slack acks within 3 s or the person sees an error. */
export const ACK_DEADLINE_MS = 3000;

/** A channel as found by id, name or a person's DM. */
export type ResolvedChannel = SlackChannel & { kind: 'channel' | 'im'; user?: string };

export class Workspace {
  /** Every Web API call (and response_url post, as method `response_url`), in order. */
  readonly calls: ApiCall[] = [];
  /** Everything Slack would refuse or that shows a bug in the bot. */
  readonly problems: string[] = [];
  /** Every request sent to the app, with how long its ack took. */
  readonly interactions: InteractionRecord[] = [];
  readonly users: readonly SlackUser[];
  readonly channels: readonly SlackChannel[];
  readonly userGroups: readonly SlackUserGroup[] = DEFAULT_USER_GROUPS;
  readonly teamId: string;
  readonly signingSecret: string;
  readonly botToken: string;
  readonly triggerTtlMs: number;
  readonly appTimeoutMs: number;
  eventsUrl: string | undefined;
  /** The last sequence number in a message ts; kept with the messages so a restart never reuses a ts. */
  seq = 0;

  private base: string | undefined;
  private readonly listeners = new Set<(change: DoubleChange) => void>();
  private readonly triggers = new Map<string, { user: string; expiresAt: number; used: boolean }>();

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

  // ------------------------------------------------------------ change feed

  subscribe(listener: (change: DoubleChange) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  emit(change: DoubleChange): void {
    for (const l of [...this.listeners]) {
      try {
        l(change);
      } catch {
        // a listener's failure is its own business
      }
    }
  }

  problem(text: string): void {
    this.problems.push(text);
    this.emit({ kind: 'problems' });
  }

  /** Records a Web API call (or response_url post); `injectedStatus` marks a fault a test asked for. */
  record(method: string, args: Obj, ok: boolean, error?: string, injectedStatus?: number): void {
    this.calls.push({ method, args: clone(args), ok, ...(error ? { error } : {}), at: Date.now(), ...(injectedStatus ? { status: injectedStatus, injected: true as const } : {}) });
    this.emit({ kind: 'calls' });
  }

  /** Forgets calls, problems, deliveries and trigger ids. */
  forgetHistory(): void {
    this.calls.length = 0;
    this.problems.length = 0;
    this.interactions.length = 0;
    this.triggers.clear();
  }

  // ------------------------------------------------------------- base URL

  get baseUrl(): string | undefined {
    return this.base;
  }

  setBaseUrl(url: string): void {
    this.base = url.replace(/\/+$/, '');
  }

  requireBase(): string {
    if (!this.base) throw new Error('SlackDouble has no base URL yet: call listen(), or mount it with startConsole()');
    return this.base;
  }

  // ------------------------------------------------------- people, channels

  /** Finds a person by id or handle, or throws naming who exists. */
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

  /** The DM channel id between a person and the bot. */
  dmChannel(user: string): string {
    return `D${this.user(user).id.replace(/^U/, '')}`;
  }

  /** A channel by id or name, a person's DM by its D id or the person's id. */
  resolveChannel(ref: string): ResolvedChannel | undefined {
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

  requireChannel(ref: string): ResolvedChannel {
    const ch = this.resolveChannel(ref);
    if (!ch) throw new Error(`No channel ${JSON.stringify(ref)} (known: ${this.channels.map((c) => `#${c.name}`).join(', ')}, or a user's DM)`);
    return ch;
  }

  /** How a channel is named in a problem line: `#general`, or `the DM`. */
  where(ch: ResolvedChannel): string {
    return ch.kind === 'im' ? 'the DM' : `#${ch.name}`;
  }

  // ------------------------------------------------------ ids Slack issues

  nextTs(): string {
    this.seq += 1;
    return `${Math.floor(Date.now() / 1000)}.${String(this.seq).padStart(6, '0')}`;
  }

  issueTrigger(user: string): string {
    const id = `${Math.floor(Date.now() / 1000)}.${Math.floor(Math.random() * 1e12)}.${randomBytes(16).toString('hex')}`;
    this.triggers.set(id, { user, expiresAt: Date.now() + this.triggerTtlMs, used: false });
    return id;
  }

  /** Uses up a trigger_id for views.open / views.push; resolves with the person it was issued for. */
  useTrigger(method: string, value: unknown): string {
    const id = str(value);
    const t = id ? this.triggers.get(id) : undefined;
    if (!t) throw new ApiRefusal('invalid_trigger_id', `${method}: trigger_id ${JSON.stringify(value)} was not issued by Slack`);
    if (t.used) throw new ApiRefusal('exchanged_trigger_id', `${method}: trigger_id was already used`);
    if (Date.now() > t.expiresAt) throw new ApiRefusal('expired_trigger_id', `${method}: trigger_id expired (Slack keeps them ${this.triggerTtlMs} ms); open the modal before any slow work`);
    t.used = true;
    return t.user;
  }
}
