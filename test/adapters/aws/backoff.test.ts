import { describe, expect, it } from 'vitest';
import {
  backoffDelays,
  isThrottling,
  pollWithBackoff,
  retryWithBackoff,
} from '../../../src/adapters/aws/backoff.js';
import { fakeClock } from './fake-clock.js';

const first = (n: number, delays: Iterator<number>) => Array.from({ length: n }, () => delays.next().value as number);

describe('backoffDelays', () => {
  it('grows by the factor up to the maximum', () => {
    expect(first(6, backoffDelays({ initialMs: 1000, maxMs: 10_000, factor: 2, jitter: 0 }))).toEqual([
      1000, 2000, 4000, 8000, 10_000, 10_000,
    ]);
  });

  it('takes up to the jitter share off each delay', () => {
    expect(first(3, backoffDelays({ initialMs: 1000, maxMs: 10_000, jitter: 0.5, random: () => 1 }))).toEqual([
      500, 1000, 2000,
    ]);
  });
});

describe('pollWithBackoff', () => {
  it('returns the first value the check gives', async () => {
    const clock = fakeClock();
    let calls = 0;
    const value = await pollWithBackoff(async () => (++calls === 3 ? 'done' : undefined), {
      clock,
      deadline: clock.now().getTime() + 60_000,
      initialMs: 100,
      maxMs: 1000,
      jitter: 0,
    });
    expect(value).toBe('done');
    expect(clock.sleeps).toEqual([100, 200]);
  });

  it('checks one last time at the deadline and then gives up with undefined', async () => {
    const clock = fakeClock();
    let calls = 0;
    const value = await pollWithBackoff(
      async () => {
        calls += 1;
        return undefined;
      },
      { clock, deadline: clock.now().getTime() + 1000, initialMs: 400, maxMs: 400, jitter: 0 },
    );
    expect(value).toBeUndefined();
    expect(clock.sleeps).toEqual([400, 400, 200]);
    expect(calls).toBe(4);
  });

  it('rejects with the reason of its signal, without checking again once it is aborted', async () => {
    const clock = fakeClock();
    const stop = new AbortController();
    const reason = new Error('lease lost');
    let calls = 0;
    const polling = pollWithBackoff(
      async () => {
        calls += 1;
        if (calls === 2) stop.abort(reason);
        return undefined;
      },
      { clock, deadline: clock.now().getTime() + 60_000, initialMs: 100, maxMs: 100, jitter: 0, signal: stop.signal },
    );
    await expect(polling).rejects.toBe(reason);
    expect(calls).toBe(2);

    await expect(
      pollWithBackoff(async () => 'never asked', { clock, deadline: Infinity, initialMs: 1, maxMs: 1, signal: stop.signal }),
    ).rejects.toBe(reason);
  });
});

describe('retryWithBackoff', () => {
  const throttled = Object.assign(new Error('slow down'), { name: 'ThrottlingException' });

  it('retries what shouldRetry accepts and returns the eventual result', async () => {
    const clock = fakeClock();
    let calls = 0;
    const result = await retryWithBackoff(
      async () => {
        calls += 1;
        if (calls < 3) throw throttled;
        return 'ok';
      },
      { clock, shouldRetry: isThrottling, maxAttempts: 5, initialMs: 10, maxMs: 100, jitter: 0 },
    );
    expect(result).toBe('ok');
    expect(clock.sleeps).toEqual([10, 20]);
  });

  it('throws other errors at once', async () => {
    const clock = fakeClock();
    const boom = new Error('boom');
    await expect(
      retryWithBackoff(() => Promise.reject(boom), { clock, shouldRetry: isThrottling, maxAttempts: 5, initialMs: 10, maxMs: 100 }),
    ).rejects.toBe(boom);
    expect(clock.sleeps).toEqual([]);
  });

  it('throws the last error when attempts or time run out', async () => {
    const clock = fakeClock();
    let calls = 0;
    const fail = () => {
      calls += 1;
      return Promise.reject(throttled);
    };
    await expect(
      retryWithBackoff(fail, { clock, shouldRetry: isThrottling, maxAttempts: 3, initialMs: 10, maxMs: 100 }),
    ).rejects.toBe(throttled);
    expect(calls).toBe(3);

    calls = 0;
    await expect(
      retryWithBackoff(fail, {
        clock,
        shouldRetry: isThrottling,
        deadline: clock.now().getTime() + 1000,
        initialMs: 300,
        maxMs: 300,
        jitter: 0,
      }),
    ).rejects.toBe(throttled);
    expect(calls).toBe(5); // at 0, 300, 600, 900 and 1000 ms
  });

  it('stops retrying when its signal is aborted, with the signal\'s reason', async () => {
    const clock = fakeClock();
    const stop = new AbortController();
    let calls = 0;
    const retrying = retryWithBackoff(
      () => {
        calls += 1;
        stop.abort('shutting down');
        return Promise.reject(throttled);
      },
      { clock, shouldRetry: isThrottling, maxAttempts: 5, initialMs: 10, maxMs: 100, signal: stop.signal },
    );
    await expect(retrying).rejects.toBe('shutting down');
    expect(calls).toBe(1);
  });
});

describe('isThrottling', () => {
  it.each(['ThrottlingException', 'RequestLimitExceeded', 'TooManyUpdates', 'Throttling', 'SlowDown'])('knows %s', (name) => {
    expect(isThrottling(Object.assign(new Error('x'), { name }))).toBe(true);
  });

  it('knows a 429 and the SDK throttling flag', () => {
    expect(isThrottling({ name: 'Whatever', $metadata: { httpStatusCode: 429 } })).toBe(true);
    expect(isThrottling({ name: 'Whatever', $retryable: { throttling: true } })).toBe(true);
  });

  it('does not take other errors for throttling', () => {
    expect(isThrottling(Object.assign(new Error('x'), { name: 'InsufficientInstanceCapacity' }))).toBe(false);
    expect(isThrottling(new Error('plain'))).toBe(false);
    expect(isThrottling(undefined)).toBe(false);
  });
});
