import { assertTransition, type EnvironmentState } from './lifecycle.js';
import type { GenerationReason, PartManifest, PartName } from '../ports/data-store.port.js';
import type { Schedule } from '../schedule/schedule.js';

/** Who acts when the schedule does (a sleep after hours, a morning wake, an idle clean-up): never a Slack user id. */
export const SCHEDULE_ACTOR = 'schedule';

/** A step in the story of an environment, shown in Slack with its duration. */
export type StepStatus = 'pending' | 'running' | 'done' | 'failed' | 'skipped';

export interface ProgressStep {
  /** Stable key: `launch`, `running`, `agent`, `bootstrap:0`, `ready`, `destroy` … */
  key: string;
  label: string;
  status: StepStatus;
  startedAt?: string;
  endedAt?: string;
  detail?: string;
}

export type ServerState = 'pending' | 'running' | 'bootstrapping' | 'ready' | 'failed' | 'terminated';

export interface ServerRecord {
  index: number;
  instanceId: string;
  privateIp?: string;
  state: ServerState;
  /** Name of the last bootstrap step that finished on this server. */
  lastStep?: string;
  /** A repair put it in place of a lost server: which replacement of this index it is (part of its command keys). */
  replacement?: number;
}

/** The step of the lifecycle that failed: where a retry resumes. */
export type FailedStep = 'launch' | 'running' | 'agent' | 'bootstrap' | 'destroy' | 'save' | 'terminate' | 'wake' | 'restore' | 'repair';

/** The phase under way in a state, for a failure that no labelled step caught (the store, say). */
export function failedStepOf(state: EnvironmentState): FailedStep {
  switch (state) {
    case 'destroying':
      return 'destroy';
    case 'saving':
      return 'save';
    case 'waking':
      return 'wake';
    case 'bootstrapping':
      return 'bootstrap';
    case 'repairing':
      return 'repair';
    default:
      return 'launch';
  }
}

export interface Failure {
  step: FailedStep;
  /** A stable code, and its parameters: what the chat tool makes its sentence from. */
  code: string;
  params?: Record<string, string | number | boolean | string[]>;
  /** The same in plain words, for logs and for a code without a sentence. */
  reason: string;
  /** For a fault on Dormouse's side: the reference of the log line that says what went wrong inside. */
  ref?: string;
  /** The last lines of the command's output, when a command failed. */
  output?: string;
  server?: number;
  /** State to go back to on retry. */
  from: EnvironmentState;
  retryable: boolean;
  at: string;
}

/**
 * Who works on an environment now. `token` is a fencing token: it rises on
 * every takeover, and every write a flow makes is conditional on holder and
 * token, so a worker that lost its lease (paused, partitioned) fails its next
 * write and stops. `until` is when the lease lapses unless renewed.
 */
export interface Lease {
  holder: string;
  token: number;
  until: string;
}

/** What a request fixes: the environment's identity and its shape. */
export interface NewEnvironment {
  /** Unique and sortable by creation time: what tags, idempotency keys and lookups use (a name can be reused). */
  id: string;
  name: string;
  owner: string;
  template: string;
  instanceType: string;
  count: number;
  purpose: string;
  /** The request that created it (dedupes retried deliveries and double submits). */
  requestId: string;
  /** The channel where it was requested. */
  channel?: string;
  hourlyCostUsd: number;
}

