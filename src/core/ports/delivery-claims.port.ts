/**
 * Claims on deliveries that may arrive twice (Slack redelivers an event it
 * thinks was late). A claim is recorded in progress first and done after the
 * work; each state has its own expiry. A redelivery that finds a claim done,
 * or in progress and not expired, is dropped; one that finds an expired claim
 * in progress (the worker died) does the work. Expired claims are deleted by
 * `purgeExpired`, also where the store has no TTL.
 */
export type ClaimOutcome = 'claimed' | 'in-progress' | 'done';

export interface DeliveryClaims {
  begin(key: string, inProgressSeconds: number): Promise<ClaimOutcome>;
  /** The work is done: repeats within `doneSeconds` are dropped. */
  finish(key: string, doneSeconds: number): Promise<void>;
  /** The work failed: a redelivery may try again at once. */
  abandon(key: string): Promise<void>;
  /** Deletes claims that expired before now; returns how many. */
  purgeExpired(limit?: number): Promise<number>;
}
