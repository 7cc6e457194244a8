/**
 * The receiver under a real Bolt App, over real HTTP: signed requests from
 * the Slack double (or signed by hand), the app's Web API calls and
 * response_url posts going to that double. The listeners here are test
 * listeners that ack late, twice, never, or throw, so each rule of the
 * receiver shows: every request answered, nothing crashes, all of it logged.
 */
import type { Server } from 'node:http';
import { App, LogLevel, type Logger as BoltLogger } from '@slack/bolt';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SlackDouble, visibleText } from '../../../../src/adapters/sandbox/slack-console/slack-double.js';
import { signedHeaders } from '../../../../src/adapters/sandbox/slack-console/slack-signature.js';
import { Ids } from '../../../../src/adapters/slack/ids.js';
import { fallback } from '../../../../src/adapters/slack/listeners/fallback.js';
import { SignedHttpReceiver } from '../../../../src/adapters/slack/receiver/signed-http.receiver.js';
import { FORM, get, JSON_TYPE, payload, post, streamWithoutEnd } from './support/http.js';
import { BODY_MARKER, COULD_NOT_READ, expectMalformedAnswer, expectNoticeModal, MALFORMED } from './support/malformed-cases.js';
import { RecordingLogger } from './support/recording-logger.js';

const SECRET = 'receiver-test-secret';
const TOKEN = 'xoxb-receiver-test';
const DEV = 'U0DEV';
const GENERAL = 'C0GENERAL';

const silentBolt: BoltLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  setLevel: () => undefined,
  getLevel: () => LogLevel.ERROR,
  setName: () => undefined,
};

let double: SlackDouble;
let app: App;
let logs: RecordingLogger;
let events: string;
let base: string;
let healthy = true;
/** What the receiver takes as now; undefined is the real time. */
let nowMs: number | undefined;
const seen = { retries: [] as Array<{ retryNum: number | undefined; retryReason: string | undefined }>, knownActions: [] as string[] };

beforeAll(async () => {
  double = new SlackDouble({ signingSecret: SECRET, botToken: TOKEN });
  await double.listen();
  logs = new RecordingLogger();
  const receiver = new SignedHttpReceiver({
    signingSecret: SECRET,
    logger: logs,
    health: () => ({ ok: healthy, detail: { slack: 'http' } }),
    now: () => nowMs ?? Date.now(),
  });
  // No app.error handler: Bolt's own rethrows, so a failing listener reaches the receiver as a rejection.
  app = new App({ token: TOKEN, receiver, logger: silentBolt, tokenVerificationEnabled: false, clientOptions: { slackApiUrl: double.apiUrl } });
  app.use(fallback({ logger: logs }));
  registerTestListeners(app);
  const server: Server = await app.start({ port: 0, host: '127.0.0.1' });
  const address = server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  events = `${base}/slack/events`;
  double.setEventsUrl(events);
});

afterAll(async () => {
  await app?.stop();
  await double?.close();
});

beforeEach(() => {
  nowMs = undefined;
  healthy = true;
  // Each test looks only at the lines it caused.
  logs.lines.length = 0;
});

function registerTestListeners(a: App): void {
  a.command('/probe', async ({ ack, context }) => {
    seen.retries.push({ retryNum: context.retryNum, retryReason: context.retryReason });
    await ack('probe heard');
  });
  a.command('/boom', async () => {
    throw new Error('boom before ack');
  });
  a.command('/late-boom', async ({ ack }) => {
    await ack({ response_type: 'ephemeral', text: 'acked, then failed' });
    throw new Error('boom after ack');
  });
  a.command('/twice', async ({ ack }) => {
    await ack('first');
    await ack('second');
  });
  a.command('/silent', async () => {
    await new Promise((resolve) => setTimeout(resolve, 3500));
  });
  a.action(Ids.action.destroy, async ({ ack }) => {
    await ack();
    seen.knownActions.push(Ids.action.destroy);
  });
}

