/**
 * The sandbox console: one HTTP server for a web page that looks and behaves
 * like a Slack channel, the Slack double's Web API (`/api/*`, `/response/*`)
 * and a small JSON + Server-Sent-Events API for the page (`/console/*`).
 *
 * All conversation state lives in the double, so a page reload loses
 * nothing Slack would keep (a reload drops that person's modals and
 * ephemerals, as Slack's client does). Binds to loopback unless told
 * otherwise. Closing it writes the double's data folder, if it has one.
 *
 * Page API (JSON in, JSON out; POSTs must be `application/json` and, when
 * the browser sends an Origin, same-origin):
 *   GET  /console/state?user=&channel=&thread=&tab=   what that person sees
 *   GET  /console/events                              SSE: `change` on every update
 *   POST /console/command  {user, channel, text}      `/cmd args`, or a plain message
 *   POST /console/action   {user, location, blockId, actionId, selected?, values?}
 *   POST /console/submit   {user, viewId, values}
 *   POST /console/close    {user, all?}
 *   POST /console/draft    {user, viewId, values}
 *   POST /console/home     {user}                     opens the App Home (app_home_opened)
 *   POST /console/loaded   {user?}                    the page (re)loaded: that person's modals and ephemerals go, as in Slack
 *   POST /console/dismiss  {user, ts}
 *   POST /console/problems/clear
 *   GET  /console/clock?user=                          the sandbox clock as that person sees it (their zone)
 *   POST /console/clock    {action, user?}             hour | next | morning: moves it forward (see console-clock.ts);
 *                                                      400 when no clock is attached. SSE: `clock` after every jump.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import type { SlackDouble } from './slack-double.js';
import type { ActionLocation, RawInputValues } from './slack-double.types.js';
import { consoleViewState } from './console-view.js';
import { CLOCK_ACTIONS, ClockRefusal, moveClock, readClock, type ClockAction, type ConsoleClockControl } from './console-clock.js';

export type { ConsoleClockControl } from './console-clock.js';

export interface ConsoleOptions {
  double: SlackDouble;
  /** 0 picks a free port. */
  port?: number;
  /** Loopback unless told otherwise. */
  host?: string;
  /** Answers `GET /healthz` (200 when ok, else 503). */
  health?: () => { ok: boolean; detail?: unknown };
  /** Answers `GET /readyz` (200 when ready to take work, else 503), when given. */
  readiness?: () => { ok: boolean; detail?: unknown };
  /** Answers `GET /metrics` (the bot's Prometheus text), when given. */
  metrics?: () => Promise<{ contentType: string; body: string }>;
  /** The sandbox clock the header shows and moves; also settable later (`setClockControl`). */
  clock?: ConsoleClockControl;
}

export interface ConsoleHandle {
  url: string;
  server: Server;
  /** Attaches (or replaces, e.g. once `nextEvent` is known, or removes) the clock the header moves. */
  setClockControl(control: ConsoleClockControl | undefined): void;
  close(): Promise<void>;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

class BadRequest extends Error {}

const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/assets/console.css': { file: 'console.css', type: 'text/css; charset=utf-8' },
  '/assets/console.js': { file: 'console.js', type: 'text/javascript; charset=utf-8' },
};

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

async function loadAssets(): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const [path, { file }] of Object.entries(ASSETS)) {
    out.set(path, await readFile(new URL(`./assets/${file}`, import.meta.url)));
  }
  return out;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<Obj> {
  const type = String(req.headers['content-type'] ?? '');
  if (!type.startsWith('application/json')) throw new BadRequest('send application/json');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 1024 * 1024) throw new BadRequest('body too large');
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text) return {};
  const parsed: unknown = JSON.parse(text);
  if (!isObj(parsed)) throw new BadRequest('send a JSON object');
  return parsed;
}

const need = (body: Obj, key: string): string => {
  const v = body[key];
  if (typeof v !== 'string' || v === '') throw new BadRequest(`${key} is required`);
  return v;
};

function rawValues(v: unknown): RawInputValues {
  if (v === undefined) return {};
  if (!isObj(v)) throw new BadRequest('values must be an object');
  const out: RawInputValues = {};
  for (const [blockId, byAction] of Object.entries(v)) {
    if (!isObj(byAction)) throw new BadRequest('values[block_id] must be an object');
    const entry: Record<string, string | string[] | null> = {};
    for (const [actionId, value] of Object.entries(byAction)) {
      if (value === null || typeof value === 'string') entry[actionId] = value;
      else if (Array.isArray(value)) entry[actionId] = value.map(String);
      else entry[actionId] = String(value);
    }
    out[blockId] = entry;
  }
  return out;
}