export interface Environment extends NewEnvironment {
  state: EnvironmentState;
  /** Incremented by every write; writes are conditional on it. */
  version: number;
  /** Launch attempt: part of the EC2 idempotency token and tags. A retry that needs new servers raises it. */
  attempt: number;
  /** How many times a person retried it: part of each command's idempotency key, so a retry runs steps again. */
  retries: number;
  servers: ServerRecord[];
  progress: ProgressStep[];
  failure?: Failure;
  createdAt: string;
  updatedAt: string;
  stateChangedAt: string;
  /** Set while a worker holds the environment (the states a flow works in). */
  lease?: Lease;
  /**
   * The correlation id of the Slack request (or scheduled job) that started its current or last flow,
   * written by the write that starts the flow; a flow resumed elsewhere (a takeover, the sweep) keeps it,
   * so its log lines and AWS calls carry the id of the request that asked for it.
   */
  correlationId?: string;
  /** The highest fencing token ever issued for it: the next lease gets fence + 1. */
  fence: number;
  /**
   * Who wrote this version (holder/token/sequence): a writer whose answer was lost (a timeout after
   * the store applied the write) recognises its own write when it reads again.
   */
  writeId?: string;
  /** Present only while a timer is pending (sparse index). */
  dueAt?: string;
  destroyedBy?: string;
  /** Who sent it back to where it failed, last (shown where the failure was reported). */
  retriedBy?: string;
  /** Its data: the generations saved, and a save or wake under way. */
  data?: DataState;
  /** Who put it to sleep or woke it, last, and when it went to sleep. */
  sleptBy?: string;
  sleptAt?: string;
  wokenBy?: string;
  /** Restored from the kept data of an earlier (destroyed) environment. */
  restoredFrom?: { environmentId: string; generation: number };
  /** When it is awake, as its owner (or an admin) set it; unset: the configuration's default. */
  schedule?: Schedule;
  /** Its timers (the next reminder, sleep, wake, idle check) and what they already did. */
  timers?: Timers;
  /** When its servers ran, oldest first (the open period has no `to`); for the savings report. */
  awake?: AwakePeriod[];
  /** A request that needed a team lead's approval: why, who was asked, and what they decided. */
  approval?: ApprovalState;
  /** How many replacements were ever launched for it: each gets the next serial (its launch's idempotency key). */
  repairs?: number;
  /** A repair under way: the servers being replaced and how far it got. */
  repair?: RepairState;
  /** The last repair: what was replaced, and from which generation its data came back (the owner's note). */
  repaired?: RepairOutcome;
  /** Refused before anything was launched (a quota): in plain words, and the code and figures to say it with. */
  refusal?: { code: string; reason: string; params: Record<string, string | number | boolean | string[]>; at: string };
}

/** Why a server is replaced: gone from the cloud, stopped behind Dormouse's back, or not what its record says. */
export type LossReason = 'terminated' | 'stopped' | 'missing' | 'drifted';

/** One server a repair replaces. */
export interface RepairedServer {
  index: number;
  /** The instance it replaces. */
  lost: string;
  why: LossReason;
  /** Which replacement of this index (1, 2, …): part of the launch's idempotency key. */
  serial: number;
  /** An orphan taken in instead of launching a new server (Adopt). */
  adopt?: string;
  /** The instance that takes its place, once launched (or adopted). */
  instanceId?: string;
  /** Its data came back (bytes restored, verified). */
  restored?: { bytes: number; generation: number };
}

export interface RepairState {
  servers: RepairedServer[];
  phase: 'launch' | 'bootstrap' | 'restore';
  by: string;
  startedAt: string;
  /** The finding that started it, if any (its alert is updated when it ends). */
  finding?: string;
}

export interface RepairOutcome {
  servers: RepairedServer[];
  by: string;
  at: string;
  /** The generation the data came from (none: there was no saved data). */
  generation?: { number: number; createdAt: string };
}

/** Who asked, why, until when, and the answer. */
export interface ApprovalState {
  /** The rules that triggered, each with why (`estimated $412.80 a month, over the $200 limit`). */
  rules: { name: string; reason: string }[];
  /** Who may approve (never the owner), the user group mentioned, the channel asked in, and the team they approve for. */
  approvers: { users: string[]; userGroup?: string; channel: string; team?: string };
  /** The estimate shown to the approvers. */
  estimate: { hourlyUsd: number; dailyUsd: number; monthlyUsd: number };
  askedAt: string;
  expiresAt: string;
  decision?: ApprovalOutcome;
}

export interface ApprovalOutcome {
  outcome: 'approved' | 'rejected' | 'cancelled' | 'expired';
  /** A Slack user id, or `schedule` for an expiry. */
  by: string;
  at: string;
  reason?: string;
}

export interface AwakePeriod {
  from: string;
  to?: string;
}

/**
 * What the schedule has planned for an environment, and what it already did.
 * Planned by the leader's tick for the state it is in (`plannedFor`); the
 * earliest pending time is the item's `dueAt`.
 */
