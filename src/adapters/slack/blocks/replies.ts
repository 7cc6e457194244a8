/** Ephemeral answers to `/server …`: list, status, templates, help, confirmations. Pure. */
import type { types } from '@slack/bolt';
import type { Environment } from '../../../core/environment/environment.js';
import type { AuditEvent } from '../../../core/ports/environment-repository.port.js';
import { formatUsd, type Template } from '../../../core/environment/template.js';
import { environmentValue, Ids } from '../ids.js';
import { failureSentence } from '../text/errors.text.js';
import type { Block } from './environment.message.js';
import type { ScheduleView } from '../../../core/use-cases/schedule.use-case.js';
import { when } from './schedule.blocks.js';
import { monthToDateUsd } from '../../../core/policies/estimate.js';
import { age, esc, md, plain, serverCount, stateEmoji, stateLabel, stepLine, truncate, who } from './text.js';

export interface Reply {
  text: string;
  blocks?: Block[];
}

const MAX_LIST = 40;

export function listReply(envs: Environment[], now: Date, scope: 'mine' | 'all'): Reply {
  if (!envs.length) {
    return {
      text:
        scope === 'mine'
          ? 'You have no environments. Start one with `/server new <name>`.'
          : 'There are no environments. Start one with `/server new <name>`.',
    };
  }
  const lines = envs.slice(0, MAX_LIST).map((e) => {
    const owner = scope === 'all' ? ` · <@${e.owner}>` : '';
    return `${stateEmoji(e.state)} *${e.name}* · ${stateLabel(e.state)} · ${serverCount(e)} · \`${e.template}\`${owner} · ${age(e.createdAt, now)} · ${formatUsd(monthToDateUsd(e, now))} this month`;
  });
  const more = envs.length > MAX_LIST ? `\n…and ${envs.length - MAX_LIST} more.` : '';
  const title = scope === 'mine' ? 'Your environments' : 'All environments';
  return {
    text: `${title}: ${envs.map((e) => `${e.name} (${stateLabel(e.state)})`).join(', ')}`,
    blocks: [
      { type: 'section', text: md(`*${title}* (${envs.length})`) },
      { type: 'section', text: md(truncate(lines.join('\n') + more, 3000)) },
      { type: 'context', elements: [md('`/server status <name>` for details')] },
    ],
  };
}

export function statusReply(env: Environment, events: AuditEvent[], now: Date, schedule?: ScheduleView): Reply {
  const fields = [
    md(`*State*\n${stateEmoji(env.state)} ${stateLabel(env.state)}`),
    md(`*Owner*\n<@${env.owner}>`),
    md(`*Template*\n\`${env.template}\``),
    md(`*Servers*\n${serverCount(env)}`),
    md(`*Cost*\n${formatUsd(env.hourlyCostUsd)}/h · ${formatUsd(monthToDateUsd(env, now))} this month`),
    md(`*Age*\n${age(env.createdAt, now)}`),
  ];
  const blocks: Block[] = [
    { type: 'header', text: plain(env.name, 150) },
    { type: 'section', fields },
  ];
  if (env.purpose) blocks.push({ type: 'section', text: md(`*Purpose*\n${esc(env.purpose)}`) });
  if (schedule) {
    const next = [
      schedule.nextSleep ? `next sleep ${when(schedule.nextSleep, schedule.zone)}` : undefined,
      schedule.nextWake ? `next wake ${when(schedule.nextWake, schedule.zone)}` : undefined,
    ].filter(Boolean);
    blocks.push({ type: 'section', text: md(`*Schedule*\n${esc(schedule.text)} (${schedule.zone})${next.length ? ` · ${next.join(' · ')}` : ''}`) });
  }
  if (env.servers.length) {
    blocks.push({
      type: 'section',
      text: md(
        env.servers
          .map((s) => `*Server ${s.index + 1}* \`${s.instanceId}\` · ${s.privateIp ?? 'no IP'} · ${s.state}`)
          .join('\n'),
      ),
    });
  }
  if (env.failure) {
    blocks.push({ type: 'section', text: md(`:warning: Failed at \`${env.failure.step}\`: ${failureSentence(env.failure)}`) });
  }
  if (env.progress.length) blocks.push({ type: 'section', text: md(env.progress.map(stepLine).join('\n')) });
  if (events.length) {
    blocks.push({
      type: 'section',
      text: md(
        `*Recent events*\n${events
          .map((e) => `• ${e.at.slice(0, 19).replace('T', ' ')} ${esc(truncate(e.message, 200))}${e.actor ? ` (${who(e.actor)})` : ''}`)
          .join('\n')}`,
      ),
    });
  }
  return { text: `${env.name}: ${stateLabel(env.state)}`, blocks };
}

