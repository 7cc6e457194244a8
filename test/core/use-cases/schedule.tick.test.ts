/**
 * The schedule at work (ScheduleService): the leader's tick over the in-memory repository, on virtual
 * time, with the recording notifier. The sleep, wake, retry and destroy it starts are small functions
 * that do to the record what the real use cases do (a conditional write of a real state transition);
 * the test itself then moves the environment on as the flow would (saving → asleep, waking → ready,
 * saving → failed), with `transition()`/`fail()`, so `dueAt` is set as in production.
 *
 * Times: 2030-01-07 is a Monday, 2030-01-08 a Tuesday. The Paris owner's zone is UTC+1 in January,
 * so 18:30 local = 17:30Z, the reminder 30 minutes before = 17:00Z.
 */
import { NO_ACCESS_RULES } from '../../../src/core/policies/permissions.js';
import { beforeEach, describe, expect, it } from 'vitest';
import { fail, newEnvironment, transition, type Environment } from '../../../src/core/environment/environment.js';
import { DomainError, ErrorCodes } from '../../../src/core/environment/errors.js';
import { newEnvironmentId } from '../../../src/core/environment/ids.js';
import type { EnvironmentState } from '../../../src/core/environment/lifecycle.js';
import type { Logger } from '../../../src/core/ports/clock.port.js';
import type { ScheduleNotice } from '../../../src/core/ports/notifier.port.js';
import type { PeoplePort } from '../../../src/core/ports/people.port.js';
import { parseSchedule, type HolidayCalendar, type Schedule } from '../../../src/core/schedule/schedule.js';
import type { ScheduleSettings } from '../../../src/core/schedule/timers.js';
import { ScheduleService, type ScheduleDeps } from '../../../src/core/use-cases/schedule.use-case.js';
import type { Target } from '../../../src/core/use-cases/shared.js';
import { InMemoryEnvironmentRepository } from '../../support/fakes/memory-repository.js';
import { RecordingNotifier } from '../../support/fakes/recording-notifier.js';
import { VirtualClock } from '../../support/fakes/virtual-clock.js';
import { testTemplate } from '../../support/templates.js';

const MIN = 60_000;
const PARIS_OWNER = 'UPARIS';
const NO_ZONE_OWNER = 'UNOZONE';
const ADMIN = 'UADMIN';
const ZONES: Record<string, string | undefined> = { [PARIS_OWNER]: 'Europe/Paris', [NO_ZONE_OWNER]: undefined };

function parsed(text: string): Schedule {
  const r = parseSchedule(text, { now: new Date('2030-01-01T00:00:00Z') });
  if (!r.ok) throw new Error(`${text}: ${r.problem}`);
  return r.schedule;
}

function calendar(...days: string[]): HolidayCalendar {
  return { isHoliday: (d) => days.includes(d), nameOf: (d) => (days.includes(d) ? 'extra day off' : undefined) };
}

function settingsWith(holidays: HolidayCalendar = calendar()): ScheduleSettings {
  return {
    defaultSchedule: parsed('weekdays 08:00-18:30'),
    defaultZone: 'UTC',
    holidays,
    reminderMinutes: 30,
    allowSkip: true,
    idle: { days: 7, answerHours: 48 },
    tickMs: 60_000,
  };
}

/** A logger that keeps what was said. */
function recordingLogger(): Logger & { lines: Array<{ level: string; msg?: string | undefined; obj: object }> } {
  const lines: Array<{ level: string; msg?: string | undefined; obj: object }> = [];
  const logger = {
    lines,
    info: (obj: object, msg?: string) => void lines.push({ level: 'info', msg, obj }),
    warn: (obj: object, msg?: string) => void lines.push({ level: 'warn', msg, obj }),
    error: (obj: object, msg?: string) => void lines.push({ level: 'error', msg, obj }),
    debug: (obj: object, msg?: string) => void lines.push({ level: 'debug', msg, obj }),
    child: () => logger,
  };
  return logger;
}

/** A wrong state for what a use case does: what the real ones throw then. */
function notFrom(e: Environment, to: EnvironmentState): DomainError {
  return new DomainError(ErrorCodes.INVALID_TRANSITION, `${e.name} is ${e.state}, so it cannot become ${to}.`, { name: e.name, from: e.state, to });
}

