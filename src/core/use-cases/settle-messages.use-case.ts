import { STATES, flowOf } from '../environment/lifecycle.js';
import type { Clock, Logger } from '../ports/clock.port.js';
import type { EnvironmentRepository } from '../ports/environment-repository.port.js';
import type { NotifierPort } from '../ports/notifier.port.js';

/** The states no flow works in: where an environment rests, and its message must say so. */
const RESTING = STATES.filter((s) => flowOf(s) === undefined);

/**
 * The leader's catch-up of messages. A flow tells people after its last
 * write without waiting (Slack must never hold a flow up); a replica killed
 * in between leaves the environment's message one state behind, and an
 * environment at rest has no flow to show it again. So every few seconds the
 * leader looks at the environments that came to rest lately (a range on the
 * byState index) and, once each has been quiet for a moment, has its newest
 * version shown once more (the notifier does it once per version across
 * replicas; this replica remembers what it already settled).
 */
export class SettleMessages {
  private readonly settled = new Map<string, number>();

  constructor(
    private readonly deps: {
      repo: Pick<EnvironmentRepository, 'listByState'>;
      notifier: Pick<NotifierPort, 'settle'>;
      clock: Clock;
      logger: Logger;
      /** How far back "lately" goes (default 15 minutes). */
      windowMs?: number;
      /** How long an environment must have been quiet (default 15 s): the flow's own message goes first. */
      quietMs?: number;
    },
  ) {}

  async execute(): Promise<number> {
    const { deps } = this;
    if (!deps.notifier.settle) return 0;
    const now = deps.clock.now().getTime();
    const since = new Date(now - (deps.windowMs ?? 15 * 60_000));
    const lists = await Promise.all(RESTING.map((s) => deps.repo.listByState(s, { changedSince: since })));
    let shown = 0;
    for (const env of lists.flat()) {
      if (now - Date.parse(env.updatedAt) < (deps.quietMs ?? 15_000)) continue;
      if ((this.settled.get(env.id) ?? -1) >= env.version) continue;
      await deps.notifier.settle(env);
      this.settled.set(env.id, env.version);
      shown += 1;
    }
    // What came to rest before the window is not looked at again: forget it.
    if (this.settled.size > 10_000) this.settled.clear();
    return shown;
  }
}
