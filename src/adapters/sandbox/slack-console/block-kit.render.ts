/**
 * Block Kit → HTML for the console, on the server (pure functions, so they
 * are tested without a browser). Everything that came from the bot is
 * escaped; the only markup is what these functions write.
 *
 * Interactive elements carry `data-el`, `data-block-id` and `data-action-id`
 * so the page can send the interaction back; the page finds where the
 * element lives from the nearest `data-location`.
 */
import { drawEmojiMarks, emojiMark } from './emoji-marks.js';
import type { Block, StateValues } from './slack-double.types.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

export interface RenderContext {
  userName(id: string): string | undefined;
  channelName(id: string): string | undefined;
  users: readonly { id: string; name: string }[];
  channels: readonly { id: string; name: string }[];
  /** Entered values (a modal's state), to keep what a person typed across renders. */
  values?: StateValues;
  /** block_id → message under an input. */
  errors?: Record<string, string>;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

/** Slack asks apps to escape &, < and > in text; undo that before escaping for HTML. */
function decodeSlackEntities(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** Plain text: escaped, emoji shortcodes drawn, newlines kept. */
export function renderPlain(text: string, emoji = true): string {
  const escaped = escapeHtml(text);
  return (emoji ? drawEmojiMarks(escaped) : escaped).replace(/\n/g, '<br>');
}

function renderSpecial(inner: string, ctx: RenderContext): string {
  const bar = inner.indexOf('|');
  const target = bar >= 0 ? inner.slice(0, bar) : inner;
  const label = bar >= 0 ? decodeSlackEntities(inner.slice(bar + 1)) : undefined;
  if (target.startsWith('@')) {
    const id = target.slice(1);
    const name = ctx.userName(id) ?? label ?? id;
    return `<span class="mention" data-user="${escapeHtml(id)}">@${escapeHtml(name.replace(/^@/, ''))}</span>`;
  }
  if (target.startsWith('#')) {
    const id = target.slice(1);
    const name = ctx.channelName(id) ?? label ?? id;
    return `<span class="mention mention-channel" data-channel="${escapeHtml(id)}">#${escapeHtml(name.replace(/^#/, ''))}</span>`;
  }
  if (target.startsWith('!')) {
    const word = target.slice(1);
    if (word === 'here' || word === 'channel' || word === 'everyone') return `<span class="mention mention-broadcast">@${word}</span>`;
    if (word.startsWith('subteam^')) return `<span class="mention">${escapeHtml(label ?? word.slice('subteam^'.length))}</span>`;
    if (word.startsWith('date^')) return `<time class="slack-date">${escapeHtml(label ?? word)}</time>`;
    return escapeHtml(label ?? word);
  }
  const url = decodeSlackEntities(target);
  if (/^(https?:|mailto:)/i.test(url)) {
    return `<a href="${escapeHtml(url)}" target="_blank" rel="noopener noreferrer">${escapeHtml(label ?? url)}</a>`;
  }
  return escapeHtml(`<${decodeSlackEntities(inner)}>`);
}

/**
 * Slack mrkdwn: *bold*, _italic_, ~strike~, `code`, ```pre```, > quotes,
 * <url|text> links, <@U…> and <#C…> mentions by name, :emoji:.
 */
export function renderMrkdwn(input: string, ctx: RenderContext): string {
  const held: string[] = [];
  // Private-use characters mark the held fragments; any in the input are dropped first.
  const hold = (html: string): string => `\uE000${held.push(html) - 1}\uE001`;
  let s = input.replace(/[\uE000\uE001]/g, '');
  s = s.replace(/```\n?([\s\S]*?)```/g, (_m, code: string) => hold(`<pre class="mk-pre">${escapeHtml(decodeSlackEntities(code))}</pre>`));
  s = s.replace(/`([^`\n]+)`/g, (_m, code: string) => hold(`<code class="mk-code">${escapeHtml(decodeSlackEntities(code))}</code>`));
  s = s.replace(/<([^<>\n]+)>/g, (_m, inner: string) => hold(renderSpecial(inner, ctx)));
  s = escapeHtml(decodeSlackEntities(s));
  s = s.replace(/(^|[^\w*])\*(?!\s)([^*\n]*?[^\s*])\*(?!\w)/g, '$1<b>$2</b>');
  s = s.replace(/(^|[^\w_])_(?!\s)([^_\n]*?[^\s_])_(?!\w)/g, '$1<i>$2</i>');
  s = s.replace(/(^|[^\w~])~(?!\s)([^~\n]*?[^\s~])~(?!\w)/g, '$1<s>$2</s>');
  s = drawEmojiMarks(s);
  const lines = s.split('\n');
  const out: string[] = [];
  let quote: string[] = [];
  const flush = (): void => {
    if (quote.length) out.push(`<blockquote>${quote.join('<br>')}</blockquote>`);
    quote = [];
  };
  for (const line of lines) {
    const m = /^&gt;\s?(.*)$/.exec(line);
    if (m) quote.push(m[1] ?? '');
    else {
      flush();
      out.push(line);
    }
  }
  flush();
  s = out.join('\n').replace(/\n?(<blockquote>)/g, '$1').replace(/(<\/blockquote>)\n?/g, '$1').replace(/\n/g, '<br>');
  return s.replace(/\uE000(\d+)\uE001/g, (_m, i: string) => held[Number(i)] ?? '');
}

/** A text object, mrkdwn or plain. */
export function renderText(t: unknown, ctx: RenderContext): string {
  if (!isObj(t)) return '';
  const text = str(t.text);
  return t.type === 'mrkdwn' ? renderMrkdwn(text, ctx) : renderPlain(text, t.emoji !== false);
}

const attr = (name: string, value: unknown): string => (value === undefined || value === null || value === '' ? '' : ` ${name}="${escapeHtml(String(value))}"`);

function dataIds(blockId: string, el: Obj): string {
  return `${attr('data-block-id', blockId)}${attr('data-action-id', el.action_id)}${attr('data-el', el.type)}`;
}

function options(el: Obj): Obj[] {
  const out: Obj[] = [];
  if (Array.isArray(el.options)) for (const o of el.options) if (isObj(o)) out.push(o);
  if (Array.isArray(el.option_groups)) {
    for (const g of el.option_groups) if (isObj(g) && Array.isArray(g.options)) for (const o of g.options) if (isObj(o)) out.push(o);
  }
  return out;
}

/** The values currently chosen for an element: from the entered state, else its initial values. */
function chosen(el: Obj, blockId: string, ctx: RenderContext): string[] {
  const v = ctx.values?.[blockId]?.[str(el.action_id)];
  if (v) {
    if ('value' in v) return v.value === null || v.value === undefined ? [] : [String(v.value)];
    if ('selected_option' in v) return isObj(v.selected_option) ? [str(v.selected_option.value)] : [];
    if ('selected_options' in v && Array.isArray(v.selected_options)) return v.selected_options.map((o) => (isObj(o) ? str(o.value) : ''));
    for (const k of ['selected_user', 'selected_conversation', 'selected_channel', 'selected_date', 'selected_time']) {
      if (k in v) return typeof v[k] === 'string' ? [v[k]] : [];
    }
    for (const k of ['selected_users', 'selected_conversations', 'selected_channels']) {
      const list = v[k];
      if (Array.isArray(list)) return list.map(String);
    }
  }
  if (el.initial_value !== undefined && el.initial_value !== null && !isObj(el.initial_value)) return [String(el.initial_value)];
  if (isObj(el.initial_option)) return [str(el.initial_option.value)];
  if (Array.isArray(el.initial_options)) return el.initial_options.map((o) => (isObj(o) ? str(o.value) : ''));
  for (const k of ['initial_user', 'initial_conversation', 'initial_channel', 'initial_date', 'initial_time']) {
    if (typeof el[k] === 'string') return [el[k]];
  }
  for (const k of ['initial_users', 'initial_conversations', 'initial_channels']) {
    const list = el[k];
    if (Array.isArray(list)) return list.map(String);
  }
  return [];
}

function optionTags(opts: { value: string; label: string }[], selected: string[]): string {
  return opts
    .map((o) => `<option value="${escapeHtml(o.value)}"${selected.includes(o.value) ? ' selected' : ''}>${escapeHtml(o.label)}</option>`)
    .join('');
}

/** A confirm dialog, drawn here like everything else (its text is often mrkdwn): the page only places the fragments. */
export interface RenderedConfirm {
  title: string;
  text: string;
  confirm: string;
  deny: string;
  style: 'danger' | 'primary';
}

export function renderConfirm(confirm: Obj, ctx: RenderContext): RenderedConfirm {
  return {
    title: renderText(confirm.title, ctx) || 'Are you sure?',
    text: renderText(confirm.text, ctx),
    confirm: renderText(confirm.confirm, ctx) || 'Yes',
    deny: renderText(confirm.deny, ctx) || 'Cancel',
    style: confirm.style === 'danger' ? 'danger' : 'primary',
  };
}

interface ElementOpts {
  blockId: string;
  /** id of the control, for <label for>. */
  controlId?: string;
  /** Accessible name when there is no visible label. */
  ariaLabel?: string;
  inInput?: boolean;
}

export function renderElement(el: Obj, ctx: RenderContext, o: ElementOpts): string {
  const type = str(el.type);
  const ids = dataIds(o.blockId, el);
  const idAttr = attr('id', o.controlId);
  const inputMark = o.inInput ? ' data-input-element' : '';
  const placeholder = isObj(el.placeholder) ? str(el.placeholder.text) : '';
  const aria = o.ariaLabel ? attr('aria-label', o.ariaLabel) : '';
  const selected = chosen(el, o.blockId, ctx);
  switch (type) {
    case 'button':
    case 'workflow_button': {
      const style = el.style === 'primary' || el.style === 'danger' ? ` bk-button-${el.style}` : '';
      const confirm = isObj(el.confirm) ? attr('data-confirm', JSON.stringify(renderConfirm(el.confirm, ctx))) : '';
      return `<button type="button" class="bk-button${style}" data-testid="button"${ids}${attr('data-url', el.url)}${confirm}${attr('aria-label', isObj(el.accessibility_label) ? undefined : el.accessibility_label)}>${renderPlain(isObj(el.text) ? str(el.text.text) : '')}</button>`;
    }
    case 'static_select':
    case 'external_select':
    case 'multi_static_select':
    case 'multi_external_select': {
      const multi = type.startsWith('multi_');
      const opts = options(el).map((x) => ({ value: str(x.value), label: isObj(x.text) ? str(x.text.text) : '' }));
      const first = multi ? '' : `<option value=""${selected.length ? '' : ' selected'}>${escapeHtml(placeholder || 'Select an option')}</option>`;
      return `<select class="bk-select"${multi ? ' multiple' : ''}${idAttr}${ids}${inputMark}${aria || attr('aria-label', o.controlId ? undefined : placeholder)}>${first}${optionTags(opts, selected)}</select>`;
    }
    case 'users_select':
    case 'multi_users_select':
    case 'conversations_select':
    case 'multi_conversations_select':
    case 'channels_select':
    case 'multi_channels_select': {
      const multi = type.startsWith('multi_');
      const people = type.includes('users');
      const opts = people ? ctx.users.map((u) => ({ value: u.id, label: `@${u.name}` })) : ctx.channels.map((c) => ({ value: c.id, label: `#${c.name}` }));
      const first = multi ? '' : `<option value=""${selected.length ? '' : ' selected'}>${escapeHtml(placeholder || (people ? 'Select a person' : 'Select a channel'))}</option>`;
      return `<select class="bk-select"${multi ? ' multiple' : ''}${idAttr}${ids}${inputMark}${aria || attr('aria-label', o.controlId ? undefined : placeholder)}>${first}${optionTags(opts, selected)}</select>`;
    }
    case 'overflow': {
      const opts = options(el).map((x) => ({ value: str(x.value), label: isObj(x.text) ? str(x.text.text) : '' }));
      return `<select class="bk-overflow"${ids}${attr('aria-label', 'More actions')}><option value="" selected>⋯</option>${optionTags(opts, [])}</select>`;
    }
    case 'checkboxes':
    case 'radio_buttons': {
      const kind = type === 'checkboxes' ? 'checkbox' : 'radio';
      const name = `${o.blockId}::${str(el.action_id)}`;
      const items = options(el)
        .map((x) => {
          const value = str(x.value);
          const description = isObj(x.description) ? `<span class="bk-option-desc">${renderText(x.description, ctx)}</span>` : '';
          return `<label class="bk-choice"><input type="${kind}"${attr('name', name)}${attr('value', value)}${selected.includes(value) ? ' checked' : ''}><span>${renderText(x.text, ctx)}${description}</span></label>`;
        })
        .join('');
      return `<div class="bk-choices" role="group"${idAttr}${ids}${inputMark}${aria}>${items}</div>`;
    }
    case 'plain_text_input':
    case 'email_text_input':
    case 'url_text_input':
    case 'rich_text_input': {
      const value = type === 'rich_text_input' ? '' : selected[0] ?? '';
      const limits = `${attr('minlength', el.min_length)}${attr('maxlength', el.max_length)}`;
      if (el.multiline === true || type === 'rich_text_input') {
        return `<textarea class="bk-input-control" rows="4"${idAttr}${ids}${inputMark}${aria}${attr('placeholder', placeholder)}${limits}>${escapeHtml(value)}</textarea>`;
      }
      const inputType = type === 'email_text_input' ? 'email' : type === 'url_text_input' ? 'url' : 'text';
      return `<input type="${inputType}" class="bk-input-control"${idAttr}${ids}${inputMark}${aria}${attr('placeholder', placeholder)}${limits}${attr('value', value)}>`;
    }
    case 'number_input':
      return `<input type="number" class="bk-input-control"${idAttr}${ids}${inputMark}${aria}${attr('placeholder', placeholder)}${attr('min', el.min_value)}${attr('max', el.max_value)} step="${el.is_decimal_allowed === true ? 'any' : '1'}"${attr('value', selected[0])}>`;
    case 'datepicker':
      return `<input type="date" class="bk-input-control bk-date"${idAttr}${ids}${inputMark}${aria || attr('aria-label', placeholder || 'Pick a date')}${attr('value', selected[0])}>`;
    case 'timepicker':
      return `<input type="time" class="bk-input-control bk-date"${idAttr}${ids}${inputMark}${aria || attr('aria-label', placeholder || 'Pick a time')}${attr('value', selected[0])}>`;
    case 'image':
      return `<span class="bk-image-el" role="img"${attr('aria-label', el.alt_text)}${attr('title', el.alt_text)}>▣</span>`;
    default:
      return `<span class="bk-unsupported" data-testid="unsupported-element">Unsupported element: ${escapeHtml(type || 'unknown')}</span>`;
  }
}