/** The store, a clock, the people, the notifier, the actions the timers start, and leaders to tick. */
function world(opts: { start: string; holidays?: HolidayCalendar }) {
  const clock = new VirtualClock(opts.start);
  const store = new InMemoryEnvironmentRepository();
  const notifier = new RecordingNotifier();
  const logger = recordingLogger();
  const settings = settingsWith(opts.holidays);
  /** What each listDue call read (itemsRead), and how many `get`s were made. */
  const dueReads: number[] = [];
  let gets = 0;
  const repo: ScheduleDeps['repo'] = {
    get: async (name) => {
      gets += 1;
      return store.get(name);
    },
    save: (env) => store.save(env),
    listDue: async (now, limit) => {
      const r = await store.listDue(now, limit);
      dueReads.push(r.itemsRead);
      return r;
    },
  };
  const people: PeoplePort = { timeZoneOf: async (user) => ZONES[user] };
  const calls = {
    save: [] as Array<{ name: string; actor: string; reason: string }>,
    wake: [] as Array<{ name: string; actor: string }>,
    retry: [] as Array<{ name: string; actor: string }>,
    destroy: [] as Array<{ name: string; actor: string }>,
  };
  const current = async (target: Target): Promise<Environment> => {
    const e = await store.get(target.name);
    if (!e) throw new DomainError(ErrorCodes.NOT_FOUND, `${target.name} not found`, { name: target.name });
    return e;
  };
  const actions: ScheduleDeps['actions'] = {
    save: {
      execute: async (target, actor, reason) => {
        calls.save.push({ name: target.name, actor, reason });
        const e = await current(target);
        if (e.state !== 'ready') throw notFrom(e, 'saving');
        const environment = await store.save({ ...transition(e, 'saving', clock.now()), sleptBy: actor });
        return { environment, started: true };
      },
    },
    wake: {
      execute: async (target, actor) => {
        calls.wake.push({ name: target.name, actor });
        const e = await current(target);
        if (e.state !== 'asleep') throw notFrom(e, 'waking');
        const environment = await store.save({ ...transition(e, 'waking', clock.now()), wokenBy: actor });
        return { environment, started: true };
      },
    },
    retry: {
      execute: async (target, actor) => {
        calls.retry.push({ name: target.name, actor });
        const e = await current(target);
        if (e.state !== 'failed' || !e.failure?.retryable) throw notFrom(e, e.failure?.from ?? 'requested');
        return store.save({ ...transition(e, e.failure.from, clock.now()), retries: e.retries + 1, retriedBy: actor });
      },
    },
    destroy: {
      execute: async (target, actor) => {
        calls.destroy.push({ name: target.name, actor });
        const e = await current(target);
        const environment = await store.save({ ...transition(e, 'destroying', clock.now()), destroyedBy: actor });
        return { environment, started: true };
      },
    },
  };
  const leader = () =>
    new ScheduleService({ repo, events: store, notifier, people, clock, logger, templates: [testTemplate()], access: { ...NO_ACCESS_RULES, admins: [ADMIN] }, settings, actions });

  /** Moves the clock forward to `iso` (never back). */
  const at = async (iso: string) => {
    const ms = Date.parse(iso) - clock.now().getTime();
    if (ms < 0) throw new Error(`the clock is already past ${iso}`);
    await clock.advance(ms);
  };

  /** An environment created through the real transitions up to `state`, at the clock's now. */
  const seed = async (name: string, owner: string, state: 'ready' | 'asleep' | 'provisioning' | 'failed' | 'destroyed', extra: Partial<Environment> = {}) => {
    const now = clock.now();
    let e = newEnvironment(
      { id: newEnvironmentId(now), name, owner, template: 'api', instanceType: 't3.medium', count: 1, purpose: 'tests', requestId: `req-${name}`, hourlyCostUsd: 0.0416 },
      now,
    );
    const path: Record<typeof state, EnvironmentState[]> = {
      ready: ['provisioning', 'bootstrapping', 'ready'],
      asleep: ['provisioning', 'bootstrapping', 'ready', 'saving', 'asleep'],
      provisioning: ['provisioning'],
      failed: ['provisioning'],
      destroyed: ['provisioning', 'destroying', 'destroyed'],
    };
    for (const to of path[state]) e = transition(e, to, now);
    if (state === 'failed') e = fail(e, { step: 'launch', code: ErrorCodes.CAPACITY, reason: 'no capacity', retryable: true }, now);
    if (state === 'asleep') e = { ...e, sleptAt: now.toISOString() };
    const { environment } = await store.create({ ...e, ...extra });
    return environment;
  };

  /** What a flow does next: a real transition, written conditionally. */
  const move = async (name: string, to: EnvironmentState, extra: Partial<Environment> = {}) => {
    const e = (await store.get(name))!;
    return store.save({ ...transition(e, to, clock.now()), ...extra });
  };
  /** The save flow failed (a store error: retryable). */
  const failSave = async (name: string) => {
    const e = (await store.get(name))!;
    return store.save(fail(e, { step: 'save', code: ErrorCodes.DATA_STORE_ERROR, reason: 'the data store failed', retryable: true }, clock.now()));
  };

  const get = async (name: string) => (await store.get(name))!;
  const noticesOf = (kind: ScheduleNotice['kind']) => notifier.notices.filter((n) => n.notice.kind === kind).map((n) => n.notice);
  const warnings = () => logger.lines.filter((l) => l.level === 'warn');

  return { clock, store, notifier, logger, settings, calls, leader, at, seed, move, failSave, get, noticesOf, warnings, dueReads, gets: () => gets };
}