/** The latest line of this test with that message. */
const lastLine = (msg: string) => [...logs.lines].reverse().find((l) => l.msg === msg);
const sendSigned = (body: string, contentType = FORM, headers: Record<string, string> = {}) => post(events, body, { secret: SECRET, contentType, headers });
const challenge = (c = 'c-123') => JSON.stringify({ type: 'url_verification', challenge: c, token: 'x' });

/** The process still serves: health and a well-formed command. */
async function expectStillServing(): Promise<void> {
  expect((await get(`${base}/healthz`)).status).toBe(200);
  const res = await double.slashCommand({ user: DEV, channel: GENERAL, command: '/probe' });
  expect(res.status).toBe(200);
  expect(res.body).toBe('probe heard');
}

describe('routes', () => {
  it('GET /healthz answers the health callback: 200 ok, or 503 unavailable, with its detail', async () => {
    expect(await get(`${base}/healthz`)).toMatchObject({ status: 200, json: { status: 'ok', slack: 'http' } });
    healthy = false;
    expect(await get(`${base}/healthz`)).toMatchObject({ status: 503, json: { status: 'unavailable', slack: 'http' } });
  });

  it('answers 404 for other paths and 405 for other methods', async () => {
    expect((await get(`${base}/slack/install`)).status).toBe(404);
    expect((await post(`${base}/elsewhere`, challenge(), { secret: SECRET, contentType: JSON_TYPE })).status).toBe(404);
    expect((await get(events)).status).toBe(405);
    expect((await post(`${base}/healthz`, '')).status).toBe(405);
  });
});

describe('signature', () => {
  it('accepts a body signed now and answers url_verification with its challenge', async () => {
    const res = await sendSigned(challenge('abc'), JSON_TYPE);
    expect(res).toMatchObject({ status: 200, json: { challenge: 'abc' } });
  });

  it.each([
    ['6 minutes old', 360_000, 'timestamp too old'],
    ['6 minutes in the future', -360_000, 'timestamp in the future'],
  ])('refuses a request %s with 401 and logs why', async (_when, receiverAheadMs, reason) => {
    nowMs = Date.now() + receiverAheadMs;
    const res = await double.sendSigned(challenge(), JSON_TYPE);
    expect(res.status).toBe(401);
    expect(lastLine('refused a request not signed by Slack')).toMatchObject({ level: 'warn', reason });
  });

  it.each([
    ['4 minutes old', 240_000],
    ['4 minutes in the future', -240_000],
  ])('accepts a request %s', async (_when, receiverAheadMs) => {
    nowMs = Date.now() + receiverAheadMs;
    expect((await double.sendSigned(challenge(), JSON_TYPE)).status).toBe(200);
  });

  it('takes 300 s either way and refuses 301 s', async () => {
    const ts = 1_800_000_000;
    const at = (skewSeconds: number) => {
      nowMs = (ts + skewSeconds) * 1000;
      return double.sendSigned(challenge(), JSON_TYPE, { 'x-slack-request-timestamp': String(ts) }).then((r) => r.status);
    };
    expect([await at(300), await at(-300), await at(301), await at(-301)]).toEqual([200, 200, 401, 401]);
  });

  it.each([
    ['a wrong signature', { 'x-slack-signature': `v0=${'ab'.repeat(32)}` }, 'signature mismatch'],
    ['a signature of another length', { 'x-slack-signature': 'v0=abc' }, 'signature mismatch'],
    ['a timestamp that is not an integer', { 'x-slack-request-timestamp': '17e8' }, 'timestamp is not an integer'],
  ])('refuses %s with 401', async (_what, headers, reason) => {
    const res = await post(events, challenge(), { secret: SECRET, contentType: JSON_TYPE, headers });
    expect(res.status).toBe(401);
    expect(lastLine('refused a request not signed by Slack')).toMatchObject({ reason });
  });

  it('refuses a body other than the one signed', async () => {
    const res = await post(events, challenge('tampered'), { contentType: JSON_TYPE, headers: signedHeaders(SECRET, challenge('original')) });
    expect(res.status).toBe(401);
  });

  it('refuses a request without signature headers with 401', async () => {
    const res = await post(events, challenge(), { contentType: JSON_TYPE, sign: false });
    expect(res.status).toBe(401);
    expect(lastLine('refused a request not signed by Slack')).toMatchObject({ reason: 'missing signature headers' });
  });

  it('never logs the signature or the body', async () => {
    const mark = logs.lines.length;
    const signature = `v0=${'cd'.repeat(32)}`;
    await post(events, payload({ type: 'block_actions', note: BODY_MARKER }), { secret: SECRET, headers: { 'x-slack-signature': signature } });
    const logged = JSON.stringify(logs.since(mark));
    expect(logged).toContain('signature mismatch');
    expect(logged).not.toContain(signature.slice(3));
    expect(logged).not.toContain(BODY_MARKER);
  });
});

