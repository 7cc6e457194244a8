/**
 * Cron wiring. Each job calls one use case and nothing else, and runs only on
 * the leader (see leader.ts). A tick that runs twice (a leader change in the
 * middle) does nothing twice: each job's writes are conditional.
 */
import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from '../core/ports/clock.port.js';
import { newCorrelationId, withCorrelation } from '../core/ports/correlation.js';
import type { LeaderCoordinator } from './leader.js';

export interface Job {
  name: string;
  run(): Promise<unknown>;
}

export interface Scheduler {
  /** Runs every job once now, if this replica leads (at start, so a restart does not wait for the first tick); not the `atStart: false` ones. */
  tick(): Promise<void>;
  /** Runs one job now, if this replica leads (the sandbox clock jumped: what fell due is done at once). */
  runJob(name: string): Promise<void>;
  stop(): Promise<void>;
}

export function startScheduler(opts: {
  /** `atStart: false`: a job that must keep to its time (a weekly post), not run again by every start. */
  jobs: Array<{ job: Job; every: string; atStart?: boolean }>;
  coordinator: LeaderCoordinator;
  logger: Logger;
  leaseMs: number;
}): Scheduler {
  const log = opts.logger.child({ component: 'scheduler' });
  // Each run of a job is one correlation: its lines, and the flows it starts (a scheduled sleep), carry its id.
  // A flow the sweep resumes keeps the id it was started with (the runner stores it on the environment).
  const run = (job: Job) =>
    withCorrelation(newCorrelationId(), async () => {
      try {
        await job.run();
      } catch (err) {
        log.error({ err, job: job.name }, 'scheduled job failed');
      }
    });
  const tasks: ScheduledTask[] = opts.jobs.map(({ job, every }) =>
    cron.schedule(every, () => run(job), { name: job.name, noOverlap: true, distributed: true, runCoordinator: opts.coordinator, distributedLease: opts.leaseMs }),
  );
  return {
    tick: async () => {
      if (!(await opts.coordinator.shouldRun())) return;
      for (const { job, atStart } of opts.jobs) if (atStart !== false) await run(job);
    },
    runJob: async (name) => {
      const found = opts.jobs.find((j) => j.job.name === name);
      if (!found || !(await opts.coordinator.shouldRun())) return;
      await run(found.job);
    },
    stop: async () => {
      await Promise.all(tasks.map((t) => t.stop()));
      await opts.coordinator.release();
    },
  };
}
