/** The `/server new` form. Pure: the template chosen decides which inputs show. */
import type { types } from '@slack/bolt';
import { PURPOSE_MAX } from '../../../core/policies/request.policy.js';
import { dataSpecOf, formatUsd, hourlyCost, type Template } from '../../../core/environment/template.js';
import { archivedDailyUsd, stoppedDailyUsd } from '../../../core/policies/cost.policy.js';
import { awakeHoursPerWeek, formatSchedule, type Schedule } from '../../../core/schedule/schedule.js';
import { Ids } from '../ids.js';
import type { Block } from './environment.message.js';
import { plain, truncate } from './text.js';

export interface RequestModalState {
  name?: string;
  template?: Template;
  count?: number;
  instanceType?: string;
  purpose?: string;
  /** The schedule a new environment of each template gets (its own, else the default): what a day costs. */
  scheduleOf?: (template: Template) => Schedule | undefined;
}

export interface RequestModalMetadata {
  channel?: string;
}

const option = (text: string, value: string, description?: string) => ({
  text: plain(truncate(text, 75), 75),
  value,
  ...(description ? { description: plain(truncate(description, 75), 75) } : {}),
});

/** A problem found after the form was sent (the name was taken meanwhile): shown under its field. */
export interface FormProblem {
  field: 'name' | 'template' | 'count' | 'type' | 'purpose';
  text: string;
}

export function requestModal(templates: readonly Template[], state: RequestModalState, metadata: RequestModalMetadata, problem?: FormProblem): types.ModalView {
  const template = state.template ?? templates[0];
  const templateOptions = templates.slice(0, 100).map((t) =>
    option(`${t.name}: ${formatUsd(t.instanceTypes[t.instanceType] ?? 0)}/h per server`, t.name, t.description),
  );
  const blocks: Block[] = [
    {
      type: 'input',
      block_id: Ids.block.name,
      label: plain('Name'),
      hint: plain('Lowercase letters, digits and dashes; 3 to 40 characters, starting with a letter.'),
      element: {
        type: 'plain_text_input',
        action_id: Ids.action.value,
        max_length: 40,
        placeholder: plain('api-staging'),
        ...(state.name ? { initial_value: truncate(state.name, 40) } : {}),
      },
    },
    {
      type: 'input',
      block_id: Ids.block.template,
      label: plain('Template'),
      dispatch_action: true,
      element: {
        type: 'static_select',
        action_id: Ids.action.templatePick,
        placeholder: plain('Pick a template'),
        options: templateOptions,
        ...(template ? { initial_option: templateOptions.find((o) => o.value === template.name) } : {}),
      },
    },
  ];
  if (template && template.servers.max > template.servers.min) {
    const counts = [];
    for (let n = template.servers.min; n <= template.servers.max; n++) counts.push(option(`${n}`, `${n}`));
    const initial = String(state.count && state.count >= template.servers.min && state.count <= template.servers.max ? state.count : template.servers.default);
    blocks.push({
      type: 'input',
      // The block id carries the template so Slack does not keep a value from another template's range.
      block_id: `${Ids.block.count}:${template.name}`,
      label: plain('Number of servers'),
      element: { type: 'static_select', action_id: Ids.action.formChange, options: counts, initial_option: counts.find((c) => c.value === initial) },
      dispatch_action: true,
    });
  }
  const types = template ? Object.entries(template.instanceTypes) : [];
  if (template && types.length > 1) {
    const typeOptions = types.map(([t, cost]) => option(`${t}: ${formatUsd(cost)}/h`, t));
    const initial = state.instanceType && state.instanceType in template.instanceTypes ? state.instanceType : template.instanceType;
    blocks.push({
      type: 'input',
      block_id: `${Ids.block.type}:${template.name}`,
      label: plain('Instance type'),
      element: { type: 'static_select', action_id: Ids.action.formChange, options: typeOptions, initial_option: typeOptions.find((o) => o.value === initial) },
      dispatch_action: true,
    });
  }
  if (template) blocks.push(costBlock(template, state));
  blocks.push({
    type: 'input',
    block_id: Ids.block.purpose,
    label: plain('Purpose'),
    optional: true,
    element: {
      type: 'plain_text_input',
      action_id: Ids.action.value,
      multiline: true,
      max_length: PURPOSE_MAX,
      placeholder: plain('What is it for? (shown to your team)'),
      ...(state.purpose ? { initial_value: truncate(state.purpose, PURPOSE_MAX) } : {}),
    },
  });
  if (problem) {
    const at = blocks.findIndex((b) => b.block_id === blockIdFor(problem.field, template));
    blocks.splice(at + 1, 0, { type: 'context', block_id: 'problem', elements: [{ type: 'mrkdwn', text: truncate(`:warning: ${problem.text}`, 2000) }] });
  }
  return {
    type: 'modal',
    callback_id: Ids.view.request,
    title: plain('New environment', 24),
    submit: plain('Launch', 24),
    close: plain('Cancel', 24),
    private_metadata: JSON.stringify(metadata).slice(0, 3000),
    blocks,
  };
}

