import { needsApproval, type ApprovalRule } from '../policies/approval.policy.js';
import { estimateCost } from '../policies/estimate.js';
import { leadsOf } from '../policies/permissions.js';
import type { ApprovalService } from './approval.use-case.js';
import type { Access } from '../policies/permissions.js';
/**
 * The schedule at work: the leader's tick, `/server schedule`, and the
 * buttons of a reminder (Extend 1 h, Extend until tomorrow, Skip tonight,
 * Keep).
 *
 * Timers are data (timers.ts): each environment's next event is its item's
 * `dueAt`, and the tick reads only what is due, through the sparse index.
 * Everything a timer does goes through a conditional write first (the
 * environment's version), so a tick that runs twice, on two leaders or after
 * a crash, does nothing twice: the second finds the version moved and reads
 * again. A sleep, wake or destroy is the same use case a person's command
 * runs, acting as the schedule.
 */
import { SCHEDULE_ACTOR, type Environment, type Timers } from '../environment/environment.js';
import { DomainError, ErrorCodes, isDomainError } from '../environment/errors.js';
import { describeState, isLive, isTransitional } from '../environment/lifecycle.js';
import type { Template } from '../environment/template.js';
import type { Clock, Logger } from '../ports/clock.port.js';
import type { EnvironmentRepository } from '../ports/environment-repository.port.js';
import type { NotifierPort, ScheduleNotice } from '../ports/notifier.port.js';
import type { PeoplePort } from '../ports/people.port.js';
import { formatSchedule, nextSleep, nextWake, parseSchedule, zoneOf, type Schedule } from '../schedule/schedule.js';
import { dueAtOf, pending, plan, postponed, retryDelayMs, scheduleOf, type Postpone, type ScheduleSettings, type TimerEvent } from '../schedule/timers.js';
import type { DestroyEnvironment } from './destroy.use-case.js';
import type { RetryEnvironment } from './retry.use-case.js';
import { assertMayManage, assertSameIncarnation, audit, getTarget, tell, type Target } from './shared.js';
import type { SaveEnvironment, WakeEnvironment } from './sleep.use-case.js';

export interface ScheduleDeps {
  repo: Pick<EnvironmentRepository, 'get' | 'save' | 'listDue'>;
  events: Pick<EnvironmentRepository, 'appendEvent'>;
  notifier: NotifierPort;
  people: PeoplePort;
  clock: Clock;
  logger: Logger;
  templates: readonly Template[];
  access: Access;
  /** The policy's approval rules: a schedule that would need approval is not its owner's alone to set. */
  approvalRules?: readonly ApprovalRule[];
  settings: ScheduleSettings;
  /** What the timers start: the same use cases as a person's commands (no data store: nothing sleeps). */
  actions: {
    save?: Pick<SaveEnvironment, 'execute'>;
    wake?: Pick<WakeEnvironment, 'execute'>;
    retry: Pick<RetryEnvironment, 'execute'>;
    /** A request nobody answered in time is expired. */
    approvals?: Pick<ApprovalService, 'expire'>;
    destroy: Pick<DestroyEnvironment, 'execute'>;
  };
}

/** What a person sees of an environment's schedule. */
export interface ScheduleView {
  schedule: Schedule;
  /** The text that sets it again (`weekdays 08:00-18:30`). */
  text: string;
  source: 'own' | 'template' | 'default';
  zone: string;
  nextSleep?: string;
  nextWake?: string;
  /** A sleep moved by a person (Extend, Skip tonight). */
  movedTo?: string;
}

/** How many events of one environment a tick handles at most (a catch-up after hours down fires a few). */
const MAX_EVENTS_PER_TICK = 6;
/** Environments read per page of the due index. */
const DUE_PAGE = 200;
/** Environments handled at once within a page. */
const CONCURRENCY = 8;
/** Late by more than this: the owner is told it happened late (the bot was not running). */
const LATE_MS = 5 * 60_000;

export class ScheduleService {
  /** Zones already read from Slack profiles in this process (a profile rarely changes; a restart reads again). */
  private readonly zones = new Map<string, string | undefined>();

  constructor(private readonly deps: ScheduleDeps) {}

  private templateOf(env: Environment): Template | undefined {
    return this.deps.templates.find((t) => t.name === env.template);
  }

  private async ownerZone(owner: string): Promise<string | undefined> {
    if (this.zones.has(owner)) return this.zones.get(owner);
    const zone = await this.deps.people.timeZoneOf(owner).catch(() => undefined);
    if (zone) this.zones.set(owner, zone);
    return zone;
  }

