import type { Clock } from '../../../../src/core/ports/clock.port.js';

/**
 * A clock that only moves when told to, or when someone sleeps on it: a
 * sleep moves time forward by exactly its length and returns at once. So
 * waits and simulated durations can be checked to the millisecond. A sleep
 * whose signal is already aborted returns without moving time.
 */
export class ManualClock implements Clock {
  /** Every sleep asked for, in order. */
  readonly sleeps: number[] = [];
  private t: number;

  constructor(start = '2030-01-01T00:00:00.000Z') {
    this.t = Date.parse(start);
  }

  now(): Date {
    return new Date(this.t);
  }

  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(ms);
    if (!signal?.aborted) this.t += ms;
    await new Promise((resolve) => setImmediate(resolve));
  }

  advance(ms: number): void {
    this.t += ms;
  }
}