type World = ReturnType<typeof world>;

const TUESDAY_10_PARIS = '2030-01-08T09:00:00.000Z';
const SLEEP = '2030-01-08T17:30:00.000Z'; // Tue 18:30 CET
const REMIND = '2030-01-08T17:00:00.000Z';

/** A Paris owner's environment, ready on Tuesday at 10:00 local, and planned by a first tick. */
async function readyAndPlanned(w: World, s = w.leader(), name = 'web-1'): Promise<ScheduleService> {
  await w.seed(name, PARIS_OWNER, 'ready');
  expect(await s.tick()).toMatchObject({ read: 1, fired: 0 });
  return s;
}

describe('a day for one environment', () => {
  let w: World;
  beforeEach(() => {
    w = world({ start: TUESDAY_10_PARIS });
  });

  it('is planned on the first tick: the sleep at 18:30 Paris, its reminder due first', async () => {
    const seeded = await w.seed('web-1', PARIS_OWNER, 'ready');
    expect(seeded.dueAt).toBe(TUESDAY_10_PARIS); // transition() put it in the due index
    const s = w.leader();
    expect(await s.tick()).toMatchObject({ read: 1, fired: 0 });
    const e = await w.get('web-1');
    expect(e.timers).toMatchObject({ zone: 'Europe/Paris', schedule: 'weekdays 08:00-18:30', sleepAt: SLEEP, remindAt: REMIND });
    expect(e.timers?.plannedFor).toBe(`ready@${TUESDAY_10_PARIS}#weekdays 08:00-18:30#Europe/Paris`);
    expect(e.dueAt).toBe(REMIND);
    expect(e.version).toBe(seeded.version + 1);
    // Planned: not read again before it is due.
    expect(await s.tick()).toMatchObject({ read: 0, fired: 0 });
  });

  it('the reminder goes once, at its time, however many times the tick runs', async () => {
    const s = await readyAndPlanned(w);
    await w.at('2030-01-08T16:59:59.999Z');
    await s.tick();
    expect(w.notifier.notices).toEqual([]);

    await w.at(REMIND);
    expect(await s.tick()).toMatchObject({ read: 1, fired: 1 });
    await s.tick();
    await s.tick();
    expect(w.notifier.notices).toEqual([
      {
        env: 'web-1',
        notice: {
          kind: 'reminder',
          sleepAt: SLEEP,
          zone: 'Europe/Paris',
          hour: '2030-01-08T18:30:00.000Z',
          tomorrow: '2030-01-09T07:00:00.000Z', // Wed 08:00 CET
          skip: '2030-01-09T17:30:00.000Z', // Wed 18:30 CET
        },
      },
    ]);
    const e = await w.get('web-1');
    expect(e.timers?.remindedFor).toBe(SLEEP);
    expect(e.dueAt).toBe(SLEEP);
    // A second leader ticking later finds nothing due either.
    await w.leader().tick();
    expect(w.notifier.notices).toHaveLength(1);
  });

  it('two leaders at the reminder: it is marked once (the notifier, not the service, dedupes the message)', async () => {
    const a = await readyAndPlanned(w);
    const b = w.leader();
    await w.at(REMIND);
    await Promise.all([a.tick(), b.tick()]);
    const e = await w.get('web-1');
    expect(e.timers?.remindedFor).toBe(SLEEP);
    // Both may have sent it before one write lost: one or two, never more.
    expect(w.noticesOf('reminder').length).toBeGreaterThanOrEqual(1);
    expect(w.noticesOf('reminder').length).toBeLessThanOrEqual(2);
  });

  it('Slack refusing the reminder: not marked, told at the next tick', async () => {
    const s = await readyAndPlanned(w);
    await w.at(REMIND);
    const before = await w.get('web-1');
    w.notifier.refuse = true;
    expect(await s.tick()).toMatchObject({ read: 1, fired: 1 });
    const after = await w.get('web-1');
    expect(w.notifier.notices).toEqual([]);
    expect(after.timers?.remindedFor).toBeUndefined();
    expect(after.dueAt).toBe(REMIND);
    expect(after.version).toBe(before.version);

    w.notifier.refuse = false;
    await w.at('2030-01-08T17:01:00.000Z');
    await s.tick();
    expect(w.noticesOf('reminder')).toHaveLength(1);
    expect((await w.get('web-1')).timers?.remindedFor).toBe(SLEEP);
  });

  it('the sleep starts at its time, not before, as the schedule', async () => {
    const s = await readyAndPlanned(w);
    await w.at(REMIND);
    await s.tick();
    await w.at('2030-01-08T17:29:59.999Z');
    await s.tick();
    expect(w.calls.save).toEqual([]);

    await w.at(SLEEP);
    expect(await s.tick()).toMatchObject({ read: 1, fired: 1 });
    expect(w.calls.save).toEqual([{ name: 'web-1', actor: 'schedule', reason: 'sleep' }]);
    const e = await w.get('web-1');
    expect(e.state).toBe('saving');
    expect(e.dueAt).toBeUndefined(); // a flow at work: out of the due index
    expect(e.timers?.sleeping).toEqual({ for: SLEEP, attempts: 1, firedAt: SLEEP, late: false });
    expect(w.noticesOf('late')).toEqual([]);

    // The save flow ends: asleep, and planned again (no wake in the default schedule: only the idle check).
    await w.at('2030-01-08T17:40:00.000Z');
    await w.move('web-1', 'asleep', { sleptAt: w.clock.now().toISOString() });
    await s.tick();
    const asleep = await w.get('web-1');
    expect(asleep.timers?.sleeping).toBeUndefined();
    expect(asleep.timers?.idleAt).toBe('2030-01-15T17:40:00.000Z');
    expect(asleep.dueAt).toBe('2030-01-15T17:40:00.000Z');
    expect(w.calls.save).toHaveLength(1);
  });

  it('two leaders at the sleep, together: it starts exactly once', async () => {
    const a = await readyAndPlanned(w);
    const b = w.leader();
    await w.at(REMIND);
    await a.tick();
    await w.at(SLEEP);
    const [ra, rb] = await Promise.all([a.tick(), b.tick()]);
    // Both read it; the second write found the version moved.
    expect(ra.read + rb.read).toBe(2);
    expect(w.calls.save).toHaveLength(1);
    expect((await w.get('web-1')).state).toBe('saving');
    expect(w.warnings().map((l) => l.msg)).toEqual(['a timer could not be handled; the next tick tries again']);
  });

  it('two leaders at the sleep, one after the other: it starts exactly once', async () => {
    const a = await readyAndPlanned(w);
    await w.at(SLEEP);
    await a.tick();
    await w.leader().tick();
    await a.tick();
    expect(w.calls.save).toHaveLength(1);
  });

  it('a save that fails is tried again (retry) after the backoff, not before: 5 minutes, then 10', async () => {
    const s = await readyAndPlanned(w);
    await w.at(SLEEP);
    await s.tick();
    expect(w.calls.save).toHaveLength(1);

    await w.at('2030-01-08T17:35:00.000Z');
    await w.failSave('web-1');
    await s.tick();
    const failed = await w.get('web-1');
    expect(failed.state).toBe('failed');
    expect(failed.timers?.retryAt).toBe('2030-01-08T17:40:00.000Z');
    expect(failed.dueAt).toBe('2030-01-08T17:40:00.000Z');

    await w.at('2030-01-08T17:39:59.999Z');
    await s.tick();
    expect(w.calls.retry).toEqual([]);

    await w.at('2030-01-08T17:40:00.000Z');
    expect(await s.tick()).toMatchObject({ read: 1, fired: 1 });
    expect(w.calls.retry).toEqual([{ name: 'web-1', actor: 'schedule' }]);
    expect(w.calls.save).toHaveLength(1); // a failed environment is retried, not saved anew
    const retried = await w.get('web-1');
    expect(retried.state).toBe('saving');
    expect(retried.timers?.sleeping).toMatchObject({ for: SLEEP, attempts: 2, firedAt: '2030-01-08T17:40:00.000Z' });
    expect(retried.timers?.retryAt).toBeUndefined();
    expect(w.noticesOf('sleep-retry')).toEqual([{ kind: 'sleep-retry', due: SLEEP, attempts: 2, retryAt: '2030-01-08T17:40:00.000Z', zone: 'Europe/Paris' }]);

    // Fails again: 10 minutes this time.
    await w.at('2030-01-08T17:45:00.000Z');
    await w.failSave('web-1');
    await s.tick();
    expect((await w.get('web-1')).dueAt).toBe('2030-01-08T17:55:00.000Z');
    await w.at('2030-01-08T17:54:59.999Z');
    await s.tick();
    expect(w.calls.retry).toHaveLength(1);
    await w.at('2030-01-08T17:55:00.000Z');
    await s.tick();
    expect(w.calls.retry).toHaveLength(2);
    expect((await w.get('web-1')).timers?.sleeping?.attempts).toBe(3);
  });

  it('catch-up: two hours past the sleep with no tick between, no reminder, one late sleep, and the owner told the reminder was missed', async () => {
    const s = await readyAndPlanned(w);
    await w.at('2030-01-08T19:30:00.000Z');
    expect(await s.tick()).toMatchObject({ read: 1, fired: 2 }); // the reminder passed over, then the sleep
    await s.tick();
    expect(w.noticesOf('reminder')).toEqual([]);
    expect(w.calls.save).toEqual([{ name: 'web-1', actor: 'schedule', reason: 'sleep' }]);
    expect(w.noticesOf('late')).toEqual([{ kind: 'late', what: 'sleep', due: SLEEP, zone: 'Europe/Paris', reminderMissed: true }]);
    expect((await w.get('web-1')).timers?.sleeping).toMatchObject({ for: SLEEP, attempts: 1, late: true });
  });

  it('each owner’s evening: the owner without a zone sleeps at 18:30 UTC', async () => {
    const s = w.leader();
    await w.seed('paris-env', PARIS_OWNER, 'ready');
    await w.seed('utc-env', NO_ZONE_OWNER, 'ready');
    await s.tick();
    expect((await w.get('paris-env')).timers).toMatchObject({ zone: 'Europe/Paris', sleepAt: SLEEP });
    expect((await w.get('utc-env')).timers).toMatchObject({ zone: 'UTC', sleepAt: '2030-01-08T18:30:00.000Z' });
  });
});