type StateValues = Record<string, Record<string, { type?: string; value?: string | null; selected_option?: { value: string } | null }>>;

/** Reads the submitted (or partially filled) form back. */
export function readRequestModal(values: StateValues): { name: string; template?: string; count?: number; instanceType?: string; purpose: string } {
  const find = (key: string) => {
    const v = Object.values(values[key] ?? {})[0];
    return v?.selected_option?.value ?? v?.value ?? undefined;
  };
  const template = find(Ids.block.template);
  // Count and type belong to the template they were drawn for: a value left from another template is ignored.
  const count = template ? find(`${Ids.block.count}:${template}`) : undefined;
  const instanceType = template ? find(`${Ids.block.type}:${template}`) : undefined;
  return {
    name: (find(Ids.block.name) ?? '').trim(),
    ...(template ? { template } : {}),
    ...(count ? { count: Number(count) } : {}),
    ...(instanceType ? { instanceType } : {}),
    purpose: find(Ids.block.purpose) ?? '',
  };
}

/** The block a validation error belongs to, for `response_action: errors`. */
export function blockIdFor(field: 'name' | 'template' | 'count' | 'type' | 'purpose', template?: Template): string {
  switch (field) {
    case 'count':
      return template && template.servers.max > template.servers.min ? `${Ids.block.count}:${template.name}` : Ids.block.template;
    case 'type':
      return template && Object.keys(template.instanceTypes).length > 1 ? `${Ids.block.type}:${template.name}` : Ids.block.template;
    default:
      return Ids.block[field];
  }
}


/** The form's private metadata, read back; anything unexpected (it comes back from Slack) is dropped. */
export function readRequestMetadata(raw: string | undefined): RequestModalMetadata {
  try {
    const parsed = JSON.parse(raw || '{}') as RequestModalMetadata;
    return typeof parsed.channel === 'string' && /^[CDG][A-Z0-9]+$/.test(parsed.channel) ? { channel: parsed.channel } : {};
  } catch {
    return {};
  }
}

/**
 * What the request costs, redrawn as the template, count and type change: awake per hour, a day with
 * its schedule applied, a month of such days, and a day asleep. Prices are the template catalogue's.
 */
export function costBlock(template: Template, state: Pick<RequestModalState, 'count' | 'instanceType' | 'scheduleOf'>): Block {
  const count = state.count && state.count >= template.servers.min && state.count <= template.servers.max ? state.count : template.servers.default;
  const type = state.instanceType && state.instanceType in template.instanceTypes ? state.instanceType : template.instanceType;
  const hourly = hourlyCost(template, type, count);
  const schedule = state.scheduleOf?.(template);
  const awakeHoursPerDay = schedule ? awakeHoursPerWeek(schedule) / 7 : 24;
  const daily = hourly * awakeHoursPerDay;
  const data = dataSpecOf(template);
  const volumeGiB = template.volumes.reduce((sum, v) => sum + v.sizeGiB, 0);
  const asleep =
    data.sleep === 'stop'
      ? `${formatUsd(stoppedDailyUsd(volumeGiB, count))}/day asleep (its ${volumeGiB * count} GiB of volumes kept)`
      : `${formatUsd(archivedDailyUsd(1e9))} per GB of its data a day asleep (in S3)`;
  const on = schedule ? `with its schedule (${formatSchedule(schedule)}, ${awakeHoursPerDay.toFixed(1)} h a day on average)` : 'always on';
  return {
    type: 'context',
    block_id: 'cost',
    elements: [
      {
        type: 'mrkdwn',
        text: `*Cost:* ${formatUsd(hourly)}/h awake (${count} × ${type}) · ${formatUsd(daily)}/day ${on} · ${formatUsd(daily * 30)}/month · ${asleep}`,
      },
    ],
  };
}