/** `/server history`: the audit trail, newest first, in sections of whole lines. */
export function historyReply(env: Environment, events: AuditEvent[]): Reply {
  const title = `*History of ${esc(env.name)}* (${env.id}), newest first: ${events.length} event${events.length === 1 ? '' : 's'}`;
  if (!events.length) return { text: `${env.name}: nothing recorded yet.`, blocks: [{ type: 'section', text: md(`${title}.`) }] };
  const lines = events.map((e) => `• ${e.at.slice(0, 19).replace('T', ' ')} UTC · ${esc(truncate(e.message, 300))}${e.actor ? ` · ${who(e.actor)}` : ''}`);
  const sections: string[] = [];
  let current = '';
  for (const line of lines) {
    if (current && current.length + line.length + 1 > 2900) {
      sections.push(current);
      current = '';
    }
    current = current ? `${current}\n${line}` : line;
  }
  if (current) sections.push(current);
  const shown = sections.slice(0, 45);
  const blocks: Block[] = [{ type: 'section', text: md(title) }, ...shown.map((t): Block => ({ type: 'section', text: md(t) }))];
  if (sections.length > shown.length) blocks.push({ type: 'context', elements: [md('Older events are left out.')] });
  return { text: `History of ${env.name}: ${events.length} events`, blocks };
}

export function templatesReply(templates: readonly Template[]): Reply {
  const lines = templates.map((t) => {
    const types = Object.entries(t.instanceTypes).map(([k, v]) => `\`${k}\` ${formatUsd(v)}/h`).join(', ');
    const servers = t.servers.min === t.servers.max ? `${t.servers.min}` : `${t.servers.min}-${t.servers.max}`;
    return `*${t.name}*: ${esc(t.description)}\n   ${servers} server${t.servers.max === 1 ? '' : 's'} · ${types}`;
  });
  return {
    text: `Templates: ${templates.map((t) => t.name).join(', ')}`,
    blocks: [
      { type: 'section', text: md('*Templates*') },
      { type: 'section', text: md(truncate(lines.join('\n'), 3000)) },
      { type: 'context', elements: [md('`/server new <name> --template <template>`')] },
    ],
  };
}

export const USAGE = [
  '*Dormouse* gives you servers in the cloud. Usage:',
  '`/server new <name>`: ask for an environment (a form opens)',
  '`/server new <name> --template <t> [--count <n>] [--type <instance type>] [--purpose "…"]`: skip the form',
  '`/server list` · `/server list all`: your environments · everyone\'s',
  '`/server status <name>`: one environment in detail',
  '`/server destroy <name>`: terminate its servers (owner or admin)',
  '`/server retry <name>`: retry a failed environment',
  '`/server sleep <name>` · `/server wake <name> [--generation N]`: save its data and let the servers go · bring it back with its data',
  '`/server save <name>` · `/server data <name>`: save its data now · list what is saved',
  '`/server restore <name>`: bring a destroyed environment back from the data it kept',
  '`/server schedule <name> [weekdays 09:00-18:00 [Europe/Paris] [--wake-at 08:30] | every day 07:00-23:00 | off]`: when it is awake',
  '`/server savings`: what sleeping saved this week',
  '`/server history <name>`: everything recorded about it: who, when, what',
  '`/server templates`: what you can ask for',
  '`/server help`: this message',
].join('\n');

export function helpReply(prefix?: string): Reply {
  const text = prefix ? `${prefix}\n\n${USAGE}` : USAGE;
  return { text, blocks: [{ type: 'section', text: md(text) }] };
}

export function errorReply(message: string): Reply {
  return { text: `:warning: ${message}`, blocks: [{ type: 'section', text: md(`:warning: ${message}`) }] };
}

export function infoReply(message: string): Reply {
  return { text: message, blocks: [{ type: 'section', text: md(message) }] };
}

/**
 * Destroy / Cancel; for a ready environment whose data can be kept, "Save data and destroy" first:
 * its data is saved as a generation and kept for the retention period (`/server restore` brings it back).
 */
export function destroyConfirmReply(env: Environment, keep?: { retentionDays: number }): Reply {
  const servers = `${serverCount(env)} server${env.count === 1 ? '' : 's'}`;
  const saving = keep && env.state === 'ready';
  const text = saving
    ? `Destroy \`${env.name}\`? Its ${servers} will be terminated. *Save data and destroy* keeps its data for ${keep.retentionDays} day${keep.retentionDays === 1 ? '' : 's'} (\`/server restore ${env.name}\` brings it back); *Destroy without saving* keeps ${env.data?.latest ? `only generation ${env.data.latest.number}, saved before` : 'nothing'}.`
    : `Destroy \`${env.name}\`? Its ${servers} will be terminated. This cannot be undone.`;
  const buttons: types.Button[] = saving
    ? [
        { type: 'button', text: plain('Save data and destroy', 75), style: 'primary', action_id: Ids.action.destroySave, value: environmentValue(env) },
        { type: 'button', text: plain('Destroy without saving', 75), style: 'danger', action_id: Ids.action.destroyConfirm, value: environmentValue(env) },
      ]
    : [{ type: 'button', text: plain(`Destroy ${env.name}`, 75), style: 'danger', action_id: Ids.action.destroyConfirm, value: environmentValue(env) }];
  buttons.push({ type: 'button', text: plain('Cancel', 75), action_id: Ids.action.destroyCancel, value: environmentValue(env) });
  return { text, blocks: [{ type: 'section', text: md(`:warning: ${text}`) }, { type: 'actions', block_id: 'destroy_confirm', elements: buttons }] };
}

export function requestedReply(env: Environment): Reply {
  return infoReply(`:rocket: \`${env.name}\` is on its way: follow its progress in the message above.`);
}