export interface Timers {
  /** `<state>@<stateChangedAt>#<schedule revision>`: a timer planned for another state (or schedule) is planned again. */
  plannedFor: string;
  /** The IANA zone the times are in (the owner's Slack time zone, the schedule's own, or the default). */
  zone: string;
  /** The schedule they were planned from, as text (shown on the environment's message). */
  schedule?: string;
  /** Ready: the next sleep on schedule, and when its owner is reminded of it. */
  sleepAt?: string;
  remindAt?: string;
  /** The sleep (its `sleepAt`) a reminder was sent for, or passed over because it was too late: one per sleep. */
  remindedFor?: string;
  /** Passed over: its time had gone by (the bot was not running); the sleep's note says so. */
  reminderMissed?: boolean;
  /** The sleep was moved by a person (Extend, Skip tonight): kept through re-planning. */
  movedTo?: string;
  movedBy?: string;
  /** A sleep on schedule was started: for which time, how many tries, and whether it was late (the bot was down). */
  sleeping?: { for: string; attempts: number; firedAt: string; late: boolean };
  /** A sleep on schedule that failed is tried again then. */
  retryAt?: string;
  /** Asleep: it must be ready by `wakeAt`, so the wake starts at `wakeStartAt`. */
  wakeAt?: string;
  wakeStartAt?: string;
  /** A wake on schedule was started. */
  waking?: { for: string; firedAt: string };
  /** How long its recent wakes took (ms), newest last: how early the next one starts. */
  wakeMs?: number[];
  /** Asleep: the idle check, the reminder sent, and when it is destroyed unless someone keeps it. */
  idleAt?: string;
  idleRemindedAt?: string;
  idleDestroyAt?: string;
  /** Someone chose to keep it (asleep): idle counts from then. */
  keptAt?: string;
  /** An `off` schedule with a cap ends then. */
  offUntil?: string;
  /** Awaiting approval: nobody answered by then, it expires (rejected). */
  approvalExpiresAt?: string;
  /** Awaiting approval: the approvers were asked (their message is posted); until then each tick asks again. */
  approvalAsked?: boolean;
}

/** A generation, as the environment's record remembers it (the manifest in the data store is the truth). */
export interface GenerationSummary {
  /** The environment whose data it is (this one, or the one it was restored from). */
  environmentId: string;
  number: number;
  createdAt: string;
  reason: GenerationReason;
  bytes: number;
  serverCount: number;
  shared: boolean;
}

/** One part of a save under way. */
export interface SavePart {
  part: PartName;
  /** The server that saves it. */
  server: number;
  /** The multipart upload, stored before the command is sent: a resumed save continues it. */
  uploadId?: string;
  /** The command was sent (a resumed run attaches to it rather than sending it again). */
  sent?: boolean;
  /** Raised when a part is sent again: part of its command's key. */
  tries: number;
  /** Stored and verified. */
  stored?: PartManifest;
  startedAt?: string;
  endedAt?: string;
}

export interface SaveInProgress {
  /** `archive`: the data goes to the store, then the servers. `stop`: the servers stop, keeping their volumes (no generation). */
  mode?: 'archive' | 'stop';
  generation: number;
  reason: GenerationReason;
  /** Where the environment goes once the generation exists. */
  then: 'asleep' | 'ready' | 'destroying';
  by?: string;
  startedAt: string;
  parts: SavePart[];
  /** The manifest is written: the generation exists. */
  manifestAt?: string;
}

export interface WakeInProgress {
  /** The generation restored (undefined: nothing to restore; a wake from `stop` or an environment that never saved). */
  generation?: number;
  /** Whose data (another environment's, for a restore after destroy). */
  environmentId: string;
  phase: 'launch' | 'bootstrap' | 'restore' | 'start';
  by?: string;
  startedAt: string;
  /** Per server: restored and checked (bytes and the tree digest for shared data). */
  restored: { server: number; bytes: number; sha256: string; tree?: string; ms: number }[];
}

export interface DataState {
  /** The highest generation number ever taken (the next save takes one more). */
  lastGeneration: number;
  /** The newest generation that exists (has its manifest): what a wake restores by default. */
  latest?: GenerationSummary;
  saving?: SaveInProgress;
  waking?: WakeInProgress;
  /** How the servers sleep: their data in the store (`archive`) or stopped with their volumes (`stop`). */
  asleepAs?: 'archive' | 'stop';
  /** Destroyed: its last generation is kept until then, for `/server restore`. */
  keptUntil?: string;
  /** Asleep stopped: the GiB of volumes its servers keep (what it costs asleep). */
  stoppedGiB?: number;
}

export function newEnvironment(input: NewEnvironment, now: Date): Environment {
  const at = now.toISOString();
  return {
    ...input,
    state: 'requested',
    version: 0,
    attempt: 1,
    retries: 0,
    fence: 0,
    servers: [],
    progress: [],
    createdAt: at,
    updatedAt: at,
    stateChangedAt: at,
  };
}

