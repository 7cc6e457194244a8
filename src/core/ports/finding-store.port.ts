import type { Finding } from '../drift/drift.js';

/**
 * Drift findings, kept so that each is one ops alert for as long as it lasts
 * (updated, not repeated, at every tick) and so that what people did about
 * it (Ignore for a day, Terminate, Repair) is remembered across replicas.
 */
export interface FindingRecord {
  /** The finding's stable key (`orphan:i-…`, `ghost:<env id>:<index>`, …). */
  key: string;
  /** What was found, as last seen. */
  finding: Finding;
  /**
   * - open: found at the last tick, nobody has dealt with it;
   * - acting: someone pressed a button and it is under way (a repair);
   * - ignored: until `ignoredUntil`, then open again if still there;
   * - resolved: gone, by a button or by itself.
   */
  status: 'open' | 'acting' | 'ignored' | 'resolved';
  firstSeen: string;
  lastSeen: string;
  /** Who did what, last, in plain words ("terminated by <@U…>", "repair started by …"). */
  note?: { text: string; by: string; at: string };
  ignoredUntil?: string;
  resolvedAt?: string;
  /** When a replica set out to post the alert (a claim: another one posts it only once this is a minute old). */
  posting?: string;
  /** The alert in the ops channel, once posted. */
  alert?: { channel: string; ts: string };
  /** Bumped by every write; writes are conditional on it. */
  version: number;
}

export interface FindingStore {
  get(key: string): Promise<FindingRecord | undefined>;
  /** Every finding kept (open, acting, ignored, and resolved ones not yet forgotten). */
  list(): Promise<FindingRecord[]>;
  /**
   * Writes `record` as version + 1 if the stored version is still
   * `record.version` (0: none stored). False when someone wrote first.
   */
  put(record: FindingRecord): Promise<boolean>;
  /** Forgets a resolved finding (kept a while so its alert could be updated). */
  remove(key: string, version: number): Promise<void>;
}

/** Where ops hear of a finding: one alert per finding, posted once and then updated. */
export interface DriftAlerts {
  /** Posts the alert (no `alert` yet) or updates it; returns where it is, or undefined when Slack could not be told. */
  driftAlert(record: FindingRecord): Promise<{ channel: string; ts: string } | undefined>;
}
