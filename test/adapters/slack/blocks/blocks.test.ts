/**
 * The Block Kit builders: within Slack's limits whatever the input (long
 * names, 20 servers, huge output, hostile text), and user text never
 * becomes a mention or link.
 */
import { describe, expect, it } from 'vitest';
import { environmentBlocks, opsAlertBlocks, threadNoteText } from '../../../../src/adapters/slack/blocks/environment.message.js';
import { helpReply, historyReply, listReply, statusReply, templatesReply } from '../../../../src/adapters/slack/blocks/replies.js';
import { homeView } from '../../../../src/adapters/slack/blocks/home.view.js';
import { requestModal, readRequestModal } from '../../../../src/adapters/slack/blocks/request.modal.js';
import { validateBlocks, validateView } from '../../../../src/adapters/sandbox/slack-console/block-kit.limits.js';
import { newEnvironment, type Environment } from '../../../../src/core/environment/environment.js';
import { testTemplate } from '../../../support/templates.js';
import { parseSchedule } from '../../../../src/core/schedule/schedule.js';

const now = new Date('2026-11-27T10:00:00Z');
function env(overrides: Partial<Environment> = {}): Environment {
  return {
    ...newEnvironment(
      { id: '01JD3Q8Z6KX7W8Y9A0B1C2D3E4', name: 'api-staging', owner: 'U0DEV', template: 'api', instanceType: 't3.medium', count: 2, purpose: 'load tests <!channel> & <https://evil|click>', requestId: 'r', hourlyCostUsd: 0.0832 },
      new Date('2026-11-27T09:00:00Z'),
    ),
    ...overrides,
  };
}

const worst: Environment = env({
  name: 'a'.repeat(40),
  state: 'failed',
  count: 20,
  servers: Array.from({ length: 20 }, (_, i) => ({ index: i, instanceId: `i-${String(i).padStart(17, '0')}`, privateIp: `10.0.0.${i}`, state: 'ready' as const })),
  progress: Array.from({ length: 25 }, (_, i) => ({ key: `bootstrap:${i}`, label: `Bootstrap server ${i + 1} ${'x'.repeat(100)}`, status: 'done' as const, startedAt: '2026-11-27T09:00:00Z', endedAt: '2026-11-27T09:01:00Z' })),
  failure: { step: 'bootstrap', code: 'COMMAND.FAILED', reason: 'r'.repeat(5000), output: 'o'.repeat(10_000), from: 'bootstrapping', retryable: true, at: '2026-11-27T09:02:00Z' },
});