  private async resolve(env: Environment): Promise<{ schedule: Schedule; source: ScheduleView['source']; offExpired: boolean; zone: string }> {
    const now = this.deps.clock.now();
    const s = scheduleOf(env, this.templateOf(env), this.deps.settings, now);
    const zone = zoneOf(s.schedule, await this.ownerZone(env.owner), this.deps.settings.defaultZone);
    return { ...s, zone };
  }

  // ── the tick ───────────────────────────────────────────────────────────────────────────

  /** Handles every environment due by now; returns the items it read, the environments it handled and the events that fired. */
  async tick(): Promise<{ read: number; handled: number; fired: number }> {
    const { deps } = this;
    let read = 0;
    let fired = 0;
    const seen = new Set<string>();
    for (;;) {
      const { environments, itemsRead } = await deps.repo.listDue(deps.clock.now(), DUE_PAGE);
      const fresh = environments.filter((e) => !seen.has(e.name));
      read += itemsRead;
      for (const env of fresh) seen.add(env.name);
      // A few at a time: each is its own reads and conditional writes (and perhaps a message), independent of the others.
      let next = 0;
      const worker = async () => {
        while (next < fresh.length) {
          const env = fresh[next++]!;
          try {
            fired += await this.handle(env);
          } catch (err) {
            deps.logger.warn({ err, environment: env.name }, 'a timer could not be handled; the next tick tries again');
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(CONCURRENCY, fresh.length) }, worker));
      // A full page may hide more (each handled one left the index, or moved later).
      if (environments.length < DUE_PAGE || fresh.length === 0) break;
    }
    return { read, handled: seen.size, fired };
  }

  /** One environment: plan its timers if they are not planned for where it is, then fire what is due, in order. */
  private async handle(initial: Environment): Promise<number> {
    let env = initial;
    let fired = 0;
    for (let i = 0; i < MAX_EVENTS_PER_TICK; i += 1) {
      const now = this.deps.clock.now();
      const { schedule, offExpired, zone } = await this.resolve(env);
      const planned = plan(env, schedule, zone, this.deps.settings, now);
      if (!planned) {
        // No timer applies here. A flow at work keeps its timers (a sleep on schedule that fails is
        // tried again from them) and is not written under its lease; an ended one leaves the index.
        if (!isLive(env.state) && (env.dueAt || env.timers)) await this.write(env, undefined);
        // No flow at work and nothing to do (failed, with no sleep on schedule to try again): out of the index, its timers kept.
        else if (!isTransitional(env.state) && env.dueAt) await this.deps.repo.save(withoutDueAt(env, now));
        return fired;
      }
      if (env.timers?.plannedFor !== planned.plannedFor) {
        env = await this.write(env, planned);
        continue;
      }
      const timers = env.timers;
      const event = pending(timers).find((e) => Date.parse(e.at) <= now.getTime());
      if (!event) {
        // Due, but nothing is: its dueAt is stale (a write by hand, an old plan): put it right.
        if (env.dueAt !== dueAtOf(timers)) await this.write(env, timers);
        return fired;
      }
      const next = await this.fire(env, timers, event, { schedule, offExpired, zone, now });
      fired += 1;
      if (!next) return fired;
      env = next;
    }
    return fired;
  }

  /** Writes the timers (and the dueAt they give) if the version is still the one read. */
  private async write(env: Environment, timers: Timers | undefined, changes: Partial<Environment> = {}): Promise<Environment> {
    const next: Environment = { ...env, ...changes, updatedAt: this.deps.clock.now().toISOString() };
    if (timers) next.timers = timers;
    else delete next.timers;
    const dueAt = dueAtOf(timers);
    if (dueAt) next.dueAt = dueAt;
    else delete next.dueAt;
    return this.deps.repo.save(next);
  }