describe('asleep: the wake on schedule', () => {
  const MONDAY_19_PARIS = '2030-01-07T18:00:00.000Z';
  const WAKE_AT = '2030-01-08T06:45:00.000Z'; // Tue 07:45 CET
  const WAKE_START = '2030-01-08T06:33:00.000Z'; // − 10 min − 2 min

  it('with --wake-at 07:45: the wake starts at wakeStartAt, as the schedule, and its duration sets the next one', async () => {
    const w = world({ start: MONDAY_19_PARIS });
    const s = w.leader();
    await w.seed('web-1', PARIS_OWNER, 'asleep', { schedule: parsed('weekdays 08:00-18:30 --wake-at 07:45') });
    await s.tick();
    const planned = await w.get('web-1');
    expect(planned.timers).toMatchObject({ wakeAt: WAKE_AT, wakeStartAt: WAKE_START, idleAt: '2030-01-14T18:00:00.000Z' });
    expect(planned.dueAt).toBe(WAKE_START);

    await w.at('2030-01-08T06:32:59.999Z');
    await s.tick();
    expect(w.calls.wake).toEqual([]);
    await w.at(WAKE_START);
    expect(await s.tick()).toMatchObject({ read: 1, fired: 1 });
    expect(w.calls.wake).toEqual([{ name: 'web-1', actor: 'schedule' }]);
    const waking = await w.get('web-1');
    expect(waking.state).toBe('waking');
    expect(waking.timers?.waking).toEqual({ for: WAKE_AT, firedAt: WAKE_START });
    expect(w.noticesOf('late')).toEqual([]);

    // Ready after 8 minutes: remembered, and the next night's wake starts 8 + 2 minutes early.
    await w.at('2030-01-08T06:41:00.000Z');
    await w.move('web-1', 'ready');
    await s.tick();
    const ready = await w.get('web-1');
    expect(ready.timers?.wakeMs).toEqual([8 * MIN]);
    expect(ready.timers?.sleepAt).toBe(SLEEP);
    await w.at(SLEEP);
    await s.tick();
    await w.at('2030-01-08T17:40:00.000Z');
    await w.move('web-1', 'asleep', { sleptAt: w.clock.now().toISOString() });
    await s.tick();
    expect((await w.get('web-1')).timers).toMatchObject({ wakeAt: '2030-01-09T06:45:00.000Z', wakeStartAt: '2030-01-09T06:35:00.000Z', wakeMs: [8 * MIN] });
  });

  it('no wake on a holiday: Tuesday off, woken on Wednesday', async () => {
    const w = world({ start: MONDAY_19_PARIS, holidays: calendar('2030-01-08') });
    const s = w.leader();
    await w.seed('web-1', PARIS_OWNER, 'asleep', { schedule: parsed('weekdays 08:00-18:30 --wake-at 07:45') });
    await s.tick();
    expect((await w.get('web-1')).timers).toMatchObject({ wakeAt: '2030-01-09T06:45:00.000Z', wakeStartAt: '2030-01-09T06:33:00.000Z' });

    await w.at(WAKE_START);
    expect(await s.tick()).toMatchObject({ read: 0, fired: 0 });
    await w.at(WAKE_AT);
    await s.tick();
    expect(w.calls.wake).toEqual([]);
    expect((await w.get('web-1')).state).toBe('asleep');

    await w.at('2030-01-09T06:33:00.000Z');
    await s.tick();
    expect(w.calls.wake).toEqual([{ name: 'web-1', actor: 'schedule' }]);
  });
});

