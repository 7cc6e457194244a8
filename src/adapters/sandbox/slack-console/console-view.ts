/**
 * What one person sees in the console, as JSON with HTML fragments rendered
 * on the server: the sidebar, the open conversation (messages and their own
 * ephemerals), an open thread, their modal, their App Home, and the
 * double's problems. The page only places these fragments.
 */
import { BOT_USER_ID, BOT_NAME, type SlackDouble } from './slack-double.js';
import { escapeHtml, renderBlocks, renderMrkdwn, renderPlain, type RenderContext } from './block-kit.render.js';
import type { EphemeralMessage, SlackMessage, SlackView } from './slack-double.types.js';

export interface ConsoleViewQuery {
  user?: string;
  channel?: string;
  thread?: string;
  /** For the app's conversation: `home` or `messages`. */
  tab?: string;
}

export interface ConsoleViewState {
  version: number;
  me: { id: string; name: string; role: string };
  users: { id: string; name: string; realName: string; role: string }[];
  sidebar: { id: string; label: string; kind: 'channel' | 'app' }[];
  channel: { id: string; label: string; kind: 'channel' | 'app'; tab: 'home' | 'messages' | null };
  timeline: string;
  thread: { ts: string; html: string } | null;
  modal: { id: string; key: string; html: string } | null;
  home: { id: string; key: string; html: string } | null;
  problems: string[];
  lastInteraction: { summary: string; status: number; ackMs: number } | null;
}

const AVATAR_COLOURS = ['av-a', 'av-b', 'av-c', 'av-d', 'av-e'];

function renderContext(double: SlackDouble, view?: SlackView): RenderContext {
  return {
    userName: (id) => (id === BOT_USER_ID ? BOT_NAME.toLowerCase() : double.users.find((u) => u.id === id)?.name),
    channelName: (id) => double.channels.find((c) => c.id === id)?.name,
    users: double.users,
    channels: double.channels,
    ...(view ? { values: view.state.values, errors: view.errors } : {}),
  };
}

function location(loc: object): string {
  return ` data-location="${escapeHtml(JSON.stringify(loc))}"`;
}

function body(text: string, blocks: readonly unknown[], ctx: RenderContext): string {
  return blocks.length ? renderBlocks(blocks as never, ctx) : `<div class="msg-text">${renderMrkdwn(text, ctx)}</div>`;
}

function author(double: SlackDouble, userId: string): { name: string; avatar: string; app: boolean } {
  if (userId === BOT_USER_ID) return { name: BOT_NAME, avatar: '<div class="avatar avatar-bot" aria-hidden="true">D</div>', app: true };
  const i = double.users.findIndex((u) => u.id === userId);
  const u = double.users[i];
  const name = u?.name ?? userId;
  return { name, avatar: `<div class="avatar ${AVATAR_COLOURS[Math.max(i, 0) % AVATAR_COLOURS.length] ?? ''}" aria-hidden="true">${escapeHtml(name.slice(0, 1).toUpperCase())}</div>`, app: false };
}

function renderMessage(double: SlackDouble, m: SlackMessage, ctx: RenderContext, inThread: boolean): string {
  const a = author(double, m.user);
  const edited = m.edited > 0 ? ' <span class="edited" data-testid="edited">(edited)</span>' : '';
  const replies =
    !inThread && m.replies.length > 0 && !m.threadTs
      ? `<button type="button" class="thread-link" data-testid="thread-link" data-thread="${escapeHtml(m.ts)}">${m.replies.length} ${m.replies.length === 1 ? 'reply' : 'replies'}</button>`
      : '';
  const broadcast = m.broadcast && !inThread ? `<div class="msg-broadcast">replied to a thread</div>` : '';
  return `<article class="msg" data-testid="message" data-ts="${escapeHtml(m.ts)}" data-author="${escapeHtml(a.name)}"${location({ type: 'message', channel: m.channel, ts: m.ts })}>
${a.avatar}<div class="msg-main"><div class="msg-head"><span class="msg-author">${escapeHtml(a.name)}</span>${a.app ? '<span class="app-badge">APP</span>' : ''}<time data-ts="${escapeHtml(m.ts)}"></time>${edited}</div>
${broadcast}<div class="msg-content" data-testid="message-content">${body(m.text, m.blocks, ctx)}</div>${replies}</div></article>`;
}

function renderEphemeral(e: EphemeralMessage, ctx: RenderContext): string {
  const name = e.fromSlack ? 'Slackbot' : BOT_NAME;
  const avatar = e.fromSlack ? '<div class="avatar avatar-slackbot" aria-hidden="true">✱</div>' : '<div class="avatar avatar-bot" aria-hidden="true">D</div>';
  return `<article class="msg ephemeral" data-testid="ephemeral" data-ts="${escapeHtml(e.ts)}" data-author="${escapeHtml(name)}"${location({ type: 'ephemeral', ts: e.ts })}>
${avatar}<div class="msg-main"><div class="msg-head"><span class="msg-author">${escapeHtml(name)}</span>${e.fromSlack ? '' : '<span class="app-badge">APP</span>'}<time data-ts="${escapeHtml(e.ts)}"></time></div>
<div class="msg-content" data-testid="message-content">${body(e.text, e.blocks, ctx)}</div>
<div class="only-you">Only visible to you <button type="button" class="link-button" data-dismiss="${escapeHtml(e.ts)}">Dismiss</button></div></div></article>`;
}

function tsKey(ts: string): [number, number] {
  const [a, b] = ts.split('.');
  return [Number(a), Number(b)];
}
function byTs(a: { ts: string }, b: { ts: string }): number {
  const [a1, a2] = tsKey(a.ts);
  const [b1, b2] = tsKey(b.ts);
  return a1 - b1 || a2 - b2;
}

