import type { Logger } from '../ports/notifier.port.js';

/**
 * Work that continues after Slack has been answered. Tracked so that shutdown
 * (and tests) can wait for it; failures are logged, never lost silently —
 * each use case records its own failures on the environment first.
 */
export class BackgroundWork {
  private readonly running = new Map<string, Promise<void>>();
  constructor(private readonly logger: Logger) {}

  /**
   * Starts `work` unless work with the same label is already running in this
   * process (a double click, a sweep that finds what is being worked on):
   * then returns false and starts nothing.
   */
  run(label: string, work: () => Promise<unknown>): boolean {
    if (this.running.has(label)) return false;
    const p: Promise<void> = Promise.resolve()
      .then(work)
      .then(() => undefined)
      .catch((error: unknown) => this.logger.error({ err: error, work: label }, 'background work failed'))
      .finally(() => this.running.delete(label));
    this.running.set(label, p);
    return true;
  }

  isRunning(label: string): boolean {
    return this.running.has(label);
  }

  get size(): number {
    return this.running.size;
  }

  /** Resolves when nothing is running (including work started while waiting), or after `timeoutMs`. */
  async idle(timeoutMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.running.size) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((r) => (timer = setTimeout(r, Math.min(left, 2 ** 31 - 1))));
      await Promise.race([Promise.allSettled([...this.running.values()]), timeout]);
      clearTimeout(timer);
    }
    return true;
  }
}