function actionLocation(v: unknown): ActionLocation {
  if (!isObj(v)) throw new BadRequest('location is required');
  if (v.type === 'message' && typeof v.channel === 'string' && typeof v.ts === 'string') return { type: 'message', channel: v.channel, ts: v.ts };
  if (v.type === 'ephemeral' && typeof v.ts === 'string') return { type: 'ephemeral', ts: v.ts };
  if (v.type === 'view' && typeof v.viewId === 'string') return { type: 'view', viewId: v.viewId };
  throw new BadRequest('location must be a message, an ephemeral or a view');
}

function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (!origin) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

export async function startConsole(options: ConsoleOptions): Promise<ConsoleHandle> {
  const { double } = options;
  const host = options.host ?? '127.0.0.1';
  const assets = await loadAssets();
  let version = 0;
  const streams = new Set<ServerResponse>();
  const broadcast = (frame: string) => {
    for (const s of streams) s.write(frame);
  };

  const unsubscribe = double.subscribe((change) => {
    if (change.kind === 'calls') return;
    version += 1;
    broadcast(`event: change\ndata: ${JSON.stringify({ version, kind: change.kind })}\n\n`);
  });
  // The clock: its jumps, whoever makes them, are told to every page at once.
  let clock: ConsoleClockControl | undefined;
  let stopHearingJumps: (() => void) | undefined;
  const clockJumped = () => broadcast(`event: clock\ndata: {}\n\n`);
  const setClockControl = (control: ConsoleClockControl | undefined) => {
    stopHearingJumps?.();
    clock = control;
    stopHearingJumps = control?.onJump?.(clockJumped);
    clockJumped();
  };
  setClockControl(options.clock);
  /** The person's zone from their profile (the double's people carry one, as Slack's users.info does). */
  const zoneOf = (user: unknown): string | undefined => (typeof user === 'string' && user ? double.findUser(user)?.tz : double.users[0]?.tz);

  const heartbeat = setInterval(() => {
    for (const s of streams) s.write(': ping\n\n');
  }, 15_000);
  heartbeat.unref();

  const result = (r: { status: number; ackMs: number; clientErrors?: Record<string, string> } | undefined): Obj =>
    r ? { status: r.status, ackMs: r.ackMs, ...(r.clientErrors ? { clientErrors: r.clientErrors } : {}) } : {};

  const posts: Record<string, (body: Obj) => Promise<Obj> | Obj> = {
    '/console/command': async (b) => {
      const user = need(b, 'user');
      const channel = need(b, 'channel');
      const text = need(b, 'text').trim();
      const m = /^(\/[^\s/]+)(?:\s+([\s\S]*))?$/.exec(text);
      if (m?.[1]) {
        return result(await double.slashCommand({ user, channel, command: m[1], text: (m[2] ?? '').trim() }));
      }
      double.postAsUser({ user, channel, text, ...(typeof b.threadTs === 'string' ? { threadTs: b.threadTs } : {}) });
      return {};
    },
    '/console/action': async (b) => {
      const selected = b.selected === undefined || b.selected === null ? undefined : Array.isArray(b.selected) ? b.selected.map(String) : String(b.selected);
      return result(
        await double.sendBlockAction({
          user: need(b, 'user'),
          location: actionLocation(b.location),
          blockId: need(b, 'blockId'),
          actionId: need(b, 'actionId'),
          ...(selected !== undefined ? { selected } : {}),
          ...(b.values !== undefined ? { values: rawValues(b.values) } : {}),
        }),
      );
    },
    '/console/submit': async (b) => result(await double.submitViewValues({ user: need(b, 'user'), viewId: need(b, 'viewId'), values: rawValues(b.values) })),
    '/console/close': async (b) => result(await double.closeView(need(b, 'user'), { all: b.all === true })),
    '/console/draft': (b) => {
      double.saveDraft({ user: need(b, 'user'), viewId: need(b, 'viewId'), values: rawValues(b.values) });
      return {};
    },
    '/console/home': async (b) => result(await double.openHome(need(b, 'user'))),
    '/console/loaded': (b) => {
      // The page shows the first person when none is named (consoleViewState does the same).
      const user = typeof b.user === 'string' && b.user ? b.user : double.users[0]?.id;
      if (user) double.clientLoaded(user);
      return {};
    },
    '/console/dismiss': (b) => {
      double.dismissEphemeral(need(b, 'user'), need(b, 'ts'));
      return {};
    },
    '/console/problems/clear': () => {
      double.clearProblems();
      return {};
    },
    '/console/clock': async (b) => {
      const action = b.action;
      if (typeof action !== 'string' || !CLOCK_ACTIONS.includes(action as ClockAction)) throw new BadRequest(`action must be one of ${CLOCK_ACTIONS.join(', ')}`);
      if (typeof b.user === 'string' && b.user && !double.findUser(b.user)) throw new BadRequest(`no user ${JSON.stringify(b.user)}`);
      try {
        const moved = await moveClock(clock, action as ClockAction, zoneOf(b.user));
        if (moved.moved && !clock?.onJump) clockJumped();
        return { ...moved };
      } catch (e) {
        if (e instanceof ClockRefusal) throw new BadRequest(e.message);
        throw e;
      }
    },
  };

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://console.invalid');
    const method = (req.method ?? 'GET').toUpperCase();
    if (await double.handle(req, res)) return;

    const asset = ASSETS[url.pathname];
    const content = assets.get(url.pathname);
    if (method === 'GET' && asset && content) {
      res.writeHead(200, { 'content-type': asset.type, ...SECURITY_HEADERS });
      res.end(content);
      return;
    }
    if (method === 'GET' && url.pathname === '/favicon.ico') {
      res.writeHead(204);
      res.end();
      return;
    }
    if (method === 'GET' && url.pathname === '/readyz' && options.readiness) {
      const r = options.readiness();
      sendJson(res, r.ok ? 200 : 503, r);
      return;
    }
    if (method === 'GET' && url.pathname === '/metrics' && options.metrics) {
      const { contentType, body } = await options.metrics();
      res.writeHead(200, { 'content-type': contentType });
      res.end(body);
      return;
    }
    if (method === 'GET' && url.pathname === '/healthz') {
      const h = options.health ? options.health() : { ok: true };
      sendJson(res, h.ok ? 200 : 503, h);
      return;
    }
    if (method === 'GET' && url.pathname === '/console/state') {
      const q = Object.fromEntries(url.searchParams);
      sendJson(res, 200, consoleViewState(double, q, version));
      return;
    }
    if (method === 'GET' && url.pathname === '/console/clock') {
      sendJson(res, 200, { ok: true, ...readClock(clock, zoneOf(url.searchParams.get('user'))) });
      return;
    }
    if (method === 'GET' && url.pathname === '/console/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      res.write(`retry: 1000\nevent: hello\ndata: ${JSON.stringify({ version })}\n\n`);
      streams.add(res);
      req.on('close', () => streams.delete(res));
      return;
    }
    const post = posts[url.pathname];
    if (post) {
      if (method !== 'POST') {
        sendJson(res, 405, { ok: false, error: 'use POST' });
        return;
      }
      if (!sameOrigin(req)) {
        sendJson(res, 403, { ok: false, error: 'cross-origin requests are refused' });
        return;
      }
      try {
        const body = await readJson(req);
        sendJson(res, 200, { ok: true, ...(await post(body)) });
      } catch (e) {
        // A person's action that cannot happen (a stale modal, an unknown user): say why, change nothing.
        sendJson(res, e instanceof BadRequest || e instanceof SyntaxError ? 400 : 409, { ok: false, error: e instanceof Error ? e.message : String(e) });
      }
      return;
    }
    sendJson(res, 404, { ok: false, error: `nothing at ${method} ${url.pathname}` });
  }

  const server = createServer((req, res) => {
    route(req, res).catch((e: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { ok: false, error: e instanceof Error ? e.message : String(e) });
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port ?? 0;
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const url = `http://${shownHost}:${port}`;
  // A double that already listens keeps its own base URL (its response_urls work on both servers).
  if (!double.baseUrl) double.setBaseUrl(url);

  return {
    url,
    server,
    setClockControl,
    async close() {
      // Whoever stops the console stops the double it serves: what it keeps must be on disk first.
      await double.flush();
      unsubscribe();
      stopHearingJumps?.();
      clearInterval(heartbeat);
      for (const s of streams) s.end();
      streams.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
