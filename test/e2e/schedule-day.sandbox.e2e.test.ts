/**
 * A day in the life of three environments whose owners live in three time
 * zones (dana in Paris, lee in New York, omar in Tokyo), in the sandbox as
 * `npm start` runs it, on the sandbox clock: the real scheduler ticks (every
 * second), the real Slack double receives the reminders, the real sleep saves
 * each environment's data before its servers go, and the morning wake is
 * ready by its time. The test only moves the clock, as the console's buttons
 * do, and clicks what a person would click.
 *
 * Timeline (December: Paris UTC+1, New York UTC-5, Tokyo UTC+9), from Tuesday 05:00Z:
 *   09:00Z  omar's reminder (18:00 Tokyo, sleep 18:30) → Skip tonight
 *   17:00Z  dana's reminder (18:00 Paris) → Extend 1 h
 *   18:00Z  dana's second reminder, for 19:30 Paris; 18:30Z dana's environment sleeps
 *   22:30Z  lee's reminder (17:30 New York, schedule 09:00-18:00) → Sleep now
 *   Wed 09:00Z omar's reminder, no answer; 09:30Z omar's environment sleeps
 *   Wed 13:18Z lee's wake starts (--wake-at 08:30 New York = 13:30Z, 12 minutes early)
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { visibleText, type SlackDouble } from '../../src/adapters/sandbox/slack-console/slack-double.js';
import type { SandboxClock } from '../../src/adapters/sandbox/sandbox-clock.js';
import { loadConfig } from '../../src/config/config.js';
import type { Environment } from '../../src/core/environment/environment.js';
import { startDormouse, type Dormouse } from '../../src/main.js';

const repoRoot = join(import.meta.dirname, '..', '..');
const running: Dormouse[] = [];
afterEach(async () => {
  while (running.length) await running.pop()!.stop();
});

async function until(bot: Dormouse, name: string, check: (e: Environment) => boolean, what: string, timeoutMs = 30_000): Promise<Environment> {
  const deadline = Date.now() + timeoutMs;
  let last: Environment | undefined;
  while (Date.now() < deadline) {
    last = await bot.useCases.queries.find(name);
    if (last && check(last)) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${name}: ${what} did not happen within ${timeoutMs} ms (state ${last?.state}, timers ${JSON.stringify(last?.timers)})`);
}

/** The direct messages the bot sent a person, oldest first, as text. */
function dms(double: SlackDouble, user: string): string[] {
  return double.channelMessages(double.dmChannel(user)).map((m) => visibleText(m));
}

async function dmMatching(double: SlackDouble, user: string, re: RegExp, count = 1): Promise<string[]> {
  return double.waitFor(
    () => {
      const found = dms(double, user).filter((t) => re.test(t));
      return found.length >= count ? found : undefined;
    },
    { timeoutMs: 15_000, what: `${count} direct message(s) to ${user} matching ${re}` },
  );
}

/** Clicks a button in the person's direct messages once it is there. */
async function click(double: SlackDouble, user: string, label: string) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return await double.clickButton({ user, label, channel: double.dmChannel(user) });
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** An answer only `user` sees: an ephemeral, or (for a button in a direct message) the message it replaced. */
async function lastEphemeral(double: SlackDouble, user: string, re: RegExp): Promise<string> {
  const seen = () => [...double.ephemerals(user).map((m) => visibleText(m)), ...dms(double, user)].reverse();
  return double.waitFor(() => seen().find((t) => re.test(t)), { timeoutMs: 10_000, what: `an answer to ${user} matching ${re}` });
}

const jump = (clock: SandboxClock, iso: string) => clock.jumpTo(new Date(iso));

/** The sandbox as `npm start` runs it, its clock starting at `clock`; `scheduler: false` leaves the ticks to the test. */
async function sandboxAt(clock: string, env: Record<string, string> = {}, scheduler = true): Promise<{ bot: Dormouse; double: SlackDouble; clock: SandboxClock }> {
  const dir = mkdtempSync(join(tmpdir(), 'dormouse-day-'));
  const config = loadConfig({ PORT: '0', DORMOUSE_SANDBOX_DIR: dir, DORMOUSE_SANDBOX_DELAYS: 'fast', LOG_LEVEL: 'silent', DORMOUSE_SANDBOX_CLOCK: clock, ...env }, repoRoot);
  const bot = await startDormouse(config, { logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }), scheduler });
  running.push(bot);
  return { bot, double: bot.double as SlackDouble, clock: bot.sandboxClock! };
}


