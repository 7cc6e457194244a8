/**
 * Two bot processes on one table and one cloud folder, as two replicas run:
 * a worker frozen (SIGSTOP) past its lease is fenced out by the other and,
 * resumed, writes nothing; the same form and the same button delivered to
 * both do each thing once; periodic work has one leader at a time, and a
 * new one soon after the leader stops.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { visibleText } from '../../src/adapters/sandbox/slack-console/slack-double.js';
import type { BotProcess } from '../support/bot-process.js';
import { expectCleanEnd, logsWith, report, requestSlow, seconds, sleep, startReplicas, waitMidBootstrap, type Replicas } from '../support/replicas.js';

let r: Replicas | undefined;
afterEach(async () => {
  await r?.close();
  r = undefined;
});

/** Short leases so a pause outlasts one quickly (the sweep must run at least twice a lease). */
const SHORT_LEASES = { DORMOUSE_LEASE_SECONDS: '10', DORMOUSE_SWEEP_SECONDS: '2' };

describe('a worker paused past its lease, then resumed', () => {
  it('is taken over by the other replica; resumed, it finds its lease gone and writes nothing; every step ran once', async () => {
    r = await startReplicas();
    const a = await r.startBot('A', SHORT_LEASES);
    const b = await r.startBot('B', SHORT_LEASES);
    const workerA = r.workerOf(a);
    const workerB = r.workerOf(b);

    const env = await requestSlow(r, a, 'paused-one');
    const watch = r.watch(env.name, 50);
    const linesAtPause = await waitMidBootstrap(r, env, workerA);
    const atPause = (await r.environment(env.name))!;
    expect(linesAtPause).toBeGreaterThan(0);
    expect(linesAtPause).toBeLessThan(env.count * 3);

    a.pause();
    const pausedAt = Date.now();
    let resumedAt: number;
    let takeover;
    try {
      takeover = await watch.until((s) => s.fence > atPause.fence, { since: pausedAt, timeoutMs: 25_000, what: 'B to take the lapsed lease over' });
      // Paused for 15 s at least: past its 10 s lease, whatever the takeover took.
      await sleep(Math.max(0, pausedAt + 15_000 - Date.now()));
    } finally {
      a.resume();
      resumedAt = Date.now();
    }
    report(`paused past its lease: B took over ${seconds(takeover.at - pausedAt)} into A's ${seconds(resumedAt - pausedAt)} pause (token ${atPause.fence} → ${takeover.token})`);
    expect(takeover).toMatchObject({ holder: workerB, token: atPause.fence + 1, state: 'bootstrapping' });
    expect(takeover.at).toBeLessThan(resumedAt);

    // Resumed, A's flow finds its lease taken at its next write, and stops.
    const stopped = await a.waitForLog((l) => l.msg === 'flow stopped: its lease is gone' && l.environment === env.name, 20_000);
    report(`paused past its lease: A found its lease gone ${seconds(Number(stopped.time) - resumedAt)} after it was resumed`);
    // (Its fencing token is not in the line: the logger redacts every `token` field.)
    expect(stopped).toMatchObject({ reason: 'taken', state: 'bootstrapping', flow: 'provision' });
    expect(Number(stopped.time)).toBeGreaterThanOrEqual(resumedAt - 100);
    // It did not record a failure, or give back a lease it no longer holds.
    expect(logsWith(a, 'flow failed with an error it did not record')).toEqual([]);
    expect(logsWith(a, 'provisioning failed')).toEqual([]);

    const end = await expectCleanEnd(r, env.name, { allowFailed: false });
    report(`paused past its lease: ${env.name} ended ${end.environment.state}; steps per server ${JSON.stringify(Object.values(end.steps))}`);
    await watch.until((s) => s.state === 'ready', { what: 'the watch to see it ready' });
    watch.stop();

    // A never wrote after the takeover: every write seen since then carried B's lease (or, the last,
    // none: ready), no token was issued after B's, and the write that made it ready was B's
    // (conditional on B's lease, which the record held just before it).
    const after = watch.samples.filter((s) => s.at >= takeover.at);
    expect(after.filter((s) => s.holder !== undefined).every((s) => s.holder === workerB && s.token === takeover.token)).toBe(true);
    expect(end.environment.fence).toBe(takeover.token);
    const readyAt = after.findIndex((s) => s.state === 'ready');
    expect(readyAt).toBeGreaterThan(0);
    expect(after[readyAt - 1]).toMatchObject({ holder: workerB, token: takeover.token });
    // Each step was recorded finished once per server (a fenced-out write would have added its own record).
    const events = await r.events(env.name);
    for (const step of ['one', 'two', 'three']) {
      for (let server = 1; server <= env.count; server++) {
        expect(events.filter((e) => e.type === `step:${step}` && e.message.startsWith(`Server ${server}:`)), `step ${step} on server ${server}`).toHaveLength(1);
      }
    }
    expect(events.filter((e) => e.type === 'state:ready')).toHaveLength(1);
  }, 150_000);
});

