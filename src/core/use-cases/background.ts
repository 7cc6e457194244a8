import type { Logger } from '../ports/notifier.port.js';

/**
 * Work that continues after Slack has been answered. Tracked so that shutdown
 * (and tests) can wait for it; failures are logged, never lost silently —
 * each use case records its own failures on the environment first.
 */
export class BackgroundWork {
  private readonly running = new Set<Promise<void>>();
  constructor(private readonly logger: Logger) {}

  run(label: string, work: () => Promise<unknown>): void {
    const p: Promise<void> = work()
      .then(() => undefined)
      .catch((error: unknown) => this.logger.error({ err: error, work: label }, 'background work failed'))
      .finally(() => this.running.delete(p));
    this.running.add(p);
  }

  get size(): number {
    return this.running.size;
  }

  /** Resolves when nothing is running (including work started while waiting). */
  async idle(): Promise<void> {
    while (this.running.size) await Promise.allSettled([...this.running]);
  }
}
