/**
 * The App Home tab, for the person looking: their environments (state, schedule, cost this month, and
 * the buttons that fit: Wake, Sleep, Extend 1 h, Destroy); for admins, the fleet too (environments by
 * state, spend today and this month, top spenders). Pure.
 */
import type { types } from '@slack/bolt';
import type { Environment } from '../../../core/environment/environment.js';
import { availableActions, LIVE_STATES } from '../../../core/environment/lifecycle.js';
import { formatUsd } from '../../../core/environment/template.js';
import { monthToDateUsd, todayUsd } from '../../../core/policies/estimate.js';
import { environmentValue, Ids, reminderValue } from '../ids.js';
import type { Block } from './environment.message.js';
import { scheduleLine } from './schedule.blocks.js';
import { cancelButton, rulesText, utc } from './approval.blocks.js';
import { age, md, plain, serverCount, stateEmoji, stateLabel } from './text.js';

/** Environments shown with their own section and buttons (a Home view holds at most 100 blocks). */
const MAX = 20;

export interface HomeFleet {
  /** Every live environment (admins see them). */
  environments: readonly Environment[];
}

/** A quota of the person looking, and what it holds now. */
export interface HomeQuota {
  scope: 'person' | 'team';
  team?: string;
  usage: { servers: number; usdPerDay: number };
  limits: { servers?: number; usdPerDay?: number };
}

export interface HomeExtras {
  /** Requests waiting for this person's answer (leads, admins). */
  waiting?: readonly Environment[];
  quotas?: readonly HomeQuota[];
}

export function homeView(envs: readonly Environment[], now: Date, fleet?: HomeFleet, extras: HomeExtras = {}): types.HomeView {
  const blocks: Block[] = [];
  if (extras.waiting?.length) blocks.push(...waitingBlocks(extras.waiting));
  blocks.push({ type: 'header', text: plain('Your environments', 150) });
  if (!envs.length) blocks.push({ type: 'section', text: md('You have no environments. Start one with `/server new <name>` in any channel.') });
  for (const e of envs.slice(0, MAX)) blocks.push(...environmentSection(e, now));
  if (envs.length > MAX) blocks.push({ type: 'context', elements: [md(`…and ${envs.length - MAX} more: \`/server list\`.`)] });
  if (extras.quotas?.length) blocks.push({ type: 'context', elements: [md(extras.quotas.map(quotaLine).join(' · '))] });
  if (fleet) blocks.push(...fleetBlocks(fleet, now));
  blocks.push({ type: 'context', elements: [md('`/server status <name>` for details · `/server help` for everything Dormouse does')] });
  return { type: 'home', blocks };
}

function environmentSection(e: Environment, now: Date): Block[] {
  const line = `${stateEmoji(e.state)} *${e.name}* · ${stateLabel(e.state)} · ${serverCount(e)} · \`${e.template}\` · ${age(e.createdAt, now)} · ${formatUsd(monthToDateUsd(e, now))} this month`;
  const schedule = scheduleLine(e);
  const out: Block[] = [{ type: 'section', text: md(schedule ? `${line}\n${schedule}` : line) }];
  const can = availableActions(e);
  const buttons: types.Button[] = [];
  if (can.wake) buttons.push({ type: 'button', text: plain('Wake', 75), action_id: Ids.action.wake, value: environmentValue(e), style: 'primary' });
  if (can.sleep) buttons.push({ type: 'button', text: plain('Sleep', 75), action_id: Ids.action.sleep, value: environmentValue(e) });
  if (e.state === 'ready' && e.timers?.sleepAt && !e.timers.sleeping) {
    buttons.push({ type: 'button', text: plain('Extend 1 h', 75), action_id: Ids.action.extendHour, value: reminderValue(e, e.timers.sleepAt) });
  }
  if (e.state === 'awaiting_approval') buttons.push(cancelButton(e));
  else if (can.destroy) buttons.push({ type: 'button', text: plain('Destroy', 75), action_id: Ids.action.destroy, value: environmentValue(e), style: 'danger' });
  if (buttons.length) out.push({ type: 'actions', block_id: `home:${e.name}`, elements: buttons });
  return out;
}

/** `Your quota: 3 of 6 servers, $4.10 of $10.00 a day` (a team's says whose). */
function quotaLine(q: HomeQuota): string {
  const parts = [
    q.limits.servers !== undefined ? `${q.usage.servers} of ${q.limits.servers} servers` : '',
    q.limits.usdPerDay !== undefined ? `${formatUsd(q.usage.usdPerDay)} of ${formatUsd(q.limits.usdPerDay)} a day` : '',
  ].filter(Boolean);
  return `${q.scope === 'team' ? `Team ${q.team ?? ''} quota` : 'Your quota'}: ${parts.join(', ')}`;
}

/** Requests waiting for the viewer's answer: who asks, what, the cost and why, with Approve and Reject. */
function waitingBlocks(waiting: readonly Environment[]): Block[] {
  const blocks: Block[] = [{ type: 'header', text: plain(`Waiting for your approval (${waiting.length})`, 150) }];
  for (const e of waiting.slice(0, MAX)) {
    const a = e.approval;
    const cost = a ? `${formatUsd(a.estimate.monthlyUsd)}/month` : `${formatUsd(e.hourlyCostUsd)}/h`;
    blocks.push({
      type: 'section',
      text: md(`*${e.name}* · <@${e.owner}> · ${serverCount(e)} · \`${e.template}\` · ${cost}${a ? ` · expires ${utc(a.expiresAt)}` : ''}\n${rulesText(e)}`),
    });
    blocks.push({
      type: 'actions',
      block_id: `approve:${e.name}`,
      elements: [
        { type: 'button', text: plain('Approve', 75), action_id: Ids.action.approve, value: environmentValue(e), style: 'primary' },
        { type: 'button', text: plain('Reject', 75), action_id: Ids.action.reject, value: environmentValue(e), style: 'danger' },
      ],
    });
  }
  if (waiting.length > MAX) blocks.push({ type: 'context', elements: [md(`…and ${waiting.length - MAX} more, in the approvers' channel.`)] });
  blocks.push({ type: 'divider' });
  return blocks;
}

function fleetBlocks(fleet: HomeFleet, now: Date): Block[] {
  const envs = fleet.environments;
  const byState = LIVE_STATES.map((s) => [s, envs.filter((e) => e.state === s).length] as const).filter(([, n]) => n > 0);
  const today = envs.reduce((sum, e) => sum + todayUsd(e, now), 0);
  const month = envs.reduce((sum, e) => sum + monthToDateUsd(e, now), 0);
  const owners = new Map<string, number>();
  for (const e of envs) owners.set(e.owner, (owners.get(e.owner) ?? 0) + monthToDateUsd(e, now));
  const top = [...owners].sort((a, b) => b[1] - a[1]).slice(0, 5);
  return [
    { type: 'divider' },
    { type: 'header', text: plain('The fleet', 150) },
    {
      type: 'section',
      text: md(
        `${envs.length} live environment${envs.length === 1 ? '' : 's'}: ${byState.map(([s, n]) => `${n} ${stateLabel(s)}`).join(', ') || 'none'}\n` +
          `Spent today ${formatUsd(today)} · this month ${formatUsd(month)} (servers awake, UTC days)`,
      ),
    },
    ...(top.length ? [{ type: 'section', text: md(`*Top spenders this month*\n${top.map(([o, usd]) => `<@${o}> ${formatUsd(usd)}`).join('\n')}`) } satisfies Block] : []),
  ];
}
