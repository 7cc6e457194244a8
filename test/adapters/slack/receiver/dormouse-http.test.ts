/**
 * The whole bot as production starts it (src/main.ts, the Bolt app from
 * bolt-app.ts, on the local cloud) receiving what Slack never sends: bodies
 * of every malformed shape, stale or forged signatures, a huge body, buttons
 * and forms from older versions. Each is answered; afterwards the same
 * process still answers /healthz and `/server help`.
 */
import { WebClient } from '@slack/web-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { visibleText } from '../../../../src/adapters/sandbox/slack-console/slack-double.js';
import { BOT_TOKEN, SIGNING_SECRET, startBot, type RunningBot } from '../../../support/bot.js';
import { FORM, get, JSON_TYPE, payload, post } from './support/http.js';
import { COULD_NOT_READ, expectMalformedAnswer, expectNoticeModal, MALFORMED } from './support/malformed-cases.js';

const DEV = 'U0DEV';
const GENERAL = 'C0GENERAL';
const MINUTE = 60;

let run: RunningBot;
let slack: WebClient;
/** What ends a production process (Node exits on either); the test runner survives them, so they are kept here. */
const fatal: unknown[] = [];
const onFatal = (err: unknown): void => void fatal.push(err);

beforeAll(async () => {
  process.on('unhandledRejection', onFatal).on('uncaughtException', onFatal);
  run = await startBot({ cloud: 'sandbox' });
  // The bot's own token against the double: what an older Dormouse would have posted.
  slack = new WebClient(BOT_TOKEN, { slackApiUrl: run.double.apiUrl });
});

afterAll(async () => {
  process.off('unhandledRejection', onFatal).off('uncaughtException', onFatal);
  // Fails the suite if the bot made any call Slack would refuse (an invalid modal, say).
  await run?.stop();
});

const events = () => run.bot.eventsUrl;
const healthz = () => get(events().replace('/slack/events', '/healthz'));
const challenge = JSON.stringify({ type: 'url_verification', challenge: 'dormouse-challenge', token: 'x' });
const signedAt = (skewSeconds: number) =>
  run.double.sendSigned(challenge, JSON_TYPE, { 'x-slack-request-timestamp': String(Math.floor(Date.now() / 1000) + skewSeconds) });

/** `/server <text>` from DEV; resolves with the ephemeral answer's text. */
async function server(text: string): Promise<string> {
  const before = run.double.ephemerals(DEV).length;
  const res = await run.double.slashCommand({ user: DEV, channel: GENERAL, command: '/server', text });
  expect(res.status).toBe(200);
  const reply = await run.double.waitFor(() => run.double.ephemerals(DEV)[before], { what: `an answer to /server ${text}` });
  return visibleText(reply);
}

describe('Dormouse over HTTP: what Slack never sends', () => {
  it('url_verification is answered with its challenge', async () => {
    const res = await post(events(), challenge, { secret: SIGNING_SECRET, contentType: JSON_TYPE });
    expect(res).toMatchObject({ status: 200, json: { challenge: 'dormouse-challenge' } });
  });

  it.each(MALFORMED.map((c) => [c.name, c] as const))('%s is answered', async (_name, c) => {
    expectMalformedAnswer(await post(events(), c.body, { secret: SIGNING_SECRET, contentType: c.contentType }), c);
  });

  it('a block action without user, with a response_url: the person gets the sentence there', async () => {
    const issued = await run.double.slashCommand({ user: DEV, channel: GENERAL, command: '/server', text: 'help' });
    const responseUrl = new URLSearchParams(issued.rawBody).get('response_url');
    await run.double.waitFor(() => run.double.ephemerals(DEV).length > 0 || undefined, { what: 'the help answer' });
    const before = run.double.ephemerals(DEV).length;
    const res = await post(events(), payload({ type: 'block_actions', response_url: responseUrl, actions: [{ action_id: 'env_destroy' }] }), { secret: SIGNING_SECRET });
    expect(res).toMatchObject({ status: 200, text: '' });
    const told = await run.double.waitFor(() => run.double.ephemerals(DEV)[before], { what: 'the sentence' });
    expect(told.text).toMatch(COULD_NOT_READ);
  });

  it.each([
    ['6 minutes old', -6 * MINUTE, 401],
    ['6 minutes in the future', 6 * MINUTE, 401],
    ['4 minutes old', -4 * MINUTE, 200],
    ['4 minutes in the future', 4 * MINUTE, 200],
  ])('a signature dated %s: %i', async (_when, skewSeconds, status) => {
    expect((await signedAt(skewSeconds)).status).toBe(status);
  });

  it('a wrong signature, or none, gets 401', async () => {
    expect((await run.double.sendSigned(challenge, JSON_TYPE, { 'x-slack-signature': `v0=${'0'.repeat(64)}` })).status).toBe(401);
    expect((await post(events(), challenge, { contentType: JSON_TYPE, sign: false })).status).toBe(401);
  });

  it('a 2 MiB body gets 413', async () => {
    expect((await run.double.sendSigned(`payload=${'x'.repeat(2 * 1024 * 1024)}`, FORM)).status).toBe(413);
  });

  it('after all of that the process still serves: /healthz, and /server help', async () => {
    expect(fatal).toEqual([]);
    expect(await healthz()).toMatchObject({ status: 200, json: { status: 'ok' } });
    expect(await server('help')).toContain('/server new <name>');
  });
});

describe('Dormouse over HTTP: buttons and forms from older versions', () => {
  it('an unknown button: acked, and the person told through response_url which environment to look at', async () => {
    await slack.chat.postMessage({
      channel: GENERAL,
      text: 'api-staging is ready',
      blocks: [{ type: 'actions', elements: [{ type: 'button', action_id: 'env_hibernate', value: 'api-staging', text: { type: 'plain_text', text: 'Hibernate' } }] }],
    });
    const before = run.double.ephemerals(DEV).length;
    const click = await run.double.clickButton({ user: DEV, label: 'Hibernate' });
    expect(click).toMatchObject({ status: 200, body: '' });
    expect(click.ackMs).toBeLessThan(3000);
    const told = await run.double.waitFor(() => run.double.ephemerals(DEV)[before], { what: 'the old-button sentence' });
    expect(told.source).toBe('response_url');
    expect(visibleText(told)).toBe('This button is from an older Dormouse message and does nothing now. `/server status api-staging` shows where the environment is.');
  });

  it('a form with an unknown callback_id: the modal is updated with a sentence', async () => {
    const issued = await run.double.slashCommand({ user: DEV, channel: GENERAL, command: '/server', text: 'help' });
    await slack.views.open({
      trigger_id: new URLSearchParams(issued.rawBody).get('trigger_id')!,
      view: {
        type: 'modal',
        callback_id: 'server_new_v0',
        title: { type: 'plain_text', text: 'New environment' },
        submit: { type: 'plain_text', text: 'Create' },
        blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'The form of an older version.' } }],
      },
    });
    const res = await run.double.submitView({ user: DEV });
    expect(res.status).toBe(200);
    const sentence = /^This form is from an older version of Dormouse\. Close it and run the command again\.$/;
    expectNoticeModal((res.json as { view: Record<string, unknown> }).view, sentence);
    const [shown] = run.double.openViews(DEV);
    expect(visibleText(shown!)).toMatch(sentence);
    expect(shown!.callback_id).toBe('server_new_notice'); // a notice: nothing to submit
  });
});
