/**
 * What the double needs to know about Block Kit: the text a person reads,
 * where the interactive elements are, the ids Slack fills in, and the
 * content of a message (text and blocks) checked against Slack's limits.
 */
import { validateBlocks } from '../block-kit.limits.js';
import type { Block } from '../slack-double.types.js';
import { ApiRefusal, clone, isObj, randomId, type Obj } from './util.js';

export interface ElementRef {
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
export function elementsOf(blocks: readonly Block[]): ElementRef[] {
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

export const textOf = (t: unknown): string => (isObj(t) && typeof t.text === 'string' ? t.text : '');

/** Gives every block a block_id and every element an action_id, as Slack does when they are left out. */
export function withIds(blocks: readonly unknown[]): Block[] {
  return blocks.map((raw) => {
    const block = clone(raw) as Block;
    if (typeof block.block_id !== 'string') block.block_id = randomId();
    for (const { element } of elementsOf([block])) {
      if (element.type !== 'image' && typeof element.action_id !== 'string') element.action_id = randomId(4);
    }
    return block;
  });
}

/** The options of a select, radio buttons or checkboxes, option groups flattened. */
export function optionsOf(element: Obj): Obj[] {
  const out: Obj[] = [];
  if (Array.isArray(element.options)) for (const o of element.options) if (isObj(o)) out.push(o);
  if (Array.isArray(element.option_groups)) {
    for (const g of element.option_groups) {
      if (isObj(g) && Array.isArray(g.options)) for (const o of g.options) if (isObj(o)) out.push(o);
    }
  }
  return out;
}

/** A label as a person would type it: exact, or the same letters in another case. */
export function labelMatches(actual: string, wanted: string): boolean {
  return actual.trim() === wanted.trim() || actual.trim().toLowerCase() === wanted.trim().toLowerCase();
}

/** An input block of a view, by its label (exact first, then in any case) or its block_id. */
export function findInputBlock(blocks: readonly Block[], labelOrId: string): Block | undefined {
  const inputs = blocks.filter((b) => b.type === 'input' && isObj(b.element));
  return (
    inputs.find((b) => textOf(b.label).trim() === labelOrId.trim()) ??
    inputs.find((b) => b.block_id === labelOrId) ??
    inputs.find((b) => textOf(b.label).trim().toLowerCase() === labelOrId.trim().toLowerCase())
  );
}

/**
 * The text and blocks of a message the bot sends (chat.*, a response_url,
 * an ack body), refused as Slack refuses them: nothing to show, text over
 * 40,000 characters, blocks over Block Kit's limits.
 */
export function messageContent(method: string, a: Obj, requireContent: boolean): { text: string; blocks: Block[] | undefined } {
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
