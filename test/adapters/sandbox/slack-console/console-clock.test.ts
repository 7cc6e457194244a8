/**
 * The console's clock buttons, on a sandbox clock whose real time stands
 * still: +1 hour, Next event (only to an event after now) and Tomorrow 08:00
 * in the person's zone, else UTC; and a console without a clock refuses.
 */
import { describe, expect, it } from 'vitest';
import { SandboxClock } from '../../../../src/adapters/sandbox/sandbox-clock.js';
import { ClockRefusal, moveClock, readClock, type ConsoleClockControl } from '../../../../src/adapters/sandbox/slack-console/console-clock.js';

/** 17:45 in Paris on Tuesday 1 December 2026; real time frozen, so only the buttons move it. */
const clockAt = (iso = '2026-12-01T17:45:00+01:00', speed = 1): SandboxClock => new SandboxClock({ start: new Date(iso), speed, realNow: () => 0 });

describe('reading the clock', () => {
  it('gives the sandbox time, its speed and the person’s zone (only a real zone)', () => {
    const clock = clockAt('2026-12-01T17:45:00+01:00', 60);
    expect(readClock(clock, 'Europe/Paris')).toEqual({ controllable: true, now: '2026-12-01T16:45:00.000Z', speed: 60, zone: 'Europe/Paris', knowsEvents: false });
    expect(readClock(clock, 'Mars/Olympus').zone).toBeUndefined();
    expect(readClock({ ...control(clock), nextEvent: async () => undefined }, undefined).knowsEvents).toBe(true);
  });

  it('without a clock: not controllable, and real time', () => {
    const reading = readClock(undefined, 'Europe/Paris');
    expect(reading.controllable).toBe(false);
    expect(Math.abs(Date.parse(reading.now) - Date.now())).toBeLessThan(5_000);
  });
});

/** The control the composition builds around a SandboxClock. */
function control(clock: SandboxClock, nextEvent?: () => Promise<Date | undefined>): ConsoleClockControl {
  return { now: () => clock.now(), jumpBy: (ms) => clock.jumpBy(ms), jumpTo: (d) => clock.jumpTo(d), speed: clock.speed, ...(nextEvent ? { nextEvent } : {}) };
}

describe('the buttons', () => {
  it('+1 hour moves it an hour on', async () => {
    const clock = clockAt();
    const moved = await moveClock(clock, 'hour', 'Europe/Paris');
    expect(moved).toMatchObject({ moved: true, now: '2026-12-01T17:45:00.000Z' });
    expect(moved.note).toBe('The sandbox clock is now Tue 1 Dec 2026, 18:45 Europe/Paris.');
  });

  it.each([
    ['Europe/Paris', '2026-12-02T07:00:00.000Z'],
    ['America/New_York', '2026-12-02T13:00:00.000Z'],
    ['Asia/Tokyo', '2026-12-02T23:00:00.000Z'], // already the 2nd in Tokyo (01:45): tomorrow is the 3rd
    [undefined, '2026-12-02T08:00:00.000Z'],
  ])('Tomorrow 08:00 is 08:00 of the next day where the person is (%s; UTC without a zone)', async (zone, expected) => {
    const clock = clockAt();
    expect((await moveClock(clock, 'morning', zone)).now).toBe(expected);
    expect(clock.now().toISOString()).toBe(expected);
  });

  it('Next event jumps to the next scheduled event when it is after now', async () => {
    const clock = clockAt();
    const due = new Date('2026-12-01T18:00:00+01:00');
    const moved = await moveClock(control(clock, async () => due), 'next', 'Europe/Paris');
    expect(moved.moved).toBe(true);
    expect(clock.now()).toEqual(due);
  });

  it('Next event leaves the clock when nothing is scheduled after now, and says so', async () => {
    const clock = clockAt();
    const before = clock.now();
    for (const next of [undefined, new Date('2026-12-01T10:00:00Z'), before]) {
      const moved = await moveClock(control(clock, async () => next), 'next', 'Europe/Paris');
      expect(moved).toMatchObject({ moved: false, note: 'Nothing is scheduled after Tue 1 Dec 2026, 17:45 Europe/Paris: the clock stayed where it was.' });
    }
    const unknown = await moveClock(clock, 'next', undefined);
    expect(unknown.moved).toBe(false);
    expect(unknown.note).toMatch(/^Nothing is scheduled: this sandbox does not report its scheduled events yet/);
    expect(clock.now()).toEqual(before);
  });

  it('without a clock, every button is refused with a sentence', async () => {
    await expect(moveClock(undefined, 'hour', undefined)).rejects.toBeInstanceOf(ClockRefusal);
    await expect(moveClock(undefined, 'morning', undefined)).rejects.toThrow(/no sandbox clock to move/);
  });
});
