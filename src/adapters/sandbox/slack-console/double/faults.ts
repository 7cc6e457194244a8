/**
 * Fault injection: Slack's bad moments on demand. `failNext` arms the next
 * calls of a Web API method (or of response URLs) to fail the way Slack
 * fails them (429 with Retry-After, 500, a plain-text 503); `failRate` fails
 * a fraction of all calls at random (seeded, so a run can be replayed). A
 * failed call changes nothing and is recorded as injected, not as a problem
 * of the bot's.
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

/** What `SlackDouble.failRate` sets: a fraction of calls failed at random, armed faults first. */
export interface SlackFaultRate {
  /** The fraction of calls failed, 0 to 1. */
  rate: number;
  /** A failed call's status, picked at random among these (default 500 and 429). */
  statuses?: SlackFaultStatus[];
  /** Seeds the random picks (default 1): the same seed fails the same calls of the same sequence. */
  seed?: number;
  /** For 429: the `Retry-After` header, in seconds (default 1). */
  retryAfterSeconds?: number;
  /** Only these Web API methods (or `'response_url'`); default every call. */
  methods?: string[];
}

/** mulberry32: a small seeded generator, enough to pick faults (the chaos test and the sweep benchmark use it too). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Faults {
  private armed: ArmedFault[] = [];
  private random: { rate: number; statuses: SlackFaultStatus[]; retryAfterSeconds: number; methods?: readonly string[]; next: () => number } | undefined;

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
    this.random = undefined;
  }

  /** Fails a fraction of calls at random from now on; `undefined` stops it. */
  setRate(opts: SlackFaultRate | undefined): void {
    if (!opts) {
      this.random = undefined;
      return;
    }
    const statuses = opts.statuses ?? [500, 429];
    const retryAfterSeconds = opts.retryAfterSeconds ?? 1;
    if (!(opts.rate >= 0 && opts.rate <= 1)) throw new Error(`failRate: rate must be between 0 and 1, not ${opts.rate}`);
    if (!statuses.length || statuses.some((s) => !FAULT_STATUSES.includes(s))) throw new Error(`failRate: statuses must be some of ${FAULT_STATUSES.join(', ')}`);
    if (!Number.isInteger(retryAfterSeconds) || retryAfterSeconds < 0) throw new Error(`failRate: retryAfterSeconds must be a whole number of seconds, not ${retryAfterSeconds}`);
    this.random = { rate: opts.rate, statuses, retryAfterSeconds, ...(opts.methods ? { methods: [...opts.methods] } : {}), next: seeded(opts.seed ?? 1) };
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
    if (index < 0) return this.atRandom(method);
    const fault = this.armed[index]!;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.armed.splice(index, 1);
    return fault;
  }

  private atRandom(method: string): ArmedFault | undefined {
    const r = this.random;
    if (!r || (r.methods && !r.methods.includes(method)) || r.next() >= r.rate) return undefined;
    const status = r.statuses[Math.floor(r.next() * r.statuses.length)]!;
    return { method, status, remaining: 0, retryAfterSeconds: r.retryAfterSeconds };
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
