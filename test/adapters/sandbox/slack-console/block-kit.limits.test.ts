/** Slack's Block Kit limits: what Slack refuses must be refused, what it accepts must pass. */
import { describe, expect, it } from 'vitest';
import { validateBlocks, validateView } from '../../../../src/adapters/sandbox/slack-console/block-kit.limits.js';

const plain = (text: string) => ({ type: 'plain_text', text });
const md = (text: string) => ({ type: 'mrkdwn', text });
const button = (text: string, extra: Record<string, unknown> = {}) => ({ type: 'button', action_id: `b-${text.length}-${Math.random()}`, text: plain(text), ...extra });
const option = (text: string, value = text) => ({ text: plain(text), value });
const modal = (extra: Record<string, unknown> = {}) => ({ type: 'modal', title: plain('Title'), blocks: [], ...extra });
const input = (element: unknown, extra: Record<string, unknown> = {}) => ({ type: 'input', label: plain('Label'), element, ...extra });

describe('message blocks', () => {
  const refused: [string, unknown[], RegExp][] = [
    ['51 blocks', Array.from({ length: 51 }, () => ({ type: 'divider' })), /51 blocks in a message, Slack allows at most 50/],
    ['section text over 3000', [{ type: 'section', text: md('x'.repeat(3001)) }], /section text is 3001 characters.*3000 \[\/blocks\/0\/text\/text\]/],
    ['11 section fields', [{ type: 'section', fields: Array.from({ length: 11 }, () => md('f')) }], /11 fields, Slack allows at most 10/],
    ['a field over 2000', [{ type: 'section', fields: [md('y'.repeat(2001))] }], /section field is 2001 characters/],
    ['a section with neither text nor fields', [{ type: 'section' }], /needs text or fields/],
    ['header over 150', [{ type: 'header', text: plain('h'.repeat(151)) }], /header text is 151 characters/],
    ['header in mrkdwn', [{ type: 'header', text: md('h') }], /header text must be plain_text/],
    ['button label of 76', [{ type: 'actions', elements: [button('b'.repeat(76))] }], /button text is 76 characters, Slack allows at most 75/],
    ['button value over 2000', [{ type: 'actions', elements: [button('ok', { value: 'v'.repeat(2001) })] }], /button value is 2001 characters/],
    ['action_id over 255', [{ type: 'actions', elements: [button('ok', { action_id: 'a'.repeat(256) })] }], /action_id is 256 characters/],
    ['action_id twice in a block', [{ type: 'actions', elements: [button('a', { action_id: 'same' }), button('b', { action_id: 'same' })] }], /action_id "same" is used twice/],
    ['block_id over 255', [{ type: 'divider', block_id: 'b'.repeat(256) }], /block_id is 256 characters/],
    ['block_id twice', [{ type: 'divider', block_id: 'x' }, { type: 'divider', block_id: 'x' }], /block_id "x" is used twice/],
    ['an unknown block type', [{ type: 'carousel' }], /unknown block type "carousel"/],
    ['a button style Slack does not have', [{ type: 'actions', elements: [button('ok', { style: 'secondary' })] }], /button style must be primary or danger/],
    ['101 select options', [{ type: 'actions', elements: [{ type: 'static_select', action_id: 's', options: Array.from({ length: 101 }, (_, i) => option(`o${i}`)) }] }], /101 options, Slack allows at most 100/],
    ['an option text over 75', [{ type: 'actions', elements: [{ type: 'static_select', action_id: 's', options: [option('o'.repeat(76), 'v')] }] }], /option text is 76 characters/],
    ['6 overflow options', [{ type: 'actions', elements: [{ type: 'overflow', action_id: 'o', options: Array.from({ length: 6 }, (_, i) => option(`o${i}`)) }] }], /6 options, Slack allows at most 5/],
    ['a confirm title over 100', [{ type: 'actions', elements: [button('ok', { confirm: { title: plain('t'.repeat(101)), text: plain('x'), confirm: plain('y'), deny: plain('n') } })] }], /confirm title is 101 characters/],
    ['an input without element', [{ type: 'input', label: plain('L') }], /an input block needs an element/],
    ['an input without label', [{ type: 'input', element: { type: 'plain_text_input', action_id: 'p' } }], /input label is required/],
    ['a button in an input block', [input(button('ok'))], /element type "button" is not allowed in an input block/],
    ['an image without alt_text', [{ type: 'image', image_url: 'https://example.com/x.png' }], /alt_text is required/],
    ['an empty text', [{ type: 'section', text: md('') }], /section text must not be empty/],
    ['a number_input without is_decimal_allowed', [input({ type: 'number_input', action_id: 'n' })], /needs is_decimal_allowed/],
  ];
  it.each(refused)('refuses %s', (_name, blocks, pattern) => {
    const problems = validateBlocks(blocks, 'message');
    expect(problems.join('\n')).toMatch(pattern);
  });

  it('accepts a message at every limit', () => {
    const blocks = [
      { type: 'header', text: plain('h'.repeat(150)) },
      { type: 'section', text: md('x'.repeat(3000)), fields: Array.from({ length: 10 }, () => md('f'.repeat(2000))), accessory: button('b'.repeat(75)) },
      { type: 'context', elements: [md('c'), { type: 'image', image_url: 'https://example.com/i.png', alt_text: 'i' }] },
      { type: 'actions', block_id: 'b'.repeat(255), elements: [button('ok', { style: 'danger', value: 'v'.repeat(2000) }), { type: 'overflow', action_id: 'o', options: Array.from({ length: 5 }, (_, i) => option(`o${i}`)) }] },
      { type: 'rich_text', elements: [{ type: 'rich_text_section', elements: [{ type: 'text', text: 'hi' }] }] },
      { type: 'video', title: plain('v') },
      ...Array.from({ length: 44 }, () => ({ type: 'divider' })),
    ];
    expect(blocks).toHaveLength(50);
    expect(validateBlocks(blocks, 'message')).toEqual([]);
  });
});

