/**
 * The Slack double against a real Bolt app over HTTP: signed requests in,
 * Web API calls out, and what a person would see in between.
 */
import { LogLevel, WebClient } from '@slack/web-api';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SlackDouble, visibleText } from '../../../../src/adapters/sandbox/slack-console/slack-double.js';
import { slackSignature } from '../../../../src/adapters/sandbox/slack-console/slack-signature.js';
import { BOT_TOKEN, SIGNING_SECRET, startTinyBoltApp, type TinyApp } from './support/tiny-bolt-app.js';

const FORM = 'application/x-www-form-urlencoded';

let double: SlackDouble;
let app: TinyApp;

beforeAll(async () => {
  double = new SlackDouble({ signingSecret: SIGNING_SECRET, botToken: BOT_TOKEN });
  await double.listen();
  app = await startTinyBoltApp(double);
  // Bolt checks its token with auth.test at start.
  await double.waitFor(() => double.calls.some((c) => c.method === 'auth.test' && c.ok), { what: 'auth.test from Bolt' });
  double.reset();
});

afterAll(async () => {
  await app.stop();
  await double.close();
});

afterEach(async () => {
  await double.settled(); // the app's follow-up calls belong to the test that caused them
  double.reset();
});

const commandBody = (text: string): string =>
  new URLSearchParams({
    token: 'x',
    team_id: 'T0SANDBOX',
    channel_id: 'C0GENERAL',
    channel_name: 'general',
    user_id: 'U0DEV',
    user_name: 'dana',
    command: '/server',
    text,
    api_app_id: 'A0DORMOUSE',
    response_url: `${double.baseUrl}/response/none`,
    trigger_id: '1.2.3',
  }).toString();

const settle = (ms = 150): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('requests Slack sends the app are signed', () => {
  it('refuses a forged signature with 401, and the app does nothing', async () => {
    const before = app.seen.retryNums.length;
    const forged = await double.sendSigned(commandBody('new forged'), FORM, { 'x-slack-signature': `v0=${'0'.repeat(64)}` });
    const otherSecret = await double.sendSigned(commandBody('new forged'), FORM, {
      'x-slack-signature': slackSignature('not-the-secret', Math.floor(Date.now() / 1000), commandBody('new forged')),
    });
    await settle();
    expect(forged.status).toBe(401);
    expect(otherSecret.status).toBe(401);
    expect(app.seen.retryNums.length).toBe(before);
    expect(double.calls).toEqual([]);
    expect(double.openViews('U0DEV')).toEqual([]);
  });

  it('refuses a correctly signed request whose timestamp is more than five minutes old', async () => {
    const sixMinutesAgo = String(Math.floor(Date.now() / 1000) - 6 * 60);
    const stale = await double.sendSigned(commandBody('help'), FORM, { 'x-slack-request-timestamp': sixMinutesAgo });
    const fresh = await double.sendSigned(commandBody('help'), FORM);
    expect(stale.status).toBe(401);
    expect(fresh.status).toBe(200);
    expect(fresh.body).toContain('Usage');
  });

  it('redelivers with x-slack-retry-num, which the app sees as context.retryNum', async () => {
    const first = await double.slashCommand({ user: 'dana', channel: '#general', command: '/server', text: 'help' });
    const retry = await double.redeliver(first, 1);
    expect(retry.status).toBe(200);
    expect(app.seen.retryNums.slice(-2)).toEqual([undefined, 1]);
  });
});

