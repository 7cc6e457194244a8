/** Small helpers shared by the Block Kit builders. */
import type { types } from '@slack/bolt';
import type { Environment, ProgressStep } from '../../../core/environment/environment.js';
import { SCHEDULE_ACTOR, stepDurationMs } from '../../../core/environment/environment.js';
import type { EnvironmentState } from '../../../core/environment/lifecycle.js';

/** Escapes text for mrkdwn: user text can never become a mention, link or formatting trick. */
export function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

export function plain(text: string, max = 3000): types.PlainTextElement {
  return { type: 'plain_text', text: truncate(text, max), emoji: true };
}

export function md(text: string, max = 3000): types.MrkdwnElement {
  return { type: 'mrkdwn', text: truncate(text, max) };
}

export function duration(ms: number | undefined): string {
  if (ms === undefined) return '';
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}

export function age(fromIso: string, now: Date): string {
  const ms = Math.max(0, now.getTime() - Date.parse(fromIso));
  const min = Math.floor(ms / 60000);
  if (min < 1) return 'just now';
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 48) return `${h} h`;
  return `${Math.floor(h / 24)} d`;
}

const STATE_EMOJI: Record<EnvironmentState, string> = {
  requested: ':inbox_tray:',
  awaiting_approval: ':hourglass:',
  rejected: ':no_entry_sign:',
  provisioning: ':rocket:',
  bootstrapping: ':gear:',
  ready: ':large_green_circle:',
  saving: ':floppy_disk:',
  asleep: ':zzz:',
  waking: ':sunrise:',
  repairing: ':hammer_and_wrench:',
  destroying: ':wastebasket:',
  destroyed: ':white_circle:',
  failed: ':red_circle:',
};

export const stateEmoji = (s: EnvironmentState) => STATE_EMOJI[s];
export const stateLabel = (s: EnvironmentState) => s.replace('_', ' ');

const STEP_ICON: Record<ProgressStep['status'], string> = {
  pending: ':white_small_square:',
  running: ':hourglass_flowing_sand:',
  done: ':white_check_mark:',
  failed: ':x:',
  skipped: ':fast_forward:',
};

/** One step as a line: "✓ Bootstrap server 1: 3 steps (12.4 s)"; the last one says how long the whole wait was. */
export function stepLine(step: ProgressStep): string {
  const took = stepDurationMs(step);
  if (step.key === 'ready' && step.status === 'done') {
    return step.label === 'Awake' ? `${STEP_ICON.done} Awake, ${duration(took)} after the wake was asked for` : `${STEP_ICON.done} Ready, ${duration(took)} after the request`;
  }
  const detail = step.detail && step.status !== 'failed' ? `: ${esc(truncate(step.detail, 120))}` : '';
  return `${STEP_ICON[step.status]} ${esc(step.label)}${detail}${took !== undefined ? ` (${duration(took)})` : ''}`;
}

export function serverCount(env: Environment): string {
  return `${env.count} × ${env.instanceType}`;
}

/** Who did something: a person's mention, or the schedule (which is nobody's Slack id). */
export function who(actor: string): string {
  return actor === SCHEDULE_ACTOR ? 'the schedule' : `<@${actor}>`;
}
