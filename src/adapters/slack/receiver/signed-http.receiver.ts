/**
 * Dormouse's HTTP receiver for Bolt, in place of Bolt's HTTPReceiver, with
 * one rule: no request can crash the process and every request is answered.
 *
 *   POST /slack/events   read (≤ 1 MiB) → verify the signature → parse and
 *                        check the shape → Bolt's listeners, or an answer here
 *   GET  /healthz        the health callback
 *
 * Bolt reads bodies without checking them (`payload=null` used to throw out
 * of its request handler and end the process), so a body reaches Bolt only
 * once it has the fields Bolt reads; anything else is answered here, with a
 * sentence and a log reference where a person waits for an answer.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { ListenOptions } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { App, Receiver } from '@slack/bolt';
import type { Logger } from '../../../core/ports/notifier.port.js';
import { DeliveryAck } from './delivery-ack.js';
import { parseDelivery, type Parsed } from './delivery.parser.js';
import { deliveryLabel } from './delivery.shapes.js';
import { answer } from './http-answer.js';
import { newReference } from '../../../core/environment/reference.js';
import { newCorrelationId, withCorrelation } from '../../../core/ports/correlation.js';
import { replier } from '../reply.js';
import { notices } from '../text/notices.text.js';
import { malformedAnswer } from './malformed.answer.js';
import { readBody } from './request-body.js';
import { signatureProblem } from './request-signature.js';

/** Slack shows the person an error after 3 s; an empty 200 at 2.5 s beats that. */
const ACK_DEADLINE_MS = 2500;
const HEALTH_PATH = '/healthz';
const METRICS_PATH = '/metrics';
const READY_PATH = '/readyz';

export interface Health {
  ok: boolean;
  detail?: Record<string, unknown>;
}

export interface SignedHttpReceiverOptions {
  signingSecret: string;
  logger: Logger;
  /** Answers `GET /healthz`: 200 when ok, 503 otherwise, with the detail in the JSON. */
  health: () => Health;
  /** Where Slack sends commands, interactivity and events. */
  path?: string;
  /** Milliseconds since the epoch, for the signature's timestamp window (tests move it). */
  now?: () => number;
  /** Answers `GET /readyz`: 200 when ready to take work (its store answers), 503 otherwise. */
  readiness?: () => Health;
  /** Answers `GET /metrics`. */
  metrics?: () => Promise<{ contentType: string; body: string }>;
  /** Told how long each delivery took to its HTTP answer (`kind`: the delivery's type). */
  answered?: (kind: string, ms: number) => void;
}

type Delivery = Extract<Parsed, { kind: 'delivery' }>;
type Malformed = Extract<Parsed, { kind: 'malformed' }>;

/** How long a stop waits for requests under way before it closes their connections. */
const STOP_GRACE_MS = 2_000;

export class SignedHttpReceiver implements Receiver {
  private readonly signingSecret: string;
  private readonly log: Logger;
  private readonly health: () => Health;
  private readonly path: string;
  private readonly now: () => number;
  private readonly metrics: SignedHttpReceiverOptions['metrics'];
  private readonly readiness: SignedHttpReceiverOptions['readiness'];
  private readonly answered: SignedHttpReceiverOptions['answered'];
  private app: App | undefined;
  private server: Server | undefined;

  constructor(options: SignedHttpReceiverOptions) {
    this.signingSecret = options.signingSecret;
    this.log = options.logger;
    this.health = options.health;
    this.path = options.path ?? '/slack/events';
    this.now = options.now ?? Date.now;
    this.metrics = options.metrics;
    this.readiness = options.readiness;
    this.answered = options.answered;
  }

  init(app: App): void {
    this.app = app;
  }