describe('asleep: the idle clean-up', () => {
  const SLEPT = '2030-01-07T18:00:00.000Z';
  const IDLE = '2030-01-14T18:00:00.000Z'; // + 7 days
  const DESTROY = '2030-01-16T18:00:00.000Z'; // + 48 hours

  async function idleReminded(): Promise<{ w: World; s: ScheduleService }> {
    const w = world({ start: SLEPT });
    const s = w.leader();
    await w.seed('web-1', PARIS_OWNER, 'asleep');
    await s.tick();
    expect((await w.get('web-1')).dueAt).toBe(IDLE);
    await w.at('2030-01-14T17:59:59.999Z');
    await s.tick();
    expect(w.notifier.notices).toEqual([]);
    await w.at(IDLE);
    expect(await s.tick()).toMatchObject({ read: 1, fired: 1 });
    expect(w.notifier.notices).toEqual([{ env: 'web-1', notice: { kind: 'idle', asleepSince: SLEPT, idleAt: IDLE, destroyAt: DESTROY, zone: 'Europe/Paris' } }]);
    const e = await w.get('web-1');
    expect(e.timers).toMatchObject({ idleRemindedAt: IDLE, idleDestroyAt: DESTROY });
    expect(e.dueAt).toBe(DESTROY);
    return { w, s };
  }

  it('an idle notice, then the destroy after answerHours', async () => {
    const { w, s } = await idleReminded();
    await w.at('2030-01-16T17:59:59.999Z');
    await s.tick();
    expect(w.calls.destroy).toEqual([]);
    await w.at(DESTROY);
    await s.tick();
    expect(w.calls.destroy).toEqual([{ name: 'web-1', actor: 'schedule' }]);
    expect((await w.get('web-1')).state).toBe('destroying');
    expect(w.noticesOf('idle')).toHaveLength(1);
  });

  it('Keep: no destroy, and idle counts again from the keep', async () => {
    const { w, s } = await idleReminded();
    await w.at('2030-01-15T09:00:00.000Z');
    const kept = await s.keep({ name: 'web-1' }, PARIS_OWNER);
    expect(kept.timers?.keptAt).toBe('2030-01-15T09:00:00.000Z');
    expect(kept.timers?.idleDestroyAt).toBeUndefined();
    expect(kept.dueAt).toBe('2030-01-22T09:00:00.000Z');
    await w.at(DESTROY);
    await s.tick();
    await w.at('2030-01-20T00:00:00.000Z');
    await s.tick();
    expect(w.calls.destroy).toEqual([]);
    expect(w.noticesOf('idle')).toHaveLength(1);
  });
});

