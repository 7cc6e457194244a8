import type { Clock } from '../../../src/core/ports/clock.port.js';

/**
 * A clock whose `sleep` returns at once and moves virtual time forward, so
 * waits of minutes take no time. A sleep whose signal is already aborted
 * returns without moving time, as the real clock's would end early.
 */
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
    sleep: async (ms, signal) => {
      sleeps.push(ms);
      if (!signal?.aborted) now += ms;
    },
    sleeps,
    elapsedMs: () => now - start,
  };
}
