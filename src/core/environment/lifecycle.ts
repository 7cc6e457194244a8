import { DomainError, ErrorCodes } from './errors.js';

/**
 * The one truth about what can happen to an environment. Every state the
 * product needs is here, including those whose flows arrive in later issues
 * (approval, sleep and wake), so that stored records never need migrating.
 *
 * What else is derived from this table, rather than listed elsewhere:
 * - which long flow works in a state (and so which states hold a lease, and
 *   which ones the sweep resumes when a worker stops): `flow`;
 * - which states hold a name: every state but the `ended` ones;
 * - which buttons a message offers: `availableActions`.
 */
export const STATES = [
  'requested',
  'awaiting_approval',
  'rejected',
  'provisioning',
  'bootstrapping',
  'ready',
  'saving',
  'asleep',
  'waking',
  'repairing',
  'destroying',
  'destroyed',
  'failed',
] as const;

export type EnvironmentState = (typeof STATES)[number];

/** The long flows; each runs on the workflow runner under a fenced lease. */
export type FlowName = 'provision' | 'destroy' | 'save' | 'wake' | 'repair';

interface StateRule {
  /** The states it may move to. */
  readonly next: readonly EnvironmentState[];
  /** The flow at work while the environment is in this state. */
  readonly flow?: FlowName;
  /** Over for good: it no longer holds its name. */
  readonly ended?: true;
  /** How a sentence says it: "`x` is …". */
  readonly describe: string;
}

export const LIFECYCLE: Readonly<Record<EnvironmentState, StateRule>> = {
  // → rejected: refused before anything was launched (over a quota).
  requested: { next: ['awaiting_approval', 'provisioning', 'rejected', 'failed', 'destroying'], flow: 'provision', describe: 'just requested' },
  awaiting_approval: { next: ['provisioning', 'rejected', 'destroying'], describe: 'waiting for a team lead to approve it' },
  rejected: { next: [], ended: true, describe: 'rejected' },
  provisioning: { next: ['bootstrapping', 'failed', 'destroying'], flow: 'provision', describe: 'launching its servers' },
  // → provisioning: its servers are gone (a crash, a retry much later), so new ones are launched.
  bootstrapping: { next: ['ready', 'provisioning', 'failed', 'destroying'], flow: 'provision', describe: 'bootstrapping its servers' },
  // → repairing: a server was found gone (or drifted) and is replaced; the healthy ones are left alone.
  ready: { next: ['saving', 'destroying', 'bootstrapping', 'repairing', 'failed'], describe: 'ready' },
  repairing: { next: ['ready', 'failed', 'destroying'], flow: 'repair', describe: 'replacing a lost server' },
  // A save: for a sleep (→ asleep), on its own (→ ready), or before a destroy (→ destroying).
  saving: { next: ['asleep', 'ready', 'failed', 'destroying'], flow: 'save', describe: 'saving its data' },
  asleep: { next: ['waking', 'destroying'], describe: 'asleep' },
  // Launch, bootstrap and restore all happen while waking: it is ready only once its data is back.
  waking: { next: ['ready', 'failed', 'destroying'], flow: 'wake', describe: 'waking up' },
  destroying: { next: ['destroyed', 'failed'], flow: 'destroy', describe: 'being destroyed' },
  destroyed: { next: [], ended: true, describe: 'destroyed' },
  // A failed environment goes back to the state it failed in (`failure.from`), or is destroyed.
  failed: { next: ['requested', 'provisioning', 'bootstrapping', 'saving', 'waking', 'repairing', 'destroying'], describe: 'failed' },
};

/** from → the states it may move to. */
export const TRANSITIONS: Readonly<Record<EnvironmentState, readonly EnvironmentState[]>> = Object.fromEntries(
  STATES.map((s) => [s, LIFECYCLE[s].next]),
) as Record<EnvironmentState, readonly EnvironmentState[]>;

/** The flow that works in `state`, if any. */
export const flowOf = (state: EnvironmentState): FlowName | undefined => LIFECYCLE[state].flow;

/** States in which a flow is at work and a lease must be held by a worker. */
export const TRANSITIONAL_STATES: readonly EnvironmentState[] = STATES.filter((s) => flowOf(s) !== undefined);

/** States that no longer hold a name: a new environment may reuse it. */
export const ENDED_STATES: readonly EnvironmentState[] = STATES.filter((s) => LIFECYCLE[s].ended);
export const LIVE_STATES: readonly EnvironmentState[] = STATES.filter((s) => !LIFECYCLE[s].ended);

export const isLive = (state: EnvironmentState): boolean => !LIFECYCLE[state].ended;
export const isTransitional = (state: EnvironmentState): boolean => flowOf(state) !== undefined;

export function canTransition(from: EnvironmentState, to: EnvironmentState): boolean {
  return LIFECYCLE[from].next.includes(to);
}

export const describeState = (state: EnvironmentState): string => LIFECYCLE[state].describe;

/** What a person may ask of an environment in this state: the buttons its message offers. */
export interface AvailableActions {
  /** Back to `failure.from`: only for a failure that may succeed when repeated. */
  retry: boolean;
  destroy: boolean;
  sleep: boolean;
  wake: boolean;
}

export function availableActions(env: {
  state: EnvironmentState;
  failure?: { from: EnvironmentState; retryable: boolean } | undefined;
}): AvailableActions {
  const retry = env.state === 'failed' && Boolean(env.failure?.retryable) && env.failure !== undefined && canTransition('failed', env.failure.from);
  return { retry, destroy: canTransition(env.state, 'destroying'), sleep: env.state === 'ready', wake: env.state === 'asleep' };
}

export function assertTransition(name: string, from: EnvironmentState, to: EnvironmentState): void {
  if (canTransition(from, to)) return;
  const allowed = TRANSITIONS[from];
  const next = allowed.length ? `From here it can be: ${allowed.join(', ')}.` : 'It cannot change any more.';
  throw new DomainError(ErrorCodes.INVALID_TRANSITION, `${name} is ${describeState(from)}, so it cannot become ${to.replace('_', ' ')}. ${next}`, {
    name,
    from,
    to,
    allowed: [...allowed],
  });
}