  /** Fires one event; returns the environment to go on with, or undefined when it moved on (a sleep, wake or destroy began). */
  private async fire(
    env: Environment,
    timers: Timers,
    event: TimerEvent,
    ctx: { schedule: Schedule; offExpired: boolean; zone: string; now: Date },
  ): Promise<Environment | undefined> {
    const { deps } = this;
    const target = { name: env.name, id: env.id };
    const nowIso = ctx.now.toISOString();
    switch (event.kind) {
      case 'off-ended': {
        const schedule = scheduleOf({}, this.templateOf(env), deps.settings, ctx.now).schedule;
        // Planned again from now (not a first plan in this state: that would catch up on sleeps long gone).
        const saved = await this.write(env, { ...timers, plannedFor: `${env.state}@${env.stateChangedAt}#off-ended` }, { schedule: undefined });
        delete saved.schedule;
        await audit(deps, saved, 'schedule:off-ended', `The off schedule reached its cap; ${formatSchedule(schedule)} applies again`, SCHEDULE_ACTOR);
        await deps.notifier.scheduleNotice(saved, { kind: 'off-ended', until: event.at, schedule: formatSchedule(schedule), zone: ctx.zone });
        return saved;
      }
      case 'remind': {
        if (ctx.now.getTime() >= Date.parse(event.sleepAt)) {
          // Too late to remind: the sleep happens, and its note says the reminder was missed.
          return this.write(env, { ...timers, remindedFor: event.sleepAt, reminderMissed: true });
        }
        const told = await deps.notifier.scheduleNotice(env, this.reminder(event.sleepAt, ctx));
        if (!told) return undefined; // tried again at the next tick
        const saved = await this.write(env, { ...timers, remindedFor: event.sleepAt });
        await audit(deps, saved, 'schedule:reminded', `Reminded of the sleep at ${event.sleepAt}`, SCHEDULE_ACTOR);
        return saved;
      }
      case 'sleep':
        return this.sleep(env, timers, event.sleepAt, ctx);
      case 'wake': {
        if (!deps.actions.wake) return this.write(env, stripUndefined({ ...timers, wakeAt: undefined, wakeStartAt: undefined }));
        const marked = await this.write(env, { ...stripUndefined({ ...timers, wakeAt: undefined, wakeStartAt: undefined }), waking: { for: event.wakeAt, firedAt: nowIso } });
        await deps.actions.wake.execute(target, SCHEDULE_ACTOR);
        await audit(deps, marked, 'schedule:wake', `Woken on schedule, to be ready by ${event.wakeAt}`, SCHEDULE_ACTOR);
        if (ctx.now.getTime() - Date.parse(event.wakeAt) > LATE_MS) {
          await deps.notifier.scheduleNotice(marked, { kind: 'late', what: 'wake', due: event.wakeAt, zone: ctx.zone });
        }
        return undefined;
      }
      case 'idle-remind': {
        const destroyAt = new Date(ctx.now.getTime() + deps.settings.idle.answerHours * 3600_000).toISOString();
        const told = await deps.notifier.scheduleNotice(env, { kind: 'idle', asleepSince: env.sleptAt ?? env.stateChangedAt, idleAt: event.at, destroyAt, zone: ctx.zone });
        if (!told) return undefined;
        const saved = await this.write(env, { ...timers, idleRemindedAt: nowIso, idleDestroyAt: destroyAt });
        await audit(deps, saved, 'schedule:idle', `Asleep and idle: destroyed at ${destroyAt} unless someone keeps it`, SCHEDULE_ACTOR);
        return saved;
      }
      case 'approval-ask': {
        if (env.state !== 'awaiting_approval') return this.write(env, undefined);
        // Past its expiry there is nothing left to ask: it expires instead.
        const expired = ctx.now.getTime() >= Date.parse(timers.approvalExpiresAt ?? '');
        if (!expired && !(await deps.notifier.approvalRequest(env))) return undefined; // the next tick asks again
        return this.write(env, { ...timers, approvalAsked: true });
      }
      case 'approval-expired': {
        if (env.state !== 'awaiting_approval' || !deps.actions.approvals) return this.write(env, undefined);
        await deps.actions.approvals.expire(target);
        return undefined;
      }
      case 'idle-destroy': {
        if (env.state !== 'asleep') return this.write(env, stripUndefined({ ...timers, idleDestroyAt: undefined }));
        await deps.actions.destroy.execute(target, SCHEDULE_ACTOR);
        return undefined;
      }
    }
  }

  private reminder(sleepAt: string, ctx: { schedule: Schedule; zone: string }): ScheduleNotice {
    const at = new Date(sleepAt);
    const iso = (d: Date | undefined) => d?.toISOString();
    const tomorrow = iso(postponed(at, 'tomorrow', ctx.schedule, ctx.zone));
    const skip = this.deps.settings.allowSkip ? iso(postponed(at, 'skip', ctx.schedule, ctx.zone)) : undefined;
    return { kind: 'reminder', sleepAt, zone: ctx.zone, hour: iso(postponed(at, 'hour', ctx.schedule, ctx.zone))!, ...(tomorrow ? { tomorrow } : {}), ...(skip ? { skip } : {}) };
  }

