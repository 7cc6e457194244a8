/**
 * The correlation id of the work under way: one per Slack request (or
 * scheduled job), carried by the flows it starts, to the last AWS call they
 * make. It travels in the async context (AsyncLocalStorage), so nothing
 * passes it along by hand: whatever a request starts, awaited or not (a flow
 * in the background, a timer, a promise chain), reads the same id. The logger
 * adds it to every line; the AWS calls log it; the workflow runner stores it
 * on the environment, so a flow resumed by another replica keeps it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';

export interface Correlation {
  correlationId: string;
}

const storage = new AsyncLocalStorage<Correlation>();

/** Runs `fn` (and everything it starts) under `correlationId`. */
export function withCorrelation<T>(correlationId: string, fn: () => T): T {
  return storage.run({ correlationId }, fn);
}

/** The correlation of the work under way, if any. */
export function currentCorrelation(): Correlation | undefined {
  return storage.getStore();
}

/** The id of the work under way, if any. */
export const currentCorrelationId = (): string | undefined => storage.getStore()?.correlationId;

/** A new id: `c-` and 12 hex digits (48 random bits), short enough to grep and to quote. */
export function newCorrelationId(): string {
  return `c-${randomBytes(6).toString('hex')}`;
}

/** What a correlation id looks like (for tests and for checking one read back from the store). */
export const CORRELATION_ID = /^c-[0-9a-f]{12}$/;
