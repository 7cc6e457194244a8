/**
 * What a composition must stop, in the reverse order of starting, each with
 * a deadline: one part that hangs must not keep the rest (giving leases back)
 * from running.
 */
import type { Logger } from '../core/ports/clock.port.js';

/** The most any one part may take to stop. */
const DEADLINE_MS = 12_000;

export class Closers {
  private readonly parts: Array<() => Promise<unknown>> = [];
  private stopping: Promise<void> | undefined;

  constructor(private readonly logger: Logger) {}

  add(close: () => Promise<unknown>): void {
    this.parts.push(close);
  }

  stop(): Promise<void> {
    return (this.stopping ??= (async () => {
      for (const close of this.parts.reverse()) {
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<void>((resolve) => (timer = setTimeout(() => (this.logger.warn({}, 'a part did not stop in time; going on'), resolve()), DEADLINE_MS)));
        await Promise.race([close().catch((err: unknown) => this.logger.warn({ err }, 'error while stopping')), deadline]);
        clearTimeout(timer);
      }
    })());
  }
}