describe('what people do', () => {
  let w: World;
  beforeEach(() => {
    w = world({ start: TUESDAY_10_PARIS });
  });

  it('set() with a schedule that cannot be read throws SCHEDULE.INVALID and changes nothing', async () => {
    const s = await readyAndPlanned(w);
    const before = await w.get('web-1');
    await expect(s.set({ name: 'web-1' }, PARIS_OWNER, 'weekdays 9am-6pm')).rejects.toMatchObject({
      code: ErrorCodes.SCHEDULE_INVALID,
      details: { problem: "'9am' is not a time: write times as HH:MM, like 09:00" },
    });
    expect(await w.get('web-1')).toEqual(before);
  });

  it('set() plans at once: the new evening is the new dueAt', async () => {
    const s = await readyAndPlanned(w);
    expect((await w.get('web-1')).dueAt).toBe(REMIND);
    const { environment, view } = await s.set({ name: 'web-1' }, PARIS_OWNER, 'weekdays 08:00-17:00');
    expect(environment.schedule).toEqual(parsed('weekdays 08:00-17:00'));
    expect(environment.timers).toMatchObject({ sleepAt: '2030-01-08T16:00:00.000Z', remindAt: '2030-01-08T15:30:00.000Z', schedule: 'weekdays 08:00-17:00' });
    expect(environment.dueAt).toBe('2030-01-08T15:30:00.000Z');
    expect(view).toMatchObject({ source: 'own', zone: 'Europe/Paris', nextSleep: '2030-01-08T16:00:00.000Z' });
    expect(await w.get('web-1')).toEqual(environment);
  });

  it('set() by someone else is refused', async () => {
    const s = await readyAndPlanned(w);
    await expect(s.set({ name: 'web-1' }, 'USTRANGER', 'off')).rejects.toMatchObject({ code: ErrorCodes.NOT_AUTHORIZED });
  });

  it('postpone(hour) moves the sleep an hour; a new reminder comes 30 minutes before the new time', async () => {
    const s = await readyAndPlanned(w);
    await w.at(REMIND);
    await s.tick();
    await w.at('2030-01-08T17:05:00.000Z');
    const { environment, sleepAt } = await s.postpone({ name: 'web-1' }, PARIS_OWNER, 'hour', SLEEP);
    expect(sleepAt).toBe('2030-01-08T18:30:00.000Z');
    expect(environment.timers).toMatchObject({ sleepAt, movedTo: sleepAt, movedBy: PARIS_OWNER, remindAt: '2030-01-08T18:00:00.000Z' });
    expect(environment.timers?.remindedFor).toBeUndefined();
    expect(environment.dueAt).toBe('2030-01-08T18:00:00.000Z');

    await w.at(SLEEP);
    await s.tick();
    expect(w.calls.save).toEqual([]);
    await w.at('2030-01-08T18:00:00.000Z');
    await s.tick();
    expect(w.noticesOf('reminder').map((n) => (n.kind === 'reminder' ? n.sleepAt : undefined))).toEqual([SLEEP, '2030-01-08T18:30:00.000Z']);
    await w.at('2030-01-08T18:30:00.000Z');
    await s.tick();
    expect(w.calls.save).toEqual([{ name: 'web-1', actor: 'schedule', reason: 'sleep' }]);
  });

  it('a click about a sleep that is no longer the one ahead: SCHEDULE.MOMENT_PASSED, saying what happened', async () => {
    const s = await readyAndPlanned(w);
    await w.at(REMIND);
    await s.tick();
    await s.postpone({ name: 'web-1' }, PARIS_OWNER, 'hour', SLEEP);
    // The same reminder clicked again: the sleep was moved.
    await expect(s.postpone({ name: 'web-1' }, PARIS_OWNER, 'skip', SLEEP)).rejects.toMatchObject({
      code: ErrorCodes.SCHEDULE_MOMENT_PASSED,
      details: { variant: 'moved', at: '2030-01-08T18:30:00.000Z', zone: 'Europe/Paris' },
    });
    await expect(s.sleepNow({ name: 'web-1' }, PARIS_OWNER, SLEEP)).rejects.toMatchObject({ code: ErrorCodes.SCHEDULE_MOMENT_PASSED, details: { variant: 'moved' } });

    // After it went to sleep.
    await w.at('2030-01-08T18:30:00.000Z');
    await s.tick();
    await expect(s.postpone({ name: 'web-1' }, PARIS_OWNER, 'hour', '2030-01-08T18:30:00.000Z')).rejects.toMatchObject({
      code: ErrorCodes.SCHEDULE_MOMENT_PASSED,
      details: { variant: 'saving' },
    });
    await w.move('web-1', 'asleep', { sleptAt: '2030-01-08T18:35:00.000Z' });
    await expect(s.postpone({ name: 'web-1' }, PARIS_OWNER, 'hour', '2030-01-08T18:30:00.000Z')).rejects.toMatchObject({
      code: ErrorCodes.SCHEDULE_MOMENT_PASSED,
      details: { variant: 'asleep', at: '2030-01-08T18:35:00.000Z' },
    });
  });
});

