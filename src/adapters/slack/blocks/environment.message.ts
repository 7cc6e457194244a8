/** The one message per environment, updated in place as it moves. Pure. */
import type { types } from '@slack/bolt';
import type { Environment } from '../../../core/environment/environment.js';
import { formatUsd } from '../../../core/environment/template.js';
import { availableActions } from '../../../core/environment/lifecycle.js';
import { failureSentence } from '../text/errors.text.js';
import { asleepText } from './data.blocks.js';
import { cancelButton, decisionText, waitingBlocks } from './approval.blocks.js';
import { scheduleLine } from './schedule.blocks.js';
import { environmentValue, Ids } from '../ids.js';
import { duration, esc, md, plain, serverCount, stateEmoji, stateLabel, stepLine, truncate, who } from './text.js';
import { formatBytes } from '../../../core/environment/sizes.js';
import type { ThreadNote } from '../../../core/ports/notifier.port.js';

/** A Block Kit block, as Slack's own types describe it: the builders are type-checked at the boundary. */
export type Block = types.KnownBlock;

export function environmentText(env: Environment): string {
  return `${env.name} is ${stateLabel(env.state)}`;
}

export function environmentBlocks(env: Environment): Block[] {
  const blocks: Block[] = [
    { type: 'header', text: plain(`${env.name}`, 150) },
    {
      type: 'context',
      elements: [
        md(
          `${stateEmoji(env.state)} *${stateLabel(env.state)}* · <@${env.owner}> · \`${env.template}\` · ${serverCount(env)} · ${formatUsd(env.hourlyCostUsd)}/h` +
            (env.purpose ? ` · ${esc(truncate(env.purpose, 200))}` : ''),
        ),
      ],
    },
  ];
  if (env.progress.length) {
    blocks.push({ type: 'section', text: md(env.progress.map(stepLine).join('\n'), 3000) });
  }
  if (env.state === 'ready' && env.servers.length) {
    // One line a server, so a channel with many environments stays readable; how to connect is in the thread.
    const lines = env.servers.map((s) => `*Server ${s.index + 1}* · \`${s.instanceId}\` · ${s.privateIp ?? 'no private IP'}`);
    blocks.push({ type: 'section', text: md(truncate(lines.join('\n'), 3000)) });
    blocks.push({ type: 'context', elements: [md('How to connect to each server: in the thread.')] });
  }
  if (env.state === 'asleep') blocks.push({ type: 'section', text: md(asleepText(env)) });
  if (env.state === 'awaiting_approval') blocks.push(...waitingBlocks(env));
  const decided = decisionText(env);
  if (decided && (env.state === 'rejected' || env.approval?.decision?.outcome === 'approved')) blocks.push({ type: 'context', elements: [md(decided)] });
  const schedule = scheduleLine(env);
  if (schedule) blocks.push({ type: 'context', elements: [md(schedule)] });
  if (env.state === 'failed' && env.failure) {
    const f = env.failure;
    let text = `:warning: *Failed while ${failedStepLabel(f.step)}* (${tryLabel(env)}): ${failureSentence(f)}\n\`${f.code}\``;
    if (f.output) text += `\n\`\`\`${esc(truncate(f.output, 2000))}\`\`\``;
    blocks.push({ type: 'section', text: md(text) });
  }
  // The buttons follow the transition table: what this state may become.
  const can = availableActions(env);
  const actions: types.Button[] = [];
  if (can.retry) {
    actions.push({ type: 'button', text: plain('Retry', 75), action_id: Ids.action.retry, value: environmentValue(env), style: 'primary' });
  }
  if (can.sleep) {
    actions.push({ type: 'button', text: plain('Sleep', 75), action_id: Ids.action.sleep, value: environmentValue(env), confirm: sleepConfirmDialog(env) });
  }
  if (can.wake) {
    actions.push({ type: 'button', text: plain('Wake', 75), action_id: Ids.action.wake, value: environmentValue(env), style: 'primary' });
  }
  if (env.state === 'awaiting_approval') actions.push(cancelButton(env));
  else if (can.destroy) {
    actions.push({
      type: 'button',
      text: plain('Destroy', 75),
      action_id: Ids.action.destroy,
      value: environmentValue(env),
      style: 'danger',
      // A ready environment's Destroy answers with a choice (save its data first, or not); elsewhere Slack confirms.
      ...(env.state === 'ready' ? {} : { confirm: destroyConfirmDialog(env.name) }),
    });
  }
  if (actions.length) blocks.push({ type: 'actions', block_id: `env_actions`, elements: actions });
  return blocks;
}