describe('environment message', () => {
  it.each(['requested', 'provisioning', 'bootstrapping', 'ready', 'failed', 'destroying', 'destroyed'] as const)('is valid in state %s', (state) => {
    const blocks = environmentBlocks({ ...worst, state });
    expect(validateBlocks(blocks, 'message')).toEqual([]);
  });

  it('escapes user text: no mention, no link', () => {
    const text = JSON.stringify(environmentBlocks(env()));
    expect(text).toContain('&lt;!channel&gt; &amp; &lt;https://evil|click&gt;');
    expect(text).not.toContain('<!channel>');
  });

  it('when ready: one line a server in the message, how to connect in the thread note', () => {
    const ready = env({ state: 'ready', servers: [{ index: 0, instanceId: 'i-0abc', privateIp: '10.1.2.3', state: 'ready' }] });
    const text = JSON.stringify(environmentBlocks(ready));
    expect(text).toContain('i-0abc');
    expect(text).toContain('10.1.2.3');
    expect(text).not.toContain('start-session');
    expect(threadNoteText(ready, 'ready')).toContain('Server 1: `aws ssm start-session --target i-0abc`');
  });

  it('says which try failed, when, and how many there were', () => {
    const failure = { step: 'bootstrap' as const, code: 'COMMAND.FAILED', reason: 'exit 1', from: 'bootstrapping' as const, retryable: true, at: '2026-11-27T09:02:00Z' };
    const first = JSON.stringify(environmentBlocks(env({ state: 'failed', failure })));
    const second = JSON.stringify(environmentBlocks(env({ state: 'failed', retries: 1, failure })));
    expect(first).toContain('try 1 of 1, 09:02 UTC');
    expect(second).toContain('try 2 of 2, 09:02 UTC');
    expect(JSON.stringify(opsAlertBlocks(env({ state: 'failed', retries: 1, failure })))).toContain('try 2 of 2');
  });

  it('stays short with 20 servers: one section for all of them', () => {
    const wide = env({ state: 'ready', servers: Array.from({ length: 20 }, (_, i) => ({ index: i, instanceId: `i-${String(i).padStart(17, '0')}`, privateIp: `10.0.0.${i}`, state: 'ready' as const })) });
    expect(environmentBlocks(wide).length).toBeLessThanOrEqual(6);
  });

  it('offers the buttons the transition table allows: Retry back to where it failed, Destroy wherever it can go', () => {
    const labels = (e: Environment) => environmentBlocks(e).flatMap((b) => (('elements' in b ? b.elements : []) as Array<{ type: string; text?: { text: string } }>).filter((x) => x.type === 'button').map((x) => x.text?.text));
    const failure = { step: 'bootstrap' as const, code: 'X', reason: 'r', from: 'bootstrapping' as const, retryable: true, at: '2026-11-27T09:02:00Z' };
    expect(labels(env({ state: 'failed', failure }))).toEqual(['Retry', 'Destroy']);
    expect(labels(env({ state: 'failed', failure: { ...failure, retryable: false } }))).toEqual(['Destroy']);
    expect(labels(env({ state: 'ready' }))).toEqual(['Sleep', 'Destroy']);
    expect(labels(env({ state: 'asleep' }))).toEqual(['Wake', 'Destroy']);
    expect(labels(env({ state: 'provisioning' }))).toEqual(['Destroy']);
    expect(labels(env({ state: 'destroying' }))).toEqual([]);
    expect(labels(env({ state: 'destroyed' }))).toEqual([]);
  });

  it('its buttons name the environment by name and id, so an older message\'s button acts on nothing newer', () => {
    const values = environmentBlocks(env({ state: 'ready' })).flatMap((b) => (('elements' in b ? b.elements : []) as Array<{ value?: string }>).map((x) => x.value)).filter(Boolean);
    expect(values).toEqual(['api-staging:01JD3Q8Z6KX7W8Y9A0B1C2D3E4', 'api-staging:01JD3Q8Z6KX7W8Y9A0B1C2D3E4']);
  });

  it('matches its snapshot', () => {
    expect(environmentBlocks(env({ state: 'ready', servers: [{ index: 0, instanceId: 'i-0abc', privateIp: '10.1.2.3', state: 'ready' }] }))).toMatchSnapshot();
  });
});

describe('ops alert and replies', () => {
  it('ops alert stays within limits with the worst input', () => {
    expect(validateBlocks(opsAlertBlocks(worst), 'message')).toEqual([]);
  });

  it('list, status, templates and help stay within limits', () => {
    const many = Array.from({ length: 120 }, (_, i) => env({ name: `env-${i}-${'x'.repeat(30)}` }));
    expect(validateBlocks(listReply(many, now, 'all').blocks, 'message')).toEqual([]);
    const events = Array.from({ length: 10 }, () => ({ environment: 'x', at: now.toISOString(), type: 't', message: 'm'.repeat(1000) }));
    expect(validateBlocks(statusReply(worst, events, now).blocks, 'message')).toEqual([]);
    const templates = Array.from({ length: 40 }, (_, i) => testTemplate({ name: `t${i}`, description: 'd'.repeat(150) }));
    expect(validateBlocks(templatesReply(templates).blocks, 'message')).toEqual([]);
    expect(validateBlocks(helpReply('x').blocks, 'message')).toEqual([]);
  });
});

describe('home tab', () => {
  it('is a valid Home view with sixty environments of every state, for an admin with the fleet', () => {
    const states = ['requested', 'provisioning', 'bootstrapping', 'ready', 'saving', 'asleep', 'waking', 'failed'] as const;
    const envs = Array.from({ length: 60 }, (_, i) => ({ ...worst, name: `env-${i}-${'w'.repeat(30)}`, state: states[i % states.length]!, awake: [{ from: '2026-11-01T00:00:00Z' }] }));
    const view = homeView(envs, now, { environments: envs });
    expect(validateView(view, 'home')).toEqual([]);
    const text = JSON.stringify(view.blocks);
    expect(text).toContain('…and 40 more');
    expect(text).toContain('The fleet');
    // Awake since Nov 1, 00:00 at worst's price: the month so far is shown beside each one.
    expect(text).toMatch(/this month/);
  });
});

