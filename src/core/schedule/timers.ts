/**
 * An environment's timers: what the schedule does next to it, planned from
 * its state, its schedule and the clock. Pure: the tick (schedule.use-case.ts)
 * reads environments through the sparse due index, plans or fires their
 * timers, and writes them back conditionally.
 *
 *   ready   → a reminder `reminderMinutes` before the sleep, then the sleep
 *             (a sleep on schedule that failed is tried again, with backoff)
 *   asleep  → the wake on schedule (opt-in, started early by how long recent
 *             wakes took), and the idle check (a reminder, then a destroy)
 *   failed  → only a sleep on schedule whose save failed: tried again
 *   other   → nothing (a flow is at work, or it has ended)
 */
import type { Environment, Timers } from '../environment/environment.js';
import type { Template } from '../environment/template.js';
import { effectiveSchedule, formatSchedule, nextLocalTime, nextSleep, nextWake, reminderAt, type HolidayCalendar, type Schedule } from './schedule.js';

export interface ScheduleSettings {
  /** The configuration's default schedule. */
  defaultSchedule: Schedule;
  /** The zone for an owner whose Slack profile gives none. */
  defaultZone: string;
  holidays: HolidayCalendar;
  reminderMinutes: number;
  /** Whether a reminder offers Skip tonight. */
  allowSkip: boolean;
  /** At most this many days of `off` (then the default applies again); unset: no cap. */
  offMaxDays?: number;
  idle: { days: number; answerHours: number };
  /** How often the leader ticks. */
  tickMs: number;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** A wake whose duration is not known yet is started this early. */
const DEFAULT_WAKE_MS = 10 * MINUTE;
/** Started this much earlier still than the wakes' median took. */
const WAKE_MARGIN_MS = 2 * MINUTE;
/** A sleep or wake on schedule that was started but did not change the state by then is started again. */
export const FIRE_GUARD_MS = 3 * MINUTE;
/** Backoff of a sleep on schedule that failed: 5, 10, 20, 40 min, then hourly. */
export function retryDelayMs(attempts: number): number {
  return Math.min(HOUR, 5 * MINUTE * 2 ** Math.max(0, attempts - 1));
}

/** The schedule that applies: the environment's own, else its template's, else the default; an `off` past its cap gives way. */
export function scheduleOf(env: Pick<Environment, 'schedule'>, template: Pick<Template, 'schedule'> | undefined, settings: Pick<ScheduleSettings, 'defaultSchedule'>, now: Date): { schedule: Schedule; source: 'own' | 'template' | 'default'; offExpired: boolean } {
  const fallback = template?.schedule ?? settings.defaultSchedule;
  const { schedule, offExpired } = effectiveSchedule(env.schedule, fallback, now);
  const source = env.schedule && !offExpired ? 'own' : template?.schedule ? 'template' : 'default';
  return { schedule, source, offExpired };
}

/** What the timers were planned for: planned again when the state, its moment or the schedule differ. */
export function planKey(env: Pick<Environment, 'state' | 'stateChangedAt'>, schedule: Schedule, zone: string): string {
  return `${env.state}@${env.stateChangedAt}#${formatSchedule(schedule)}#${zone}`;
}

const iso = (ms: number) => new Date(ms).toISOString();
const ms = (at: string) => Date.parse(at);

/** The median of the recent wakes, or a default. */
export function expectedWakeMs(recent: readonly number[] | undefined): number {
  if (!recent?.length) return DEFAULT_WAKE_MS;
  const sorted = [...recent].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Plans the timers of `env` in its current state; undefined when none apply. */
export function plan(env: Environment, schedule: Schedule, zone: string, settings: ScheduleSettings, now: Date): Timers | undefined {
  const prev = env.timers;
  const t: Timers = { plannedFor: planKey(env, schedule, zone), zone, schedule: formatSchedule(schedule) };
  if (prev?.wakeMs) t.wakeMs = prev.wakeMs;
  if (env.schedule?.kind === 'off' && env.schedule.until) t.offUntil = env.schedule.until;
  const nowMs = now.getTime();
  // The first plan in a state counts from when it got there: what fell due meanwhile (the leader was down) is caught up.
  // A plan again (a schedule changed) counts from now: a change never sends it to sleep at once.
  const first = !prev?.plannedFor.startsWith(`${env.state}@${env.stateChangedAt}#`);
  const from = first ? new Date(Math.min(nowMs, Date.parse(env.stateChangedAt))) : now;
  switch (env.state) {
    case 'ready': {
      // A wake on schedule brought it here: remember how long it took.
      if (prev?.waking) t.wakeMs = [...(prev.wakeMs ?? []), Math.max(0, ms(env.stateChangedAt) - ms(prev.waking.firedAt))].slice(-5);
      if (prev?.sleeping) {
        // A sleep on schedule that came back to ready did not happen (the save failed): tried again, later.
        t.sleeping = prev.sleeping;
        t.sleepAt = prev.sleeping.for;
        t.remindedFor = prev.sleeping.for;
        t.retryAt = iso(nowMs + retryDelayMs(prev.sleeping.attempts));
        return t;
      }
      const moved = prev?.movedTo && ms(prev.movedTo) > nowMs ? prev.movedTo : undefined;
      const sleepAt = moved ?? (schedule.kind === 'window' ? nextSleep(schedule, zone, from)?.toISOString() : undefined);
      if (moved) {
        t.movedTo = moved;
        if (prev?.movedBy) t.movedBy = prev.movedBy;
      }
      if (sleepAt) {
        t.sleepAt = sleepAt;
        t.remindAt = reminderAt(new Date(sleepAt), settings.reminderMinutes).toISOString();
        if (prev?.remindedFor === sleepAt) t.remindedFor = sleepAt;
      }
      return t;
    }
    case 'asleep': {
      if (schedule.kind === 'window' && schedule.wakeAt) {
        const wake = nextWake(schedule, zone, from, settings.holidays);
        if (wake) {
          t.wakeAt = wake.toISOString();
          t.wakeStartAt = iso(Math.max(nowMs, wake.getTime() - expectedWakeMs(t.wakeMs) - WAKE_MARGIN_MS));
        }
      }
      if (prev?.keptAt) t.keptAt = prev.keptAt;
      const idleFrom = Math.max(ms(env.sleptAt ?? env.stateChangedAt), prev?.keptAt ? ms(prev.keptAt) : 0);
      t.idleAt = iso(idleFrom + settings.idle.days * DAY);
      if (prev?.idleRemindedAt && prev.idleDestroyAt && (!prev.keptAt || ms(prev.idleRemindedAt) > ms(prev.keptAt))) {
        t.idleRemindedAt = prev.idleRemindedAt;
        t.idleDestroyAt = prev.idleDestroyAt;
      }
      return t;
    }
    case 'awaiting_approval': {
      if (!env.approval) return undefined;
      t.approvalExpiresAt = env.approval.expiresAt;
      if (prev?.approvalAsked) t.approvalAsked = true;
      return t;
    }
    case 'failed': {
      if (!prev?.sleeping || env.failure?.step !== 'save' || !env.failure.retryable) return undefined;
      t.sleeping = prev.sleeping;
      t.sleepAt = prev.sleeping.for;
      t.remindedFor = prev.sleeping.for;
      t.retryAt = iso(nowMs + retryDelayMs(prev.sleeping.attempts));
      return t;
    }
    default:
      return undefined;
  }
}

export type TimerEvent =
  | { kind: 'off-ended'; at: string }
  | { kind: 'remind'; at: string; sleepAt: string }
  | { kind: 'sleep'; at: string; sleepAt: string }
  | { kind: 'wake'; at: string; wakeAt: string }
  | { kind: 'idle-remind'; at: string }
  | { kind: 'idle-destroy'; at: string }
  | { kind: 'approval-expired'; at: string }
  | { kind: 'approval-ask'; at: string };

/** Every pending event of the timers, earliest first. */
export function pending(t: Timers): TimerEvent[] {
  const events: TimerEvent[] = [];
  if (t.offUntil) events.push({ kind: 'off-ended', at: t.offUntil });
  if (t.sleeping) {
    // Started: it comes back only if the state did not move (a crash before the sleep began), or to try again.
    events.push({ kind: 'sleep', at: t.retryAt ?? iso(ms(t.sleeping.firedAt) + FIRE_GUARD_MS), sleepAt: t.sleeping.for });
  } else if (t.sleepAt) {
    if (t.remindAt && t.remindedFor !== t.sleepAt) events.push({ kind: 'remind', at: t.remindAt, sleepAt: t.sleepAt });
    events.push({ kind: 'sleep', at: t.sleepAt, sleepAt: t.sleepAt });
  }
  if (t.waking) events.push({ kind: 'wake', at: iso(ms(t.waking.firedAt) + FIRE_GUARD_MS), wakeAt: t.waking.for });
  else if (t.wakeAt && t.wakeStartAt) events.push({ kind: 'wake', at: t.wakeStartAt, wakeAt: t.wakeAt });
  if (t.idleAt && !t.idleRemindedAt) events.push({ kind: 'idle-remind', at: t.idleAt });
  if (t.idleDestroyAt) events.push({ kind: 'idle-destroy', at: t.idleDestroyAt });
  if (t.approvalExpiresAt) {
    // Asked when it was requested; should Slack have failed then, the tick asks until it is told (checked at once).
    if (!t.approvalAsked) events.push({ kind: 'approval-ask', at: '1970-01-01T00:00:00.000Z' });
    events.push({ kind: 'approval-expired', at: t.approvalExpiresAt });
  }
  // A reminder comes before its sleep when both are due at once (a catch-up).
  const order: Record<TimerEvent['kind'], number> = { 'off-ended': 0, remind: 1, sleep: 2, wake: 3, 'idle-remind': 4, 'idle-destroy': 5, 'approval-expired': 6, 'approval-ask': 7 };
  return events.sort((a, b) => ms(a.at) - ms(b.at) || order[a.kind] - order[b.kind]);
}

/** The item's `dueAt`: the earliest pending event, or none. */
export function dueAtOf(t: Timers | undefined): string | undefined {
  return t ? pending(t)[0]?.at : undefined;
}

/** Extend 1 h, Extend until tomorrow (the next start of its day), Skip tonight (the next sleep after this one). */
export type Postpone = 'hour' | 'tomorrow' | 'skip';

/** Where a sleep at `sleepAt` moves to; undefined when the schedule has no later sleep (it is `off`). */
export function postponed(sleepAt: Date, how: Postpone, schedule: Schedule, zone: string): Date | undefined {
  if (how === 'hour') return new Date(sleepAt.getTime() + HOUR);
  if (schedule.kind !== 'window') return undefined;
  if (how === 'tomorrow') return nextLocalTime(schedule.start, zone, sleepAt);
  return nextSleep(schedule, zone, new Date(sleepAt.getTime() + MINUTE));
}
