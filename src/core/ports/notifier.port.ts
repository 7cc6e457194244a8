import type { Environment } from '../environment/environment.js';
import type { SavingsView } from '../use-cases/savings.use-case.js';

/**
 * How people hear about an environment. The Slack adapter keeps one message
 * per environment up to date and tells its story in that message's thread.
 *
 * Every method may be called by several replicas, more than once, and out of
 * order: the adapter makes that harmless (an update carries the version it
 * renders, and an older one is dropped; a line is told once). Failures to
 * tell are the adapter's to log: these never throw into a flow.
 */
export interface NotifierPort {
  /** Posts the environment's message the first time, then updates it. */
  showProgress(env: Environment): Promise<void>;
  /** A note in the environment's thread about where it has got to (told once per state it entered). */
  threadNote(env: Environment, note: ThreadNote): Promise<void>;
  /** Tells the owner that it failed and what they can do (once per failure). */
  failed(env: Environment): Promise<void>;
  /** The ops channel alert, with Retry and Destroy (once per failure). */
  opsAlert(env: Environment): Promise<void>;
  /**
   * A direct message to the owner about what the schedule does (once per notice and moment).
   * True when it was told (now or before); false when it could not be, so the caller may try again.
   */
  scheduleNotice(env: Environment, notice: ScheduleNotice): Promise<boolean>;
  /**
   * The approvers' message about a request waiting for approval: posted once in the approvers'
   * channel (Approve, Reject), then updated with the decision (who, when, why). True when the
   * question was asked (now or before) or the decision shown; false when Slack could not be told,
   * so the caller may try again (the scheduler's tick does).
   */
  approvalRequest(env: Environment): Promise<boolean>;
  /**
   * Shows the environment's message once more at this version, once across replicas (the leader's
   * catch-up): a replica killed between a flow's last write and its message update leaves the
   * message behind, and nothing else would show it again once the environment rests.
   */
  settle?(env: Environment): Promise<void>;
  /** The weekly savings report, to the channel the configuration names; false when there is none or it could not be posted. */
  savingsReport(report: SavingsView): Promise<boolean>;
}

/** What the schedule tells an owner. Times are ISO instants; `zone` is the zone to show them in. */
export type ScheduleNotice =
  /** Before a sleep on schedule: with Extend 1 h, Extend until `tomorrow`, Sleep now and (when allowed) Skip tonight (to `skip`). */
  | { kind: 'reminder'; sleepAt: string; zone: string; hour: string; tomorrow?: string; skip?: string }
  /** Something happened later than planned (the bot was not running): a sleep (its reminder not sent), or a wake. */
  | { kind: 'late'; what: 'sleep' | 'wake'; due: string; zone: string; reminderMissed?: boolean }
  /** A sleep on schedule failed; it is tried again then. */
  | { kind: 'sleep-retry'; due: string; attempts: number; retryAt: string; zone: string }
  /** An `off` schedule reached its cap: the default applies again. */
  | { kind: 'off-ended'; until: string; schedule: string; zone: string }
  /** Asleep for days: Keep or Destroy, else destroyed at `destroyAt` (its data kept). */
  | { kind: 'idle'; asleepSince: string; idleAt: string; destroyAt: string; zone: string };

/** What a thread note is about; the adapter writes the words (and, when ready, how to connect to each server). */
export type ThreadNote = 'ready' | 'destroyed' | 'asleep' | 'saved' | 'woke' | 'decided' | 'repaired';

export type { Clock, Logger } from './clock.port.js';
export { systemClock } from './clock.port.js';
