import type { Clock } from '../../../src/core/ports/clock.port.js';

/**
 * Virtual time that moves only when a test says so. `sleep` waits until the
 * test advances past its end (or its signal aborts), as a real timer would:
 * so leases lapse, heartbeats fire and waits end exactly when the test
 * decides, without waiting in real time.
 */
export class VirtualClock implements Clock {
  private t: number;
  private timers: Array<{ at: number; seq: number; wake: () => void }> = [];
  private seq = 0;

  constructor(start = '2030-01-01T09:00:00.000Z') {
    this.t = Date.parse(start);
  }

  now(): Date {
    return new Date(this.t);
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const timer = { at: this.t + Math.max(0, ms), seq: this.seq++, wake: () => resolve() };
      this.timers.push(timer);
      signal?.addEventListener(
        'abort',
        () => {
          this.timers = this.timers.filter((x) => x !== timer);
          resolve();
        },
        { once: true },
      );
    });
  }

  /** How many sleepers are waiting. */
  get pending(): number {
    return this.timers.length;
  }

  /** Moves time forward by `ms`, waking sleepers in time order and letting what they start settle. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      const due = this.timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.timers = this.timers.filter((x) => x !== due);
      this.t = Math.max(this.t, due.at);
      due.wake();
    }
    this.t = end;
    await settle();
  }

  /** Advances in steps until `done()` holds or `maxMs` of virtual time has passed. */
  async runUntil(done: () => boolean, maxMs = 60 * 60_000, stepMs = 100): Promise<void> {
    for (let passed = 0; !done() && passed < maxMs; passed += stepMs) await this.advance(stepMs);
  }
}

/** Lets promise chains and I/O callbacks run (several turns of the event loop). */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
}