  /** `start(port, host)` or `start({ port, host })` (what `app.start(…)` passes on); resolves once listening. */
  start(portOrOptions: number | ListenOptions = 3000, host?: string): Promise<Server> {
    if (this.server) return Promise.reject(new Error('The Slack receiver is already started'));
    const options: ListenOptions = typeof portOrOptions === 'number' ? { port: portOrOptions, ...(host ? { host } : {}) } : portOrOptions;
    const server = createServer((req, res) => this.onRequest(req, res));
    // Slack's requests are small and its deadline is 3 s: a request that trickles in for longer is not Slack.
    server.requestTimeout = 15_000;
    server.headersTimeout = 10_000;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(options, () => {
        server.off('error', reject);
        server.on('error', (err) => this.log.error({ err }, 'the Slack HTTP server failed'));
        this.server = server;
        resolve(server);
      });
    });
  }

  stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return Promise.resolve();
    // Stop taking requests; idle keep-alive connections go now, requests under way get a moment to be answered.
    const closed = new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    server.closeIdleConnections();
    const cutOff = setTimeout(() => server.closeAllConnections(), STOP_GRACE_MS);
    return closed.finally(() => clearTimeout(cutOff));
  }

  /** The one entry point: whatever goes wrong below is logged and answered here, never thrown to node. */
  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const arrivedAt = performance.now();
    this.route(req, res, arrivedAt).catch((err: unknown) => {
      this.log.error({ err }, 'the Slack receiver failed on a request');
      answer(res, 500);
    });
  }

  private async route(req: IncomingMessage, res: ServerResponse, arrivedAt: number): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path === this.path) {
      if (req.method === 'POST') return this.receive(req, res, arrivedAt);
      return answer(res, 405, undefined, { allow: 'POST' });
    }
    if (path === READY_PATH && this.readiness && req.method === 'GET') {
      const { ok, detail } = this.readiness();
      return answer(res, ok ? 200 : 503, { status: ok ? 'ready' : 'not ready', ...detail });
    }
    if (path === METRICS_PATH && this.metrics && req.method === 'GET') {
      const { contentType, body } = await this.metrics();
      res.writeHead(200, { 'content-type': contentType }).end(body);
      return;
    }
    if (path === HEALTH_PATH) {
      if (req.method === 'GET') return this.serveHealth(res);
      return answer(res, 405, undefined, { allow: 'GET' });
    }
    answer(res, 404);
  }

  private serveHealth(res: ServerResponse): void {
    const { ok, detail } = this.health();
    answer(res, ok ? 200 : 503, { status: ok ? 'ok' : 'unavailable', ...detail });
  }

  private async receive(req: IncomingMessage, res: ServerResponse, arrivedAt: number): Promise<void> {
    const read = await readBody(req);
    if (!read.ok && read.reason === 'aborted') {
      this.log.debug({}, 'the client went away before sending the whole body');
      return;
    }
    if (!read.ok) {
      this.log.warn({ contentLength: header(req, 'content-length') }, 'refused a request body over 1 MiB');
      // What is left of the body is drained, not kept; closing the connection ends a client that keeps sending.
      return answer(res, 413, undefined, { connection: 'close' });
    }
    const problem = signatureProblem({
      signingSecret: this.signingSecret,
      timestamp: header(req, 'x-slack-request-timestamp'),
      signature: header(req, 'x-slack-signature'),
      rawBody: read.raw,
      nowMs: this.now(),
    });
    if (problem) {
      this.log.warn({ reason: problem, timestamp: header(req, 'x-slack-request-timestamp')?.slice(0, 20) }, 'refused a request not signed by Slack');
      return answer(res, 401);
    }
    const parsed = parseDelivery(header(req, 'content-type'), read.raw);
    switch (parsed.kind) {
      case 'ssl_check':
        return answer(res, 200);
      case 'url_verification':
        return answer(res, 200, { challenge: parsed.challenge });
      case 'unknown_type':
        this.log.info({ type: parsed.type.slice(0, 100) }, 'a delivery of a type Dormouse does not handle; answered 200');
        return answer(res, 200);
      case 'malformed':
        return this.answerMalformed(res, parsed);
      case 'delivery':
        return this.dispatch(req, res, parsed, arrivedAt);
    }
  }

  private answerMalformed(res: ServerResponse, malformed: Malformed): void {
    const ref = newReference();
    // Never the body: it can hold what people typed and a response_url.
    this.log.warn({ ref, type: malformed.type?.slice(0, 100), field: malformed.field }, 'malformed Slack request');
    const { status, body, followUp } = malformedAnswer(malformed.type, malformed.body, ref);
    answer(res, status, body);
    if (followUp) void replier(followUp, this.log.child({ ref }))({ text: notices.couldNotRead(ref) });
  }

  /**
   * Hands a well-formed delivery to Bolt. Our listeners ack first; if none
   * does, by the deadline or by the time Bolt is done, an empty 200 is sent
   * for it. A listener that throws is logged, before or after its ack.
   * All of it runs under a new correlation id, which Bolt's listeners find in
   * `context.correlationId` (see the correlation middleware).
   */
  private dispatch(req: IncomingMessage, res: ServerResponse, delivery: Delivery, arrivedAt: number): Promise<void> {
    const correlationId = newCorrelationId();
    return withCorrelation(correlationId, () => this.dispatchAs(correlationId, req, res, delivery, arrivedAt));
  }

  private async dispatchAs(correlationId: string, req: IncomingMessage, res: ServerResponse, delivery: Delivery, arrivedAt: number): Promise<void> {
    if (!this.app) throw new Error('The Slack receiver got a request before Bolt called init()');
    // Labelled only when something is logged: nothing on the way to the ack costs more than it must.
    const label = () => deliveryLabel(delivery.type, delivery.body);
    const ack = new DeliveryAck(res, this.log);
    if (this.answered) res.once('finish', () => this.answered?.(delivery.type, performance.now() - arrivedAt));
    ack.deadline(ACK_DEADLINE_MS - (performance.now() - arrivedAt), () => this.log.warn(label(), 'no listener acknowledged within 2.5 s; answered 200'));
    try {
      await this.app.processEvent({ body: delivery.body, ack: ack.ack, ...retryOf(req), customProperties: { correlationId } });
      if (ack.answerIfUnanswered()) this.log.warn(label(), 'no listener acknowledged; answered 200');
    } catch (err) {
      const unanswered = ack.answerIfUnanswered();
      this.log.error({ ...label(), err }, unanswered ? 'a listener failed before acknowledging; answered 200' : 'a listener failed after acknowledging');
    }
  }
}

/** Slack's redelivery headers, which Bolt puts on `context.retryNum` / `context.retryReason`. */
function retryOf(req: IncomingMessage): { retryNum?: number; retryReason?: string } {
  const num = header(req, 'x-slack-retry-num');
  const reason = header(req, 'x-slack-retry-reason');
  return {
    ...(num && /^\d{1,6}$/.test(num) ? { retryNum: Number(num) } : {}),
    ...(reason ? { retryReason: reason.slice(0, 100) } : {}),
  };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' ? value : undefined;
}
