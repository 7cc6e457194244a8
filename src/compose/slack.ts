/**
 * The Slack side of a composition: where the Web API is, and how Slack's
 * requests reach the Bolt app. Three of them: the sandbox console (a Slack
 * double in this process, with a page), Slack over HTTP, and Socket Mode.
 */
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { App } from '@slack/bolt';
import type { ConsoleClockControl } from '../adapters/sandbox/slack-console/console-clock.js';
import type { SlackDouble } from '../adapters/sandbox/slack-console/slack-double.js';
import type { Config } from '../config/config.js';
import type { Closers } from './closers.js';

export interface SlackSide {
  /** The Web API's base URL, when not Slack's own. */
  apiUrl?: string;
  /** The console's page and its Slack double, in the sandbox. */
  consoleUrl?: string;
  double?: SlackDouble;
  /**
   * The console's clock control (its header's +1 hour, Next event, Tomorrow 08:00), attached once the
   * composition has its clock, and again whenever it learns more (`nextEvent`). Only the console has one.
   */
  setClockControl?(control: ConsoleClockControl | undefined): void;
  /** Starts receiving for `app`; resolves to where Slack sends requests. */
  receive(app: App): Promise<string>;
}

/** What `/metrics` answers: Prometheus's text and its content type. */
export type Scrape = () => Promise<{ contentType: string; body: string }>;

/** What the HTTP side serves besides Slack's requests: `/metrics`, `/readyz`, and `/healthz`'s detail. */
export interface Served {
  metrics?: Scrape;
  /** Ready to take work (started, and its store answers). */
  readiness?: () => { ok: boolean; detail?: Record<string, unknown> };
  /** What `/healthz` says of the dependencies. */
  detail?: () => Record<string, unknown>;
}

export type StartSlack = (config: Config, closers: Closers, isReady: () => boolean, served?: Served) => Promise<SlackSide>;

/** The console comes up first, so the page shows at once (its /healthz says 503 until ready). */
export const consoleSlack: StartSlack = async (config, closers, isReady, served = {}) => {
  const [{ SlackDouble }, { startConsole }] = await Promise.all([
    import('../adapters/sandbox/slack-console/slack-double.js'),
    import('../adapters/sandbox/slack-console/console-server.js'),
  ]);
  // The console keeps its channels under the sandbox folder, so a restart shows the same conversation.
  const double = new SlackDouble({ signingSecret: config.slack.signingSecret, botToken: config.slack.botToken, dataDir: join(config.sandbox.dataDir, 'slack') });
  const consoleServer = await startConsole({ double, port: config.http.port, host: config.http.host, health: () => ({ ok: isReady(), ...(served.detail?.() ?? {}) }),
    ...(served.metrics ? { metrics: served.metrics } : {}),
    ...(served.readiness ? { readiness: served.readiness } : {}),
  });
  closers.add(() => consoleServer.close());
  return {
    apiUrl: `${consoleServer.url}/api/`,
    consoleUrl: consoleServer.url,
    double,
    setClockControl: (control) => consoleServer.setClockControl(control),
    receive: async (app) => {
      // Bolt listens on a private loopback port; the console sends it signed requests there.
      const bolt = (await app.start({ port: 0, host: '127.0.0.1' })) as Server;
      closers.add(() => app.stop());
      const eventsUrl = `http://127.0.0.1:${portOf(bolt)}/slack/events`;
      double.setEventsUrl(eventsUrl);
      return eventsUrl;
    },
  };
};

/** Slack sends signed HTTP requests to /slack/events; /healthz is served beside it. */
export const httpSlack: StartSlack = async (config, closers) => ({
  ...(config.slack.apiUrl ? { apiUrl: config.slack.apiUrl } : {}),
  receive: async (app) => {
    const server = (await app.start({ port: config.http.port, host: config.http.host })) as Server;
    closers.add(() => app.stop());
    return `http://${config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host}:${portOf(server)}/slack/events`;
  },
});

/** Socket Mode: Dormouse connects out; /healthz gets a tiny server of its own. */
export const socketSlack: StartSlack = async (config, closers, isReady, served = {}) => ({
  ...(config.slack.apiUrl ? { apiUrl: config.slack.apiUrl } : {}),
  receive: async (app) => {
    await app.start();
    closers.add(() => app.stop());
    const health = await startHealthServer(config, isReady, served);
    closers.add(() => new Promise((r) => health.close(r)));
    return 'socket-mode';
  },
});

function portOf(server: Server): number {
  const a = server.address();
  return typeof a === 'object' && a ? a.port : 0;
}

function startHealthServer(config: Config, isReady: () => boolean, served: Served): Promise<Server> {
  const { metrics, readiness, detail } = served;
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/readyz' && readiness) {
      const r = readiness();
      res.writeHead(r.ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: r.ok ? 'ready' : 'not ready', ...r.detail }));
    } else if (req.method === 'GET' && req.url === '/metrics' && metrics) {
      metrics().then(
        ({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(body),
        () => res.writeHead(500).end(),
      );
    } else if (req.method === 'GET' && req.url === '/healthz') {
      res.writeHead(isReady() ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: isReady() ? 'ok' : 'starting', ...(detail?.() ?? {}) }));
    } else res.writeHead(404).end();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject); // a busy port is said at start, like the other modes
    server.listen(config.http.port, config.http.host, () => resolve(server));
  });
}
