/**
 * What was already said about one environment, kept in the store next to it,
 * so that any replica (and a restarted process) posts one message per
 * environment, never shows an older state after a newer one, and tells each
 * line of its story once. The notifier adapter uses it; the core does not.
 */
export interface MessageLocation {
  channel: string;
  ts: string;
}

/** One environment, one incarnation: a reused name starts a new ledger. */
export interface LedgerKey {
  name: string;
  id: string;
}

export interface LedgerEntry {
  /** Where the message lives, once posted. */
  message?: MessageLocation;
  /** The highest version of the environment claimed for display. */
  shown: number;
}

/** An ops alert about one failure, while its buttons may still be live. */
export interface AlertRecord {
  /** The failure it is about (its time). */
  id: string;
  message: MessageLocation;
  /** What failed, for the line that replaces the alert's buttons once someone acts. */
  summary: string;
}

export type PostClaim = { claimed: true } | { claimed: false; message?: MessageLocation };

export interface MessageLedger {
  get(key: LedgerKey): Promise<LedgerEntry | undefined>;
  /** The right to post the message: one poster at a time; an expired claim (a crash) can be taken again. */
  claimPost(key: LedgerKey, holder: string, ttlMs: number): Promise<PostClaim>;
  recordPost(key: LedgerKey, message: MessageLocation): Promise<void>;
  /** The message is gone from Slack (deleted, a console restarted): forget it and its thread, so it is posted again. */
  forgetPost(key: LedgerKey, message: MessageLocation): Promise<void>;
  /**
   * Claims showing `version`: false when a newer one (or, unless `again`,
   * this one) was already claimed. `again` is for showing the newest version
   * once more after a slower, older update may have landed over it.
   */
  claimVersion(key: LedgerKey, version: number, options?: { again?: boolean }): Promise<boolean>;
  /** Claims telling a line: false when it was told, or is being told and the claim has not expired. */
  claimLine(key: LedgerKey, line: string, ttlMs: number): Promise<boolean>;
  lineTold(key: LedgerKey, line: string): Promise<void>;
  /** Whether the line was told (not merely claimed: a claimer may have died before telling it). */
  isLineTold(key: LedgerKey, line: string): Promise<boolean>;
  /** A line could not be told: it may be claimed again at once. */
  lineFailed(key: LedgerKey, line: string): Promise<void>;
  recordAlert(key: LedgerKey, alert: AlertRecord): Promise<void>;
  /** Alerts whose buttons are still live. */
  openAlerts(key: LedgerKey): Promise<AlertRecord[]>;
  /** Claims closing an alert: false when another replica already did. */
  closeAlert(key: LedgerKey, id: string): Promise<boolean>;
}
