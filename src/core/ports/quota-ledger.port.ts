/**
 * The quota book: per scope (a person, a team), the environments admitted
 * against its quota and what each holds. It is what makes a quota hold under
 * concurrency without transactions: every admission reads a scope's book and
 * writes it back conditional on the version it read, so of two requests
 * admitted at once against the same book, one write lands and the other reads
 * again and decides anew (see use-cases/quota.use-case.ts).
 *
 * Scopes are `person:<user id>` and `team:<team name>`.
 */
export interface QuotaHold {
  environmentId: string;
  name: string;
  owner: string;
  servers: number;
  usdPerDay: number;
  /** When it was admitted (ISO). */
  at: string;
}

export interface QuotaBook {
  /** By environment id. */
  holds: Record<string, QuotaHold>;
  /** 0: no book stored yet. */
  version: number;
}

export interface QuotaLedger {
  /** The scope's book, read consistently (version 0 and no holds when there is none). */
  read(scope: string): Promise<QuotaBook>;
  /**
   * Stores `holds` as the scope's book if its stored version is still `version`
   * (0: none stored), as version + 1. True when it landed; false when someone
   * else wrote first (the caller reads again). Store faults throw.
   */
  write(scope: string, holds: Record<string, QuotaHold>, version: number): Promise<boolean>;
}