export function sleepConfirmDialog(env: Environment): types.ConfirmationDialog {
  const servers = env.servers.length === 1 ? 'its server goes' : `its ${env.servers.length} servers go`;
  return {
    title: plain('Put it to sleep?', 100),
    text: md(`The data of \`${env.name}\` is saved and verified first; only then ${servers}. *Wake* brings it back on fresh servers with that data.`),
    confirm: plain('Sleep', 30),
    deny: plain('Keep it awake', 30),
  };
}

export function destroyConfirmDialog(name: string): types.ConfirmationDialog {
  return {
    title: plain('Destroy environment?', 100),
    text: md(`Every server of \`${name}\` will be terminated. This cannot be undone.`),
    confirm: plain('Destroy', 30),
    deny: plain('Keep it', 30),
    style: 'danger',
  };
}

export function failedStepLabel(step: string): string {
  switch (step) {
    case 'launch':
      return 'launching instances';
    case 'running':
      return 'waiting for instances to run';
    case 'agent':
      return 'waiting for the SSM agent';
    case 'bootstrap':
      return 'bootstrapping';
    case 'destroy':
      return 'destroying';
    case 'save':
      return 'saving data';
    case 'terminate':
      return 'terminating the servers after the save';
    case 'wake':
      return 'waking';
    case 'restore':
      return 'restoring data';
    case 'repair':
      return 'replacing a lost server';
    default:
      return step;
  }
}

/** The ops channel alert: what failed, for whom, and buttons to act. */
export function opsAlertBlocks(env: Environment): Block[] {
  const f = env.failure;
  const blocks: Block[] = [
    {
      type: 'section',
      text: md(
        `:rotating_light: *${env.name}* (<@${env.owner}>, \`${env.template}\`, ${serverCount(env)}) failed while *${failedStepLabel(f?.step ?? 'unknown')}* (${tryLabel(env)}).\n${f ? failureSentence(f) : 'No reason recorded.'}\n\`${f?.code ?? 'UNKNOWN'}\``,
      ),
    },
  ];
  if (f?.output) blocks.push({ type: 'section', text: md(`\`\`\`${esc(truncate(f.output, 2500))}\`\`\``) });
  if (env.servers.length) {
    blocks.push({ type: 'context', elements: [md(env.servers.map((s) => `\`${s.instanceId}\``).join(' · '))] });
  }
  blocks.push({
    type: 'actions',
    block_id: 'ops_actions',
    elements: [
      { type: 'button', text: plain('Retry', 75), action_id: Ids.action.opsRetry, value: environmentValue(env), style: 'primary' },
      { type: 'button', text: plain('Destroy', 75), action_id: Ids.action.opsDestroy, value: environmentValue(env), style: 'danger', confirm: destroyConfirmDialog(env.name) },
    ],
  });
  return blocks;
}

export function ownerFailureText(env: Environment): string {
  const f = env.failure;
  return `:red_circle: \`${env.name}\` failed while ${failedStepLabel(f?.step ?? 'unknown')} (${tryLabel(env)}): ${f ? failureSentence(f) : ''} Ops have been alerted. Use *Retry* on its message, or \`/server destroy ${env.name}\`.`;
}

/** A note in the environment's thread: where it has got to, and once ready, how to connect to each server. */
export function threadNoteText(env: Environment, note: ThreadNote): string {
  if (note === 'destroyed') {
    const kept = env.data?.keptUntil;
    return kept
      ? `\`${env.name}\` was destroyed. Its data (generation ${env.data?.latest?.number ?? '?'}) is kept until ${kept.slice(0, 10)} ${kept.slice(11, 16)} UTC: \`/server restore ${env.name}\` brings it back until then.`
      : `\`${env.name}\` was destroyed.`;
  }
  if (note === 'asleep') return asleepNote(env);
  if (note === 'saved') {
    const g = env.data?.latest;
    return g ? `Saved generation ${g.number} of \`${env.name}\`: ${formatBytes(g.bytes)}, every part verified.` : `Saved \`${env.name}\`.`;
  }
  if (note === 'woke') return wokeNote(env);
  if (note === 'repaired') return repairedNote(env);
  if (note === 'decided') return decisionText(env) ?? `\`${env.name}\` is ${stateLabel(env.state)}.`;
  const connect = env.servers.map((s) => `Server ${s.index + 1}: \`aws ssm start-session --target ${s.instanceId}\``);
  const keep = `Not using it for a while? *Sleep* saves its data and lets the servers go (\`/server wake ${env.name}\` brings it back); *Destroy* offers to save its data first and keeps it for \`/server restore ${env.name}\`.`;
  return truncate([`\`${env.name}\` is ready. To connect:`, ...connect, keep].join('\n'), 3000);
}