function timeline(double: SlackDouble, channel: string, user: string, ctx: RenderContext, emptyHint: string): string {
  const items: { ts: string; html: string }[] = [];
  for (const m of double.channelMessages(channel)) items.push({ ts: m.ts, html: renderMessage(double, m, ctx, false) });
  for (const e of double.ephemerals(user)) if (e.channel === channel && !e.threadTs) items.push({ ts: e.ts, html: renderEphemeral(e, ctx) });
  items.sort(byTs);
  if (items.length === 0) return `<div class="empty" data-testid="empty">${emptyHint}</div>`;
  return items.map((i) => i.html).join('\n');
}

function thread(double: SlackDouble, channel: string, ts: string, user: string, ctx: RenderContext): { ts: string; html: string } | null {
  const parent = double.channelMessages(channel).find((m) => m.ts === ts);
  if (!parent) return null;
  const items: { ts: string; html: string }[] = parent.replies.map((r) => ({ ts: r.ts, html: renderMessage(double, r, ctx, true) }));
  for (const e of double.ephemerals(user)) if (e.channel === channel && e.threadTs === ts) items.push({ ts: e.ts, html: renderEphemeral(e, ctx) });
  items.sort(byTs);
  const count = parent.replies.length;
  return {
    ts,
    html: `${renderMessage(double, parent, ctx, true)}<div class="thread-count">${count} ${count === 1 ? 'reply' : 'replies'}</div>${items.map((i) => i.html).join('\n')}`,
  };
}

function textOf(t: unknown): string {
  return typeof t === 'object' && t !== null && typeof (t as { text?: unknown }).text === 'string' ? (t as { text: string }).text : '';
}

function modal(double: SlackDouble, stack: SlackView[]): ConsoleViewState['modal'] {
  const top = stack.at(-1);
  if (!top) return null;
  const ctx = renderContext(double, top);
  const title = textOf(top.title);
  const submit = top.submit ? `<button type="submit" class="btn btn-primary" data-modal-submit>${renderPlain(textOf(top.submit))}</button>` : '';
  const closeLabel = top.close ? textOf(top.close) : submit ? 'Cancel' : 'Close';
  const back = stack.length > 1 ? '<button type="button" class="modal-back" data-modal-close="one" aria-label="Back">‹</button>' : '';
  const html = `<div class="modal" role="dialog" aria-modal="true" aria-labelledby="modal-title" data-testid="modal" data-view-id="${escapeHtml(top.id)}" data-callback-id="${escapeHtml(top.callback_id)}"${location({ type: 'view', viewId: top.id })}>
<header class="modal-head">${back}<div class="modal-app" aria-hidden="true">D</div><h2 id="modal-title">${renderPlain(title)}</h2><button type="button" class="modal-x" data-modal-close="all" aria-label="Close">✕</button></header>
<form class="modal-body" data-modal-form novalidate>${renderBlocks(top.blocks, ctx)}</form>
<footer class="modal-foot"><button type="button" class="btn" data-modal-close="one">${renderPlain(closeLabel)}</button>${submit}</footer></div>`;
  return { id: top.id, key: `${top.id}:${top.hash}:${JSON.stringify(top.errors)}:${stack.length}`, html };
}

function home(double: SlackDouble, view: SlackView | undefined): ConsoleViewState['home'] {
  if (!view) return null;
  const ctx = renderContext(double, view);
  return {
    id: view.id,
    key: `${view.id}:${view.hash}`,
    html: `<section class="home" data-testid="app-home"${location({ type: 'view', viewId: view.id })}>${renderBlocks(view.blocks, ctx)}</section>`,
  };
}

export function consoleViewState(double: SlackDouble, q: ConsoleViewQuery, version: number): ConsoleViewState {
  const firstUser = double.users[0];
  if (!firstUser) throw new Error('The console needs at least one user');
  const me = (q.user ? double.findUser(q.user) : undefined) ?? firstUser;
  const dm = double.dmChannel(me.id);
  const resolved = q.channel ? double.resolveChannel(q.channel) : undefined;
  const isApp = resolved?.kind === 'im' || q.channel === 'app';
  const channelId = isApp ? dm : resolved?.id ?? double.channels[0]?.id ?? dm;
  const channelName = double.channels.find((c) => c.id === channelId)?.name;
  const tab: 'home' | 'messages' | null = isApp ? (q.tab === 'home' ? 'home' : 'messages') : null;
  const ctx = renderContext(double);
  const hint = isApp
    ? 'This is the start of your conversation with <b>Dormouse</b>. Type <code>/server help</code> below.'
    : `This is the very beginning of <b>#${escapeHtml(channelName ?? channelId)}</b>. Try <code>/server help</code> or <code>/server new demo</code> below.`;
  const last = double.interactions.at(-1);
  return {
    version,
    me: { id: me.id, name: me.name, role: me.role ?? '' },
    users: double.users.map((u) => ({ id: u.id, name: u.name, realName: u.realName ?? u.name, role: u.role ?? '' })),
    sidebar: [
      ...double.channels.map((c) => ({ id: c.id, label: `# ${c.name}`, kind: 'channel' as const })),
      { id: dm, label: BOT_NAME, kind: 'app' as const },
    ],
    channel: { id: channelId, label: isApp ? BOT_NAME : `#${channelName ?? channelId}`, kind: isApp ? 'app' : 'channel', tab },
    timeline: timeline(double, channelId, me.id, ctx, hint),
    thread: q.thread ? thread(double, channelId, q.thread, me.id, ctx) : null,
    modal: modal(double, double.openViews(me.id)),
    home: home(double, double.home(me.id)),
    problems: [...double.problems],
    lastInteraction: last ? { summary: last.summary, status: last.status, ackMs: last.ackMs } : null,
  };
}
