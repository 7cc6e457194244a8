/**
 * The sandbox's clock: real time, optionally started elsewhere, running
 * faster, and moved forward on demand, so that what is scheduled for this
 * evening or tomorrow morning (a reminder, a sleep, a wake) can be seen in a
 * minute. One instance drives the whole sandbox: the store adapters, the local
 * cloud, the use cases and the workflow runner all read it.
 *
 *   sandbox time = start + (real time elapsed since construction × speed) + every jump
 *
 * It never goes back: a jump is forward only, and a reading is never earlier
 * than the one before it. `sleep(ms)` waits `ms` of sandbox time (`ms / speed`
 * of real time), and ends early when a jump passes its end, so whatever waits
 * on the clock (a poll, a lease renewal, a timer) lines up with the jump.
 *
 * Real time stays real where a real process or a real server judges it: the
 * lock files of the local cloud, the runners of host steps, S3's presigned URLs
 * (see compose/cloud.ts), the Slack double's triggers and message timestamps.
 */
import type { Clock } from '../../core/ports/clock.port.js';

export interface SandboxClockOptions {
  /** The sandbox time at construction; default: real now. */
  start?: Date;
  /** How many sandbox milliseconds pass per real millisecond; default 1. */
  speed?: number;
  /** Real time in ms since the epoch; default a monotonic reading (never moved by NTP). Tests pass a fake. */
  realNow?: () => number;
}

/** The longest a Node timer can wait (about 24.8 days); longer sleeps wait in chunks. */
const MAX_TIMER_MS = 2 ** 31 - 1;

const monotonicNow = (): number => performance.timeOrigin + performance.now();

interface Sleeper {
  /** Sandbox time at which it ends. */
  until: number;
  /** Real ms still to wait after the current timer fires (a sleep longer than one timer). */
  realLeft: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  done(): void;
}

export class SandboxClock implements Clock {
  /** Sandbox milliseconds per real millisecond. */
  readonly speed: number;
  private readonly realNow: () => number;
  private readonly realStart: number;
  private readonly start: number;
  private jumped = 0;
  /** The last reading given, so that no later one is earlier (a fake real clock may step back). */
  private last = -Infinity;
  private readonly sleepers = new Set<Sleeper>();
  private readonly listeners = new Set<(now: Date) => void>();

  constructor(opts: SandboxClockOptions = {}) {
    const speed = opts.speed ?? 1;
    if (!Number.isFinite(speed) || speed <= 0) throw new RangeError(`The sandbox clock's speed must be a positive number (got ${String(opts.speed)}).`);
    if (opts.start && Number.isNaN(opts.start.getTime())) throw new RangeError('The sandbox clock needs a valid start date.');
    this.speed = speed;
    this.realNow = opts.realNow ?? monotonicNow;
    this.realStart = this.realNow();
    this.start = opts.start ? opts.start.getTime() : Math.floor(this.realStart);
  }

  now(): Date {
    return new Date(this.nowMs());
  }

  /**
   * Resolves after `ms` of sandbox time, when a jump passes its end, or as
   * soon as `signal` is aborted, whichever comes first. Never rejects.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const wait = Number.isFinite(ms) ? Math.max(0, ms) : ms > 0 ? Infinity : 0;
      const sleeper: Sleeper = {
        until: this.nowMs() + wait,
        realLeft: 0,
        timer: undefined,
        done: () => {
          if (sleeper.timer !== undefined) clearTimeout(sleeper.timer);
          this.sleepers.delete(sleeper);
          signal?.removeEventListener('abort', sleeper.done);
          resolve();
        },
      };
      this.sleepers.add(sleeper);
      signal?.addEventListener('abort', sleeper.done, { once: true });
      this.arm(sleeper, wait / this.speed);
    });
  }

  /** Moves the clock `ms` forward (ms > 0). Sleeps that end on the way end now; listeners hear the new time. */
  jumpBy(ms: number): void {
    if (!Number.isFinite(ms) || ms <= 0) {
      throw new Error(
        `The sandbox clock only moves forward: jump by a positive number of milliseconds (got ${String(ms)}). ` +
          'To start from an earlier time, restart the sandbox with DORMOUSE_SANDBOX_CLOCK set to it.',
      );
    }
    this.jumped += ms;
    const now = this.nowMs();
    for (const sleeper of [...this.sleepers]) {
      if (sleeper.until <= now) sleeper.done();
      else this.arm(sleeper, (sleeper.until - now) / this.speed);
    }
    const at = new Date(now);
    for (const listener of [...this.listeners]) {
      try {
        listener(at);
      } catch {
        // a listener's failure is its own business: the clock has moved for everyone else
      }
    }
  }

  /** Moves the clock forward to `date`, which must be after now (the clock never goes back). */
  jumpTo(date: Date): void {
    const target = date.getTime();
    if (Number.isNaN(target)) throw new Error('The sandbox clock cannot jump to an invalid date.');
    const now = this.nowMs();
    if (target <= now) {
      throw new Error(`The sandbox clock only moves forward: ${date.toISOString()} is not after its time now, ${new Date(now).toISOString()}.`);
    }
    this.jumpBy(target - now);
  }

  /** Calls `listener` with the new time after every jump; returns the way to stop. */
  onJump(listener: (now: Date) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  private nowMs(): number {
    const computed = Math.floor(this.start + (this.realNow() - this.realStart) * this.speed + this.jumped);
    this.last = Math.max(this.last, computed);
    return this.last;
  }

  /** (Re)starts the sleeper's timer for `realMs` of real time, in chunks a Node timer can hold. */
  private arm(sleeper: Sleeper, realMs: number): void {
    if (sleeper.timer !== undefined) clearTimeout(sleeper.timer);
    const chunk = Math.min(Math.max(0, realMs), MAX_TIMER_MS);
    sleeper.realLeft = Math.max(0, realMs) - chunk;
    sleeper.timer = setTimeout(() => {
      sleeper.timer = undefined;
      if (sleeper.realLeft > 0) this.arm(sleeper, sleeper.realLeft);
      else sleeper.done();
    }, chunk);
  }
}