describe('history', () => {
  it('fits two hundred long events in valid blocks, newest first, with who did each', () => {
    const events = Array.from({ length: 200 }, (_, i) => ({
      environment: worst.name,
      at: new Date(Date.parse('2026-11-27T10:00:00Z') - i * 60_000).toISOString(),
      type: 'note',
      message: `event ${i} ${'x'.repeat(280)} <@U0EVIL> *bold*`,
      ...(i % 2 ? { actor: 'U0DEV' } : { actor: 'schedule' }),
    }));
    const reply = historyReply(worst, events);
    expect(validateBlocks(reply.blocks ?? [], 'message')).toEqual([]);
    const text = JSON.stringify(reply.blocks);
    expect(text).toContain('event 0 ');
    expect(text).toContain('· the schedule');
    expect(text).toContain('· <@U0DEV>');
    expect(text).not.toContain('<@U0EVIL>');
  });
});

describe('request modal', () => {
  it('shows count and type only when the template offers a choice', () => {
    const multi = testTemplate();
    const single = testTemplate({ name: 'worker', servers: { min: 1, max: 1, default: 1 }, instanceTypes: { 't3.small': 0.02 }, instanceType: 't3.small' });
    const ids = (view: { blocks: ReadonlyArray<{ block_id?: string }> }) => view.blocks.map((b) => b.block_id);
    expect(ids(requestModal([multi, single], { template: multi }, {}))).toEqual(['name', 'template', 'count:api', 'instance_type:api', 'cost', 'purpose']);
    expect(ids(requestModal([multi, single], { template: single }, {}))).toEqual(['name', 'template', 'cost', 'purpose']);
  });

  it('says what the request costs: per hour awake, a day with its schedule, a month, a day asleep; count and type redraw it', () => {
    const template = testTemplate({ instanceTypes: { 't3.small': 0.0208, 't3.large': 0.0832 }, instanceType: 't3.small', servers: { min: 1, max: 3, default: 1 } });
    const parsed = parseSchedule('weekdays 08:00-18:30', { now });
    if (!parsed.ok) throw new Error(parsed.problem);
    const text = (view: { blocks: ReadonlyArray<{ block_id?: string; elements?: unknown }> }) => JSON.stringify(view.blocks.find((b) => b.block_id === 'cost'));
    // 2 × t3.large: $0.1664/h; 52.5 awake hours a week = 7.5 h a day: $1.248/day, $37.44/month.
    const view = requestModal([template], { template, count: 2, instanceType: 't3.large', scheduleOf: () => parsed.schedule }, {});
    expect(text(view)).toContain('$0.1664/h awake (2 × t3.large)');
    expect(text(view)).toContain('$1.25/day with its schedule (weekdays 08:00-18:30, 7.5 h a day on average)');
    expect(text(view)).toContain('$37.44/month');
    expect(text(view)).toMatch(/per GB of its data a day asleep/);
    // Without a schedule it is priced always on; the selects that change it redraw the form.
    expect(text(requestModal([template], { template }, {}))).toContain('$0.0208/h awake (1 × t3.small) · $0.4992/day always on · $14.98/month');
    const selects = view.blocks.filter((b) => b.block_id?.startsWith('count:') || b.block_id?.startsWith('instance_type:'));
    expect(selects.map((b) => (b as { dispatch_action?: boolean }).dispatch_action)).toEqual([true, true]);
  });

  it('is a valid modal even with 150 templates and long names', () => {
    const templates = Array.from({ length: 150 }, (_, i) => testTemplate({ name: `template-${i}-${'y'.repeat(20)}`, description: 'z'.repeat(150) }));
    expect(validateView(requestModal(templates, { name: 'n'.repeat(40) }, { channel: 'C1' }), 'modal')).toEqual([]);
  });

  it('reads its own values back', () => {
    const values = {
      name: { value: { type: 'plain_text_input', value: ' api-staging ' } },
      template: { template_pick: { type: 'static_select', selected_option: { value: 'api' } } },
      'count:api': { value: { type: 'static_select', selected_option: { value: '2' } } },
      'instance_type:api': { value: { type: 'static_select', selected_option: { value: 't3.small' } } },
      purpose: { value: { type: 'plain_text_input', value: null } },
    };
    expect(readRequestModal(values)).toEqual({ name: 'api-staging', template: 'api', count: 2, instanceType: 't3.small', purpose: '' });
  });
});