describe('the due index', () => {
  it('a tick meeting a flow at work (provisioning) with a stale dueAt does not write it: no timer, no write under its lease', async () => {
    const w = world({ start: TUESDAY_10_PARIS });
    const seeded = await w.seed('web-1', PARIS_OWNER, 'provisioning', { dueAt: '2030-01-08T08:00:00.000Z', timers: { plannedFor: 'old', zone: 'UTC' } });
    const s = w.leader();
    expect(await s.tick()).toMatchObject({ read: 1, fired: 0 });
    expect(await w.get('web-1')).toEqual(seeded);
    // It stays in the index (read again) until its flow moves it on.
    expect(await s.tick()).toMatchObject({ read: 1, fired: 0 });
  });

  it('an ended environment with a stale dueAt leaves the index, its timers with it', async () => {
    const w = world({ start: TUESDAY_10_PARIS });
    const seeded = await w.seed('web-1', PARIS_OWNER, 'destroyed', { dueAt: '2030-01-08T08:00:00.000Z', timers: { plannedFor: 'old', zone: 'UTC' } });
    const s = w.leader();
    await s.tick();
    const e = await w.get('web-1');
    expect(e.version).toBe(seeded.version + 1);
    expect(e.dueAt).toBeUndefined();
    expect(e.timers).toBeUndefined();
    expect(await s.tick()).toMatchObject({ read: 0, fired: 0 });
  });

  it('a failed environment with nothing to retry on schedule leaves the index after one tick', async () => {
    const w = world({ start: TUESDAY_10_PARIS });
    // A launch failure: transition() to failed puts it in the due index (dueAt = now), as every failure.
    await w.seed('web-1', PARIS_OWNER, 'failed');
    const s = w.leader();
    await s.tick();
    await w.at('2030-01-08T09:01:00.000Z');
    // Nothing is planned for it, so nothing should bring it back tick after tick.
    expect(await s.tick()).toMatchObject({ read: 0, fired: 0 });
    expect((await w.get('web-1')).dueAt).toBeUndefined();
  });

  it('failed environments with nothing to retry do not hide the due timers of others (a full page of them)', async () => {
    const w = world({ start: '2030-01-08T08:00:00.000Z' });
    for (let i = 0; i < 200; i++) await w.seed(`failed-${i}`, NO_ZONE_OWNER, 'failed');
    const s = w.leader();
    await s.tick();
    await w.at(TUESDAY_10_PARIS);
    await w.seed('web-1', PARIS_OWNER, 'ready');
    await s.tick();
    expect((await w.get('web-1')).timers?.sleepAt).toBe(SLEEP);
  });

  it('environments not due are never read', async () => {
    const w = world({ start: TUESDAY_10_PARIS });
    const s = w.leader();
    await w.seed('later', PARIS_OWNER, 'ready');
    await w.seed('sleeper', PARIS_OWNER, 'asleep');
    await w.seed('busy', PARIS_OWNER, 'provisioning');
    expect(await s.tick()).toMatchObject({ read: 2, fired: 0 }); // the two that were just planned-for
    await w.at('2030-01-08T09:05:00.000Z');
    await w.seed('fresh', NO_ZONE_OWNER, 'ready');
    w.dueReads.length = 0;
    const getsBefore = w.gets();
    expect(await s.tick()).toMatchObject({ read: 1, fired: 0 });
    expect(w.dueReads).toEqual([1]);
    expect(w.gets()).toBe(getsBefore); // the tick reads through the index only
    expect(await s.tick()).toMatchObject({ read: 0, fired: 0 });
    expect(w.dueReads).toEqual([1, 0]);
  });
});