  /** The sleep on schedule (or its retry): marked first, then the same sleep as `/server sleep`. */
  private async sleep(env: Environment, timers: Timers, sleepAt: string, ctx: { zone: string; now: Date }): Promise<Environment | undefined> {
    const { deps } = this;
    const target = { name: env.name, id: env.id };
    if (!deps.actions.save) return this.write(env, undefined); // nowhere to keep data: nothing sleeps on schedule
    const attempts = (timers.sleeping?.attempts ?? 0) + 1;
    const late = timers.sleeping?.late ?? ctx.now.getTime() - Date.parse(sleepAt) > LATE_MS;
    const reminderMissed = timers.reminderMissed === true;
    const marked = await this.write(env, { ...stripUndefined({ ...timers, retryAt: undefined }), sleeping: { for: sleepAt, attempts, firedAt: ctx.now.toISOString(), late } });
    try {
      if (env.state === 'failed') await deps.actions.retry.execute(target, SCHEDULE_ACTOR);
      else await deps.actions.save.execute(target, SCHEDULE_ACTOR, 'sleep');
    } catch (err) {
      if (!isDomainError(err)) throw err;
      // It cannot sleep from where it is: a person began something else (the next plan decides), or something
      // refuses it (a template gone): tried again with backoff, not every tick.
      deps.logger.info({ environment: env.name, code: err.code }, 'a sleep on schedule did not start');
      await this.write(marked, { ...marked.timers!, retryAt: new Date(ctx.now.getTime() + retryDelayMs(attempts)).toISOString() }).catch(() => undefined);
      return undefined;
    }
    await audit(deps, marked, 'schedule:sleep', attempts > 1 ? `Sleep on schedule, try ${attempts}` : `Sleep on schedule (due ${sleepAt})`, SCHEDULE_ACTOR);
    if (late && attempts === 1) tell(deps.logger, async () => void (await deps.notifier.scheduleNotice(marked, { kind: 'late', what: 'sleep', due: sleepAt, zone: ctx.zone, ...(reminderMissed ? { reminderMissed } : {}) })));
    if (attempts > 1) tell(deps.logger, async () => void (await deps.notifier.scheduleNotice(marked, { kind: 'sleep-retry', due: sleepAt, attempts, retryAt: ctx.now.toISOString(), zone: ctx.zone })));
    return undefined;
  }

  /** The schedule a new environment of `template` gets (its own, else the default): what the form prices a day with. */
  scheduleForTemplate(template: Pick<Template, 'schedule'>): Schedule {
    return template.schedule ?? this.deps.settings.defaultSchedule;
  }

  // ── what people do ─────────────────────────────────────────────────────────────────────

  /** `/server schedule NAME`: the schedule, where it comes from, and its next sleep and wake. */
  async show(target: Target): Promise<{ environment: Environment; view: ScheduleView }> {
    const env = await getTarget(this.deps.repo, target);
    return { environment: env, view: await this.view(env) };
  }

  async view(env: Environment): Promise<ScheduleView> {
    const now = this.deps.clock.now();
    const { schedule, source, zone } = await this.resolve(env);
    const view: ScheduleView = { schedule, text: formatSchedule(schedule), source, zone };
    const t = env.timers;
    const sleepAt = env.state === 'ready' ? (t?.sleepAt ?? (schedule.kind === 'window' ? nextSleep(schedule, zone, now)?.toISOString() : undefined)) : undefined;
    if (sleepAt) view.nextSleep = sleepAt;
    if (t?.movedTo) view.movedTo = t.movedTo;
    // Asleep: the wake planned. Ready: the first wake after its next sleep (if the schedule wakes it).
    const after = env.state === 'ready' && sleepAt ? new Date(sleepAt) : now;
    const planned = env.state === 'asleep' ? t?.wakeAt : undefined;
    const wake = planned ?? (['ready', 'asleep'].includes(env.state) && schedule.kind === 'window' ? nextWake(schedule, zone, after, this.deps.settings.holidays)?.toISOString() : undefined);
    if (wake) view.nextWake = wake;
    return view;
  }

