/**
 * The sandbox clock: sandbox time = start + real elapsed × speed + jumps, never
 * going back; its sleeps wait sandbox time and end early on a jump past their
 * end. Real time is a fake (`realNow`), and the timers under the sleeps are
 * vitest's fake timers, so every duration is exact.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SandboxClock } from '../../../src/adapters/sandbox/sandbox-clock.js';

const START = new Date('2026-12-01T17:45:00Z');
const HOUR = 3_600_000;

/** Real time under test control: the fake timers' own clock, so advancing timers moves it too. */
const fakeReal = () => Date.now();

/** Whether a promise has settled, after letting pending callbacks run. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(() => (done = true));
  await vi.advanceTimersByTimeAsync(0);
  return done;
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: new Date('2025-03-10T09:00:00Z') });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('the time it tells', () => {
  it('starts where it is told and runs with real time', () => {
    const clock = new SandboxClock({ start: START, realNow: fakeReal });
    expect(clock.now().toISOString()).toBe('2026-12-01T17:45:00.000Z');
    vi.advanceTimersByTime(1_500);
    expect(clock.now().toISOString()).toBe('2026-12-01T17:45:01.500Z');
  });

  it('starts at real now when no start is given, at speed 1', () => {
    const clock = new SandboxClock({ realNow: fakeReal });
    expect(clock.now().toISOString()).toBe('2025-03-10T09:00:00.000Z');
    expect(clock.speed).toBe(1);
  });

  it('runs `speed` times faster than real time: at 60, a real second is a minute', () => {
    const clock = new SandboxClock({ start: START, speed: 60, realNow: fakeReal });
    vi.advanceTimersByTime(1_000);
    expect(clock.now().toISOString()).toBe('2026-12-01T17:46:00.000Z');
    vi.advanceTimersByTime(30_000);
    expect(clock.now().toISOString()).toBe('2026-12-01T18:16:00.000Z');
  });

  it('adds every jump to the time, and keeps running from there', () => {
    const clock = new SandboxClock({ start: START, speed: 2, realNow: fakeReal });
    clock.jumpBy(HOUR);
    expect(clock.now().toISOString()).toBe('2026-12-01T18:45:00.000Z');
    vi.advanceTimersByTime(500);
    expect(clock.now().toISOString()).toBe('2026-12-01T18:45:01.000Z');
    clock.jumpTo(new Date('2026-12-02T08:00:00+01:00'));
    expect(clock.now().toISOString()).toBe('2026-12-02T07:00:00.000Z');
  });

  it('never reads earlier than before, even if the real clock it is given steps back', () => {
    let real = 1_000_000;
    const clock = new SandboxClock({ start: START, realNow: () => real });
    real += 5_000;
    const later = clock.now().getTime();
    real -= 4_000;
    expect(clock.now().getTime()).toBe(later);
  });

  it('refuses a speed that is not a positive number', () => {
    expect(() => new SandboxClock({ speed: 0 })).toThrow(/positive/);
    expect(() => new SandboxClock({ speed: Number.NaN })).toThrow(/positive/);
  });
});

describe('jumps only go forward', () => {
  it('jumpBy refuses zero, a negative number or nonsense, saying the clock never goes back', () => {
    const clock = new SandboxClock({ start: START, realNow: fakeReal });
    for (const ms of [0, -HOUR, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => clock.jumpBy(ms)).toThrowError(/only moves forward[\s\S]*DORMOUSE_SANDBOX_CLOCK/);
    }
    expect(clock.now()).toEqual(START);
  });

  it('jumpTo refuses now and any time before it', () => {
    const clock = new SandboxClock({ start: START, realNow: fakeReal });
    expect(() => clock.jumpTo(START)).toThrowError(/only moves forward: 2026-12-01T17:45:00.000Z is not after/);
    expect(() => clock.jumpTo(new Date('2026-01-01T00:00:00Z'))).toThrowError(/only moves forward/);
    expect(() => clock.jumpTo(new Date('not a date'))).toThrowError(/invalid date/);
    expect(clock.now()).toEqual(START);
  });

  it('tells its listeners the new time after each jump, until they stop listening', () => {
    const clock = new SandboxClock({ start: START, realNow: fakeReal });
    const heard: string[] = [];
    const stop = clock.onJump((now) => heard.push(now.toISOString()));
    clock.onJump(() => {
      throw new Error('a broken listener');
    });
    clock.jumpBy(HOUR);
    stop();
    clock.jumpBy(HOUR);
    expect(heard).toEqual(['2026-12-01T18:45:00.000Z']);
    expect(clock.now().toISOString()).toBe('2026-12-01T19:45:00.000Z');
  });
});

describe('sleep waits sandbox time', () => {
  it('waits ms / speed of real time', async () => {
    const clock = new SandboxClock({ start: START, speed: 60, realNow: fakeReal });
    const nap = clock.sleep(60_000); // a sandbox minute: one real second
    await vi.advanceTimersByTimeAsync(999);
    expect(await settled(nap)).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await settled(nap)).toBe(true);
    expect(clock.now().toISOString()).toBe('2026-12-01T17:46:00.000Z');
  });

  it('ends early when a jump passes its end, and not when a jump falls short of it', async () => {
    const clock = new SandboxClock({ start: START, realNow: fakeReal });
    const short = clock.sleep(30 * 60_000);
    const long = clock.sleep(3 * HOUR);
    clock.jumpBy(HOUR);
    expect(await settled(short)).toBe(true);
    expect(await settled(long)).toBe(false);
    // What is left of the long one is two sandbox hours, not three.
    await vi.advanceTimersByTimeAsync(2 * HOUR - 1);
    expect(await settled(long)).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await settled(long)).toBe(true);
  });

  it('ends at once when its signal is aborted, or was already; it never rejects', async () => {
    const clock = new SandboxClock({ start: START, realNow: fakeReal });
    const aborted = new AbortController();
    aborted.abort(new Error('gone'));
    expect(await settled(clock.sleep(HOUR, aborted.signal))).toBe(true);
    const later = new AbortController();
    const nap = clock.sleep(HOUR, later.signal);
    expect(await settled(nap)).toBe(false);
    later.abort(new Error('stop'));
    expect(await settled(nap)).toBe(true);
    await expect(nap).resolves.toBeUndefined();
  });

  it('waits longer than one Node timer can (a month), in chunks, and still ends on a jump', async () => {
    const clock = new SandboxClock({ start: START, realNow: fakeReal });
    const month = 30 * 24 * HOUR;
    const nap = clock.sleep(month);
    await vi.advanceTimersByTimeAsync(2 ** 31);
    expect(await settled(nap)).toBe(false);
    await vi.advanceTimersByTimeAsync(month - 2 ** 31);
    expect(await settled(nap)).toBe(true);
    const again = clock.sleep(month);
    clock.jumpBy(month);
    expect(await settled(again)).toBe(true);
  });

  it('a zero or negative sleep ends at once', async () => {
    const clock = new SandboxClock({ start: START, realNow: fakeReal });
    expect(await settled(clock.sleep(0))).toBe(true);
    expect(await settled(clock.sleep(-5))).toBe(true);
  });
});
