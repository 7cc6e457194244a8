/**
 * The Bolt app: HTTP (`POST /slack/events` for commands, interactivity and
 * events, `GET /healthz`) or Socket Mode when an app token is configured.
 * Listeners are registered here and live one file per callback.
 */
import { createHash } from 'node:crypto';
import type { ServerResponse, IncomingMessage } from 'node:http';
import { App, HTTPReceiver, LogLevel, SocketModeReceiver, type AnyMiddlewareArgs, type Logger as BoltLogger, type Receiver } from '@slack/bolt';
import type { EnvironmentRepository } from '../../core/ports/environment-repository.port.js';
import type { Logger } from '../../core/ports/notifier.port.js';
import { Ids } from './ids.js';
import { destroyAction, destroyCancelAction } from './listeners/actions/destroy.action.js';
import { retryAction } from './listeners/actions/retry.action.js';
import { templatePickAction } from './listeners/actions/template-pick.action.js';
import { serverCommand } from './listeners/commands/server.command.js';
import type { ListenerDeps } from './listeners/deps.js';
import { serverNewView } from './listeners/views/server-new.view.js';

export interface BoltAppOptions {
  mode: 'http' | 'socket';
  botToken: string;
  signingSecret: string;
  appToken?: string;
  apiUrl?: string;
  deps: ListenerDeps;
  repo: EnvironmentRepository;
  /** Extra GET routes served next to /slack/events (health). */
  health: () => { ok: boolean; detail?: Record<string, unknown> };
}

/** How long a delivery is remembered: Slack retries within minutes. */
const DELIVERY_TTL_SECONDS = 60 * 60;

export function createBoltApp(opts: BoltAppOptions): { app: App; receiver: Receiver } {
  const logger = slackLogger(opts.deps.logger.child({ component: 'bolt' }));
  const healthRoute = {
    path: '/healthz',
    method: ['GET'],
    handler: (_req: IncomingMessage, res: ServerResponse) => {
      const h = opts.health();
      res.writeHead(h.ok ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: h.ok ? 'ok' : 'unavailable', ...h.detail }));
    },
  };
  const receiver: Receiver =
    opts.mode === 'socket'
      ? // Socket Mode has no HTTP server of its own: main.ts serves /healthz beside it.
        new SocketModeReceiver({ appToken: opts.appToken ?? '', logger })
      : new HTTPReceiver({ signingSecret: opts.signingSecret, logger, customRoutes: [healthRoute], endpoints: '/slack/events' });
  const app = new App({
    token: opts.botToken,
    receiver,
    logger,
    // auth.test at start would make start-up depend on Slack answering; the token is checked by the first call instead.
    tokenVerificationEnabled: false,
    clientOptions: { ...(opts.apiUrl ? { slackApiUrl: opts.apiUrl } : {}), retryConfig: { retries: 3 } },
  });

  app.use(dedupeDeliveries(opts.repo, opts.deps.logger));
  const { deps } = opts;
  app.command(Ids.command, serverCommand(deps));
  app.view(Ids.view.request, serverNewView(deps));
  app.action(Ids.action.templatePick, templatePickAction(deps));
  app.action(Ids.action.destroy, destroyAction(deps, { replaceOriginal: false }));
  app.action(Ids.action.opsDestroy, destroyAction(deps, { replaceOriginal: false }));
  app.action(Ids.action.destroyConfirm, destroyAction(deps, { replaceOriginal: true }));
  app.action(Ids.action.destroyCancel, destroyCancelAction(deps));
  app.action(Ids.action.retry, retryAction(deps));
  app.action(Ids.action.opsRetry, retryAction(deps));
  app.error(async (error) => {
    deps.logger.error({ err: error }, 'unhandled error in a Slack listener');
  });
  return { app, receiver };
}

/**
 * Slack redelivers when it thinks an answer was late (`x-slack-retry-num`),
 * and people double-click. Each delivery is claimed once, by a conditional
 * write, so a repeat is acknowledged and dropped, even across replicas.
 */
function dedupeDeliveries(repo: EnvironmentRepository, log: Logger) {
  return async (args: AnyMiddlewareArgs & { next: () => Promise<void>; context: { retryNum?: number } }): Promise<void> => {
    const key = deliveryKey(args.body as unknown as Record<string, unknown>);
    if (key) {
      let fresh = true;
      try {
        fresh = await repo.claimDelivery(key, DELIVERY_TTL_SECONDS);
      } catch (err) {
        log.warn({ err }, 'could not record a delivery; handling it anyway');
      }
      if (!fresh) {
        log.info({ key, retryNum: args.context.retryNum }, 'repeated delivery dropped');
        if ('ack' in args && typeof args.ack === 'function') await (args.ack as () => Promise<void>)();
        return;
      }
    }
    await args.next();
  };
}

/** Identity of a delivery: the same body delivered twice gets the same key. */
export function deliveryKey(body: Record<string, unknown>): string | undefined {
  const kind = typeof body.type === 'string' ? body.type : typeof body.command === 'string' ? 'command' : undefined;
  if (!kind) return undefined;
  if (kind === 'block_suggestion') return undefined; // read-only
  const digest = createHash('sha256').update(JSON.stringify(body)).digest('base64url').slice(0, 32);
  return `${kind}:${digest}`;
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