describe('size', () => {
  it('answers 413 to a 2 MiB body', async () => {
    const res = await double.sendSigned(`payload=${'a'.repeat(2 * 1024 * 1024)}`, FORM);
    expect(res.status).toBe(413);
    expect(lastLine('refused a request body over 1 MiB')).toBeDefined();
  });

  it('answers 413 once a body without a length passes 1 MiB, before the body ends', async () => {
    expect(await streamWithoutEnd(events, 1.5 * 1024 * 1024)).toBe(413);
    await expectStillServing();
  });
});

describe('handshakes and types nobody handles', () => {
  it('ssl_check=1 gets 200', async () => {
    expect((await sendSigned('ssl_check=1&token=x')).status).toBe(200);
  });

  it('an unknown top-level type gets 200 and a log line naming it', async () => {
    const res = await sendSigned(JSON.stringify({ type: 'app_rate_limited', minute_rate_limited: 1 }), JSON_TYPE);
    expect(res.status).toBe(200);
    expect(lastLine('a delivery of a type Dormouse does not handle; answered 200')).toMatchObject({ type: 'app_rate_limited' });
  });
});

describe('malformed signed bodies', () => {
  it.each(MALFORMED.map((c) => [c.name, c] as const))('%s: answered, logged with its ref, and nothing crashes', async (_name, c) => {
    const mark = logs.lines.length;
    const res = await sendSigned(c.body, c.contentType);
    const ref = expectMalformedAnswer(res, c);
    const line = logs.since(mark).find((l) => l.msg === 'malformed Slack request');
    expect(line).toMatchObject({ level: 'warn', ref, field: c.field });
    expect(line?.type).toBe(c.type);
    expect(JSON.stringify(logs.since(mark))).not.toContain(BODY_MARKER);
  });

  it('a block action without user but with a response_url: 200, then the person is told there', async () => {
    const issued = await double.slashCommand({ user: DEV, channel: GENERAL, command: '/probe' });
    const responseUrl = new URLSearchParams(issued.rawBody).get('response_url');
    const before = double.ephemerals(DEV).length;
    const res = await sendSigned(payload({ type: 'block_actions', team: { id: 'T0SANDBOX' }, response_url: responseUrl, actions: [{ action_id: 'x' }] }));
    expect(res).toMatchObject({ status: 200, text: '' });
    const told = await double.waitFor(() => double.ephemerals(DEV).slice(before).find((e) => COULD_NOT_READ.test(e.text)), { what: 'the sentence' });
    expect(told.source).toBe('response_url');
    const ref = COULD_NOT_READ.exec(told.text)![1];
    expect(lastLine('malformed Slack request')).toMatchObject({ ref, type: 'block_actions', field: 'user.id' });
  });

  it('after all of them the process still serves', async () => {
    await expectStillServing();
    double.assertNoProblems();
  });
});