function renderRichInline(e: unknown, ctx: RenderContext): string {
  if (!isObj(e)) return '';
  const style = isObj(e.style) ? e.style : {};
  let html: string;
  switch (e.type) {
    case 'text':
      html = renderPlain(str(e.text));
      break;
    case 'link':
      html = /^(https?:|mailto:)/i.test(str(e.url))
        ? `<a href="${escapeHtml(str(e.url))}" target="_blank" rel="noopener noreferrer">${escapeHtml(str(e.text) || str(e.url))}</a>`
        : escapeHtml(str(e.text) || str(e.url));
      break;
    case 'user':
      html = `<span class="mention">@${escapeHtml(ctx.userName(str(e.user_id)) ?? str(e.user_id))}</span>`;
      break;
    case 'channel':
      html = `<span class="mention mention-channel">#${escapeHtml(ctx.channelName(str(e.channel_id)) ?? str(e.channel_id))}</span>`;
      break;
    case 'emoji':
      // Not the unicode character: without an emoji font it would be an empty box.
      html = emojiMark(str(e.name)) ?? `:${escapeHtml(str(e.name))}:`;
      break;
    case 'broadcast':
      html = `<span class="mention mention-broadcast">@${escapeHtml(str(e.range))}</span>`;
      break;
    case 'usergroup':
      html = `<span class="mention">@${escapeHtml(str(e.usergroup_id))}</span>`;
      break;
    case 'date':
      html = `<time class="slack-date">${escapeHtml(str(e.fallback) || String(e.timestamp))}</time>`;
      break;
    default:
      html = '';
  }
  if (style.code) html = `<code class="mk-code">${html}</code>`;
  if (style.bold) html = `<b>${html}</b>`;
  if (style.italic) html = `<i>${html}</i>`;
  if (style.strike) html = `<s>${html}</s>`;
  return html;
}