describe('schedules: a day in the life, three owners in three time zones', () => {
  it('reminders at each owner’s local time, an Extend, a Skip tonight, a Sleep now, sleeps with their data saved, a morning wake ready on time, nothing twice', async () => {
    const { bot, double, clock } = await sandboxAt('2026-12-01T05:00:00Z');

    await double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'new dana-env --template demo' });
    await double.slashCommand({ user: 'U0LEAD', channel: 'C0GENERAL', command: '/server', text: 'new lee-env --template demo' });
    await double.slashCommand({ user: 'U0OPS', channel: 'C0GENERAL', command: '/server', text: 'new omar-env --template demo' });
    for (const name of ['dana-env', 'lee-env', 'omar-env']) await until(bot, name, (e) => e.state === 'ready' && e.timers?.sleepAt !== undefined, `${name} ready and planned`);

    await double.slashCommand({ user: 'U0LEAD', channel: 'C0GENERAL', command: '/server', text: 'schedule lee-env weekdays 09:00-18:00 --wake-at 08:30' });
    expect(await lastEphemeral(double, 'U0LEAD', /Schedule of/)).toMatch(/weekdays 09:00-18:00 --wake-at 08:30.*America\/New_York/s);
    const lee = await until(bot, 'lee-env', (e) => e.timers?.sleepAt === '2026-12-01T23:00:00.000Z', 'planned again at once');
    expect(lee.timers?.remindAt).toBe('2026-12-01T22:30:00.000Z');
    expect((await bot.useCases.queries.find('dana-env'))?.timers?.sleepAt).toBe('2026-12-01T17:30:00.000Z');
    expect((await bot.useCases.queries.find('omar-env'))?.timers?.sleepAt).toBe('2026-12-01T09:30:00.000Z');

    // A schedule it cannot read: an answer with examples, nothing changed.
    const before = (await bot.useCases.queries.find('lee-env'))!.version;
    await double.slashCommand({ user: 'U0LEAD', channel: 'C0GENERAL', command: '/server', text: 'schedule lee-env weekdays 9am-6pm' });
    expect(await lastEphemeral(double, 'U0LEAD', /cannot be read/)).toMatch(/every day 07:00-23:00/);
    expect((await bot.useCases.queries.find('lee-env'))!.version).toBe(before);

    // 09:00Z: 18:00 in Tokyo. Only omar is reminded.
    jump(clock, '2026-12-01T09:00:30Z');
    const [omarReminder] = await dmMatching(double, 'U0OPS', /goes to sleep at/);
    expect(omarReminder).toMatch(/Tue 1 Dec 18:30 \(Asia\/Tokyo\)/);
    await click(double, 'U0OPS', 'Skip tonight');
    expect(await lastEphemeral(double, 'U0OPS', /Skipped tonight/)).toMatch(/Wed 2 Dec 18:30/);
    await until(bot, 'omar-env', (e) => e.timers?.sleepAt === '2026-12-02T09:30:00.000Z', 'the skip planned');

    // 17:00Z: 18:00 in Paris. dana extends by an hour; the moved sleep gets its own reminder.
    jump(clock, '2026-12-01T17:00:30Z');
    const [danaReminder] = await dmMatching(double, 'U0DEV', /goes to sleep at/);
    expect(danaReminder).toMatch(/18:30 \(Europe\/Paris\)/);
    await click(double, 'U0DEV', 'Extend 1 h (19:30)');
    await until(bot, 'dana-env', (e) => e.timers?.sleepAt === '2026-12-01T18:30:00.000Z', 'the extension');
    jump(clock, '2026-12-01T18:00:30Z');
    const danaReminders = await dmMatching(double, 'U0DEV', /goes to sleep at/, 2);
    expect(danaReminders[1]).toMatch(/19:30 \(Europe\/Paris\)/);
    jump(clock, '2026-12-01T18:30:30Z');
    const dana = await until(bot, 'dana-env', (e) => e.state === 'asleep', 'asleep on schedule');
    expect(dana.data?.latest).toMatchObject({ number: 1, reason: 'sleep' });
    expect(dana.sleptBy).toBe('schedule');

    // A click on the reminder after the sleep: told what happened instead.
    await click(double, 'U0DEV', 'Sleep now');
    expect(await lastEphemeral(double, 'U0DEV', /Too late/)).toMatch(/already went to sleep/);

    // 22:30Z: 17:30 in New York. lee puts it to sleep at once.
    jump(clock, '2026-12-01T22:30:30Z');
    await dmMatching(double, 'U0LEAD', /goes to sleep at .*18:00 \(America\/New_York\)/);
    await click(double, 'U0LEAD', 'Sleep now');
    const leeAsleep = await until(bot, 'lee-env', (e) => e.state === 'asleep' && e.timers?.wakeStartAt !== undefined, 'asleep now, its wake planned');
    expect(leeAsleep.sleptBy).toBe('U0LEAD');
    expect(leeAsleep.timers?.wakeAt).toBe('2026-12-02T13:30:00.000Z');

    // Wednesday: omar's environment sleeps on time without an answer.
    jump(clock, '2026-12-02T09:00:30Z');
    await dmMatching(double, 'U0OPS', /goes to sleep at .*Wed 2 Dec 18:30/);
    jump(clock, '2026-12-02T09:30:30Z');
    const omar = await until(bot, 'omar-env', (e) => e.state === 'asleep', 'asleep on schedule');
    expect(omar.data?.latest?.number).toBe(1);

    // lee's morning wake starts early enough to be ready by 08:30 New York (13:30Z).
    const wakeStart = Date.parse(leeAsleep.timers!.wakeStartAt!);
    expect(wakeStart).toBeLessThan(Date.parse('2026-12-02T13:30:00Z'));
    clock.jumpTo(new Date(wakeStart + 30_000));
    const awake = await until(bot, 'lee-env', (e) => e.state === 'ready' && e.wokenBy === 'schedule' && e.timers?.wakeMs !== undefined, 'awake on schedule, planned again');
    expect(Date.parse(awake.stateChangedAt)).toBeLessThanOrEqual(Date.parse('2026-12-02T13:30:00Z'));
    // How long it took is remembered (the next wake starts by it); its next sleep is tonight's.
    expect(awake.timers?.wakeMs).toHaveLength(1);
    expect(awake.timers?.sleepAt).toBe('2026-12-02T23:00:00.000Z');

    // Nothing twice: one reminder per sleep (a click's answer replaces its reminder: one message each),
    // one generation per sleep, dana never woken (no --wake-at).
    expect(dms(double, 'U0OPS')).toHaveLength(2);
    expect(dms(double, 'U0DEV')).toHaveLength(2);
    expect(dms(double, 'U0LEAD')).toHaveLength(1);
    for (const name of ['dana-env', 'omar-env', 'lee-env']) expect((await bot.useCases.queries.find(name))?.data?.lastGeneration).toBe(1);
    expect((await bot.useCases.queries.find('dana-env'))?.state).toBe('asleep');

    // The story is on record: who changed the schedule, who put it to sleep, what the schedule did.
    await double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'history lee-env' });
    const history = await lastEphemeral(double, 'U0DEV', /History of lee-env/);
    expect(history).toMatch(/Woken on schedule, to be ready by 2026-12-02T13:30:00.000Z · the schedule/);
    expect(history).toMatch(/Sleep requested: generation 1 · <@U0LEAD>/);
    expect(history).toMatch(/Schedule set to weekdays 09:00-18:00 --wake-at 08:30/);
    expect(history).toMatch(/Requested 1 × t3.micro from demo/);
    expect(history.indexOf('Woken on schedule')).toBeLessThan(history.indexOf('Requested 1 ×'));
  }, 180_000);

  it('a sleep on schedule whose save fails: it stays up, the owner and ops are told, and it is tried again after a backoff until it sleeps', async () => {
    const { bot, double, clock } = await sandboxAt('2026-12-01T16:00:00Z', { DORMOUSE_SANDBOX_FAULTS: 'fail-save:0*1' });
    await double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'new flaky --template demo' });
    await until(bot, 'flaky', (e) => e.state === 'ready' && e.timers?.sleepAt === '2026-12-01T17:30:00.000Z', 'ready and planned');

    jump(clock, '2026-12-01T17:30:30Z');
    const failed = await until(bot, 'flaky', (e) => e.state === 'failed' && e.timers?.retryAt !== undefined, 'failed at the save, its retry planned');
    expect(failed.failure?.step).toBe('save');
    expect(failed.servers.every((s) => s.state !== 'terminated')).toBe(true);
    // The owner hears why, and ops get an alert with buttons.
    await dmMatching(double, 'U0DEV', /failed/i);
    await double.waitFor(() => double.channelMessages('C0OPS').find((m) => visibleText(m).includes('flaky')), { timeoutMs: 10_000, what: 'the ops alert' });
    const retryAt = Date.parse(failed.timers!.retryAt!);
    // Five minutes from when the tick saw the failure (a tick runs every second).
    expect(retryAt - Date.parse(failed.stateChangedAt)).toBeGreaterThanOrEqual(5 * 60_000);
    expect(retryAt - Date.parse(failed.stateChangedAt)).toBeLessThan(5 * 60_000 + 10_000);

    // Not before its time: a minute early, it is still failed.
    clock.jumpTo(new Date(retryAt - 60_000));
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await bot.useCases.queries.find('flaky'))?.state).toBe('failed');
    clock.jumpTo(new Date(retryAt + 30_000));
    const asleep = await until(bot, 'flaky', (e) => e.state === 'asleep', 'asleep on the second try');
    // The retry takes the save that failed up again: the same generation.
    expect(asleep.data?.latest?.number).toBe(1);
    expect(asleep.retriedBy).toBe('schedule');
    await dmMatching(double, 'U0DEV', /did not happen .* tries again \(try 2\)/s);
  }, 120_000);

  it('missed ticks (nobody led for hours): what fell due happens once, late, and the owner is told; a reminder whose sleep has come is not sent', async () => {
    // No scheduler: the ticks are the test's, as if the leader were down between them.
    const { bot, double, clock } = await sandboxAt('2026-12-01T16:00:00Z', {}, false);
    await double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'new late --template demo' });
    await until(bot, 'late', (e) => e.state === 'ready', 'ready');
    await bot.useCases.schedule!.tick();
    expect((await bot.useCases.queries.find('late'))?.timers?.sleepAt).toBe('2026-12-01T17:30:00.000Z');

    jump(clock, '2026-12-01T19:45:00Z');
    await bot.useCases.schedule!.tick();
    await until(bot, 'late', (e) => e.state === 'asleep', 'asleep, late');
    await bot.useCases.schedule!.tick();
    const [note] = await dmMatching(double, 'U0DEV', /went to sleep late/);
    expect(note).toMatch(/due at Tue 1 Dec 18:30 \(Europe\/Paris\)/);
    expect(note).toMatch(/reminder could not be sent in time/);
    expect(dms(double, 'U0DEV').filter((t) => /goes to sleep at/.test(t))).toHaveLength(0);
    expect((await bot.useCases.queries.find('late'))?.data?.lastGeneration).toBe(1);
  }, 120_000);

  it('Slack answering 500, then 429, to the reminder: it is tried again at later ticks and arrives once', async () => {
    const { bot, double, clock } = await sandboxAt('2026-12-01T16:00:00Z', {}, false);
    await double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'new noisy --template demo' });
    await until(bot, 'noisy', (e) => e.state === 'ready', 'ready');
    await bot.useCases.schedule!.tick();

    jump(clock, '2026-12-01T17:00:30Z');
    // Every try of this tick fails (the Web API client retries 500s and 429s itself, then gives up).
    double.failNext({ method: 'chat.postMessage', status: 500, times: 10 });
    await bot.useCases.schedule!.tick();
    expect(dms(double, 'U0DEV')).toHaveLength(0);
    expect((await bot.useCases.queries.find('noisy'))?.timers?.remindedFor).toBeUndefined();
    double.clearFaults();
    double.failNext({ method: 'chat.postMessage', status: 429, times: 1, retryAfterSeconds: 1 });
    jump(clock, '2026-12-01T17:01:30Z');
    await bot.useCases.schedule!.tick();
    await bot.useCases.schedule!.tick();
    const [reminder] = await dmMatching(double, 'U0DEV', /goes to sleep at/);
    expect(reminder).toMatch(/18:30 \(Europe\/Paris\)/);
    expect(dms(double, 'U0DEV')).toHaveLength(1);
    expect((await bot.useCases.queries.find('noisy'))?.timers?.remindedFor).toBe('2026-12-01T17:30:00.000Z');
  }, 120_000);
});
