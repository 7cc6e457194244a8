/**
 * What the core reports for `/metrics`: flows and their steps. Counting
 * never fails a flow: an adapter that cannot count drops the figure.
 */
export interface MetricsPort {
  /** A flow started (or resumed) under a lease. */
  flowStarted(flow: string): void;
  /** It ended: `done` (it reached a state no flow works in), `failed` (recorded a failure, at `step`), or `stopped` (its lease went: stopped, taken over). */
  flowEnded(flow: string, outcome: 'done' | 'failed' | 'stopped', step?: string): void;
  /** A progress step ended, after `seconds` (`bootstrap`, `launch`, `save`, `restore` …; without the server index). */
  stepTimed(step: string, status: 'done' | 'failed', seconds: number): void;
}

export const NO_METRICS: MetricsPort = {
  flowStarted: () => undefined,
  flowEnded: () => undefined,
  stepTimed: () => undefined,
};