describe('two replicas on one table', () => {
  it('the same form and the same button to both do each thing once; one leader at a time, and a new one soon after it stops', async () => {
    r = await startReplicas();
    const a = await r.startBot('A');
    const b = await r.startBot('B');
    const bots = [a, b];
    const workers = new Map(bots.map((bot) => [r!.workerOf(bot), bot.name]));

    // (a) The same `/server new` (same trigger_id, same response URL) delivered to both at once.
    const request = await r.capture(() => r!.double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'new twin --template quick' }));
    const asked = r.double.ephemerals('U0DEV').length;
    const acks = await r.deliverTo(bots, request);
    expect(acks.map((x) => x.status)).toEqual([200, 200]);
    for (const ack of acks) expect(ack.ackMs).toBeLessThan(3_000);
    const ready = await expectCleanEnd(r, 'twin', { steps: ['hello'], allowFailed: false, timeoutMs: 30_000 });
    expect(ready.environment.requestId).toMatch(/^cmd:/);
    expect(r.serversOf(ready.environment.id)).toHaveLength(1);
    const requestEvents = await r.events('twin');
    expect(requestEvents.filter((e) => e.type === 'requested')).toHaveLength(1);
    expect(requestEvents.filter((e) => e.type === 'launched')).toHaveLength(1);
    expect(ready.environment.fence).toBe(1); // one lease ever: the request's
    // Both answered the person, neither with an error: one says it is on its way, and so does the other (the same request).
    const requestReplies = await r.double.waitFor(() => {
      const got = r!.double.ephemerals('U0DEV').slice(asked);
      return got.length >= 2 ? got : undefined;
    }, { timeoutMs: 15_000, what: 'both replies to the request' });
    expect(requestReplies.map((e) => e.text)).toEqual([expect.stringContaining('`twin` is on its way'), expect.stringContaining('`twin` is on its way')]);

    // (b) Destroy on its message asks whether to save the data first; the same "Destroy without saving"
    // click delivered to both at once.
    await r.double.clickButton({ user: 'U0DEV', label: 'Destroy', channel: 'C0GENERAL' });
    await r.double.waitFor(() => r!.double.ephemerals('U0DEV').find((e) => visibleText(e).includes('Destroy without saving')), { timeoutMs: 15_000, what: 'the destroy choice' });
    const click = await r.capture(() => r!.double.clickButton({ user: 'U0DEV', label: 'Destroy without saving', channel: 'C0GENERAL' }));
    // Each answers in place of the choice (replace_original): their answers are read from the calls made.
    const callsBefore = r.double.calls.length;
    const clickAcks = await r.deliverTo(bots, click);
    expect(clickAcks.map((x) => x.status)).toEqual([200, 200]);
    const destroyed = await r.waitForEnvironment('twin', (e) => e.state === 'destroyed', 30_000, 'destroyed');
    const message = r.messagesAbout('C0GENERAL', 'twin');
    expect(message).toHaveLength(1);
    const destroyedLines = await r.double.waitFor(() => {
      const lines = r!.double.message('C0GENERAL', message[0]!.ts)!.replies.filter((m) => m.text.includes('was destroyed'));
      return lines.length ? lines : undefined;
    }, { timeoutMs: 15_000, what: 'the thread to say it was destroyed' });
    const clickReplies = await r.double.waitFor(() => {
      const got = r!.double.calls.slice(callsBefore).filter((c) => c.method === 'response_url' && c.ok).map((c) => ({ text: String(c.args.text ?? '') }));
      return got.length >= 2 ? got : undefined;
    }, { timeoutMs: 15_000, what: 'both replies to the click' });
    await r.double.settled(1_000, 10_000);
    expect(r.double.message('C0GENERAL', message[0]!.ts)!.replies.filter((m) => m.text.includes('was destroyed'))).toEqual(destroyedLines);
    expect(destroyedLines).toHaveLength(1);
    expect(r.double.message('C0GENERAL', message[0]!.ts)!.text).toBe('twin is destroyed');
    // One destroy began: one reply says so, the other that it was already under way (or done).
    expect(clickReplies.filter((e) => e.text.includes('Destroying `twin`'))).toHaveLength(1);
    expect(clickReplies.filter((e) => !e.text.includes('Destroying `twin`')).map((e) => e.text)).toEqual([expect.stringMatching(/destroy/i)]);
    const events = await r.events('twin');
    expect(events.filter((e) => e.type === 'destroy:requested')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'state:destroyed')).toHaveLength(1);
    expect(destroyed.fence).toBe(2); // the request's lease, then the one destroy took: no second flow
    const [server] = r.serversOf(destroyed.id);
    expect(server?.terminateRequestedAt).toBeDefined();
    expect(readFileSync(join(server!.folder, 'bootstrap.log'), 'utf8').match(/terminate requested/g)).toHaveLength(1);
    r.double.assertNoProblems();

    // (a') The same form submission (same view id) delivered to both at once: one environment, one message.
    r.double.setEventsUrl(a.eventsUrl);
    await r.double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text: 'new formed' });
    await r.double.waitFor(() => r!.double.openViews('U0DEV')[0], { what: 'the form' });
    const form = await r.capture(() => r!.double.submitView({ user: 'U0DEV', values: { Template: 'quick' } }));
    const formAcks = await r.deliverTo(bots, form);
    expect(formAcks.map((x) => x.status)).toEqual([200, 200]);
    for (const ack of formAcks) expect(ack.ackMs).toBeLessThan(3_000);
    const formReady = await expectCleanEnd(r, 'formed', { steps: ['hello'], allowFailed: false, timeoutMs: 30_000 });
    expect(formReady.environment.requestId).toMatch(/^view:/);
    expect(formReady.environment.fence).toBe(1);
    expect(r.serversOf(formReady.environment.id)).toHaveLength(1);
    expect((await r.events('formed')).filter((e) => e.type === 'requested')).toHaveLength(1);

    // (c) Both sweeping: one leader at a time, in the store and in what each believes.
    const observedFrom = Date.now();
    const holders = new Set<string>();
    while (Date.now() - observedFrom < 15_000) {
      const leader = await r.leader();
      expect(leader).toBeDefined();
      expect(workers.has(leader!.holder)).toBe(true);
      expect(leader!.until).toBeGreaterThan(Date.now() - 1_000);
      holders.add(leader!.holder);
      await sleep(250);
    }
    expect(holders.size).toBe(1);
    const leaderId = [...holders][0]!;
    const leader = bots.find((bot) => r!.workerOf(bot) === leaderId)!;
    const follower = bots.find((bot) => bot !== leader)!;
    expect(leadsNow(leader)).toBe(true);
    expect(leadsNow(follower)).toBe(false);
    expect(overlap(a, b)).toEqual([]);

    // The leader stops; the other leads within one leader lease (3 sweeps: 15 s).
    const stopAt = Date.now();
    const followerLines = follower.logs().length;
    await leader.stop(20_000);
    expect(await leader.exited).toEqual({ code: 0, signal: null });
    const took = await follower.waitForLog((l) => l.msg === 'this replica leads periodic work', 30_000, followerLines);
    const handoverMs = Number(took.time) - stopAt;
    report(`leader handover after SIGTERM: ${seconds(handoverMs)} (${workers.get(leaderId)} → ${follower.name})`);
    expect(handoverMs).toBeLessThanOrEqual(15_000);
    expect((await r.leader())!.holder).toBe(r.workerOf(follower));
    expect(overlap(a, b)).toEqual([]);
  }, 150_000);
});