  /**
   * A schedule that would have needed approval had it been asked for (`off`, with a rule for what never
   * sleeps) is set by a lead of the owner's team or an admin, not by its owner alone: changing the
   * schedule afterwards is no way around the approval.
   */
  private assertNoNewApproval(env: Environment, actor: string, next: Schedule): void {
    const rules = this.deps.approvalRules ?? [];
    if (!rules.length || actor === SCHEDULE_ACTOR) return;
    const request = { owner: env.owner, template: env.template, instanceType: env.instanceType, count: env.count };
    const estimateOf = (schedule: Schedule) => estimateCost({ hourlyCostUsd: env.hourlyCostUsd, schedule });
    const current = scheduleOf(env, this.templateOf(env), this.deps.settings, this.deps.clock.now()).schedule;
    const before = needsApproval({ ...request, schedule: current }, estimateOf(current), { rules });
    const after = needsApproval({ ...request, schedule: next }, estimateOf(next), { rules });
    if (!after.needed) return;
    const had = new Set(before.needed ? before.rules.map((r) => r.name) : []);
    const added = after.rules.filter((r) => !had.has(r.name));
    if (!added.length) return;
    const deciders = [...leadsOf(env.owner, this.deps.access), ...this.deps.access.admins];
    if (deciders.includes(actor) && actor !== env.owner) return;
    throw new DomainError(ErrorCodes.NOT_AUTHORIZED, `That schedule needs approval (${added.map((r) => `${r.name}: ${r.reason}`).join('; ')}): a lead of the team or an admin sets it.`, {
      name: env.name,
      owner: env.owner,
      actor,
      verb: 'set that schedule for',
      variant: 'needs-approval',
      rules: added.map((r) => `${r.name}: ${r.reason}`),
      approvers: deciders.filter((u) => u !== env.owner),
    });
  }

  /** `/server schedule NAME <schedule>`: parsed first (nothing changes when it cannot be read), then planned at once. */
  async set(target: Target, actor: string, text: string): Promise<{ environment: Environment; view: ScheduleView }> {
    const { deps } = this;
    const seen = await getTarget(deps.repo, target);
    assertMayManage(seen, actor, deps.access, 'change the schedule of');
    const now = deps.clock.now();
    const parsed = parseSchedule(text, { now, ...(deps.settings.offMaxDays ? { offCapDays: deps.settings.offMaxDays } : {}) });
    if (!parsed.ok) {
      throw new DomainError(ErrorCodes.SCHEDULE_INVALID, `The schedule "${text}" cannot be read: ${parsed.problem}`, { problem: parsed.problem, text, name: seen.name });
    }
    this.assertNoNewApproval(seen, actor, parsed.schedule);
    const env = await this.update(target, (e) => {
      assertMayManage(e, actor, deps.access, 'change the schedule of');
      return { ...e, schedule: parsed.schedule, ...(e.timers ? { timers: stripUndefined({ ...e.timers, movedTo: undefined, movedBy: undefined }) } : {}) };
    });
    await audit(deps, env, 'schedule:set', `Schedule set to ${formatSchedule(parsed.schedule)}`, actor);
    tell(deps.logger, () => deps.notifier.showProgress(env));
    return { environment: env, view: await this.view(env) };
  }

  /**
   * A reminder's Extend 1 h, Extend until tomorrow or Skip tonight. `sleepAt` is the sleep the reminder was
   * about: a click after it passed (or after the environment changed) is told what happened instead.
   */
  async postpone(target: Target, actor: string, how: Postpone, sleepAt: string): Promise<{ environment: Environment; sleepAt: string }> {
    const { deps } = this;
    if (how === 'skip' && !deps.settings.allowSkip) {
      throw new DomainError(ErrorCodes.SCHEDULE_INVALID, 'Skipping a night is not allowed here; extend it instead.', { problem: 'skip not allowed', name: target.name });
    }
    let moved: string | undefined;
    const env = await this.update(target, (e, ctx) => {
      assertMayManage(e, actor, deps.access, 'postpone the sleep of');
      this.assertStillAbout(e, sleepAt, ctx.now);
      const to = postponed(new Date(sleepAt), how, ctx.schedule, ctx.zone);
      if (!to) throw new DomainError(ErrorCodes.SCHEDULE_INVALID, `${e.name} has no later sleep to move to.`, { problem: 'no later sleep', name: e.name });
      moved = to.toISOString();
      return { ...e, timers: { ...(e.timers ?? { plannedFor: `${e.state}@${e.stateChangedAt}#`, zone: ctx.zone }), movedTo: moved, movedBy: actor } };
    });
    await audit(deps, env, 'schedule:postponed', `Sleep moved from ${sleepAt} to ${moved!} (${how})`, actor);
    tell(deps.logger, () => deps.notifier.showProgress(env));
    return { environment: env, sleepAt: moved! };
  }

