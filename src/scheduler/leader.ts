/**
 * Periodic work runs on one replica at a time: the leader, elected with a
 * lease item in the store (LeadershipPort). node-cron asks this coordinator
 * before each run; a replica that is not the leader skips it. The leader
 * renews its lease at every tick, so it must tick more often than the lease
 * lasts; if it stops, pauses or loses the store, another replica takes over
 * once the lease lapses (a graceful stop gives it back at once).
 */
import type { RunCoordinator } from 'node-cron';
import type { Logger } from '../core/ports/clock.port.js';
import type { LeadershipPort } from '../core/ports/leadership.port.js';

export class LeaderCoordinator implements RunCoordinator {
  private leading = false;
  /** Ticks of several jobs (and the first one at start) ask at once: one store round trip at a time. */
  private asking: Promise<boolean> | undefined;

  constructor(
    private readonly leadership: LeadershipPort,
    private readonly holder: string,
    private readonly ttlMs: number,
    private readonly logger: Logger,
  ) {}

  /** Whether this replica led at its last tick (`/metrics`). */
  get isLeading(): boolean {
    return this.leading;
  }

  /** Takes or renews the lease; true when this replica should run the job now. */
  shouldRun(): Promise<boolean> {
    this.asking ??= this.ask().finally(() => (this.asking = undefined));
    return this.asking;
  }

  private async ask(): Promise<boolean> {
    let leader = false;
    try {
      ({ leader } = await this.leadership.acquire(this.holder, this.ttlMs));
    } catch (err) {
      this.logger.warn({ err }, 'could not reach the store to elect a leader; skipping this tick');
    }
    if (leader !== this.leading) this.logger.info({ holder: this.holder }, leader ? 'this replica leads periodic work' : 'another replica leads periodic work');
    this.leading = leader;
    return leader;
  }

  async release(): Promise<void> {
    // Given back even if this replica is not sure it leads (an answer lost): release is conditional on the holder.
    this.leading = false;
    await this.leadership.release(this.holder).catch((err: unknown) => this.logger.warn({ err }, 'could not give leadership back; it lapses'));
  }
}
