/**
 * Small helpers every part of the Slack double shares: loose type checks for
 * what arrived as JSON, ids shaped like Slack's, message timestamps, and the
 * error a Web API method throws to refuse a call the way Slack does.
 */
import { randomBytes } from 'node:crypto';

export type Obj = Record<string, unknown>;

export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
export const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
/** Slack's booleans arrive as `true`, `'true'`, `'1'` or `1` depending on the encoding. */
export const bool = (v: unknown): boolean => v === true || v === 'true' || v === '1' || v === 1;
export const clone = <T>(v: T): T => structuredClone(v);

export const FORM = 'application/x-www-form-urlencoded';
export const JSON_TYPE = 'application/json';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
export function randomId(length = 5): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const b of bytes) out += ALPHABET[b % ALPHABET.length];
  return out;
}

function tsParts(ts: string): [number, number] {
  const [a, b] = ts.split('.');
  return [Number(a), Number(b)];
}

/** Orders Slack timestamps (`seconds.sequence`) numerically, not as strings. */
export function compareTs(a: string, b: string): number {
  const [a1, a2] = tsParts(a);
  const [b1, b2] = tsParts(b);
  return a1 - b1 || a2 - b2;
}

/** A refusal the way Slack answers it, and whether it shows a bug in the bot. */
export class ApiRefusal extends Error {
  constructor(
    readonly code: string,
    /** The line for `problems`; undefined when the refusal is no bug (a stale hash, a closed modal). */
    readonly problem: string | undefined,
    readonly details: string[] = [],
  ) {
    super(code);
  }

  /** The problem lines it stands for: one per detail, or the problem alone. */
  problemLines(): string[] {
    if (!this.problem) return [];
    return this.details.length ? this.details.map((d) => `${this.problem}: ${d}`) : [this.problem];
  }

  /** Problem lines even for a quiet refusal: a bad answer from the app itself is always a bug. */
  alwaysProblemLines(): string[] {
    const head = this.problem ?? this.code;
    return this.details.length ? this.details.map((d) => `${head}: ${d}`) : [head];
  }
}

/** Answers ok:false without calling it a bug (a stale hash, a modal the person already closed). */
export function refuseQuietly(code: string): never {
  throw new ApiRefusal(code, undefined);
}

const MAX_BODY = 5 * 1024 * 1024;

/** A request body as text; over 5 MB is refused as Slack refuses it. */
export async function readBody(req: AsyncIterable<unknown>): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_BODY) throw new ApiRefusal('request_too_large', 'a request body over 5 MB');
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}
