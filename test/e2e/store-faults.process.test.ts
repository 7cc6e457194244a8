/**
 * The store and Slack misbehaving under a real bot process: DynamoDB
 * unreachable for 10 s mid-bootstrap, DynamoDB hanging, and Slack answering
 * a reply with 429 or 500. The bot keeps answering (at once, with a sentence
 * when it cannot do better), and the work under way moves again once the
 * store is back, and ends ready or failed with an alert, every step once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { USAGE } from '../../src/adapters/slack/blocks/replies.js';
import type { EphemeralMessage } from '../../src/adapters/sandbox/slack-console/slack-double.js';
import type { BotProcess } from '../support/bot-process.js';
import { expectCleanEnd, logsWith, report, requestSlow, seconds, sleep, startReplicas, waitMidBootstrap, type Replicas } from '../support/replicas.js';

let r: Replicas | undefined;
afterEach(async () => {
  await r?.close();
  r = undefined;
});

/** The first line of the usage text: what a help answer must show. */
const USAGE_FIRST_LINE = USAGE.split('\n')[1]!;

/** Internal text a person must never be shown: SDK error names, socket words, stack frames, file paths. */
const INTERNAL = /TimeoutError|socket|ECONN|EPIPE|ETIMEDOUT|\bat [\w.<>]+ \(|\.ts:\d+|node:internal|Error:|dynalite|127\.0\.0\.1/i;

async function newEphemeral(replicas: Replicas, user: string, after: number, what: string, timeoutMs: number): Promise<EphemeralMessage> {
  return replicas.double.waitFor(() => replicas.double.ephemerals(user).slice(after).find((e) => e.source === 'response_url'), { timeoutMs, what });
}

async function command(replicas: Replicas, bot: BotProcess, text: string) {
  replicas.double.setEventsUrl(bot.eventsUrl);
  const before = replicas.double.ephemerals('U0DEV').length;
  const sent = Date.now();
  const ack = await replicas.double.slashCommand({ user: 'U0DEV', channel: 'C0GENERAL', command: '/server', text });
  expect(ack.status).toBe(200);
  return { ack, before, sent };
}

describe('the store unavailable for 10 s mid-bootstrap', () => {
  it('keeps /healthz answering; the flow moves again once the store is back, and ends with every step once', async () => {
    r = await startReplicas();
    const bot = await r.startBot('A');
    const env = await requestSlow(r, bot, 'outage-one');
    const watch = r.watch(env.name);
    const linesAtOutage = await waitMidBootstrap(r, env, r.workerOf(bot));
    const atOutage = (await r.environment(env.name))!;
    expect(linesAtOutage).toBeGreaterThan(0);
    expect(linesAtOutage).toBeLessThan(env.count * 3);
    const logsBefore = bot.logs().length;

    r.proxy.setMode('refuse');
    const downAt = Date.now();
    const health: number[] = [];
    while (Date.now() - downAt < 10_000) {
      const started = Date.now();
      const res = await fetch(bot.healthUrl, { signal: AbortSignal.timeout(1_000) });
      health.push(Date.now() - started);
      expect(res.status).toBe(200);
      await sleep(500);
    }
    // Alive, and saying what does not answer; not ready to take work while its store is away.
    const readyUrl = bot.healthUrl.replace(/\/healthz$/, '/readyz');
    const during = await fetch(readyUrl, { signal: AbortSignal.timeout(1_000) });
    expect(during.status).toBe(503);
    expect(((await during.json()) as { dependencies: { store: { ok: boolean } } }).dependencies.store.ok).toBe(false);
    const alive = (await (await fetch(bot.healthUrl)).json()) as { status: string; dependencies: { store: { ok: boolean; error?: string }; slack: { ok: boolean } } };
    expect(alive).toMatchObject({ status: 'ok', dependencies: { store: { ok: false }, slack: { ok: true } } });
    r.proxy.setMode('pass');
    const backAt = Date.now();
    report(`store outage: /healthz answered ${health.length} times during it, slowest in ${health.reduce((a, b) => Math.max(a, b), 0)} ms; /readyz said 503 (${alive.dependencies.store.error ?? ''})`);
    await expect.poll(async () => (await fetch(readyUrl)).status, { timeout: 15_000, interval: 500 }).toBe(200);

    // The outage reached the bot (it is not a store it does not use)...
    expect(bot.logs().slice(logsBefore).some((l) => l.msg === 'could not reach the store to elect a leader; skipping this tick')).toBe(true);
    // ...and nothing was written while it lasted.
    expect(watch.samples.filter((s) => s.at > downAt + 500 && s.at < backAt).map((s) => s.version)).toEqual([]);

    const moved = await watch.until((s) => s.version > atOutage.version, { since: backAt, timeoutMs: 90_000, what: 'a write after the store is back' });
    const progressed = await watch.until((s) => s.state !== atOutage.state || JSON.stringify(s.lastSteps) !== JSON.stringify(atOutage.servers.map((x) => x.lastStep)), {
      since: backAt,
      timeoutMs: 90_000,
      what: 'a step to finish after the store is back',
    });
    report(`resume after the store is back: ${seconds(moved.at - backAt)} to the first write, ${seconds(progressed.at - backAt)} to the next finished step (${moved.holder === r.workerOf(bot) ? 'same worker' : `new worker, token ${moved.token}`})`);
    expect(moved.at - backAt).toBeLessThanOrEqual(60_000);
    expect(progressed.at - backAt).toBeLessThanOrEqual(60_000);

    const end = await expectCleanEnd(r, env.name);
    report(`store outage: ${env.name} ended ${end.environment.state}; steps per server ${JSON.stringify(Object.values(end.steps))}`);
    watch.stop();
  }, 150_000);
});

describe('DynamoDB hanging', () => {
  it('help is acked at once and answered; list is acked at once; once the store answers again, list works', async () => {
    r = await startReplicas();
    const bot = await r.startBot('A');
    // Warm: the store answered this process before it hangs.
    const warm = await command(r, bot, 'list');
    expect((await newEphemeral(r, 'U0DEV', warm.before, 'the first list', 10_000)).text).toMatch(/You have no environments/);

    r.proxy.setMode('hang');
    const help = await command(r, bot, 'help');
    expect(help.ack.ackMs).toBeLessThan(1_000);
    const helpAnswer = await newEphemeral(r, 'U0DEV', help.before, 'the help answer', 5_000);
    expect(helpAnswer.text).toContain(USAGE_FIRST_LINE);
    report(`store hanging: /server help acked in ${help.ack.ackMs} ms, answered in ${seconds(Date.now() - help.sent)}`);

    const list = await command(r, bot, 'list');
    expect(list.ack.ackMs).toBeLessThan(1_000);
    report(`store hanging: /server list acked in ${list.ack.ackMs} ms`);
    // Nothing said from the store while it hangs: no answer that pretends to know.
    await sleep(4_000);
    const meanwhile = r.double.ephemerals('U0DEV').slice(list.before);
    expect(meanwhile.every((e) => !/You have no environments|Your environments/.test(e.text))).toBe(true);

    r.proxy.setMode('pass');
    const again = await command(r, bot, 'list');
    const answers = await r.double.waitFor(
      () => {
        const got = r!.double.ephemerals('U0DEV').slice(again.before).filter((e) => e.source === 'response_url');
        return got.some((e) => /You have no environments/.test(e.text)) ? got : undefined;
      },
      { timeoutMs: 15_000, what: 'a list answer once the store answers' },
    );
    for (const a of answers) expect(a.text).not.toMatch(INTERNAL);
    r.double.assertNoProblems();
  }, 90_000);

  // PRODUCT BUG (src/main.ts, STORE_HTTP): `requestTimeout` of @smithy/node-http-handler 4.x only logs
  // "a request has exceeded the configured 3000 ms requestTimeout ... Init client requestHandler with
  // throwOnRequestTimeout=true to turn this into an error." and lets the request wait for ever, so a
  // hanging DynamoDB leaves `/server list` unanswered (and the leader's tick stuck). Remove `.fails` once fixed.
  it('list, while the store hangs, answers within 30 s with a sentence and a reference, and no internal text', async () => {
    r = await startReplicas();
    const bot = await r.startBot('A');
    const warm = await command(r, bot, 'list');
    expect((await newEphemeral(r, 'U0DEV', warm.before, 'the first list', 10_000)).text).toMatch(/You have no environments/);

    r.proxy.setMode('hang');
    const list = await command(r, bot, 'list');
    expect(list.ack.ackMs).toBeLessThan(1_000);
    const listAnswer = await newEphemeral(r, 'U0DEV', list.before, 'the list answer while the store hangs', 30_000).catch((error: unknown) => {
      report(`store hanging: /server list acked in ${list.ack.ackMs} ms, NOT answered within 30 s (${bot.logs().filter((l) => typeof l.raw === 'string' && l.raw.includes('requestTimeout')).length} "exceeded the configured requestTimeout" warnings from the SDK, and no error)`);
      throw error;
    });
    const answeredIn = Date.now() - list.sent;
    report(`store hanging: /server list acked in ${list.ack.ackMs} ms, answered in ${seconds(answeredIn)}: ${listAnswer.text}`);
    expect(answeredIn).toBeLessThanOrEqual(30_000);
    expect(listAnswer.text).toMatch(/could not reach its database/);
    const ref = /ref `([A-Z0-9]{8})`/.exec(listAnswer.text)?.[1];
    expect(ref).toBeDefined();
    expect(listAnswer.text).not.toMatch(INTERNAL);
    expect(JSON.stringify(listAnswer.blocks)).not.toMatch(INTERNAL);
    // Ops find what went wrong under that reference in the log.
    // (Waited for: the process's log line may reach the test after the answer it wrote first reached Slack.)
    await bot.waitForLog((l) => l.msg === 'a request failed on our side' && l.ref === ref, 10_000);
    r.double.assertNoProblems();
  }, 60_000);
});

describe('a reply Slack refuses once', () => {
  for (const status of [429, 500] as const) {
    it(`answered ${status}, then accepted: the answer arrives once, after the refused try`, async () => {
      r = await startReplicas();
      const bot = await r.startBot('A');
      const callsBefore = r.double.calls.length;
      r.double.failNext({ method: 'response_url', status, retryAfterSeconds: 1 });
      const help = await command(r, bot, 'help');
      const answer = await newEphemeral(r, 'U0DEV', help.before, 'the help answer after the refusal', 15_000);
      expect(answer.text).toContain(USAGE_FIRST_LINE);
      await r.double.settled(500, 5_000);
      // One answer, not two: the retry replaced the refused try, nothing more.
      expect(r.double.ephemerals('U0DEV').slice(help.before)).toHaveLength(1);
      const replies = r.double.calls.slice(callsBefore).filter((c) => c.method === 'response_url');
      expect(replies.map((c) => ({ ok: c.ok, status: c.status, injected: c.injected }))).toEqual([
        { ok: false, status, injected: true },
        { ok: true, status: undefined, injected: undefined },
      ]);
      const waitedMs = replies[1]!.at - replies[0]!.at;
      report(`reply refused with ${status}: answered ${waitedMs} ms after the refused try`);
      // A 429 says when to come back (Retry-After: 1 s); the retry waited for it.
      if (status === 429) expect(waitedMs).toBeGreaterThanOrEqual(950);
      expect(logsWith(bot, 'an answer to Slack failed; retrying').some((l) => l.status === status)).toBe(true);
      r.double.assertNoProblems();
    }, 60_000);
  }
});
