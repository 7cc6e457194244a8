/** What Slack shows of schedules: the reminder and the other direct messages, `/server schedule`, and a line on the message. Pure. */
import type { types } from '@slack/bolt';
import { DateTime } from 'luxon';
import type { Environment } from '../../../core/environment/environment.js';
import { formatUsd } from '../../../core/environment/template.js';
import type { ScheduleNotice } from '../../../core/ports/notifier.port.js';
import type { ScheduleView } from '../../../core/use-cases/schedule.use-case.js';
import { environmentValue, Ids, reminderValue } from '../ids.js';
import type { Reply } from './replies.js';
import { esc, md, plain } from './text.js';

/** `Tue 1 Dec 18:30 (Europe/Paris)`: the time where it matters, the zone named. */
export function when(iso: string, zone: string): string {
  const t = DateTime.fromISO(iso, { zone });
  return `${t.toFormat('ccc d LLL HH:mm')} (${zone})`;
}

/** `18:30` when it is the same local day as `reference`, else `Wed 08:00`. */
function shortWhen(iso: string, zone: string, reference: string): string {
  const t = DateTime.fromISO(iso, { zone });
  return t.hasSame(DateTime.fromISO(reference, { zone }), 'day') ? t.toFormat('HH:mm') : t.toFormat('ccc HH:mm');
}

export const SCHEDULE_EXAMPLES = [
  '`/server schedule NAME weekdays 09:00-18:00`',
  '`/server schedule NAME every day 07:00-23:00 Europe/Paris`',
  '`/server schedule NAME mon-thu 08:00-17:30 --wake-at 07:45`',
  '`/server schedule NAME off` (never sleeps on its own)',
].join('\n');

const SOURCE: Record<ScheduleView['source'], string> = { own: 'its own', template: "its template's", default: 'the default' };

/** `/server schedule NAME`, and its answer after a change. */
export function scheduleReply(env: Environment, view: ScheduleView, changed = false): Reply {
  const lines = [`${changed ? 'Schedule of' : 'Schedule of'} \`${esc(env.name)}\`: *${esc(view.text)}* (${SOURCE[view.source]}), times in ${view.zone}.`];
  if (view.nextSleep) lines.push(`Next sleep: ${when(view.nextSleep, view.zone)}${view.movedTo === view.nextSleep ? ' (moved by hand)' : ''}; a reminder comes first.`);
  else if (env.state === 'ready') lines.push('It does not sleep on its own.');
  if (view.nextWake) lines.push(`Next wake: ready by ${when(view.nextWake, view.zone)}.`);
  else if (env.state === 'asleep') lines.push(`It stays asleep until someone wakes it (\`/server wake ${env.name}\`), or add \`--wake-at HH:MM\` to the schedule.`);
  const text = lines.join('\n');
  return {
    text,
    blocks: [
      { type: 'section', text: md(text) },
      { type: 'context', elements: [md(`Change it (owner or admin):\n${SCHEDULE_EXAMPLES.replaceAll('NAME', env.name)}`)] },
    ],
  };
}

/** The line on an environment's message: when it sleeps or wakes next. */
export function scheduleLine(env: Environment): string | undefined {
  const t = env.timers;
  if (!t) return undefined;
  const schedule = t.schedule ? `Schedule *${esc(t.schedule)}* (${t.zone})` : `Times in ${t.zone}`;
  if (env.state === 'ready' && t.sleepAt) return `${schedule} · sleeps ${when(t.sleepAt, t.zone)}${t.movedTo === t.sleepAt ? ', moved by hand' : ''} · \`/server schedule ${env.name}\``;
  if (env.state === 'ready' && !t.sleeping) return `${schedule} · does not sleep on its own · \`/server schedule ${env.name}\``;
  if (env.state === 'asleep' && t.wakeAt) return `${schedule} · wakes on schedule, ready by ${when(t.wakeAt, t.zone)}`;
  if (env.state === 'asleep') return `${schedule} · stays asleep until someone wakes it`;
  return undefined;
}

export interface Message {
  text: string;
  blocks: types.KnownBlock[];
}

