/** The savings report: `/server savings` and the weekly post. Pure. */
import type { types } from '@slack/bolt';
import type { SavingsLine } from '../../../core/schedule/savings.js';
import type { SavingsView } from '../../../core/use-cases/savings.use-case.js';
import type { Reply } from './replies.js';
import { esc, md } from './text.js';

const usd = (n: number) => `$${n.toFixed(2)}`;
const pct = (n: number) => `${(n * 100).toFixed(1)}%`;
const hours = (n: number) => `${n.toFixed(1)} h`;

function line(label: string, l: SavingsLine): string {
  return `${label}: awake ${hours(l.awakeHours)} of ${hours(l.alwaysOnHours)} always-on (${pct(l.avoidedShare)} avoided) · spent ${usd(l.spentUsd)} · saved ${usd(l.savedUsd)}`;
}

const owner = (id: string) => (/^[UW][A-Z0-9]+$/.test(id) ? `<@${id}>` : esc(id));

export function savingsReply(view: SavingsView): Reply {
  const period = `${view.from.slice(0, 10)} to ${view.to.slice(0, 10)}`;
  if (view.fleet.environments === 0) {
    const text = `Savings, ${period}: no environment ran in these seven days.`;
    return { text, blocks: [{ type: 'section', text: md(text) }] };
  }
  const head = `*Savings, ${period}* (${view.fleet.environments} environment${view.fleet.environments === 1 ? '' : 's'})\n${line('Fleet', view.fleet)}`;
  const target = `The default schedule (${esc(view.defaultSchedule)}) avoids ${pct(view.defaultAvoids)} of always-on hours by itself; the fleet avoided ${pct(view.fleet.avoidedShare)}.`;
  const owners = view.byOwner.slice(0, 15).map((l) => `• ${line(owner(l.key), l)}`);
  const teams = view.byTeam.map((l) => `• ${line(esc(l.key), l)}`);
  const blocks: types.KnownBlock[] = [
    { type: 'section', text: md(head) },
    { type: 'context', elements: [md(target)] },
    { type: 'section', text: md(`*Per team*\n${teams.join('\n')}`) },
    { type: 'section', text: md(`*Per owner*\n${owners.join('\n')}${view.byOwner.length > 15 ? `\n…and ${view.byOwner.length - 15} more.` : ''}`) },
  ];
  return { text: `Savings, ${period}: ${usd(view.fleet.savedUsd)} saved, ${pct(view.fleet.avoidedShare)} of always-on hours avoided.`, blocks };
}
