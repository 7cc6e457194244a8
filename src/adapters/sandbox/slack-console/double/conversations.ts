/**
 * Messages and threads, and ephemerals: what the bot (or a person) posted in
 * each channel and DM, the replies under each message, and the messages only
 * one person sees. The only place that changes them; every change is on the
 * workspace's change feed (which the console and the data file follow).
 *
 * Objects handed out here are the live ones: the facade clones what leaves
 * the double.
 */
import type { Block, EphemeralMessage, SlackMessage } from '../slack-double.types.js';
import type { Workspace } from './workspace.js';

/** Channels' messages as kept in the data file: channel id → top-level messages, replies inside. */
export type ChannelMessages = Record<string, SlackMessage[]>;

export class Conversations {
  private readonly messages = new Map<string, SlackMessage[]>();
  private ephemeralList: EphemeralMessage[] = [];

  constructor(private readonly ws: Workspace) {}

  // ------------------------------------------------------------- messages

  /** Top-level messages of a channel (by id), oldest first. */
  topLevel(channel: string): SlackMessage[] {
    return this.messages.get(channel) ?? [];
  }

  /** Every channel with messages, in the order they were first posted to. */
  channelsWithMessages(): [string, SlackMessage[]][] {
    return [...this.messages];
  }

  /** A message (top-level or reply) by its ts. */
  find(channel: string, ts: string): SlackMessage | undefined {
    for (const m of this.messages.get(channel) ?? []) {
      if (m.ts === ts) return m;
      const reply = m.replies.find((r) => r.ts === ts);
      if (reply) return reply;
    }
    return undefined;
  }

  /** Posts a message; with `threadTs` a reply under that thread's root (and in the channel too when broadcast). */
  add(
    channel: string,
    m: { user: string; text: string; blocks: Block[] | undefined; threadTs?: string | undefined; broadcast?: boolean; metadata?: SlackMessage['metadata'] },
  ): SlackMessage {
    const msg: SlackMessage = { ts: this.ws.nextTs(), channel, user: m.user, text: m.text, blocks: m.blocks ?? [], replies: [], edited: 0, ...(m.metadata ? { metadata: m.metadata } : {}) };
    const list = this.messages.get(channel) ?? [];
    this.messages.set(channel, list);
    const parent = m.threadTs ? this.find(channel, m.threadTs) : undefined;
    if (parent) {
      const root = parent.threadTs ? this.find(channel, parent.threadTs) ?? parent : parent;
      msg.threadTs = root.ts;
      root.replies.push(msg);
      if (m.broadcast) {
        msg.broadcast = true;
        list.push(msg);
      }
    } else {
      list.push(msg);
    }
    this.ws.emit({ kind: 'messages', channel });
    return msg;
  }

  /** chat.update or a response_url replace: new content, same ts, one more edit. */
  edit(channel: string, msg: SlackMessage, changes: { text?: string; blocks?: Block[] }): void {
    if (changes.text !== undefined) msg.text = changes.text;
    if (changes.blocks !== undefined) msg.blocks = changes.blocks;
    msg.edited += 1;
    this.ws.emit({ kind: 'messages', channel });
  }

  delete(channel: string, ts: string): boolean {
    const list = this.messages.get(channel) ?? [];
    const msg = this.find(channel, ts);
    if (!msg) return false;
    const i = list.indexOf(msg);
    if (i >= 0) list.splice(i, 1);
    for (const m of list) m.replies = m.replies.filter((r) => r.ts !== ts);
    this.ws.emit({ kind: 'messages', channel });
    return true;
  }

  // ------------------------------------------------------------ ephemerals

  /** Ephemerals one person sees (by id), oldest first. */
  ephemeralsOf(user: string): EphemeralMessage[] {
    return this.ephemeralList.filter((e) => e.user === user);
  }

  findEphemeral(user: string, ts: string): EphemeralMessage | undefined {
    return this.ephemeralList.find((e) => e.ts === ts && e.user === user);
  }

  addEphemeral(e: Omit<EphemeralMessage, 'ts' | 'threadTs' | 'blocks'> & { threadTs?: string | undefined; blocks: Block[] | undefined }): EphemeralMessage {
    const eph: EphemeralMessage = {
      ts: this.ws.nextTs(),
      channel: e.channel,
      user: e.user,
      text: e.text,
      blocks: e.blocks ?? [],
      source: e.source,
      ...(e.threadTs ? { threadTs: e.threadTs } : {}),
      ...(e.fromSlack ? { fromSlack: true } : {}),
    };
    this.ephemeralList.push(eph);
    this.ws.emit({ kind: 'ephemerals', user: e.user, channel: e.channel });
    return eph;
  }

  /** An ephemeral from Slack itself ("/server failed with the error …"). */
  slackSays(user: string, channel: string, text: string): void {
    this.addEphemeral({ channel, user, text, blocks: [], source: 'slack', fromSlack: true });
  }

  editEphemeral(eph: EphemeralMessage, content: { text: string; blocks: Block[] }): void {
    eph.text = content.text;
    eph.blocks = content.blocks;
    this.ws.emit({ kind: 'ephemerals', user: eph.user });
  }

  dismissEphemeral(user: string, ts: string): void {
    this.ephemeralList = this.ephemeralList.filter((e) => !(e.user === user && e.ts === ts));
    this.ws.emit({ kind: 'ephemerals', user });
  }

  /** Every ephemeral of one person goes (their Slack client reloaded). */
  dropEphemerals(user: string): void {
    const before = this.ephemeralList.length;
    this.ephemeralList = this.ephemeralList.filter((e) => e.user !== user);
    if (this.ephemeralList.length !== before) this.ws.emit({ kind: 'ephemerals', user });
  }

  // -------------------------------------------------------- whole contents

  clear(): void {
    this.messages.clear();
    this.ephemeralList = [];
  }

  /** Channels' messages and threads, for the data file (ephemerals are not kept: Slack drops them on reload). */
  snapshot(): ChannelMessages {
    return Object.fromEntries(this.messages);
  }

  /** Puts back what a data file kept (before anything else was posted). */
  restore(saved: ChannelMessages): void {
    this.messages.clear();
    for (const [channel, list] of Object.entries(saved)) this.messages.set(channel, list);
  }
}