describe('a slash command, its modal and the message it leads to', () => {
  it('opens the modal, submits it with the right state shape, and shows the message with its thread', async () => {
    const r = await double.slashCommand({ user: 'dana', channel: '#general', command: '/server', text: 'new demo' });
    expect(r.status).toBe(200);
    expect(r.ackMs).toBeLessThan(3000);
    const [modal] = await double.waitFor(() => (double.openViews('dana').length ? double.openViews('dana') : undefined), { what: 'the modal' });
    expect(modal?.callback_id).toBe('new-env');
    expect(modal?.title).toMatchObject({ text: 'New environment' });

    const submitted = await double.submitView({ user: 'dana', values: { Template: 'Small API', Servers: 2, Purpose: 'try it' } });
    expect(submitted.status).toBe(200);
    expect(submitted.body).toBe('');
    expect(double.openViews('dana')).toEqual([]);

    const seen = app.seen.submissions.at(-1);
    expect(seen?.values).toEqual({
      template: { pick: { type: 'static_select', selected_option: { text: { type: 'plain_text', text: 'Small API' }, value: 'small' } } },
      count: { n: { type: 'number_input', value: '2' } },
      purpose: { text: { type: 'plain_text_input', value: 'try it' } },
    });

    const message = await double.waitFor(() => double.lastMessage('general')?.replies.length === 2 && double.lastMessage('general'), { what: 'the message and its thread' });
    expect(visibleText(message)).toContain('*demo* is _provisioning_ for <@U0DEV>');
    expect(message.user).toBe('U0BOT');
    expect(message.replies.map((m) => m.text)).toEqual(['Launching 2 instances', 'Instances running :white_check_mark:']);
    double.assertNoProblems();
  });

  it('keeps the modal open with the errors the app returns, then closes it once the value is fixed', async () => {
    await double.slashCommand({ user: 'dana', channel: 'C0GENERAL', command: '/server', text: 'new big' });
    await double.waitFor(() => double.openViews('dana').length === 1, { what: 'the modal' });

    const refused = await double.submitView({ user: 'dana', values: { Template: 'large', Servers: '9', Purpose: 'load test' } });
    expect(refused.json).toEqual({ response_action: 'errors', errors: { count: 'At most 5 servers' } });
    expect(double.openViews('dana')[0]?.errors).toEqual({ count: 'At most 5 servers' });

    // Only the wrong value is given again: what was entered before stays, as in Slack.
    await double.submitView({ user: 'dana', values: { Servers: '3' } });
    expect(double.openViews('dana')).toEqual([]);
    expect(app.seen.submissions.at(-1)?.values.purpose).toEqual({ text: { type: 'plain_text_input', value: 'load test' } });
    double.assertNoProblems();
  });

  it('stops a submission with an empty required input before it is sent, as Slack\'s client does', async () => {
    await double.slashCommand({ user: 'dana', channel: 'C0GENERAL', command: '/server', text: 'new half' });
    await double.waitFor(() => double.openViews('dana').length === 1, { what: 'the modal' });
    const sentBefore = double.interactions.length;
    const r = await double.submitView({ user: 'dana', values: { Template: 'Small API' } });
    expect(r.status).toBe(0);
    expect(r.clientErrors).toEqual({ purpose: 'Please complete this required field.' });
    expect(double.interactions.length).toBe(sentBefore);
    expect(double.openViews('dana')[0]?.errors).toEqual({ purpose: 'Please complete this required field.' });
  });

  it('sends block_actions for a dispatch_action select; the view.update keeps what was typed', async () => {
    await double.slashCommand({ user: 'dana', channel: 'C0GENERAL', command: '/server', text: 'new pick' });
    const [opened] = await double.waitFor(() => (double.openViews('dana').length ? double.openViews('dana') : undefined));
    await double.submitView({ user: 'dana', values: { Purpose: 'kept' } }); // refused by the client (no template), but the text is kept
    const r = await double.selectOption({ user: 'dana', label: 'Template', option: 'Large API' });
    expect(r?.status).toBe(200);
    const updated = await double.waitFor(() => {
      const v = double.openViews('dana')[0];
      return v && v.hash !== opened?.hash ? v : undefined;
    }, { what: 'views.update' });
    expect(updated.id).toBe(opened?.id);
    expect(JSON.stringify(updated.blocks)).toContain('m5.large');
    expect(updated.state.values.purpose?.text).toEqual({ type: 'plain_text_input', value: 'kept' });
    double.assertNoProblems();
  });

  it('says in words what to do when a select is sent without a pick, not which element type it is', async () => {
    await double.slashCommand({ user: 'dana', channel: 'C0GENERAL', command: '/server', text: 'new unpicked' });
    const [view] = await double.waitFor(() => (double.openViews('dana').length ? double.openViews('dana') : undefined));
    const sentBefore = double.interactions.length;
    const unpicked = double.sendBlockAction({ user: 'dana', location: { type: 'view', viewId: view!.id }, blockId: 'template', actionId: 'pick' });
    // The select's own prompt, as a person reads it (the console shows this sentence as its toast).
    await expect(unpicked).rejects.toThrow(/^Pick a template$/);
    expect(double.interactions.length).toBe(sentBefore);
  });

  it('closes the modals a person had open when their client loads again, with no view_closed, as Slack does', async () => {
    await double.slashCommand({ user: 'dana', channel: 'C0GENERAL', command: '/server', text: 'new left' });
    await double.waitFor(() => double.openViews('dana').length === 1, { what: 'the modal' });
    await double.slashCommand({ user: 'lee', channel: 'C0GENERAL', command: '/server', text: 'new stays' });
    await double.waitFor(() => double.openViews('lee').length === 1, { what: "lee's modal" });
    const closedBefore = app.seen.closed.length;
    double.clientLoaded('dana');
    expect(double.openViews('dana')).toEqual([]);
    expect(double.openViews('lee')).toHaveLength(1); // someone else's screen is theirs
    await settle();
    expect(app.seen.closed.length).toBe(closedBefore);
  });

  it('refuses a views.update with a stale hash (hash_conflict) without calling it a bug', async () => {
    await double.slashCommand({ user: 'dana', channel: 'C0GENERAL', command: '/server', text: 'new racy' });
    const [view] = await double.waitFor(() => (double.openViews('dana').length ? double.openViews('dana') : undefined));
    const update = async (hash: string): Promise<unknown> =>
      (await fetch(`${double.apiUrl}views.update`, {
        method: 'POST',
        headers: { authorization: `Bearer ${BOT_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ view_id: view?.id, hash, view: { type: 'modal', title: { type: 'plain_text', text: 'Updated' }, blocks: [] } }),
      })).json();
    expect(await update('1.stale')).toEqual({ ok: false, error: 'hash_conflict' });
    expect(await update(view?.hash ?? '')).toMatchObject({ ok: true, view: { id: view?.id, title: { text: 'Updated' } } });
    expect(double.openViews('dana')[0]?.hash).not.toBe(view?.hash);
    double.assertNoProblems();
  });

  it('sends view_closed when a modal that asked for it is closed', async () => {
    await double.slashCommand({ user: 'lee', channel: 'C0OPS', command: '/server', text: 'new x' });
    await double.waitFor(() => double.openViews('lee').length === 1);
    const r = await double.closeView('lee');
    expect(r?.status).toBe(200);
    expect(double.openViews('lee')).toEqual([]);
    expect(app.seen.closed.at(-1)).toBe('new-env');
  });
});

describe('buttons, found by their label', () => {
  async function postEnvironment(name: string): Promise<void> {
    await double.slashCommand({ user: 'dana', channel: '#general', command: '/server', text: `new ${name}` });
    await double.waitFor(() => double.openViews('dana').length === 1);
    await double.submitView({ user: 'dana', values: { Template: 'Small API', Servers: '2', Purpose: 'x' } });
    await double.waitFor(() => double.lastMessage('general')?.replies.length === 2);
  }

  it('clicks the newest visible button: the app updates the message in place', async () => {
    await postEnvironment('demo');
    const ts = double.lastMessage('general')?.ts;
    const r = await double.clickButton({ user: 'dana', label: 'Destroy' });
    expect(r.status).toBe(200);
    expect(r.ackMs).toBeLessThan(3000);
    const updated = await double.waitFor(() => (double.lastMessage('general')?.edited === 1 ? double.lastMessage('general') : undefined), { what: 'chat.update' });
    expect(updated.ts).toBe(ts);
    expect(double.channelMessages('general')).toHaveLength(1);
    expect(visibleText(updated)).toContain('_destroyed_');
    expect(visibleText(updated)).not.toContain('Destroy');
    expect(app.seen.actions.at(-1)).toMatchObject({
      actionId: 'destroy',
      blockId: 'env-actions',
      value: 'demo',
      type: 'button',
      container: { type: 'message', message_ts: ts, channel_id: 'C0GENERAL', is_ephemeral: false },
      hasResponseUrl: true,
    });
    double.assertNoProblems();
  });

  it('answers through respond(): an ephemeral only the clicker sees', async () => {
    await postEnvironment('demo');
    await double.clickButton({ user: 'dana', label: 'details', channel: '#general' });
    const [eph] = await double.waitFor(() => (double.ephemerals('dana').length ? double.ephemerals('dana') : undefined), { what: 'the ephemeral' });
    expect(eph).toMatchObject({ channel: 'C0GENERAL', source: 'response_url', text: 'Details of *demo*: 2 servers, ready' });
    expect(double.ephemerals('lee')).toEqual([]);
    expect(double.calls.filter((c) => c.method === 'response_url')).toMatchObject([{ ok: true }]);
    double.assertNoProblems();
  });

  it('drops a person\'s ephemerals when their client loads again (Slack does not keep them), and no one else\'s', async () => {
    await double.slashCommand({ user: 'dana', channel: '#general', command: '/server', text: 'help' });
    await double.slashCommand({ user: 'lee', channel: '#general', command: '/server', text: 'help' });
    await double.waitFor(() => double.ephemerals('dana').length === 1 && double.ephemerals('lee').length === 1, { what: 'both ephemerals' });
    double.clientLoaded('dana');
    expect(double.ephemerals('dana')).toEqual([]);
    expect(double.ephemerals('lee')).toHaveLength(1);
  });

  it('says which buttons are visible when the label is not', async () => {
    await postEnvironment('demo');
    await expect(double.clickButton({ user: 'dana', label: 'Launch' })).rejects.toThrow(/no button labelled "Launch".*"Destroy", "Details"/);
  });

  it('shows an ack body as an ephemeral, and an in_channel one in the channel', async () => {
    await double.slashCommand({ user: 'omar', channel: '#ops', command: '/server', text: 'help' });
    expect(double.ephemerals('omar')).toMatchObject([{ channel: 'C0OPS', source: 'ack', text: 'Usage: `/server new NAME`, `/server help`' }]);
    await double.slashCommand({ user: 'omar', channel: '#ops', command: '/server', text: 'shout' });
    expect(double.lastMessage('ops')?.text).toBe('Hello <#C0OPS>, <@U0OPS> says hi');
  });

  it('publishes the App Home when it is opened, and its buttons work', async () => {
    await double.openHome('dana');
    const home = await double.waitFor(() => double.home('dana'), { what: 'views.publish' });
    expect(visibleText(home)).toContain('Your environments');
    await double.clickButton({ user: 'dana', label: 'New environment' });
    await double.waitFor(() => double.openViews('dana').length === 1, { what: 'the modal opened from App Home' });
    double.assertNoProblems();
  });
});

describe('bad calls from the bot become problems, answered as Slack would', () => {
  it('refuses a 76-character button label with invalid_blocks', async () => {
    await double.slashCommand({ user: 'dana', channel: '#general', command: '/server', text: 'bad-button' });
    await double.waitFor(() => double.problems.length > 0, { what: 'a problem' });
    expect(double.problems[0]).toMatch(/chat\.postMessage: invalid_blocks: button text is 76 characters, Slack allows at most 75 \[\/blocks\/0\/elements\/0\/text\/text\]/);
    expect(double.calls.find((c) => c.method === 'chat.postMessage')).toMatchObject({ ok: false, error: 'invalid_blocks' });
    await double.waitFor(() => app.seen.apiErrors.includes('invalid_blocks'), { what: 'the app to see the error' });
    expect(double.channelMessages('general')).toEqual([]);
    expect(() => double.assertNoProblems()).toThrow(/1 problem/);
  });

  it('refuses an unknown method with unknown_method', async () => {
    await double.slashCommand({ user: 'dana', channel: '#general', command: '/server', text: 'unknown-method' });
    await double.waitFor(() => double.problems.length > 0);
    expect(double.problems).toEqual(['chat.fly: the double does not know this Web API method']);
    expect(double.calls.at(-1)).toMatchObject({ method: 'chat.fly', ok: false, error: 'unknown_method' });
    await double.waitFor(() => app.seen.apiErrors.includes('unknown_method'));
  });

  it('refuses a token that is not the bot\'s with invalid_auth', async () => {
    const res = await fetch(`${double.apiUrl}auth.test`, { method: 'POST', headers: { authorization: 'Bearer xoxb-wrong' } });
    expect(await res.json()).toEqual({ ok: false, error: 'invalid_auth' });
    expect(double.problems).toHaveLength(1);
  });

  it('answers channel_not_found, and a trigger_id Slack never issued is invalid', async () => {
    const call = async (method: string, body: Record<string, unknown>): Promise<unknown> =>
      (await fetch(`${double.apiUrl}${method}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${BOT_TOKEN}`, 'content-type': 'application/json; charset=utf-8' },
        body: JSON.stringify(body),
      })).json();
    expect(await call('chat.postMessage', { channel: 'C0NOPE', text: 'hi' })).toEqual({ ok: false, error: 'channel_not_found' });
    expect(await call('views.open', { trigger_id: '1.2.3', view: { type: 'modal', title: { type: 'plain_text', text: 'x' }, blocks: [] } })).toEqual({
      ok: false,
      error: 'invalid_trigger_id',
    });
    expect(await call('chat.postMessage', { channel: 'C0GENERAL' })).toEqual({ ok: false, error: 'no_text' });
    expect(double.problems).toHaveLength(3);
  });

  it('records a listener that never acks: Bolt answers 404 after 3 s and Slack tells the person', async () => {
    const r = await double.slashCommand({ user: 'dana', channel: '#general', command: '/server', text: 'silent' });
    expect(r.status).toBe(404);
    expect(r.ackMs).toBeGreaterThanOrEqual(3000);
    expect(double.problems.join('\n')).toMatch(/answered HTTP 404/);
    expect(double.ephemerals('dana').at(-1)).toMatchObject({ fromSlack: true, text: '/server failed with the error "dispatch_failed"' });
  }, 10_000);
});

describe('faults a test injects: Slack answering 429 and 5xx', () => {
  const post = (method: string, body: Record<string, unknown>): Promise<Response> =>
    fetch(`${double.apiUrl}${method}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${BOT_TOKEN}`, 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify(body),
    });

  /** A response URL the double really issued (the one in a slash command Slack sent the app). */
  const issuedResponseUrl = async (): Promise<string> => {
    const r = await double.slashCommand({ user: 'dana', channel: '#general', command: '/server', text: 'help' });
    const url = new URLSearchParams(r.rawBody).get('response_url');
    if (!url) throw new Error('the slash command carried no response_url');
    return url;
  };

  const quietClient = (): WebClient =>
    new WebClient(BOT_TOKEN, { slackApiUrl: double.apiUrl, retryConfig: { retries: 3, factor: 1, minTimeout: 10, maxTimeout: 20 }, logLevel: LogLevel.ERROR });

  it('answers chat.postMessage 429 with Retry-After and posts nothing; the next call posts', async () => {
    double.failNext({ method: 'chat.postMessage', status: 429 });

    const limited = await post('chat.postMessage', { channel: 'C0GENERAL', text: 'first try' });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    expect(await limited.json()).toEqual({ ok: false, error: 'ratelimited' });
    expect(double.channelMessages('general')).toEqual([]);

    const next = await post('chat.postMessage', { channel: 'C0GENERAL', text: 'second try' });
    expect(next.status).toBe(200);
    expect(await next.json()).toMatchObject({ ok: true, channel: 'C0GENERAL' });
    expect(double.channelMessages('general').map((m) => m.text)).toEqual(['second try']);

    expect(double.calls.map((c) => [c.method, c.ok, c.error, c.status, c.injected])).toEqual([
      ['chat.postMessage', false, 'ratelimited', 429, true],
      ['chat.postMessage', true, undefined, undefined, undefined],
    ]);
    expect(double.calls[0]?.args).toMatchObject({ channel: 'C0GENERAL', text: 'first try' });
    // Slack's bad moment, not a bug in the bot.
    expect(double.problems).toEqual([]);
  });

  it('fails only the method named, as many times as asked, in the order armed', async () => {
    double.failNext({ method: 'chat.update', status: 500, times: 2 });
    double.failNext({ method: 'chat.update', status: 429, retryAfterSeconds: 7 });
    const posted = (await (await post('chat.postMessage', { channel: 'C0GENERAL', text: 'v1' })).json()) as { ts: string };

    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1) statuses.push((await post('chat.update', { channel: 'C0GENERAL', ts: posted.ts, text: `v${i + 2}` })).status);
    expect(statuses).toEqual([500, 500, 429, 200]);
    expect(double.message('general', posted.ts)).toMatchObject({ text: 'v5', edited: 1 });
    expect(double.pendingFaults()).toEqual([]);
    expect(double.problems).toEqual([]);
  });

  it('answers 503 in plain text, and clearFaults disarms what has not fired', async () => {
    double.failNext({ method: 'chat.postMessage', status: 503 });
    const unavailable = await post('chat.postMessage', { channel: 'C0GENERAL', text: 'x' });
    expect(unavailable.status).toBe(503);
    expect(unavailable.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await unavailable.text()).toBe('Service Unavailable');

    double.failNext({ method: 'chat.postMessage', status: 500, times: 3 });
    expect(double.pendingFaults()).toEqual([{ method: 'chat.postMessage', status: 500, times: 3, retryAfterSeconds: 1 }]);
    double.clearFaults();
    expect((await post('chat.postMessage', { channel: 'C0GENERAL', text: 'y' })).status).toBe(200);
    expect(double.channelMessages('general').map((m) => m.text)).toEqual(['y']);
  });

  it('refuses to arm a fault on a method it does not know, so a typo does not pass silently', () => {
    expect(() => double.failNext({ method: 'chat.postMesage', status: 429 })).toThrow(/does not know/);
    expect(() => double.failNext({ method: 'chat.postMessage', status: 500, times: 0 })).toThrow(/times/);
  });

  it('does not arm faults against calls Slack refuses anyway: a bad token is still a problem', async () => {
    double.failNext({ method: 'auth.test', status: 500 });
    const res = await fetch(`${double.apiUrl}auth.test`, { method: 'POST', headers: { authorization: 'Bearer xoxb-wrong' } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: false, error: 'invalid_auth' });
    expect(double.problems).toHaveLength(1);
    expect(double.pendingFaults()).toHaveLength(1);
    double.clearProblems();
  });

  it('answers a response URL 500 and applies nothing; the next post to it is applied', async () => {
    const responseUrl = await issuedResponseUrl();
    await double.settled();
    double.failNext({ method: 'response_url', status: 500 });

    const failed = await fetch(responseUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ response_type: 'in_channel', text: 'from the bot' }) });
    expect(failed.status).toBe(500);
    expect(await failed.json()).toEqual({ ok: false, error: 'internal_error' });
    expect(double.channelMessages('general')).toEqual([]);

    const ok = await fetch(responseUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ response_type: 'in_channel', text: 'from the bot' }) });
    expect(ok.status).toBe(200);
    expect(double.channelMessages('general').map((m) => m.text)).toEqual(['from the bot']);
    expect(double.calls.filter((c) => c.method === 'response_url').map((c) => [c.ok, c.status])).toEqual([
      [false, 500],
      [true, undefined],
    ]);
    expect(double.problems).toEqual([]);
  });

  it('does not use up a response URL on a failed post (Slack allows five uses)', async () => {
    const responseUrl = await issuedResponseUrl();
    await double.settled();
    double.failNext({ method: 'response_url', status: 429, times: 3 });
    const statuses: number[] = [];
    for (let i = 0; i < 8; i += 1) {
      const res = await fetch(responseUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: `note ${i}` }) });
      statuses.push(res.status);
    }
    expect(statuses).toEqual([429, 429, 429, 200, 200, 200, 200, 200]);
    expect(double.ephemerals('dana').filter((e) => e.source === 'response_url')).toHaveLength(5);
    expect(double.problems).toEqual([]);
  });

  it('the real WebClient retries a 500 and the message is posted exactly once', async () => {
    double.failNext({ method: 'chat.postMessage', status: 500 });
    const res = await quietClient().chat.postMessage({ channel: 'C0GENERAL', text: 'after a 500' });
    expect(res.ok).toBe(true);
    expect(double.channelMessages('general').map((m) => m.text)).toEqual(['after a 500']);
    expect(double.calls.filter((c) => c.method === 'chat.postMessage').map((c) => c.status ?? 200)).toEqual([500, 200]);
    expect(double.problems).toEqual([]);
  });

  it('the real WebClient waits out a 429 Retry-After, retries, and the message is posted once', async () => {
    double.failNext({ method: 'chat.postMessage', status: 429, retryAfterSeconds: 1 });
    const started = Date.now();
    const res = await quietClient().chat.postMessage({ channel: 'C0GENERAL', text: 'after a 429' });
    expect(res.ok).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(double.channelMessages('general').map((m) => m.text)).toEqual(['after a 429']);
    const attempts = double.calls.filter((c) => c.method === 'chat.postMessage');
    expect(attempts.map((c) => c.status ?? 200)).toEqual([429, 200]);
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(950);
    expect(double.problems).toEqual([]);
  });
});
