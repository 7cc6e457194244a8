/**
 * Domain errors carry a stable code (safe to match on, safe to show in logs and
 * alerts), parameters (`details`) and plain words (`message`, for logs).
 * Adapters translate SDK errors into these; the Slack layer writes the
 * sentence a person reads from the code and parameters.
 */
export const ErrorCodes = {
  NAME_INVALID: 'ENVIRONMENT.NAME_INVALID',
  NAME_TAKEN: 'ENVIRONMENT.NAME_TAKEN',
  NOT_FOUND: 'ENVIRONMENT.NOT_FOUND',
  INVALID_TRANSITION: 'ENVIRONMENT.INVALID_TRANSITION',
  CONCURRENT_MODIFICATION: 'ENVIRONMENT.CONCURRENT_MODIFICATION',
  NOT_AUTHORIZED: 'ENVIRONMENT.NOT_AUTHORIZED',
  TEMPLATE_UNKNOWN: 'REQUEST.TEMPLATE_UNKNOWN',
  COUNT_OUT_OF_RANGE: 'REQUEST.COUNT_OUT_OF_RANGE',
  INSTANCE_TYPE_NOT_ALLOWED: 'REQUEST.INSTANCE_TYPE_NOT_ALLOWED',
  PURPOSE_INVALID: 'REQUEST.PURPOSE_INVALID',
  INPUT_INVALID: 'REQUEST.INPUT_INVALID',
  CAPACITY: 'COMPUTE.INSUFFICIENT_CAPACITY',
  LIMIT: 'COMPUTE.LIMIT_EXCEEDED',
  LAUNCH_FAILED: 'COMPUTE.LAUNCH_FAILED',
  INSTANCE_LOST: 'COMPUTE.INSTANCE_LOST',
  WAIT_TIMED_OUT: 'COMPUTE.WAIT_TIMED_OUT',
  AGENT_OFFLINE: 'COMMAND.AGENT_OFFLINE',
  COMMAND_FAILED: 'COMMAND.FAILED',
  COMMAND_TIMED_OUT: 'COMMAND.TIMED_OUT',
  CLOUD_ERROR: 'CLOUD.ERROR',
  THROTTLED: 'CLOUD.THROTTLED',
  STORE_ERROR: 'STORE.ERROR',
  /** The data store (S3) refused or failed a call. */
  DATA_STORE_ERROR: 'DATA.STORE_ERROR',
  /** A part of a generation is not all there (a multipart part missing, or fewer bytes than the server sent). */
  DATA_PART_MISSING: 'DATA.PART_MISSING',
  /** What is stored is not the size the server reported. */
  DATA_SIZE_MISMATCH: 'DATA.SIZE_MISMATCH',
  /** What was read back is not what was saved (SHA-256 or MD5 differ). */
  DATA_CHECKSUM_MISMATCH: 'DATA.CHECKSUM_MISMATCH',
  /** A save or restore script ended without the summary line it prints last. */
  DATA_NO_REPORT: 'DATA.NO_REPORT',
  /** There is no generation to wake or restore from (or not the one asked for). */
  DATA_NO_GENERATION: 'DATA.NO_GENERATION',
  /** The generation was taken with another number of servers, and its data is not shared. */
  DATA_COUNT_MISMATCH: 'DATA.COUNT_MISMATCH',
  /** Shared data differs between servers after a restore. */
  DATA_NOT_IN_STEP: 'DATA.NOT_IN_STEP',
  /** A button from the message of an earlier environment of the same name. */
  STALE_ACTION: 'ENVIRONMENT.STALE_ACTION',
  /** A schedule that could not be read (`problem` says what), or one the configuration does not allow. */
  SCHEDULE_INVALID: 'SCHEDULE.INVALID',
  /** A reminder's button clicked after the moment it was about (`happened` says what happened instead). */
  SCHEDULE_MOMENT_PASSED: 'SCHEDULE.MOMENT_PASSED',
  /** A request that is no longer waiting for approval (decided, cancelled, expired): `outcome`, `by`, `at` say what happened. */
  APPROVAL_DECIDED: 'APPROVAL.DECIDED',
  /** A rejection needs a reason the requester can act on. */
  APPROVAL_REASON_REQUIRED: 'APPROVAL.REASON_REQUIRED',
  /** Over a person's or a team's quota (quota.policy.ts): `usage`, `limit`, `requested`, who can raise it. */
  QUOTA_EXCEEDED: 'QUOTA.EXCEEDED',
  /** A drift alert's button that cannot act now (`variant`: resolved, moved on, nothing to adopt into …): `text` says what is so. */
  DRIFT_SETTLED: 'DRIFT.SETTLED',
  /** Not foreseen: a bug, or a fault nothing translated. People see a sentence and a reference. */
  UNEXPECTED: 'INTERNAL.UNEXPECTED',
} as const;

/** Codes whose message is about Dormouse or its cloud, not about what the person asked: shown with a reference ops can find in the logs. */
const OURS: ReadonlySet<string> = new Set([ErrorCodes.STORE_ERROR, ErrorCodes.CLOUD_ERROR, ErrorCodes.DATA_STORE_ERROR, ErrorCodes.UNEXPECTED]);

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class DomainError extends Error {
  override readonly name = 'DomainError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra facts for logs and alerts (never secrets). */
    readonly details: Record<string, unknown> = {},
    /** Whether repeating the same step may succeed (capacity, throttling, timeouts). */
    readonly retryable = false,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const isDomainError = (e: unknown): e is DomainError => e instanceof DomainError;

/** Whether the error is on Dormouse's side (the store, the cloud, a bug) rather than about the request. */
export const isOurFault = (e: unknown): boolean => !isDomainError(e) || OURS.has(e.code);

/** Any error as a domain error; what nothing translated becomes UNEXPECTED, with the original as its cause. */
export function asDomainError(error: unknown): DomainError {
  if (isDomainError(error)) return error;
  return new DomainError(ErrorCodes.UNEXPECTED, 'Something unexpected went wrong inside Dormouse.', {}, true, { cause: error });
}

export function notFound(name: string): DomainError {
  return new DomainError(ErrorCodes.NOT_FOUND, `There is no environment called ${name}.`, { name });
}
