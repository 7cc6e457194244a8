/** What Slack shows of an environment's data: the asleep section of its message, and `/server data`. Pure. */
import type { types } from '@slack/bolt';
import type { Environment } from '../../../core/environment/environment.js';
import { formatBytes } from '../../../core/environment/sizes.js';
import { formatUsd } from '../../../core/environment/template.js';
import { archivedDailyUsd, awakeDailyUsd, stoppedDailyUsd } from '../../../core/policies/cost.policy.js';
import type { GenerationManifest } from '../../../core/ports/data-store.port.js';
import type { Reply } from './replies.js';
import { esc, md } from './text.js';

const REASON: Record<GenerationManifest['reason'], string> = { sleep: 'a sleep', save: 'a manual save', destroy: 'a destroy' };

const at = (iso: string): string => `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;

/** An asleep environment: since when, the generation it keeps, and what a day costs asleep against awake. */
export function asleepText(env: Environment): string {
  const latest = env.data?.latest;
  const since = env.sleptAt ? `Asleep since ${at(env.sleptAt)}` : 'Asleep';
  const awake = `${formatUsd(awakeDailyUsd(env.hourlyCostUsd))}/day awake`;
  if (env.data?.asleepAs === 'stop') {
    const gib = env.data.stoppedGiB ?? 0;
    return (
      `:zzz: *${since}* · servers stopped, their ${gib} GiB of volumes kept\n` +
      `Costs ${formatUsd(stoppedDailyUsd(gib, 1))}/day asleep (the volumes) against ${awake}. *Wake* starts the same servers again, data as it was.`
    );
  }
  if (!latest) return `:zzz: *${since}*. Nothing saved to restore. ${awake}.`;
  const asleep = formatUsd(archivedDailyUsd(latest.bytes));
  return (
    `:zzz: *${since}* · generation ${latest.number}, ${formatBytes(latest.bytes)}${latest.shared ? ' (shared by every server)' : ''}\n` +
    `Costs ${asleep}/day asleep (its data in S3) against ${awake}. *Wake* brings it back on fresh servers with this data.`
  );
}

/** `/server data <name>`: the generations, newest first, the one a wake would use marked. */
export function dataReply(env: Environment, generations: readonly GenerationManifest[], wakeWould: number | undefined): Reply {
  if (!generations.length) {
    const text = `\`${env.name}\` has no saved data yet. \`/server save ${env.name}\` takes a generation without sleeping; \`/server sleep ${env.name}\` takes one and puts it to sleep.`;
    return { text, blocks: [{ type: 'section', text: md(text) }] };
  }
  const lines = generations.slice(0, 20).map((g) => {
    const parts = g.parts.map((p) => `${p.part === 'shared' ? 'shared' : `server ${Number(p.part.slice(7)) + 1}`} ${formatBytes(p.bytes)}`).join(', ');
    const mark = g.generation === wakeWould ? ' · *a wake uses this one*' : '';
    return `*${g.generation}* · ${at(g.createdAt)} · ${formatBytes(g.bytes)} (${parts}) · from ${REASON[g.reason]}${mark}`;
  });
  const more = generations.length > 20 ? `\n…and ${generations.length - 20} older.` : '';
  const text = `Data of \`${esc(env.name)}\`, newest first:\n${lines.join('\n')}${more}`;
  const blocks: types.KnownBlock[] = [
    { type: 'section', text: md(text) },
    { type: 'context', elements: [md(`\`/server wake ${env.name} --generation N\` wakes from an older one (while asleep).`)] },
  ];
  return { text, blocks };
}