/** Whether the bot's last word on leadership is that it leads. */
function leadsNow(bot: BotProcess): boolean {
  return leadership(bot).at(-1)?.leads ?? false;
}

function leadership(bot: BotProcess): Array<{ at: number; leads: boolean }> {
  return bot
    .logs()
    .filter((l) => l.msg === 'this replica leads periodic work' || l.msg === 'another replica leads periodic work')
    .map((l) => ({ at: Number(l.time), leads: l.msg === 'this replica leads periodic work' }));
}

/** The times both bots believed they led, as [from, to] pairs (empty when they never did at once). */
function overlap(a: BotProcess, b: BotProcess): Array<[number, number]> {
  const spans = (bot: BotProcess): Array<[number, number]> => {
    const out: Array<[number, number]> = [];
    let from: number | undefined;
    for (const { at, leads } of leadership(bot)) {
      if (leads && from === undefined) from = at;
      if (!leads && from !== undefined) {
        out.push([from, at]);
        from = undefined;
      }
    }
    // Still leading: until it stopped (its last line, once it was told to stop), or now.
    const stopped = bot.logs().some((l) => typeof l.msg === 'string' && l.msg.startsWith('stopping:'));
    if (from !== undefined) out.push([from, stopped ? Number(bot.logs().filter((l) => l.time !== undefined).at(-1)!.time) : Date.now()]);
    return out;
  };
  const both: Array<[number, number]> = [];
  for (const [f1, t1] of spans(a)) for (const [f2, t2] of spans(b)) if (Math.max(f1, f2) < Math.min(t1, t2)) both.push([Math.max(f1, f2), Math.min(t1, t2)]);
  return both;
}