/** A copy of `env` in state `to`; throws ENVIRONMENT.INVALID_TRANSITION when the table forbids it. */
export function transition(env: Environment, to: EnvironmentState, now: Date): Environment {
  assertTransition(env.name, env.state, to);
  const at = now.toISOString();
  const next: Environment = { ...env, state: to, stateChangedAt: at, updatedAt: at };
  if (to !== 'failed') delete next.failure;
  const awake = awakeAfter(env.awake, to, now);
  if (awake) next.awake = awake;
  // In a state the schedule acts on, the leader's next tick plans its timers (it knows the schedule, the zone, the holidays).
  // Elsewhere a flow is at work (or it has ended): out of the due index, its timers kept for when it is back.
  // A failed one only when a sleep on schedule failed (it is tried again); other failures wait for a person.
  if (PLANNED_STATES.has(to) && (to !== 'failed' || next.timers?.sleeping)) next.dueAt = at;
  else delete next.dueAt;
  return next;
}

/** The states whose timers the schedule plans: ready (reminder, sleep), asleep (wake, idle), failed (a sleep on schedule tried again), awaiting approval (its expiry). */
const PLANNED_STATES: ReadonlySet<EnvironmentState> = new Set(['ready', 'asleep', 'failed', 'awaiting_approval']);
/** Servers run from the launch (or the wake) until asleep or gone; a `stop` sleep keeps volumes only. */
const SERVERS_START: ReadonlySet<EnvironmentState> = new Set(['provisioning', 'waking']);
const SERVERS_GONE: ReadonlySet<EnvironmentState> = new Set(['asleep', 'destroyed', 'rejected']);
/** Awake periods older than this are dropped: the savings report looks at a week. */
const AWAKE_KEPT_MS = 42 * 24 * 3600_000;

function awakeAfter(periods: AwakePeriod[] | undefined, to: EnvironmentState, now: Date): AwakePeriod[] | undefined {
  const list = periods ?? [];
  const open = list.length > 0 && list[list.length - 1]!.to === undefined;
  const at = now.toISOString();
  let next: AwakePeriod[] | undefined;
  if (SERVERS_START.has(to) && !open) next = [...list, { from: at }];
  else if (SERVERS_GONE.has(to) && open) next = [...list.slice(0, -1), { ...list[list.length - 1]!, to: at }];
  if (!next) return undefined;
  const cutOff = now.getTime() - AWAKE_KEPT_MS;
  const kept = next.filter((p) => p.to === undefined || Date.parse(p.to) >= cutOff);
  // The first launch stays (as an empty period): always-on hours count from it, however long it slept since.
  if (kept.length < next.length) kept.unshift({ from: next[0]!.from, to: next[0]!.from });
  return kept;
}

export function fail(env: Environment, failure: Omit<Failure, 'from' | 'at'>, now: Date): Environment {
  const from = env.state;
  const next = transition(env, 'failed', now);
  next.failure = { ...failure, from, at: now.toISOString() };
  next.progress = env.progress.map((p) =>
    p.status === 'running' ? { ...p, status: 'failed', endedAt: now.toISOString(), detail: failure.reason } : p,
  );
  return next;
}

/** Starts (or restarts) a progress step; idempotent for a step already running. */
export function startStep(env: Environment, key: string, label: string, now: Date): Environment {
  const at = now.toISOString();
  const existing = env.progress.find((p) => p.key === key);
  const step: ProgressStep = { key, label, status: 'running', startedAt: at };
  if (existing?.status === 'running') return env;
  const progress = existing ? env.progress.map((p) => (p.key === key ? step : p)) : [...env.progress, step];
  return { ...env, progress, updatedAt: at };
}

/** Ends a progress step; a step that already ended with this status keeps its time (finishing twice is harmless). */
export function finishStep(env: Environment, key: string, now: Date, detail?: string, status: StepStatus = 'done'): Environment {
  const at = now.toISOString();
  const progress = env.progress.map((p) =>
    p.key === key && !(p.status === status && p.endedAt)
      ? { ...p, status, endedAt: at, startedAt: p.startedAt ?? at, ...(detail ? { detail } : {}) }
      : p,
  );
  return { ...env, progress, updatedAt: at };
}

export function stepDurationMs(step: ProgressStep): number | undefined {
  if (!step.startedAt || !step.endedAt) return undefined;
  return Date.parse(step.endedAt) - Date.parse(step.startedAt);
}
