/**
 * What a request waiting for approval looks like: on the requester's message
 * (who can approve, why, until when, Cancel) and in the approvers' channel
 * (everything an approver needs to decide, Approve and Reject), and what is
 * left of both once it is decided. Pure.
 */
import type { types } from '@slack/bolt';
import type { Environment } from '../../../core/environment/environment.js';
import { formatUsd } from '../../../core/environment/template.js';
import { environmentValue, Ids } from '../ids.js';
import { esc, md, plain, serverCount, truncate, who } from './text.js';
import { failureSentence } from '../text/errors.text.js';

type Block = types.KnownBlock;

/** `Mon 30 Nov 14:05 UTC` */
export const utc = (iso: string): string => {
  const d = new Date(iso);
  const day = d.toLocaleDateString('en-GB', { weekday: 'short', day: 'numeric', month: 'short', timeZone: 'UTC' }).replace(',', '');
  return `${day} ${iso.slice(11, 16)} UTC`;
};

const mentions = (users: readonly string[]): string => (users.length ? users.map((u) => `<@${u}>`).join(', ') : 'an admin');

/** Who can approve: the approvers (and the user group mentioned), in which channel. */
export function approversText(env: Environment): string {
  const a = env.approval?.approvers;
  if (!a) return 'an admin';
  return `${mentions(a.users)}${a.userGroup ? ` (<!subteam^${a.userGroup}>)` : ''} in <#${a.channel}>`;
}

/** Why it waits: one line per rule. */
export function rulesText(env: Environment): string {
  return (env.approval?.rules ?? []).map((r) => `• *${esc(r.name)}*: ${esc(r.reason)}`).join('\n');
}

function costText(env: Environment): string {
  const e = env.approval?.estimate;
  if (!e) return `${formatUsd(env.hourlyCostUsd)}/h`;
  return `${formatUsd(e.hourlyUsd)}/h awake · ${formatUsd(e.dailyUsd)}/day on its schedule · *${formatUsd(e.monthlyUsd)}/month*`;
}

/** What happened to the request, in one sentence (decided, cancelled, expired, or refused by a quota). */
export function decisionText(env: Environment): string | undefined {
  const d = env.approval?.decision;
  if (d) {
    const at = utc(d.at);
    switch (d.outcome) {
      case 'approved':
        return `:white_check_mark: *Approved* by ${who(d.by)}, ${at}.`;
      case 'rejected':
        return `:no_entry: *Rejected* by ${who(d.by)}, ${at}: ${esc(truncate(d.reason ?? '', 600))}`;
      case 'cancelled':
        return `*Cancelled* by ${who(d.by)}, ${at}.`;
      case 'expired':
        return `*Expired*: nobody answered by ${at}, so it was not created. Ask again with \`/server new ${env.name}\`, or ask ${mentions(env.approval?.approvers.users ?? [])} first.`;
    }
  }
  if (env.refusal) return `:no_entry: *Refused before launch*: ${failureSentence(env.refusal)}`;
  return undefined;
}

/** On the requester's message while it waits: who, why, until when. */
export function waitingBlocks(env: Environment): Block[] {
  const a = env.approval;
  if (!a) return [];
  return [
    {
      type: 'section',
      text: md(truncate(`:hourglass: *Waiting for approval* from ${approversText(env)}, because:\n${rulesText(env)}\nIt expires ${utc(a.expiresAt)} if nobody answers. Nothing is launched until then.`, 3000)),
    },
  ];
}

/** The Cancel button of a waiting request. */
export function cancelButton(env: Environment): types.Button {
  return {
    type: 'button',
    text: plain('Cancel request', 75),
    action_id: Ids.action.approvalCancel,
    value: environmentValue(env),
    confirm: {
      title: plain('Cancel the request?', 100),
      text: md(`\`${env.name}\` will not be created, and the approvers' message says it was cancelled.`),
      confirm: plain('Cancel request', 30),
      deny: plain('Keep waiting', 30),
    },
  };
}

/** One line for notifications and the fallback text. */
export function approvalSummary(env: Environment): string {
  return `${env.name}: ${serverCount(env)} of ${env.template} for <@${env.owner}> needs approval`;
}

/** The approvers' message: the request, its cost and why it waits; Approve and Reject until decided, then the decision. */
export function approvalRequestBlocks(env: Environment): Block[] {
  const a = env.approval;
  const blocks: Block[] = [
    { type: 'header', text: plain(`Approval: ${env.name}`, 150) },
    {
      type: 'section',
      text: md(
        truncate(
          [
            `<@${env.owner}> asks for *${esc(env.name)}*: ${serverCount(env)} from \`${env.template}\`.`,
            env.purpose ? `Purpose: ${esc(truncate(env.purpose, 500))}` : '',
            `Cost: ${costText(env)}`,
            `Why it needs approval:\n${rulesText(env)}`,
          ]
            .filter(Boolean)
            .join('\n'),
          3000,
        ),
      ),
    },
  ];
  const decided = decisionText(env) ?? (env.state === 'awaiting_approval' ? undefined : `No longer waiting: \`${env.name}\` is ${env.state.replace('_', ' ')}.`);
  if (decided) {
    blocks.push({ type: 'section', text: md(decided) });
    return blocks;
  }
  if (a) blocks.push({ type: 'context', elements: [md(`Approvers: ${approversText(env)} · expires ${utc(a.expiresAt)} · the requester cannot approve it`)] });
  blocks.push({
    type: 'actions',
    block_id: 'approval_actions',
    elements: [
      { type: 'button', text: plain('Approve', 75), action_id: Ids.action.approve, value: environmentValue(env), style: 'primary' },
      { type: 'button', text: plain('Reject', 75), action_id: Ids.action.reject, value: environmentValue(env), style: 'danger' },
    ],
  });
  return blocks;
}

/** The modal a Reject opens: the reason is required (the requester reads it). */
export function rejectModal(env: { name: string; id: string }): types.View {
  return {
    type: 'modal',
    callback_id: Ids.view.reject,
    private_metadata: environmentValue(env),
    title: plain('Reject request', 24),
    submit: plain('Reject', 24),
    close: plain('Back', 24),
    blocks: [
      { type: 'section', text: md(`Why is \`${env.name}\` rejected? The requester reads this, so say what would get it approved.`) },
      {
        type: 'input',
        block_id: Ids.block.reason,
        label: plain('Reason', 2000),
        element: { type: 'plain_text_input', action_id: Ids.action.value, multiline: true, max_length: 500, placeholder: plain('e.g. use t3.medium: t3.large is for load tests', 150) },
      },
    ],
  };
}