/** What a repair replaced, and what its owner lost: the data written on those servers since the generation restored. */
export function repairedNote(env: Environment): string {
  const r = env.repaired;
  if (!r) return `\`${env.name}\` is ready again.`;
  const why = { terminated: 'terminated', stopped: 'stopped', missing: 'gone', drifted: 'not what its record says' } as const;
  const lines = r.servers.map((s) => `Server ${s.index + 1}: ${s.lost} was ${why[s.why]}; ${s.instanceId ?? 'a new server'} took its place${s.adopt ? ' (adopted)' : ''}${s.restored ? `, ${formatBytes(s.restored.bytes)} restored` : ''}.`);
  const g = r.generation;
  const lost = g
    ? `Its data is back as of generation ${g.number}, saved ${g.createdAt.slice(0, 10)} ${g.createdAt.slice(11, 16)} UTC: what was written on ${r.servers.length === 1 ? 'that server' : 'those servers'} since then is lost.`
    : `There was no saved data to restore: ${r.servers.length === 1 ? 'that server starts' : 'those servers start'} with what the template's bootstrap puts there; what was on ${r.servers.length === 1 ? 'it' : 'them'} is lost.`;
  const by = r.by === 'reconciler' ? 'Replaced automatically (the template repairs on its own).' : `Repair started by <@${r.by}>.`;
  return truncate([`<@${env.owner}> \`${env.name}\` lost ${r.servers.length === 1 ? 'a server' : `${r.servers.length} servers`} and is ready again. The other servers were not touched.`, ...lines, lost, by].join('\n'), 3000);
}

function asleepNote(env: Environment): string {
  const g = env.data?.latest;
  const parts = env.progress.filter((p) => p.key.startsWith('save:')).map((p) => `${p.label}: ${p.detail ?? 'done'}`);
  return truncate([`\`${env.name}\` is asleep${g ? `: generation ${g.number}, ${formatBytes(g.bytes)}, stored and verified before its servers went` : ''}.`, ...parts].join('\n'), 3000);
}

function wokeNote(env: Environment): string {
  const lines = env.progress
    .filter((p) => p.key.startsWith('bootstrap:') || p.key.startsWith('restore:'))
    .map((p) => `${p.label}: ${p.detail ?? 'done'}${p.startedAt && p.endedAt ? ` (${duration(Date.parse(p.endedAt) - Date.parse(p.startedAt))})` : ''}`);
  const connect = env.servers.map((s) => `Server ${s.index + 1}: \`aws ssm start-session --target ${s.instanceId}\``);
  return truncate([`\`${env.name}\` is awake, its data restored and checked.`, ...lines, 'To connect:', ...connect].join('\n'), 3000);
}

/**
 * Which try failed and when: "try 2 of 2, 09:02 UTC". Every retry is a new try, so a person sees that a
 * retry happened and failed again, not "attempt 1" twice.
 */
export function tryLabel(env: Environment): string {
  const tries = env.retries + 1;
  const at = env.failure?.at ? `, ${env.failure.at.slice(11, 16)} UTC` : '';
  return `try ${tries} of ${tries}${at}`;
}

/** What an ops alert was about, in one line: kept, so the alert can say it after its buttons go. */
export function alertSummary(env: Environment): string {
  return `*${env.name}* (<@${env.owner}>) failed while ${failedStepLabel(env.failure?.step ?? 'unknown')} (${tryLabel(env)}).`;
}

/** Who acted on a failure, and how, from what the environment is now. */
export function handledText(env: Environment, now: Date): string {
  const at = `${now.toISOString().slice(11, 16)} UTC`;
  if (env.state === 'destroying' || env.state === 'destroyed') return env.destroyedBy ? `${who(env.destroyedBy)} destroyed it, ${at}.` : `It was destroyed, ${at}.`;
  if (env.retriedBy) return `${who(env.retriedBy)} retried it (try ${env.retries + 1}), ${at}.`;
  return `It went on, ${at}.`;
}

/** An ops alert once someone acted on it: what failed, who handled it and how; no buttons. */
export function opsAlertHandledBlocks(summary: string, handled: string): Block[] {
  return [
    { type: 'section', text: md(`:white_check_mark: ${summary}`) },
    { type: 'context', elements: [md(`Handled: ${handled}`)] },
  ];
}