function renderRichElement(e: unknown, ctx: RenderContext): string {
  if (!isObj(e)) return '';
  const inline = (): string => (Array.isArray(e.elements) ? e.elements.map((x) => renderRichInline(x, ctx)).join('') : '');
  switch (e.type) {
    case 'rich_text_section':
      return `<div class="rt-section">${inline()}</div>`;
    case 'rich_text_preformatted':
      return `<pre class="mk-pre">${inline()}</pre>`;
    case 'rich_text_quote':
      return `<blockquote>${inline()}</blockquote>`;
    case 'rich_text_list': {
      const tag = e.style === 'ordered' ? 'ol' : 'ul';
      const items = Array.isArray(e.elements) ? e.elements.map((x) => `<li>${isObj(x) && Array.isArray(x.elements) ? x.elements.map((y) => renderRichInline(y, ctx)).join('') : ''}</li>`).join('') : '';
      return `<${tag} class="rt-list rt-indent-${Number(e.indent ?? 0)}">${items}</${tag}>`;
    }
    default:
      return `<span class="bk-unsupported">Unsupported rich text: ${escapeHtml(str(e.type))}</span>`;
  }
}

/** Standard markdown (the `markdown` block) drawn through the mrkdwn renderer: **bold**, [text](url), # headings. */
function markdownToMrkdwn(md: string): string {
  return md
    .replace(/\*\*([^*\n]+)\*\*/g, '*$1*')
    .replace(/\[([^\]\n]+)\]\((https?:[^)\s]+)\)/g, '<$2|$1>')
    .replace(/^#{1,6}\s+(.*)$/gm, '*$1*');
}

