/**
 * Slack → the app: signed requests (`x-slack-signature` v0) to the app's
 * events URL, timed, recorded in `interactions`, and judged as Slack judges
 * them (no answer, an HTTP error, an ack after 3 s are problems). Also the
 * Events API envelope, and raw or repeated deliveries for tests.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { InteractionKind, InteractionResult } from '../slack-double.types.js';
import { slackSignature } from '../slack-signature.js';
import { JSON_TYPE, randomId, type Obj } from './util.js';
import { ACK_DEADLINE_MS, APP_ID, BOT_USER_ID, type Workspace } from './workspace.js';

export class AppDelivery {
  constructor(private readonly ws: Workspace) {}

  /** Sends a body to the app, signed unless `extraHeaders` bring their own signature, and waits for its answer (its ack). */
  async deliver(
    kind: InteractionKind,
    rawBody: string,
    contentType: string,
    summary: string,
    user: string | undefined,
    extraHeaders: Record<string, string> = {},
  ): Promise<InteractionResult> {
    const target = this.ws.eventsUrl;
    if (!target) throw new Error('SlackDouble has no eventsUrl: pass one to the constructor or call setEventsUrl()');
    const headers = this.signedHeaders(rawBody, contentType, extraHeaders);
    const started = performance.now();
    const { status, body } = await this.post(target, rawBody, headers);
    const ackMs = Math.round(performance.now() - started);
    const json = parseJsonObject(body);
    this.ws.interactions.push({ kind, ...(user ? { user } : {}), summary, status, ackMs, at: Date.now() });
    this.ws.emit({ kind: 'interactions', ...(user ? { user } : {}) });
    if (kind !== 'raw') this.judge(summary, target, status, ackMs);
    return { kind, status, body, ...(json !== undefined ? { json } : {}), ackMs, rawBody, contentType };
  }

  /** Sends an Events API `event_callback` with this event. */
  async sendEvent(event: Obj, summary = `event ${String(event.type)}`, user?: string): Promise<InteractionResult> {
    const now = Date.now();
    const body = {
      token: 'sandbox-verification-token',
      team_id: this.ws.teamId,
      api_app_id: APP_ID,
      event: { event_ts: `${(now / 1000).toFixed(6)}`, ...event },
      type: 'event_callback',
      event_id: `Ev${randomId(10).toUpperCase()}`,
      event_time: Math.floor(now / 1000),
      authorizations: [{ enterprise_id: null, team_id: this.ws.teamId, user_id: BOT_USER_ID, is_bot: true, is_enterprise_install: false }],
      is_ext_shared_channel: false,
    };
    return this.deliver('event_callback', JSON.stringify(body), JSON_TYPE, summary, user);
  }

  /** The error code Slack shows a person when the app did not answer well. */
  failureCode(result: InteractionResult): string {
    if (result.status === 0) return 'operation_timeout';
    if (result.status >= 500) return 'http_service_error';
    if (result.status === 404) return 'dispatch_failed';
    return 'http_client_error';
  }

  private signedHeaders(rawBody: string, contentType: string, extraHeaders: Record<string, string>): Record<string, string> {
    const lower = Object.fromEntries(Object.entries(extraHeaders).map(([k, v]) => [k.toLowerCase(), v]));
    const timestamp = lower['x-slack-request-timestamp'] ?? String(Math.floor(Date.now() / 1000));
    return {
      'content-type': contentType,
      'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
      ...lower,
      'x-slack-request-timestamp': timestamp,
      'x-slack-signature': lower['x-slack-signature'] ?? slackSignature(this.ws.signingSecret, timestamp, rawBody),
    };
  }

  /** What Slack would hold against the app's answer, as problems. */
  private judge(summary: string, target: string, status: number, ackMs: number): void {
    if (status === 0) this.ws.problem(`${summary}: no answer from the app at ${target} within ${this.ws.appTimeoutMs} ms`);
    else if (status !== 200) this.ws.problem(`${summary}: the app answered HTTP ${status}${status === 404 ? ' (Bolt answers 404 when no listener acked within 3 s)' : ''}`);
    if (status !== 0 && ackMs > ACK_DEADLINE_MS) this.ws.problem(`${summary}: the app took ${ackMs} ms to acknowledge; Slack gives up after ${ACK_DEADLINE_MS} ms`);
  }

  private post(target: string, rawBody: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
    const url = new URL(target);
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve) => {
      const req = send(url, { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(rawBody)) }, agent: false, timeout: this.ws.appTimeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', () => resolve({ status: 0, body: '' }));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve({ status: 0, body: '' }));
      req.end(rawBody);
    });
  }
}

/** The app's answer as JSON when it looks like a JSON object. */
function parseJsonObject(body: string): unknown {
  if (!body.trim().startsWith('{')) return undefined;
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return undefined;
  }
}