  /** A reminder's Sleep now: the same sleep as `/server sleep`, checked against the moment first. */
  async sleepNow(target: Target, actor: string, sleepAt: string): Promise<Environment> {
    const env = await getTarget(this.deps.repo, target);
    assertMayManage(env, actor, this.deps.access, 'put to sleep');
    this.assertStillAbout(env, sleepAt, this.deps.clock.now());
    if (!this.deps.actions.save) throw new DomainError(ErrorCodes.SCHEDULE_INVALID, 'Nothing can sleep here: no data store is configured.', { problem: 'no data store', name: env.name });
    return (await this.deps.actions.save.execute(target, actor, 'sleep')).environment;
  }

  /** An idle reminder's Keep: idle counts again from now. */
  async keep(target: Target, actor: string): Promise<Environment> {
    const { deps } = this;
    const env = await this.update(target, (e, ctx) => {
      assertMayManage(e, actor, deps.access, 'keep');
      if (e.state !== 'asleep') throw passed(e, 'state', `it is ${describeState(e.state)}`);
      return { ...e, timers: { ...(e.timers ?? { plannedFor: `${e.state}@${e.stateChangedAt}#`, zone: ctx.zone }), keptAt: ctx.now.toISOString() } };
    });
    await audit(deps, env, 'schedule:kept', 'Kept asleep: the idle clean-up starts counting again', actor);
    return env;
  }

  /** The sleep a button is about is still the one ahead; otherwise says what happened instead. */
  private assertStillAbout(env: Environment, sleepAt: string, now: Date): void {
    if (env.state === 'asleep') throw passed(env, 'asleep', `it went to sleep${env.sleptAt ? ` at ${env.sleptAt}` : ''}`, env.sleptAt);
    if (env.state === 'saving') throw passed(env, 'saving', 'it is going to sleep now');
    if (env.state !== 'ready') throw passed(env, 'state', `it is ${describeState(env.state)}`);
    const ahead = env.timers?.sleeping?.for ?? env.timers?.sleepAt;
    if (ahead !== sleepAt) throw ahead ? passed(env, 'moved', `its sleep was moved to ${ahead}`, ahead) : passed(env, 'no_sleep', 'it no longer sleeps on schedule');
    if (now.getTime() >= Date.parse(sleepAt) && env.timers?.sleeping) throw passed(env, 'saving', 'it is going to sleep now');
  }

  /**
   * Changes an environment (re-read on a concurrent write) and plans its timers at once,
   * so that a schedule change, an extension or a keep takes effect now, not at the next plan.
   */
  private async update(
    target: Target,
    change: (env: Environment, ctx: { now: Date; schedule: Schedule; zone: string }) => Environment,
  ): Promise<Environment> {
    const { deps } = this;
    for (let attempt = 1; ; attempt += 1) {
      const env = await getTarget(deps.repo, target);
      assertSameIncarnation(env, target);
      const now = deps.clock.now();
      const before = await this.resolve(env);
      const changed = change(env, { now, schedule: before.schedule, zone: before.zone });
      const { schedule, zone } = await this.resolve(changed);
      const timers = plan(changed, schedule, zone, deps.settings, now);
      try {
        return await this.write(changed, timers);
      } catch (err) {
        if (attempt >= 3 || !isDomainError(err) || err.code !== ErrorCodes.CONCURRENT_MODIFICATION) throw err;
      }
    }
  }
}

/** What happened instead of what a reminder's button was about: `variant` and the moment (`at`, in `zone`). */
function passed(env: Environment, variant: 'asleep' | 'saving' | 'state' | 'moved' | 'no_sleep', happened: string, at?: string): DomainError {
  return new DomainError(ErrorCodes.SCHEDULE_MOMENT_PASSED, `That reminder is out of date: ${happened}.`, {
    variant,
    name: env.name,
    state: env.state,
    ...(at ? { at } : {}),
    ...(env.timers?.zone ? { zone: env.timers.zone } : {}),
  });
}

/** A copy without the keys whose value is undefined (stored items never hold them). */
function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** The same environment out of the due index (its timers kept). */
function withoutDueAt(env: Environment, now: Date): Environment {
  const next: Environment = { ...env, updatedAt: now.toISOString() };
  delete next.dueAt;
  return next;
}