describe('the `off` cap (offMaxDays)', () => {
  // Set `off` on Tuesday 10:00 Paris (09:00Z) with a cap of 2 days: the default applies again on
  // Thursday 2030-01-10 at 09:00Z (10:00 Paris), and its next sleep is that evening, 18:30 Paris = 17:30Z.
  const UNTIL = '2030-01-10T09:00:00.000Z';
  const THURSDAY_SLEEP = '2030-01-10T17:30:00.000Z';
  const THURSDAY_REMIND = '2030-01-10T17:00:00.000Z';

  async function offForTwoDays(): Promise<{ w: World; s: ScheduleService }> {
    const w = world({ start: TUESDAY_10_PARIS });
    w.settings.offMaxDays = 2;
    const s = await readyAndPlanned(w);
    const { environment, view } = await s.set({ name: 'web-1' }, PARIS_OWNER, 'off');
    expect(environment.schedule).toEqual({ kind: 'off', until: UNTIL });
    expect(view).toMatchObject({ source: 'own', text: 'off until 2030-01-10 09:00 UTC' });
    expect(environment.timers).toMatchObject({ offUntil: UNTIL, schedule: 'off until 2030-01-10 09:00 UTC' });
    expect(environment.timers?.sleepAt).toBeUndefined();
    expect(environment.dueAt).toBe(UNTIL);
    return { w, s };
  }

  it('before `until` nothing sleeps: no reminder, no sleep on Tuesday or Wednesday evening', async () => {
    const { w, s } = await offForTwoDays();
    for (const at of [REMIND, SLEEP, '2030-01-09T17:00:00.000Z', '2030-01-09T17:30:00.000Z', '2030-01-10T08:59:59.999Z']) {
      await w.at(at);
      expect(await s.tick()).toMatchObject({ fired: 0 });
    }
    expect(w.calls.save).toEqual([]);
    expect(w.notifier.notices).toEqual([]);
    const e = await w.get('web-1');
    expect(e.state).toBe('ready');
    expect(e.schedule).toEqual({ kind: 'off', until: UNTIL });
    expect(e.dueAt).toBe(UNTIL);
  });

  it('at `until`: the tick clears the schedule, tells the owner the default applies again, and plans its next sleep (that evening, not at once)', async () => {
    const { w, s } = await offForTwoDays();
    await w.at(UNTIL);
    expect(await s.tick()).toMatchObject({ read: 1 });

    expect(w.noticesOf('off-ended')).toEqual([{ kind: 'off-ended', until: UNTIL, schedule: 'weekdays 08:00-18:30', zone: 'Europe/Paris' }]);
    const e = await w.get('web-1');
    expect(e.schedule).toBeUndefined();
    // The default's next sleep, counted from now: a schedule that changes never sends it to sleep at once.
    expect(w.calls.save).toEqual([]);
    expect(w.noticesOf('late')).toEqual([]);
    expect(w.noticesOf('reminder')).toEqual([]);
    expect(e.state).toBe('ready');
    expect(e.timers).toMatchObject({ schedule: 'weekdays 08:00-18:30', zone: 'Europe/Paris', sleepAt: THURSDAY_SLEEP, remindAt: THURSDAY_REMIND });
    expect(e.timers?.offUntil).toBeUndefined();
    expect(e.dueAt).toBe(THURSDAY_REMIND);
    expect((await w.store.listEvents('web-1', 10)).map((ev) => ev.type)).toContain('schedule:off-ended');

    // Told once: ticking again (or another leader) says nothing more.
    await s.tick();
    await w.leader().tick();
    expect(w.noticesOf('off-ended')).toHaveLength(1);
    expect((await s.view(await w.get('web-1'))).source).toBe('default');

    // Then the default's evening as usual: the reminder, and the sleep at 18:30 Paris.
    await w.at(THURSDAY_REMIND);
    await s.tick();
    expect(w.noticesOf('reminder')).toHaveLength(1);
    await w.at(THURSDAY_SLEEP);
    await s.tick();
    expect(w.calls.save).toEqual([{ name: 'web-1', actor: 'schedule', reason: 'sleep' }]);
    expect((await w.get('web-1')).timers?.sleeping).toMatchObject({ for: THURSDAY_SLEEP, late: false });
  });
});
