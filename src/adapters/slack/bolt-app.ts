/**
 * The Bolt app: HTTP (`POST /slack/events` for commands, interactivity and
 * events, `GET /healthz`) or Socket Mode when an app token is configured.
 * Listeners are registered here and live one file per callback.
 */
import { App, LogLevel, SocketModeReceiver, type Logger as BoltLogger, type Receiver } from '@slack/bolt';
import type { Logger } from '../../core/ports/clock.port.js';
import type { DeliveryClaims } from '../../core/ports/delivery-claims.port.js';
import { Ids } from './ids.js';
import { appHomeOpenedEvent } from './listeners/events/app-home-opened.event.js';
import { registerActions } from './listeners/actions/index.js';
import { approvalRejectView } from './listeners/views/approval-reject.view.js';
import { serverCommand } from './listeners/commands/server.command.js';
import type { ListenerDeps } from './listeners/deps.js';
import { fallback } from './listeners/fallback.js';
import { serverNewView } from './listeners/views/server-new.view.js';
import { SignedHttpReceiver } from './receiver/signed-http.receiver.js';
import { eventClaims } from './middleware/event-claims.middleware.js';
import { correlation } from './middleware/correlation.middleware.js';

export interface BoltAppOptions {
  mode: 'http' | 'socket';
  botToken: string;
  signingSecret: string;
  appToken?: string;
  apiUrl?: string;
  deps: ListenerDeps;
  /** Where Events API deliveries are claimed, so a redelivery is dropped. */
  claims: DeliveryClaims;
  /** Extra GET routes served next to /slack/events (health). */
  health: () => { ok: boolean; detail?: Record<string, unknown> };
  /** `GET /readyz`: ready to take work. */
  readiness?: () => { ok: boolean; detail?: Record<string, unknown> };
  /** `GET /metrics`, and each request's time to its answer. */
  metrics?: { scrape: () => Promise<{ contentType: string; body: string }>; answered: (kind: string, ms: number) => void };
}

export function createBoltApp(opts: BoltAppOptions): { app: App; receiver: Receiver } {
  const logger = slackLogger(opts.deps.logger.child({ component: 'bolt' }));
  const receiver: Receiver =
    opts.mode === 'socket'
      ? // Socket Mode has no HTTP server of its own: main.ts serves /healthz beside it.
        new SocketModeReceiver({ appToken: opts.appToken ?? '', logger })
      : new SignedHttpReceiver({
          signingSecret: opts.signingSecret,
          logger: opts.deps.logger.child({ component: 'receiver' }),
          health: opts.health,
          ...(opts.metrics ? { metrics: opts.metrics.scrape, answered: opts.metrics.answered } : {}),
          ...(opts.readiness ? { readiness: opts.readiness } : {}),
        });
  const app = new App({
    receiver,
    logger,
    // Bolt's own authorization calls auth.test before it hands a request to the listeners (on every
    // request when token verification is off): that would be I/O before the ack. There is one workspace
    // and one bot token, so the authorization is the token itself.
    authorize: async () => ({ botToken: opts.botToken }),
    // ignoreSelf needs the bot's ids (auth.test); Dormouse listens to no message events it could echo.
    ignoreSelf: false,
    // Bolt's conversation store is a middleware on every request; Dormouse keeps no conversation state.
    convoStore: false,
    clientOptions: { ...(opts.apiUrl ? { slackApiUrl: opts.apiUrl } : {}), retryConfig: { retries: 3 } },
  });

  // First: the request, and all it starts, runs under one correlation id (said in one line per request).
  app.use(correlation(opts.deps.logger.child({ component: 'slack' })));
  // No middleware does I/O before a listener's ack: events (acked by Bolt before any middleware) are
  // claimed; a command, click or form is made harmless to repeat where it acts (a conditional write).
  app.use(eventClaims(opts.claims, opts.deps.logger));
  // Before the listeners: what none of them handles is acknowledged and explained there.
  app.use(fallback({ logger: opts.deps.logger }));
  const { deps } = opts;
  app.command(Ids.command, serverCommand(deps));
  app.view(Ids.view.request, serverNewView(deps));
  app.view(Ids.view.reject, approvalRejectView(deps));
  registerActions(app, deps);
  app.event('app_home_opened', appHomeOpenedEvent(deps));
  app.error(async (error) => {
    deps.logger.error({ err: error }, 'unhandled error in a Slack listener');
  });
  return { app, receiver };
}

/** Slack SDK logs (Bolt, Web API client) go through pino, not to the console. */
export function slackLogger(log: Logger): BoltLogger {
  let level = LogLevel.INFO;
  const fmt = (msg: unknown[]) => msg.map((m) => (typeof m === 'string' ? m : JSON.stringify(m))).join(' ');
  return {
    debug: (...msg) => log.debug({}, fmt(msg)),
    info: (...msg) => log.info({}, fmt(msg)),
    warn: (...msg) => log.warn({}, fmt(msg)),
    error: (...msg) => log.error({}, fmt(msg)),
    setLevel: (l) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}