describe('acknowledging', () => {
  it('a string ack is answered as text, an object ack as JSON', async () => {
    expect(await sendCommand('/probe')).toMatchObject({ status: 200, contentType: expect.stringMatching(/^text\/plain/), text: 'probe heard' });
    expect(await sendCommand('/late-boom')).toMatchObject({ status: 200, json: { response_type: 'ephemeral', text: 'acked, then failed' } });
  });

  it('redeliveries carry x-slack-retry-num and -reason to context.retryNum and retryReason', async () => {
    seen.retries.length = 0;
    const first = await double.slashCommand({ user: DEV, channel: GENERAL, command: '/probe' });
    const again = await double.redeliver(first, 2, 'http_timeout');
    expect(again.status).toBe(200);
    expect(seen.retries).toEqual([
      { retryNum: undefined, retryReason: undefined },
      { retryNum: 2, retryReason: 'http_timeout' },
    ]);
  });

  it('a second ack is ignored: the first answer stands', async () => {
    const mark = logs.lines.length;
    expect(await sendCommand('/twice')).toMatchObject({ status: 200, text: 'first' });
    expect(logs.since(mark).some((l) => l.level === 'debug' && l.msg === 'a second ack was ignored')).toBe(true);
  });

  it('a listener that throws before acking: 200, an error line, and the process keeps serving', async () => {
    const mark = logs.lines.length;
    expect(await sendCommand('/boom')).toMatchObject({ status: 200, text: '' });
    const line = logs.since(mark).find((l) => l.level === 'error');
    expect(line).toMatchObject({ msg: 'a listener failed before acknowledging; answered 200', type: 'slash_command', command: '/boom' });
    expect(String(line?.err)).toContain('boom before ack');
    await expectStillServing();
  });

  it('a listener that throws after acking: its answer stands and the error is logged', async () => {
    const mark = logs.lines.length;
    await sendCommand('/late-boom');
    await expect.poll(() => logs.since(mark).find((l) => l.level === 'error')?.msg).toBe('a listener failed after acknowledging');
    await expectStillServing();
  });

  it('a delivery no listener takes is answered 200 at once and logged', async () => {
    const started = Date.now();
    expect(await sendCommand('/nobody')).toMatchObject({ status: 200, text: '' });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(lastLine('no listener acknowledged; answered 200')).toMatchObject({ level: 'warn', type: 'slash_command', command: '/nobody' });
  });

  it('a listener that does not ack within 2.5 s: 200 for it then, and a warning naming the command', async () => {
    const res = await double.slashCommand({ user: DEV, channel: GENERAL, command: '/silent' });
    expect(res.status).toBe(200);
    expect(res.body).toBe('');
    expect(res.ackMs).toBeGreaterThanOrEqual(2400);
    expect(res.ackMs).toBeLessThan(3000);
    expect(lastLine('no listener acknowledged within 2.5 s; answered 200')).toMatchObject({ level: 'warn', command: '/silent' });
  });
});

/** A well-formed slash command, signed by hand (its response_url leads nowhere: these listeners never use it). */
function sendCommand(command: string) {
  return sendSigned(
    new URLSearchParams({ command, text: '', user_id: DEV, channel_id: GENERAL, team_id: 'T0SANDBOX', response_url: 'http://127.0.0.1:9/none', trigger_id: 't' }).toString(),
  );
}

