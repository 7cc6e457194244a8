/** The console server: the page, the double mounted on the same port, and the page's JSON + SSE API. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SandboxClock } from '../../../../src/adapters/sandbox/sandbox-clock.js';
import { SlackDouble } from '../../../../src/adapters/sandbox/slack-console/slack-double.js';
import { startConsole, type ConsoleHandle } from '../../../../src/adapters/sandbox/slack-console/console-server.js';
import type { ConsoleViewState } from '../../../../src/adapters/sandbox/slack-console/console-view.js';
import { BOT_TOKEN, SIGNING_SECRET, startTinyBoltApp, type TinyApp } from './support/tiny-bolt-app.js';

let double: SlackDouble;
let consoleServer: ConsoleHandle;
let app: TinyApp;
let healthy = true;

beforeAll(async () => {
  double = new SlackDouble({ signingSecret: SIGNING_SECRET, botToken: BOT_TOKEN });
  consoleServer = await startConsole({ double, port: 0, health: () => ({ ok: healthy }) });
  app = await startTinyBoltApp(double);
  await double.waitFor(() => double.calls.some((c) => c.method === 'auth.test'));
  double.reset();
});

afterAll(async () => {
  await app.stop();
  await consoleServer.close();
});

afterEach(async () => {
  await double.settled();
  double.reset();
});

const get = (path: string): Promise<Response> => fetch(`${consoleServer.url}${path}`);
const post = async (path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
  const res = await fetch(`${consoleServer.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
};
const state = async (query: string): Promise<ConsoleViewState> => (await (await get(`/console/state?${query}`)).json()) as ConsoleViewState;

describe('serving', () => {
  it('binds to loopback by default and mounts the double there', () => {
    expect(consoleServer.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(double.apiUrl).toBe(`${consoleServer.url}/api/`);
  });

  it('serves the page and its assets with a strict content security policy', async () => {
    const page = await get('/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await page.text();
    expect(html).toContain('<script src="/assets/console.js" defer></script>');
    expect(html).toContain('data-testid="composer"');
    const js = await get('/assets/console.js');
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    expect(await js.text()).toContain("new EventSource('/console/events')");
    expect((await get('/assets/console.css')).status).toBe(200);
  });

  it('answers the Web API on the same port', async () => {
    const res = await fetch(`${consoleServer.url}/api/auth.test`, { method: 'POST', headers: { authorization: `Bearer ${BOT_TOKEN}` } });
    expect(await res.json()).toMatchObject({ ok: true, user_id: 'U0BOT' });
  });

  it('answers /healthz from the health function', async () => {
    expect((await get('/healthz')).status).toBe(200);
    healthy = false;
    expect((await get('/healthz')).status).toBe(503);
    healthy = true;
  });

  it('says 404 for anything else', async () => {
    expect((await get('/nope')).status).toBe(404);
  });
});

describe('the page API', () => {
  it('describes what a person sees: who they are, the sidebar, an empty channel', async () => {
    const s = await state('user=U0LEAD&channel=C0OPS');
    expect(s.me).toEqual({ id: 'U0LEAD', name: 'lee', role: 'team lead' });
    expect(s.users.map((u) => u.role)).toEqual(['developer', 'team lead', 'ops']);
    expect(s.sidebar.map((i) => i.label)).toEqual(['# general', '# ops', 'Dormouse']);
    expect(s.channel).toMatchObject({ id: 'C0OPS', label: '#ops', kind: 'channel' });
    expect(s.timeline).toContain('data-testid="empty"');
    expect(s.modal).toBeNull();
  });

  it('runs a slash command, shows the modal, submits it and shows the message', async () => {
    const sent = await post('/console/command', { user: 'U0DEV', channel: 'C0GENERAL', text: '/server new demo' });
    expect(sent.json).toMatchObject({ ok: true, status: 200 });
    await double.waitFor(() => double.openViews('dana').length === 1);
    const withModal = await state('user=U0DEV&channel=C0GENERAL');
    expect(withModal.modal?.html).toContain('New environment');
    expect(withModal.modal?.html).toContain('<label class="bk-label" for="ctl-purpose">Purpose</label>');
    // Someone else does not see dana's modal.
    expect((await state('user=U0LEAD')).modal).toBeNull();

    const viewId = withModal.modal?.id;
    const refused = await post('/console/submit', { user: 'U0DEV', viewId, values: { template: { pick: 'small' }, count: { n: '9' }, purpose: { text: 'x' } } });
    expect(refused.json).toMatchObject({ ok: true, status: 200 });
    expect((await state('user=U0DEV')).modal?.html).toContain('At most 5 servers');

    await post('/console/submit', { user: 'U0DEV', viewId, values: { count: { n: '2' } } });
    await double.waitFor(() => double.lastMessage('general')?.replies.length === 2);
    const after = await state('user=U0DEV&channel=C0GENERAL');
    expect(after.modal).toBeNull();
    expect(after.timeline).toContain('data-testid="message"');
    expect(after.timeline).toContain('<span class="mention" data-user="U0DEV">@dana</span>');
    expect(after.timeline).toContain('2 replies');

    const ts = double.lastMessage('general')?.ts ?? '';
    const thread = await state(`user=U0DEV&channel=C0GENERAL&thread=${ts}`);
    expect(thread.thread?.html).toContain('Launching 2 instances');
    double.assertNoProblems();
  });

  it('clicks a button by its location and ids', async () => {
    await post('/console/command', { user: 'U0DEV', channel: 'C0GENERAL', text: '/server new demo' });
    await double.waitFor(() => double.openViews('dana').length === 1);
    await double.submitView({ user: 'dana', values: { Template: 'small', Purpose: 'x' } });
    const msg = await double.waitFor(() => double.lastMessage('general'));
    const clicked = await post('/console/action', {
      user: 'U0DEV',
      location: { type: 'message', channel: 'C0GENERAL', ts: msg.ts },
      blockId: 'env-actions',
      actionId: 'details',
    });
    expect(clicked.json).toMatchObject({ ok: true, status: 200 });
    await double.waitFor(() => double.ephemerals('dana').length === 1);
    const s = await state('user=U0DEV&channel=C0GENERAL');
    expect(s.timeline).toContain('Only visible to you');
    expect((await state('user=U0OPS&channel=C0GENERAL')).timeline).not.toContain('Only visible to you');
  });

  it('opens the App Home (app_home_opened) and shows what the bot published', async () => {
    await post('/console/home', { user: 'U0DEV' });
    await double.waitFor(() => double.home('dana'));
    const s = await state('user=U0DEV&channel=app&tab=home');
    expect(s.channel).toMatchObject({ kind: 'app', tab: 'home', label: 'Dormouse' });
    expect(s.home?.html).toContain('Your environments');
  });

  it('posts a plain message as the person, and lists problems', async () => {
    await post('/console/command', { user: 'U0OPS', channel: 'C0OPS', text: 'hello *team*' });
    expect(double.lastMessage('ops')).toMatchObject({ user: 'U0OPS', text: 'hello *team*' });
    await post('/console/command', { user: 'U0OPS', channel: 'C0OPS', text: '/server bad-button' });
    await double.waitFor(() => double.problems.length > 0);
    expect((await state('user=U0OPS')).problems[0]).toMatch(/button text is 76 characters/);
    await post('/console/problems/clear', {});
    expect(double.problems).toEqual([]);
  });

  it('drops the modal and ephemerals of an earlier visit when the page loads (Slack closes them), for that person only', async () => {
    await post('/console/command', { user: 'U0DEV', channel: 'C0GENERAL', text: '/server new left-open' });
    await post('/console/command', { user: 'U0DEV', channel: 'C0GENERAL', text: '/server help' });
    await post('/console/command', { user: 'U0LEAD', channel: 'C0GENERAL', text: '/server help' });
    await double.waitFor(() => double.openViews('dana').length === 1 && double.ephemerals('lee').length === 1);
    const before = await state('user=U0DEV&channel=C0GENERAL');
    expect(before.modal).not.toBeNull();
    expect(before.timeline).toContain('Only visible to you');

    expect((await post('/console/loaded', { user: 'U0DEV' })).json).toEqual({ ok: true });
    const after = await state('user=U0DEV&channel=C0GENERAL');
    expect(after.modal).toBeNull();
    expect(after.timeline).not.toContain('Only visible to you');
    expect((await state('user=U0LEAD&channel=C0GENERAL')).timeline).toContain('Only visible to you');
  });

  it('answers a select sent with nothing picked in words a person understands', async () => {
    await post('/console/command', { user: 'U0DEV', channel: 'C0GENERAL', text: '/server new unpicked' });
    await double.waitFor(() => double.openViews('dana').length === 1);
    const viewId = double.openViews('dana')[0]?.id;
    const unpicked = await post('/console/action', { user: 'U0DEV', location: { type: 'view', viewId }, blockId: 'template', actionId: 'pick', values: {} });
    expect(unpicked).toEqual({ status: 409, json: { ok: false, error: 'Pick a template' } });
  });

  it('refuses what a page on another origin, or a bad body, would send', async () => {
    const cross = await fetch(`${consoleServer.url}/console/problems/clear`, { method: 'POST', headers: { 'content-type': 'application/json', origin: 'http://evil.example' }, body: '{}' });
    expect(cross.status).toBe(403);
    const formPost = await fetch(`${consoleServer.url}/console/command`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'text=/server' });
    expect(formPost.status).toBe(400);
    expect((await post('/console/command', { user: 'U0DEV', channel: 'C0GENERAL' })).json).toEqual({ ok: false, error: 'text is required' });
    expect((await post('/console/submit', { user: 'U0DEV', viewId: 'VNOPE', values: {} })).status).toBe(409);
  });

  it('pushes a change event over SSE when something changes', async () => {
    const controller = new AbortController();
    const res = await fetch(`${consoleServer.url}/console/events`, { signal: controller.signal });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let received = '';
    const readUntil = async (needle: string): Promise<void> => {
      while (!received.includes(needle)) {
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        received += decoder.decode(value);
      }
    };
    await readUntil('event: hello');
    double.postAsUser({ user: 'dana', channel: 'general', text: 'ping' });
    await readUntil('event: change');
    expect(received).toMatch(/event: change\ndata: \{"version":\d+,"kind":"messages"\}/);
    controller.abort();
  });
});

describe('the sandbox clock in the header', () => {
  /** 17:45 in Paris; real time frozen, so only the buttons move it. */
  const frozenClock = () => new SandboxClock({ start: new Date('2026-12-01T17:45:00+01:00'), speed: 60, realNow: () => 0 });

  afterEach(() => consoleServer.setClockControl(undefined));

  it('without a clock: the page is told to hide it, and the route refuses with a sentence', async () => {
    expect(await (await get('/console/clock?user=U0DEV')).json()).toMatchObject({ ok: true, controllable: false });
    const refused = await post('/console/clock', { action: 'hour', user: 'U0DEV' });
    expect(refused.status).toBe(400);
    expect(refused.json.error).toMatch(/^This console has no sandbox clock to move/);
  });

  it('reads the time in the viewing person’s zone, and moves it forward on each button', async () => {
    const clock = frozenClock();
    consoleServer.setClockControl(clock);
    expect(await (await get('/console/clock?user=U0LEAD')).json()).toEqual({
      ok: true,
      controllable: true,
      now: '2026-12-01T16:45:00.000Z',
      speed: 60,
      zone: 'America/New_York',
      knowsEvents: false,
    });
    expect((await post('/console/clock', { action: 'hour', user: 'U0DEV' })).json).toMatchObject({ ok: true, moved: true, now: '2026-12-01T17:45:00.000Z' });
    // Tomorrow 08:00 for dana, in Paris.
    expect((await post('/console/clock', { action: 'morning', user: 'U0DEV' })).json).toMatchObject({ ok: true, moved: true, now: '2026-12-02T07:00:00.000Z', zone: 'Europe/Paris' });
    expect(clock.now().toISOString()).toBe('2026-12-02T07:00:00.000Z');
    const next = await post('/console/clock', { action: 'next', user: 'U0DEV' });
    expect(next.json).toMatchObject({ ok: true, moved: false });
    expect(String(next.json.note)).toMatch(/^Nothing is scheduled/);
  });

  it('Next event goes to what the composition says is due next, once it says', async () => {
    const clock = frozenClock();
    const due = new Date('2026-12-01T18:00:00+01:00');
    consoleServer.setClockControl({ now: () => clock.now(), jumpBy: (ms) => clock.jumpBy(ms), jumpTo: (d) => clock.jumpTo(d), nextEvent: async () => due });
    expect((await post('/console/clock', { action: 'next' })).json).toMatchObject({ ok: true, moved: true, now: due.toISOString() });
  });

  it('refuses an unknown action or person', async () => {
    consoleServer.setClockControl(frozenClock());
    expect((await post('/console/clock', { action: 'yesterday' })).json).toEqual({ ok: false, error: 'action must be one of hour, next, morning' });
    expect((await post('/console/clock', { action: 'hour', user: 'U0NOBODY' })).status).toBe(400);
  });

  it('tells every page over SSE when the clock jumps, whoever moved it', async () => {
    const clock = frozenClock();
    consoleServer.setClockControl(clock);
    const controller = new AbortController();
    const res = await fetch(`${consoleServer.url}/console/events`, { signal: controller.signal });
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let received = '';
    const readUntil = async (needle: string): Promise<void> => {
      while (!received.includes(needle)) {
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        received += decoder.decode(value);
      }
    };
    await readUntil('event: hello');
    clock.jumpBy(60_000); // a script's jump, not the page's
    await readUntil('event: clock');
    controller.abort();
  });

  it('users.info gives each person’s zone as Slack does (tz, tz_label, tz_offset in seconds)', async () => {
    const info = async (user: string) =>
      (await (await fetch(`${double.apiUrl}users.info`, { method: 'POST', headers: { authorization: `Bearer ${BOT_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ user }) })).json()) as {
        user: { tz: string; tz_label: string; tz_offset: number };
      };
    const dana = (await info('U0DEV')).user;
    expect(dana.tz).toBe('Europe/Paris');
    expect([3600, 7200]).toContain(dana.tz_offset);
    expect(dana.tz_label).toMatch(/Central European/);
    expect((await info('U0LEAD')).user.tz).toBe('America/New_York');
    expect((await info('U0OPS')).user).toMatchObject({ tz: 'Asia/Tokyo', tz_offset: 32400 });
    // A person given no zone is in UTC.
    const elsewhere = new SlackDouble({ signingSecret: SIGNING_SECRET, botToken: BOT_TOKEN, users: [{ id: 'U0NEW', name: 'neo' }, { id: 'U0KAI', name: 'kai', tz: 'Pacific/Auckland' }] });
    expect(elsewhere.findUser('U0KAI')?.tz).toBe('Pacific/Auckland');
  });
});

describe('a console whose double keeps a data folder', () => {
  it('writes the folder when it closes, so a restart shows the same channels', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'console-data-'));
    const first = new SlackDouble({ signingSecret: SIGNING_SECRET, botToken: BOT_TOKEN, dataDir: dir });
    const firstConsole = await startConsole({ double: first, port: 0 });
    first.postAsUser({ user: 'dana', channel: 'general', text: 'before the restart' });
    await firstConsole.close();

    const second = new SlackDouble({ signingSecret: SIGNING_SECRET, botToken: BOT_TOKEN, dataDir: dir });
    const secondConsole = await startConsole({ double: second, port: 0 });
    try {
      const res = await fetch(`${secondConsole.url}/console/state?user=U0DEV&channel=C0GENERAL`);
      expect(((await res.json()) as ConsoleViewState).timeline).toContain('before the restart');
    } finally {
      await secondConsole.close();
    }
  });
});
