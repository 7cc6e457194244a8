/**
 * One leader at a time among the replicas, for periodic work: a lease item
 * in the store. `token` rises on every change of leader.
 */
export interface LeadershipPort {
  /** Takes or renews the lease for `ttlMs`; true when `holder` leads now. */
  acquire(holder: string, ttlMs: number): Promise<{ leader: boolean; token: number }>;
  /** Gives it back (a graceful stop), so another replica leads at once. */
  release(holder: string): Promise<void>;
}