describe('views', () => {
  const refused: [string, unknown, RegExp][] = [
    ['a modal title over 24', modal({ title: plain('t'.repeat(25)) }), /modal title is 25 characters, Slack allows at most 24/],
    ['a submit label over 24', modal({ submit: plain('s'.repeat(25)) }), /modal submit is 25 characters/],
    ['a close label over 24', modal({ close: plain('c'.repeat(25)) }), /modal close is 25 characters/],
    ['a callback_id over 255', modal({ callback_id: 'c'.repeat(256) }), /callback_id is 256 characters/],
    ['private_metadata over 3000', modal({ private_metadata: 'p'.repeat(3001) }), /private_metadata is 3001 characters/],
    ['101 blocks', modal({ blocks: Array.from({ length: 101 }, () => ({ type: 'divider' })) }), /101 blocks in a modal, Slack allows at most 100/],
    ['inputs without submit', modal({ blocks: [input({ type: 'plain_text_input', action_id: 'p' })] }), /needs a submit button/],
    ['a modal without title', { type: 'modal', blocks: [] }, /modal title is required/],
    ['a view of no known type', { type: 'popup', blocks: [] }, /view type must be modal or home/],
  ];
  it.each(refused)('refuses %s', (_name, view, pattern) => {
    expect(validateView(view).join('\n')).toMatch(pattern);
  });

  it('accepts a modal and a home at their limits', () => {
    const inputs = Array.from({ length: 100 }, (_, i) => input({ type: 'plain_text_input', action_id: `p${i}` }, { block_id: `b${i}` }));
    expect(validateView(modal({ title: plain('t'.repeat(24)), submit: plain('s'.repeat(24)), private_metadata: 'p'.repeat(3000), blocks: inputs }))).toEqual([]);
    expect(validateView({ type: 'home', blocks: Array.from({ length: 100 }, () => ({ type: 'divider' })) }, 'home')).toEqual([]);
  });

  it('refuses a home view where a modal is expected', () => {
    expect(validateView({ type: 'home', blocks: [] }, 'modal').join()).toMatch(/needs a modal view, not home/);
  });
});
