import type { Clock } from '../../../src/core/ports/notifier.port.js';

/** A clock whose `sleep` returns at once and moves virtual time forward, so waits of minutes take no time. */
export interface FakeClock extends Clock {
  /** Every sleep asked for, in order. */
  readonly sleeps: number[];
  /** Virtual milliseconds since the clock was made. */
  elapsedMs(): number;
}

export function fakeClock(start = Date.parse('2030-01-01T09:00:00Z')): FakeClock {
  let now = start;
  const sleeps: number[] = [];
  return {
    now: () => new Date(now),
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
    sleeps,
    elapsedMs: () => now - start,
  };
}
