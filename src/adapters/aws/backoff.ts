/**
 * Exponential backoff for what the AWS adapters wait for themselves: polling
 * until something is done (an instance running, a command finished), and
 * retrying a call whose error means "not yet" (an SSM agent that has not
 * registered). Time comes from the injected clock, so tests run a ten-minute
 * wait in microseconds.
 *
 * Throttling and transient errors (5xx, timeouts, resets) are not retried
 * here: that is the SDK's retry strategy, configured where the clients are
 * built (`maxAttempts`, `retryMode`). Retrying them here as well multiplies
 * the tries (4 × 3 = 12 before this was settled). An error that reaches an
 * adapter has survived the SDK's retries, and becomes a domain error.
 */
import type { Clock } from '../../core/ports/clock.port.js';

export interface BackoffOptions {
  /** The first delay. */
  initialMs: number;
  /** The delay never grows beyond this. */
  maxMs: number;
  /** Each delay is the previous one times this (default 2). */
  factor?: number;
  /**
   * Share of each delay that is random (0 to 1, default 0.2): a delay of 10 s
   * becomes 8 to 10 s, so many waiters do not poll in lockstep.
   */
  jitter?: number;
  /** Source of randomness for the jitter (default Math.random). */
  random?: () => number;
}

/** The delays to wait between tries, forever: initial, initial×factor, … capped at max, each jittered. */
export function* backoffDelays(options: BackoffOptions): Generator<number, never> {
  const { initialMs, maxMs, factor = 2, jitter = 0.2, random = Math.random } = options;
  let base = Math.min(initialMs, maxMs);
  for (;;) {
    yield Math.round(base * (1 - jitter * random()));
    base = Math.min(base * factor, maxMs);
  }
}

export interface PollOptions extends BackoffOptions {
  clock: Clock;
  /** Epoch milliseconds after which polling stops. One last check happens at the deadline. */
  deadline: number;
  /** Stops the polling: it rejects with the signal's reason, before the next check and during a sleep. */
  signal?: AbortSignal | undefined;
}

/**
 * Calls `check` until it returns a value (anything but `undefined`), sleeping
 * with backoff in between. Returns that value, or `undefined` when the deadline
 * passed first. Errors thrown by `check` end the polling, and so does the signal.
 */
export async function pollWithBackoff<T>(
  check: () => Promise<T | undefined>,
  options: PollOptions,
): Promise<T | undefined> {
  const { clock, deadline, signal } = options;
  const delays = backoffDelays(options);
  for (;;) {
    signal?.throwIfAborted();
    const value = await check();
    if (value !== undefined) return value;
    const remaining = deadline - clock.now().getTime();
    if (remaining <= 0) return undefined;
    await clock.sleep(Math.min(delays.next().value, remaining), signal);
  }
}

export interface RetryOptions extends BackoffOptions {
  clock: Clock;
  /** Whether this error is worth another try (a "not yet", never throttling: the SDK has retried that). */
  shouldRetry: (error: unknown) => boolean;
  /** Tries in all, the first included (default: unlimited, so give a deadline). */
  maxAttempts?: number;
  /** Epoch milliseconds after which no new try starts. */
  deadline?: number;
  /** Stops the retrying: it rejects with the signal's reason, before the next try and during a sleep. */
  signal?: AbortSignal | undefined;
}

/**
 * Calls `fn` until it resolves. While it throws an error that `shouldRetry`
 * accepts, sleeps with backoff and tries again, as long as attempts and time
 * remain; then the last error is thrown as is.
 */
export async function retryWithBackoff<T>(fn: () => Promise<T>, options: RetryOptions): Promise<T> {
  const { clock, shouldRetry, signal } = options;
  const { maxAttempts = Number.POSITIVE_INFINITY, deadline = Number.POSITIVE_INFINITY } = options;
  if (maxAttempts === Number.POSITIVE_INFINITY && deadline === Number.POSITIVE_INFINITY) {
    throw new Error('retryWithBackoff needs maxAttempts or a deadline');
  }
  const delays = backoffDelays(options);
  for (let attempt = 1; ; attempt += 1) {
    signal?.throwIfAborted();
    try {
      return await fn();
    } catch (error) {
      const remaining = deadline - clock.now().getTime();
      if (!shouldRetry(error) || attempt >= maxAttempts || remaining <= 0) throw error;
      await clock.sleep(Math.min(delays.next().value, remaining), signal);
    }
  }
}

/** The error code AWS gave (`InvalidInstanceID.NotFound`, `ThrottlingException`, …), or undefined. */
export function awsErrorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  // SDK v3 puts the service's error code in `name`; query protocols (EC2) also keep it in `Code`.
  const { Code, name } = error as { Code?: unknown; name?: unknown };
  if (typeof Code === 'string' && Code) return Code;
  return typeof name === 'string' && name !== 'Error' ? name : undefined;
}

/** The HTTP status of a failed AWS call, when there was a response. */
export function awsHttpStatus(error: unknown): number | undefined {
  const status = (error as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

const THROTTLING_CODES = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'RequestLimitExceeded', // EC2
  'TooManyRequestsException',
  'TooManyUpdates', // SSM
  'ProvisionedThroughputExceededException',
  'SlowDown', // S3
  'PriorRequestNotComplete',
  'EC2ThrottledException',
]);

/**
 * Whether AWS asked us to slow down. By the time an adapter sees such an
 * error the SDK's retry strategy has given up on it: it is reported (THROTTLED,
 * retryable), or ends one poll of a wait, never retried again on the spot.
 */
export function isThrottling(error: unknown): boolean {
  const code = awsErrorCode(error);
  if (code !== undefined && THROTTLING_CODES.has(code)) return true;
  if ((error as { $retryable?: { throttling?: boolean } } | null)?.$retryable?.throttling === true) return true;
  return awsHttpStatus(error) === 429;
}