describe('fallback for what no listener handles', () => {
  async function postButtons(): Promise<void> {
    await app.client.chat.postMessage({
      channel: GENERAL,
      text: 'an older message',
      blocks: [
        {
          type: 'actions',
          elements: [
            { type: 'button', action_id: 'env_hibernate', value: 'api-staging', text: { type: 'plain_text', text: 'Hibernate' } },
            { type: 'button', action_id: 'env_legacy', value: 'Not A Name!', text: { type: 'plain_text', text: 'Legacy' } },
            { type: 'button', action_id: Ids.action.destroy, value: 'api-staging', text: { type: 'plain_text', text: 'Destroy' } },
          ],
        },
      ],
    });
  }

  it('an unknown button is acked and the person told, with the environment named by its value', async () => {
    await postButtons();
    const before = double.ephemerals(DEV).length;
    const click = await double.clickButton({ user: DEV, label: 'Hibernate' });
    expect(click).toMatchObject({ status: 200, body: '' });
    const told = await double.waitFor(() => double.ephemerals(DEV)[before], { what: 'the old-button sentence' });
    expect(visibleText(told)).toBe('This button is from an older Dormouse message and does nothing now. `/server status api-staging` shows where the environment is.');
    // The message with the button stays as it was.
    expect(double.lastMessage(GENERAL)?.text).toBe('an older message');
  });

  it('a value that is not a valid name is not echoed', async () => {
    const before = double.ephemerals(DEV).length;
    await double.clickButton({ user: DEV, label: 'Legacy' });
    const told = await double.waitFor(() => double.ephemerals(DEV)[before], { what: 'the old-button sentence' });
    expect(told.text).toContain('`/server status &lt;name&gt;`'); // escaped mrkdwn: Slack shows <name>
    expect(told.text).not.toContain('Not A Name');
  });

  it('a known button goes on to its listener', async () => {
    seen.knownActions.length = 0;
    const before = double.ephemerals(DEV).length;
    await double.clickButton({ user: DEV, label: 'Destroy' });
    expect(seen.knownActions).toEqual([Ids.action.destroy]);
    expect(double.ephemerals(DEV)).toHaveLength(before);
  });

  it('a form with an unknown callback_id is answered by updating the modal with a sentence', async () => {
    await openModal('server_new_v0');
    const res = await double.submitView({ user: DEV });
    expect(res.status).toBe(200);
    const sentence = /^This form is from an older version of Dormouse\. Close it and run the command again\.$/;
    expectNoticeModal((res.json as { view: Record<string, unknown> }).view, sentence);
    // Slack (the double) took the update: the person now sees the sentence.
    expect(visibleText(double.openViews(DEV)[0]!)).toMatch(sentence);
    double.assertNoProblems();
  });

  it('a modal closed (view_closed), a suggestion request and a shortcut are acked by the fallback', async () => {
    await openModal('server_new_v0', { notify_on_close: true });
    const mark = logs.lines.length;
    const closed = await double.closeView(DEV);
    expect(closed).toMatchObject({ status: 200, body: '' });

    const suggestion = await sendSigned(payload({ type: 'block_suggestion', user: { id: DEV }, team: { id: 'T0SANDBOX' }, action_id: 'pick', block_id: 'b', value: 'ap' }));
    expect(suggestion).toMatchObject({ status: 200, json: { options: [] } });

    const shortcut = await sendSigned(payload({ type: 'shortcut', callback_id: 'old_shortcut', user: { id: DEV }, team: { id: 'T0SANDBOX' }, trigger_id: 't' }));
    expect(shortcut).toMatchObject({ status: 200, text: '' });
    // Acked by the fallback, not by the receiver's safety net.
    expect(logs.since(mark).filter((l) => l.level === 'warn')).toEqual([]);
  });

  /** Opens a modal for DEV with a trigger Slack (the double) issued to a slash command. */
  async function openModal(callbackId: string, extra: Record<string, unknown> = {}): Promise<void> {
    const issued = await double.slashCommand({ user: DEV, channel: GENERAL, command: '/probe' });
    const triggerId = new URLSearchParams(issued.rawBody).get('trigger_id')!;
    await app.client.views.open({
      trigger_id: triggerId,
      view: {
        type: 'modal',
        callback_id: callbackId,
        title: { type: 'plain_text', text: 'Old form' },
        submit: { type: 'plain_text', text: 'Send' },
        blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'A form from an older version.' } }],
        ...extra,
      },
    });
  }
});
