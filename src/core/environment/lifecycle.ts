import { DomainError, ErrorCodes } from './errors.js';

/**
 * The one truth about what can happen to an environment. Every state the
 * product needs is here, including those whose flows arrive in later issues
 * (approval, sleep and wake), so that stored records never need migrating.
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
  'destroying',
  'destroyed',
  'failed',
] as const;

export type EnvironmentState = (typeof STATES)[number];

/** from → the states it may move to. */
export const TRANSITIONS: Readonly<Record<EnvironmentState, readonly EnvironmentState[]>> = {
  requested: ['awaiting_approval', 'provisioning', 'failed', 'destroying'],
  awaiting_approval: ['provisioning', 'rejected', 'destroying'],
  rejected: [],
  provisioning: ['bootstrapping', 'failed', 'destroying'],
  bootstrapping: ['ready', 'failed', 'destroying'],
  ready: ['saving', 'destroying', 'bootstrapping', 'failed'],
  saving: ['asleep', 'ready', 'failed', 'destroying'],
  asleep: ['waking', 'destroying'],
  waking: ['bootstrapping', 'ready', 'failed', 'destroying'],
  destroying: ['destroyed', 'failed'],
  destroyed: [],
  // A failed environment is retried from the step that failed, or destroyed.
  failed: ['provisioning', 'bootstrapping', 'saving', 'waking', 'destroying'],
};

/** States in which work is under way and a lease must be held by a worker. */
export const TRANSITIONAL_STATES: readonly EnvironmentState[] = [
  'requested',
  'provisioning',
  'bootstrapping',
  'saving',
  'waking',
  'destroying',
];

/** States that hold a name: a new environment may reuse the name of one that has ended. */
export const ENDED_STATES: readonly EnvironmentState[] = ['destroyed', 'rejected'];
export const LIVE_STATES: readonly EnvironmentState[] = STATES.filter((s) => !ENDED_STATES.includes(s));

export const isLive = (state: EnvironmentState): boolean => !ENDED_STATES.includes(state);
export const isTransitional = (state: EnvironmentState): boolean => TRANSITIONAL_STATES.includes(state);

export function canTransition(from: EnvironmentState, to: EnvironmentState): boolean {
  return TRANSITIONS[from].includes(to);
}

const DESCRIBE: Record<EnvironmentState, string> = {
  requested: 'just requested',
  awaiting_approval: 'waiting for a team lead to approve it',
  rejected: 'rejected',
  provisioning: 'launching its servers',
  bootstrapping: 'bootstrapping its servers',
  ready: 'ready',
  saving: 'saving its data',
  asleep: 'asleep',
  waking: 'waking up',
  destroying: 'being destroyed',
  destroyed: 'destroyed',
  failed: 'failed',
};

export const describeState = (state: EnvironmentState): string => DESCRIBE[state];

export function assertTransition(name: string, from: EnvironmentState, to: EnvironmentState): void {
  if (canTransition(from, to)) return;
  const allowed = TRANSITIONS[from];
  const next = allowed.length ? `From here it can be: ${allowed.join(', ')}.` : 'It cannot change any more.';
  throw new DomainError(
    ErrorCodes.INVALID_TRANSITION,
    `\`${name}\` is ${describeState(from)}, so it cannot become ${to.replace('_', ' ')}. ${next}`,
    { name, from, to },
  );
}
