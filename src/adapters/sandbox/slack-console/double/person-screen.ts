/**
 * What a person has on screen, in the order they would look for something
 * to click: their open modal, their App Home, their ephemerals, then
 * messages and thread replies (newest first). Tests find buttons and selects
 * by label here, as a person would.
 */
import type { ActionLocation, Block, SlackMessage } from '../slack-double.types.js';
import { elementsOf, textOf, type ElementRef } from './blocks.js';
import { compareTs } from './util.js';
import type { Conversations } from './conversations.js';
import type { Views } from './views.js';
import type { Workspace } from './workspace.js';

export interface Surface {
  location: ActionLocation;
  blocks: Block[];
}

export class PersonScreen {
  constructor(
    private readonly ws: Workspace,
    private readonly conversations: Conversations,
    private readonly views: Views,
  ) {}

  /** The first element that matches, searching what the person sees in order (within one channel when given). */
  find(user: string, channel: string | undefined, match: (ref: ElementRef) => boolean): { location: ActionLocation; ref: ElementRef } | undefined {
    for (const surface of this.surfaces(user, channel)) {
      const ref = elementsOf(surface.blocks).find(match);
      if (ref) return { location: surface.location, ref };
    }
    return undefined;
  }

  /** The labels of every button the person sees, for an error that says what is there. */
  buttonLabels(user: string, channel?: string): string[] {
    const labels = new Set<string>();
    for (const s of this.surfaces(user, channel)) {
      for (const r of elementsOf(s.blocks)) if (r.element.type === 'button') labels.add(textOf(r.element.text));
    }
    return [...labels];
  }

  private surfaces(user: string, channel?: string): Surface[] {
    const out: Surface[] = [];
    const top = this.views.top(user);
    if (top) out.push({ location: { type: 'view', viewId: top.id }, blocks: top.blocks });
    const home = this.views.home(user);
    if (home && !channel) out.push({ location: { type: 'view', viewId: home.id }, blocks: home.blocks });
    const channelId = channel ? this.ws.requireChannel(channel).id : undefined;
    const ephemerals = this.conversations.ephemeralsOf(user).filter((e) => !channelId || e.channel === channelId);
    for (const e of [...ephemerals].reverse()) out.push({ location: { type: 'ephemeral', ts: e.ts }, blocks: e.blocks });
    for (const m of this.messagesNewestFirst(user, channelId)) out.push({ location: { type: 'message', channel: m.channel, ts: m.ts }, blocks: m.blocks });
    return out;
  }

  /** Messages and replies in the channel, or in every channel and the person's own DM. */
  private messagesNewestFirst(user: string, channelId: string | undefined): SlackMessage[] {
    const dm = this.ws.dmChannel(user);
    const messages: SlackMessage[] = [];
    for (const [ch, list] of this.conversations.channelsWithMessages()) {
      if (channelId ? ch !== channelId : ch.startsWith('D') && ch !== dm) continue;
      for (const m of list) {
        if (!m.broadcast) messages.push(m);
        messages.push(...m.replies);
      }
    }
    return messages.sort((a, b) => compareTs(b.ts, a.ts));
  }
}
