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
import { age, md, plain, serverCount, stateEmoji, stateLabel } from './text.js';

/** Environments shown with their own section and buttons (a Home view holds at most 100 blocks). */
const MAX = 20;

export interface HomeFleet {
  /** Every live environment (admins see them). */
  environments: readonly Environment[];
}

export function homeView(envs: readonly Environment[], now: Date, fleet?: HomeFleet): types.HomeView {
  const blocks: Block[] = [{ type: 'header', text: plain('Your environments', 150) }];
  if (!envs.length) blocks.push({ type: 'section', text: md('You have no environments. Start one with `/server new <name>` in any channel.') });
  for (const e of envs.slice(0, MAX)) blocks.push(...environmentSection(e, now));
  if (envs.length > MAX) blocks.push({ type: 'context', elements: [md(`…and ${envs.length - MAX} more: \`/server list\`.`)] });
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
  if (can.destroy) buttons.push({ type: 'button', text: plain('Destroy', 75), action_id: Ids.action.destroy, value: environmentValue(e), style: 'danger' });
  if (buttons.length) out.push({ type: 'actions', block_id: `home:${e.name}`, elements: buttons });
  return out;
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
