import type { Environment } from '../environment/environment.js';
import type { EnvironmentState } from '../environment/lifecycle.js';

export interface AuditEvent {
  environment: string;
  at: string;
  /** `requested`, `state:ready`, `step:bootstrap:0`, `destroy:requested` … */
  type: string;
  actor?: string;
  message: string;
}

export type CreateResult =
  | { created: true; environment: Environment }
  /** The same request arrived again (retry, double submit): nothing was created. */
  | { created: false; environment: Environment };

/** The lease a write must still find in the store to land. */
export interface Fence {
  holder: string;
  token: number;
}

export interface EnvironmentRepository {
  get(name: string): Promise<Environment | undefined>;
  /**
   * Creates the record. When a live environment already holds the name:
   * the same requestId returns it as `created: false`; another throws
   * ENVIRONMENT.NAME_TAKEN naming its owner. An ended environment (destroyed,
   * rejected) of that name is archived, never overwritten silently.
   */
  create(environment: Environment): Promise<CreateResult>;
  /**
   * Writes `next` if the stored version is still `next.version` (and, with a
   * `fence`, if the stored lease still has that holder and token); stores it
   * with version + 1 and returns that. Throws ENVIRONMENT.CONCURRENT_MODIFICATION
   * when someone else wrote first (callers re-read, never overwrite).
   */
  save(next: Environment, fence?: Fence): Promise<Environment>;
  /** Newest first. Uses an index: never a scan. */
  listByOwner(owner: string, options?: { includeEnded?: boolean }): Promise<Environment[]>;
  /** `changedSince`: only those that entered the state at or after it (a range on the index, not a filter). */
  listByState(state: EnvironmentState, options?: { changedSince?: Date }): Promise<Environment[]>;
  /**
   * Environments whose timer is due at or before `now`, earliest first, at most
   * `limit` (default 100). Uses the sparse byDue index: reads what is due, never
   * what exists. `itemsRead` is how many items the store read to answer (what
   * the read costs), for the scheduler's metrics and the sweep benchmark.
   */
  listDue(now: Date, limit?: number): Promise<{ environments: Environment[]; itemsRead: number }>;
  appendEvent(event: AuditEvent): Promise<void>;
  /** Newest first. */
  listEvents(environment: string, limit: number): Promise<AuditEvent[]>;
}
