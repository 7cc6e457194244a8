/**
 * The scheduler's leader killed in the middle of a tick, with two real bot
 * processes on one store and one cloud folder. Both run the sandbox clock
 * from the same instant, ten times faster than real time, so an evening
 * comes in seconds: three environments of dana (Paris) are reminded at
 * 18:27 and go to sleep at 18:30. The leader is killed (SIGKILL) as the
 * first reminder reaches Slack; the other replica takes the lead and
 * finishes what was due. Nothing happens twice: one reminder per
 * environment, one sleep, one generation.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { visibleText } from '../../src/adapters/sandbox/slack-console/slack-double.js';
import type { BotProcess } from '../support/bot-process.js';
import { report, seconds, startReplicas, type Replicas } from '../support/replicas.js';

let r: Replicas | undefined;
afterEach(async () => {
  await r?.close();
  r = undefined;
});

const TEMPLATES = join(import.meta.dirname, '..', '..', 'infra', 'templates.yml');
const NAMES = ['eve-one', 'eve-two', 'eve-three'];

/** Same start and speed on both replicas (they start a second or two apart: their clocks differ by that, times ten). */
const CLOCK = {
  DORMOUSE_TEMPLATES: TEMPLATES,
  DORMOUSE_SANDBOX_CLOCK: '2026-12-01T17:24:00Z',
  DORMOUSE_SANDBOX_CLOCK_SPEED: '10',
  DORMOUSE_REMINDER_MINUTES: '3',
  DORMOUSE_SWEEP_SECONDS: '2',
  DORMOUSE_LEASE_SECONDS: '10',
  DORMOUSE_SANDBOX_DELAYS: 'fast',
};

const reminders = (r: Replicas) =>
  r.double
    .channelMessages(r.double.dmChannel('U0DEV'))
    .map((m) => visibleText(m))
    .filter((t) => /goes to sleep at/.test(t));

/** Two replicas; dana's three environments ready, their reminder planned for 17:27Z; the one leading now and the other. */
async function threeEveningsOnTwoReplicas(): Promise<{ leader: BotProcess; other: BotProcess }> {
  r = await startReplicas();
  const [a, b] = await Promise.all([r.startBot('A', CLOCK), r.startBot('B', CLOCK)]);
  r.double.setEventsUrl(a.eventsUrl);
  for (const name of NAMES) {
    const ack = await r.double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: `new ${name} --template demo` });
    expect(ack.status).toBe(200);
  }
  for (const name of NAMES) await r.waitForEnvironment(name, (e) => e.state === 'ready' && e.timers?.remindAt === '2026-12-01T17:27:00.000Z', 30_000, 'ready and planned');
  const holder = (await r.leader())?.holder;
  const leader = holder === r.workerOf(a) ? a : b;
  expect(holder).toBe(r.workerOf(leader));
  return { leader, other: leader === a ? b : a };
}

describe('the scheduler’s leader killed mid-tick', () => {
  it('SIGKILL as the first reminder goes out: the other replica leads, finishes the reminders and the sleeps, and nothing happens twice', async () => {
    const { leader, other } = await threeEveningsOnTwoReplicas();
    if (!r) throw new Error('the replicas did not start');


    await r.double.waitFor(() => reminders(r!).length >= 1 || undefined, { timeoutMs: 40_000, what: 'the first reminder' });
    leader.kill('SIGKILL');
    const killedAt = Date.now();
    const told = reminders(r).length;
    await leader.exited;

    // The other replica takes the lead once the lapsed lease lets it, and does the rest.
    for (const name of NAMES) await r.waitForEnvironment(name, (e) => e.state === 'asleep', 90_000, 'asleep on schedule');
    const took = (await r.leader())?.holder;
    report(`leader killed mid-tick (${told} of ${NAMES.length} reminders out): ${other.name} led and every environment was asleep ${seconds(Date.now() - killedAt)} after the kill`);
    expect(took).toBe(r.workerOf(other));

    // One reminder each, one sleep each, one generation each.
    const sent = reminders(r);
    for (const name of NAMES) expect(sent.filter((t) => t.includes(name)), name).toHaveLength(1);
    for (const name of NAMES) {
      const env = (await r.environment(name))!;
      expect(env.data?.lastGeneration, name).toBe(1);
      expect(env.sleptBy).toBe('schedule');
      const sleeps = (await r.events(name)).filter((e) => e.type === 'schedule:sleep');
      expect(sleeps, name).toHaveLength(1);
    }
    r.double.assertNoProblems();
  }, 180_000);

  it('SIGSTOP as the first reminder goes out, for longer than its lease: the other replica finishes the tick; resumed, the frozen one does nothing twice', async () => {
    const { leader, other } = await threeEveningsOnTwoReplicas();
    if (!r) throw new Error('the replicas did not start');

    await r.double.waitFor(() => reminders(r!).length >= 1 || undefined, { timeoutMs: 40_000, what: 'the first reminder' });
    leader.pause();
    const pausedAt = Date.now();
    try {
      await r.waitForEnvironment(NAMES[0]!, () => true, 1_000);
      // Frozen past its leader lease (6 s) and its claims: the other replica takes the lead meanwhile.
      const deadline = Date.now() + 30_000;
      while ((await r.leader())?.holder !== r.workerOf(other)) {
        if (Date.now() > deadline) throw new Error('the other replica did not take the lead');
        await new Promise((res) => setTimeout(res, 200));
      }
      await new Promise((res) => setTimeout(res, Math.max(0, pausedAt + 12_000 - Date.now())));
    } finally {
      leader.resume();
    }
    for (const name of NAMES) await r.waitForEnvironment(name, (e) => e.state === 'asleep', 90_000, 'asleep on schedule');
    report(`leader frozen mid-tick: ${other.name} led; every environment asleep ${seconds(Date.now() - pausedAt)} after the freeze`);
    // Give the resumed one a few ticks to do something twice, if it would.
    await new Promise((res) => setTimeout(res, 3_000));
    const sent = reminders(r);
    for (const name of NAMES) expect(sent.filter((t) => t.includes(name)), name).toHaveLength(1);
    for (const name of NAMES) {
      const env = (await r.environment(name))!;
      expect(env.data?.lastGeneration, name).toBe(1);
      expect((await r.events(name)).filter((e) => e.type === 'schedule:sleep'), name).toHaveLength(1);
    }
    r.double.assertNoProblems();
  }, 180_000);
});
