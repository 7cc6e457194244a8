/**
 * A drift alert in the ops channel: what was found, where, since when, and
 * the buttons that act on it (by kind), or, once someone acted or it went
 * away, what happened (the buttons go). Meaning is in the words, never in an
 * emoji alone.
 */
import type { types } from '@slack/bolt';
import type { FindingRecord } from '../../../core/ports/finding-store.port.js';
import type { Finding } from '../../../core/drift/drift.js';
import type { DriftOutcome } from '../../../core/use-cases/drift.use-case.js';
import { Ids } from '../ids.js';
import { md, plain, truncate } from './text.js';

type Block = types.KnownBlock;

const TITLE = { orphan: 'Orphan instance', ghost: 'Lost server', config: 'Server not as recorded', data: 'Saved data damaged' } as const;
const STATUS = { open: 'OPEN', acting: 'BEING DEALT WITH', ignored: 'IGNORED', resolved: 'RESOLVED' } as const;

const FIELD = { instanceType: 'instance type', image: 'image', 'owner-tag': 'owner tag', 'name-tag': 'environment tag' } as const;

const when = (iso: string) => `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;

/** A finding in a few words (the alert's summary, and the answer to a click). */
export function describeFinding(f: Finding): string {
  switch (f.kind) {
    case 'orphan':
      return `orphan ${f.instanceId}${f.environment ? ` (tagged \`${f.environment}\`)` : ''}`;
    case 'ghost':
      return `server ${f.index + 1} of \`${f.environment}\` (${f.instanceId}) ${f.cloud}`;
    case 'config':
      return `server ${f.index + 1} of \`${f.environment}\` (${f.instanceId}): ${FIELD[f.field]} is ${f.actual}, not ${f.expected}`;
    case 'data':
      return `generation ${f.generation} of \`${f.environment}\`: ${f.problem.replace('-', ' ')}${f.part ? ` (${f.part})` : ''}`;
  }
}

/** What the person who pressed a drift alert's button is told it did. */
export function driftOutcomeText(o: DriftOutcome): string {
  switch (o.action) {
    case 'ignore':
      return `Ignored until ${when(o.until)}: no alert about ${describeFinding(o.finding)} until then.`;
    case 'terminate':
      return `Terminated ${o.instanceId}.`;
    case 'adopt':
      return `Adopting ${o.instanceId} into \`${o.environment}\` as server ${o.index + 1}: it is bootstrapped and its data restored; the environment's message shows the progress.`;
    case 'repair':
      return `Repairing \`${o.environment}\`: server ${o.index + 1} is replaced and its data restored; the environment's message shows the progress.`;
  }
}

export function driftAlertText(rec: FindingRecord): string {
  return `${STATUS[rec.status]}: ${TITLE[rec.finding.kind]}: ${describeFinding(rec.finding)}`;
}

function detail(rec: FindingRecord): string {
  const f = rec.finding;
  switch (f.kind) {
    case 'orphan':
      return {
        'no-environment': `Tagged as Dormouse's, but no environment owns it${f.environmentId ? ` (its tag names \`${f.environmentId}\`, which Dormouse has no record of)` : ' (it has no environment tag)'}: a crash between launch and record, or a manual launch with copied tags.`,
        ended: `Its environment \`${f.environment ?? '?'}\` has ended, but the instance is still there.`,
        'not-listed': `Tagged for \`${f.environment ?? '?'}\`${f.index !== undefined ? ` (server ${f.index + 1})` : ''}, which does not list it among its servers: left by an earlier attempt, or a replacement never recorded.`,
      }[f.why];
    case 'ghost':
      return `The record of \`${f.environment}\` says server ${f.index + 1} (${f.instanceId}) runs; the cloud says it is ${f.cloud}.`;
    case 'config':
      return `Server ${f.index + 1} of \`${f.environment}\` (${f.instanceId}) has ${FIELD[f.field]} \`${f.actual}\`; its record says \`${f.expected}\`.`;
    case 'data':
      return {
        'manifest-missing': `The manifest of generation ${f.generation} of \`${f.environment}\` is missing from the data store: a wake or restore from it would fail.`,
        'part-missing': `Part ${f.part ?? '?'} of generation ${f.generation} of \`${f.environment}\` is missing from the data store.`,
        'size-mismatch': `Part ${f.part ?? '?'} of generation ${f.generation} of \`${f.environment}\` is ${f.actual ?? '?'} bytes in the store; its manifest says ${f.expected ?? '?'}.`,
      }[f.problem];
  }
}

export function driftAlertBlocks(rec: FindingRecord): Block[] {
  const f = rec.finding;
  const blocks: Block[] = [
    { type: 'section', text: md(truncate(`*${STATUS[rec.status]}* · *${TITLE[f.kind]}*\n${detail(rec)}`, 2900)) },
    { type: 'context', elements: [md(`Found ${when(rec.firstSeen)} · \`${rec.key}\`${rec.status === 'resolved' && rec.resolvedAt ? ` · resolved ${when(rec.resolvedAt)}` : ''}`)] },
  ];
  if (rec.note) {
    const by = /^[UW][A-Z0-9]+$/.test(rec.note.by) ? ` (<@${rec.note.by}>, ${when(rec.note.at)})` : ` (${when(rec.note.at)})`;
    blocks.push({ type: 'context', elements: [md(truncate(`${rec.note.text}${by}`, 2900))] });
  }
  if (rec.status !== 'open') return blocks;
  const button = (text: string, action: string, style?: 'primary' | 'danger'): types.Button => ({ type: 'button', text: plain(text, 75), action_id: action, value: rec.key, ...(style ? { style } : {}) });
  const elements: types.Button[] = [];
  if (f.kind === 'orphan') {
    elements.push({
      ...button('Terminate', Ids.action.driftTerminate, 'danger'),
      confirm: { title: plain('Terminate it?'), text: md(`Terminate ${f.instanceId}? Its volumes go with it.`), confirm: plain('Terminate'), deny: plain('Keep it') },
    });
    if (f.why === 'not-listed') elements.push(button('Adopt', Ids.action.driftAdopt));
  }
  if (f.kind === 'ghost' || f.kind === 'config') elements.push(button('Repair', Ids.action.driftRepair, 'primary'));
  elements.push(button('Ignore for a day', Ids.action.driftIgnore));
  blocks.push({ type: 'actions', block_id: 'drift_actions', elements });
  return blocks;
}