function unsupported(type: string): string {
  return `<div class="bk bk-unsupported" data-testid="unsupported-block">Unsupported block: ${escapeHtml(type || 'unknown')}</div>`;
}

function controlId(blockId: string): string {
  return `ctl-${blockId.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

export function renderBlock(block: Block, ctx: RenderContext): string {
  const blockId = str(block.block_id);
  const bid = attr('data-block-id', blockId);
  switch (block.type) {
    case 'header':
      return `<div class="bk bk-header" role="heading" aria-level="3"${bid}>${renderText(block.text, ctx)}</div>`;
    case 'divider':
      return `<hr class="bk bk-divider"${bid}>`;
    case 'section': {
      const text = block.text !== undefined ? `<div class="bk-text">${renderText(block.text, ctx)}</div>` : '';
      const fields = Array.isArray(block.fields) && block.fields.length
        ? `<div class="bk-fields">${block.fields.map((f) => `<div class="bk-field">${renderText(f, ctx)}</div>`).join('')}</div>`
        : '';
      const accessory = isObj(block.accessory) ? `<div class="bk-accessory">${renderElement(block.accessory, ctx, { blockId })}</div>` : '';
      return `<div class="bk bk-section"${bid}><div class="bk-section-main">${text}${fields}</div>${accessory}</div>`;
    }
    case 'context': {
      const items = Array.isArray(block.elements)
        ? block.elements
            .map((e) => (isObj(e) && e.type === 'image' ? renderElement(e, ctx, { blockId }) : `<span class="bk-context-text">${renderText(e, ctx)}</span>`))
            .join('')
        : '';
      return `<div class="bk bk-context"${bid}>${items}</div>`;
    }
    case 'actions': {
      const items = Array.isArray(block.elements) ? block.elements.map((e) => (isObj(e) ? renderElement(e, ctx, { blockId }) : '')).join('') : '';
      return `<div class="bk bk-actions"${bid}>${items}</div>`;
    }
    case 'image': {
      const title = isObj(block.title) ? `<figcaption>${renderText(block.title, ctx)}</figcaption>` : '';
      return `<figure class="bk bk-image"${bid}>${title}<div class="bk-image-placeholder" role="img"${attr('aria-label', block.alt_text)}>▣ ${escapeHtml(str(block.alt_text))}</div></figure>`;
    }
    case 'rich_text':
      return `<div class="bk bk-rich-text"${bid}>${Array.isArray(block.elements) ? block.elements.map((e) => renderRichElement(e, ctx)).join('') : ''}</div>`;
    case 'markdown':
      return `<div class="bk bk-markdown"${bid}>${renderMrkdwn(markdownToMrkdwn(str(block.text)), ctx)}</div>`;
    case 'input': {
      const el = isObj(block.element) ? block.element : undefined;
      if (!el) return unsupported('input without element');
      const id = controlId(blockId);
      const label = isObj(block.label) ? renderPlain(str(block.label.text)) : '';
      const optional = block.optional === true ? ' <span class="bk-optional">(optional)</span>' : '';
      const hint = isObj(block.hint) ? `<div class="bk-hint">${renderText(block.hint, ctx)}</div>` : '';
      const error = ctx.errors?.[blockId];
      const errorHtml = error ? `<div class="bk-error" role="alert" data-testid="input-error">${renderPlain(error)}</div>` : '';
      const group = el.type === 'checkboxes' || el.type === 'radio_buttons';
      const labelText = isObj(block.label) ? str(block.label.text) : '';
      const labelHtml = group ? `<div class="bk-label" id="${id}-label">${label}${optional}</div>` : `<label class="bk-label" for="${id}">${label}${optional}</label>`;
      const control = renderElement(el, ctx, { blockId, controlId: id, inInput: true, ...(group ? { ariaLabel: labelText } : {}) });
      return `<div class="bk bk-input${error ? ' bk-has-error' : ''}"${bid} data-input-block${block.dispatch_action === true ? ' data-dispatch' : ''}${block.optional === true ? ' data-optional' : ''}>${labelHtml}${control}${hint}${errorHtml}</div>`;
    }
    default:
      return unsupported(block.type);
  }
}

export function renderBlocks(blocks: readonly Block[], ctx: RenderContext): string {
  return blocks.map((b) => (isObj(b) && typeof b.type === 'string' ? renderBlock(b, ctx) : unsupported('?'))).join('');
}
