/**
 * The console's clock control: what the page's header shows of the sandbox
 * clock, and its three buttons (+1 hour, Next event, Tomorrow 08:00), as the
 * answers of `GET /console/clock` and `POST /console/clock`.
 *
 * The console does not own the clock: the composition attaches one (the
 * sandbox's), and may attach it again with `nextEvent` once it knows what is
 * scheduled. Without one, the page hides the control and the route refuses.
 */
import { DateTime, IANAZone } from 'luxon';

/** What the console may do with the sandbox clock. A SandboxClock is one (without `nextEvent`). */
export interface ConsoleClockControl {
  now(): Date;
  /** Forward only; throws otherwise. */
  jumpBy(ms: number): void;
  /** Forward only; throws otherwise. */
  jumpTo(date: Date): void;
  /** Sandbox milliseconds per real millisecond, so the page can keep its display running between readings (default 1). */
  readonly speed?: number;
  /** Calls the listener after every jump, whoever made it (the page then redraws at once). */
  onJump?(listener: (now: Date) => void): () => void;
  /** When the next scheduled event (a reminder, a sleep, a wake) is due, if anything is scheduled. */
  nextEvent?: () => Promise<Date | undefined>;
}

export type ClockAction = 'hour' | 'next' | 'morning';
export const CLOCK_ACTIONS: readonly ClockAction[] = ['hour', 'next', 'morning'];

/** What the page shows, and what a script reads back. */
export interface ClockReading {
  /** Whether a clock is attached (otherwise the header shows no clock control). */
  controllable: boolean;
  /** The sandbox time, ISO 8601 in UTC; the real time when no clock is attached. */
  now: string;
  speed: number;
  /** The viewing person's IANA zone from their Slack profile, if they have one. */
  zone?: string;
  /** Whether Next event can tell what is scheduled. */
  knowsEvents: boolean;
}

export interface ClockMove extends ClockReading {
  /** Whether the clock moved. */
  moved: boolean;
  /** A sentence for the person when it did not (or to say where it went). */
  note: string;
}

/** A refusal the person can act on (answered 400). */
export class ClockRefusal extends Error {}

const HOUR_MS = 3_600_000;
const MORNING = { hour: 8, minute: 0, second: 0, millisecond: 0 };

export const NO_CLOCK =
  'This console has no sandbox clock to move: the clock control comes with the sandbox (npm start with no Slack or AWS configured).';

export function readClock(control: ConsoleClockControl | undefined, zone: string | undefined): ClockReading {
  const usable = zone && IANAZone.isValidZone(zone) ? zone : undefined;
  return {
    controllable: control !== undefined,
    now: (control?.now() ?? new Date()).toISOString(),
    speed: control?.speed ?? 1,
    ...(usable ? { zone: usable } : {}),
    knowsEvents: control?.nextEvent !== undefined,
  };
}

/**
 * Moves the clock: `hour` an hour on; `next` to the next scheduled event (when
 * one is due after now); `morning` to 08:00 tomorrow in `zone` (else UTC).
 */
export async function moveClock(control: ConsoleClockControl | undefined, action: ClockAction, zone: string | undefined): Promise<ClockMove> {
  if (!control) throw new ClockRefusal(NO_CLOCK);
  const place = zone && IANAZone.isValidZone(zone) ? zone : 'UTC';
  const stay = (note: string): ClockMove => ({ ...readClock(control, zone), moved: false, note });
  const went = (): ClockMove => ({ ...readClock(control, zone), moved: true, note: `The sandbox clock is now ${shown(control.now(), place)}.` });

  if (action === 'hour') {
    control.jumpBy(HOUR_MS);
    return went();
  }
  if (action === 'morning') {
    const target = DateTime.fromJSDate(control.now(), { zone: place }).plus({ days: 1 }).set(MORNING);
    control.jumpTo(target.toJSDate());
    return went();
  }
  if (!control.nextEvent) return stay('Nothing is scheduled: this sandbox does not report its scheduled events yet, so the clock stayed where it was.');
  const next = await control.nextEvent();
  const now = control.now();
  if (!next || next.getTime() <= now.getTime()) {
    return stay(`Nothing is scheduled after ${shown(now, place)}: the clock stayed where it was.`);
  }
  try {
    control.jumpTo(next);
  } catch {
    // Time ran past it between the reading and the jump (a fast clock): it is due, nothing to skip.
    return stay(`The next event is due now (${shown(next, place)}): the clock stayed where it was.`);
  }
  return went();
}

/** `Tue 1 Dec 2026, 18:45 Europe/Paris` */
function shown(at: Date, zone: string): string {
  return `${DateTime.fromJSDate(at, { zone }).toFormat('ccc d LLL yyyy, HH:mm')} ${zone}`;
}
