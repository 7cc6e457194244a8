/**
 * Fault injection: Slack's bad moments on demand. `failNext` arms the next
 * calls of a Web API method (or of response URLs) to fail the way Slack
 * fails them (429 with Retry-After, 500, a plain-text 503); a failed call
 * changes nothing and is recorded as injected, not as a problem of the bot's.
 */
import type { ServerResponse } from 'node:http';
import type { SlackFault, SlackFaultStatus } from '../slack-double.types.js';
import type { Obj } from './util.js';
import type { Workspace } from './workspace.js';

interface ArmedFault {
  method: string;
  status: SlackFaultStatus;
  remaining: number;
  retryAfterSeconds: number;
}

const FAULT_STATUSES: readonly number[] = [429, 500, 503];

export class Faults {
  private armed: ArmedFault[] = [];

  constructor(
    private readonly ws: Workspace,
    /** Whether the double knows a Web API method, so a typo in a test does not pass silently. */
    private readonly knowsMethod: (method: string) => boolean,
  ) {}

  arm(opts: SlackFault): void {
    const times = opts.times ?? 1;
    const retryAfterSeconds = opts.retryAfterSeconds ?? 1;
    if (opts.method !== 'response_url' && !this.knowsMethod(opts.method)) {
      throw new Error(`failNext: the double does not know the Web API method ${JSON.stringify(opts.method)} (or use 'response_url')`);
    }
    if (!FAULT_STATUSES.includes(opts.status)) throw new Error(`failNext: status must be one of ${FAULT_STATUSES.join(', ')}, not ${opts.status}`);
    if (!Number.isInteger(times) || times < 1) throw new Error(`failNext: times must be a whole number of at least 1, not ${times}`);
    if (!Number.isInteger(retryAfterSeconds) || retryAfterSeconds < 0) throw new Error(`failNext: retryAfterSeconds must be a whole number of seconds, not ${retryAfterSeconds}`);
    this.armed.push({ method: opts.method, status: opts.status, remaining: times, retryAfterSeconds });
  }

  clear(): void {
    this.armed = [];
  }

  pending(): Array<Required<SlackFault>> {
    return this.armed.map((f) => ({ method: f.method, status: f.status, times: f.remaining, retryAfterSeconds: f.retryAfterSeconds }));
  }

  /**
   * If a fault is armed for `method`, uses up one firing of the first one,
   * answers the request with it and records it; resolves true when it did.
   */
  answerIfArmed(res: ServerResponse, method: string, args: Obj): boolean {
    const fault = this.take(method);
    if (!fault) return false;
    this.answer(res, method, args, fault);
    return true;
  }

  private take(method: string): ArmedFault | undefined {
    const index = this.armed.findIndex((f) => f.method === method);
    if (index < 0) return undefined;
    const fault = this.armed[index]!;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.armed.splice(index, 1);
    return fault;
  }

  /** Answers an injected fault the way Slack does, and records it (as a failed call, not a problem). */
  private answer(res: ServerResponse, method: string, args: Obj, fault: ArmedFault): void {
    if (fault.status === 429) {
      this.ws.record(method, args, false, 'ratelimited', fault.status);
      res.writeHead(429, { 'content-type': 'application/json; charset=utf-8', 'retry-after': String(fault.retryAfterSeconds) });
      res.end(JSON.stringify({ ok: false, error: 'ratelimited' }));
    } else if (fault.status === 500) {
      this.ws.record(method, args, false, 'internal_error', fault.status);
      res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify({ ok: false, error: 'internal_error' }));
    } else {
      // Slack's edge answers a 503 itself, in plain text.
      this.ws.record(method, args, false, 'service_unavailable', fault.status);
      res.writeHead(fault.status, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('Service Unavailable');
    }
  }
}