/** The direct message for a notice of the schedule. */
export function scheduleNoticeMessage(env: Environment, notice: ScheduleNotice): Message {
  const name = `\`${esc(env.name)}\``;
  switch (notice.kind) {
    case 'reminder': {
      const text = `${name} goes to sleep at ${when(notice.sleepAt, notice.zone)}: its data is saved, then its servers go (${formatUsd(env.hourlyCostUsd)}/h saved while asleep).`;
      const value = reminderValue(env, notice.sleepAt);
      const buttons: types.Button[] = [
        { type: 'button', text: plain(`Extend 1 h (${shortWhen(notice.hour, notice.zone, notice.sleepAt)})`, 75), action_id: Ids.action.extendHour, value },
      ];
      if (notice.tomorrow) buttons.push({ type: 'button', text: plain(`Extend until ${shortWhen(notice.tomorrow, notice.zone, notice.sleepAt)}`, 75), action_id: Ids.action.extendTomorrow, value });
      buttons.push({ type: 'button', text: plain('Sleep now', 75), action_id: Ids.action.sleepNow, value, style: 'primary' });
      if (notice.skip) buttons.push({ type: 'button', text: plain('Skip tonight', 75), action_id: Ids.action.skipTonight, value });
      return {
        text,
        blocks: [
          { type: 'section', text: md(text) },
          { type: 'actions', block_id: 'schedule_reminder', elements: buttons },
          { type: 'context', elements: [md(`Do nothing and it sleeps on time. \`/server schedule ${env.name}\` changes its schedule.`)] },
        ],
      };
    }
    case 'late': {
      const text =
        notice.what === 'sleep'
          ? `${name} went to sleep late: it was due at ${when(notice.due, notice.zone)}, but Dormouse was not running then.${notice.reminderMissed ? ' Its reminder could not be sent in time.' : ''} Its data is saved first, as always.`
          : `${name} was woken late: it was due to be ready by ${when(notice.due, notice.zone)}, but Dormouse was not running then. It is waking now.`;
      return { text, blocks: [{ type: 'section', text: md(text) }] };
    }
    case 'sleep-retry': {
      const text = `The sleep of ${name} due at ${when(notice.due, notice.zone)} did not happen (its data could not be saved), so it is still awake. Dormouse tries again (try ${notice.attempts}); its message says why it failed.`;
      return { text, blocks: [{ type: 'section', text: md(text) }] };
    }
    case 'off-ended': {
      const text = `The \`off\` schedule of ${name} reached its limit (${when(notice.until, notice.zone)}): it follows *${esc(notice.schedule)}* again. \`/server schedule ${env.name} off\` sets it off once more.`;
      return { text, blocks: [{ type: 'section', text: md(text) }] };
    }
    case 'idle': {
      const text = `${name} has been asleep since ${when(notice.asleepSince, notice.zone)}. Keep it, or destroy it (its data is kept for the retention period). Nobody answering, it is destroyed at ${when(notice.destroyAt, notice.zone)}.`;
      return {
        text,
        blocks: [
          { type: 'section', text: md(text) },
          {
            type: 'actions',
            block_id: 'schedule_idle',
            elements: [
              { type: 'button', text: plain('Keep', 75), action_id: Ids.action.keep, value: environmentValue(env), style: 'primary' },
              { type: 'button', text: plain('Destroy', 75), action_id: Ids.action.destroyConfirm, value: environmentValue(env), style: 'danger' },
            ],
          },
        ],
      };
    }
  }
}

/** The line a notice is told once under: one per notice and moment. */
export function noticeLine(notice: ScheduleNotice): string {
  switch (notice.kind) {
    case 'reminder':
      return `schedule:reminder:${notice.sleepAt}`;
    case 'late':
    case 'sleep-retry':
      return `schedule:${notice.kind}:${notice.due}${notice.kind === 'sleep-retry' ? `:${notice.attempts}` : ''}`;
    case 'off-ended':
      return `schedule:off-ended:${notice.until}`;
    case 'idle':
      return `schedule:idle:${notice.idleAt}`;
  }
}
