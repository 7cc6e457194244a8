/**
 * What an environment costs awake and asleep, per day, for the message that
 * says what sleeping saves. Prices are list prices in us-east-1 (examples:
 * a deployment in another region sets its own in configuration).
 */

/** S3 Standard, $ per GB-month. */
export const DEFAULT_STORAGE_USD_PER_GB_MONTH = 0.023;
/** EBS gp3 volumes kept by a stopped server, $ per GB-month. */
export const DEFAULT_VOLUME_USD_PER_GB_MONTH = 0.08;

const DAYS_PER_MONTH = 30;
const GB = 1e9;

export const awakeDailyUsd = (hourlyCostUsd: number): number => hourlyCostUsd * 24;

/** Archived: the generation in the store. */
export const archivedDailyUsd = (bytes: number, usdPerGbMonth = DEFAULT_STORAGE_USD_PER_GB_MONTH): number => (bytes / GB) * (usdPerGbMonth / DAYS_PER_MONTH);

/** Stopped: the servers' volumes. */
export const stoppedDailyUsd = (volumeGiB: number, servers: number, usdPerGbMonth = DEFAULT_VOLUME_USD_PER_GB_MONTH): number =>
  volumeGiB * 1.073741824 * servers * (usdPerGbMonth / DAYS_PER_MONTH);
