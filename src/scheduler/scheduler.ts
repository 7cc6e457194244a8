/**
 * Cron wiring. Each job calls one use case and nothing else. Every replica
 * may run the sweep: leases on each environment decide who resumes what.
 */
import cron from 'node-cron';
import type { Logger } from '../core/ports/notifier.port.js';
import type { UseCases } from '../core/use-cases/index.js';

export interface Scheduler {
  stop(): void;
}

export function startScheduler({ useCases, logger }: { useCases: UseCases; logger: Logger }): Scheduler {
  const log = logger.child({ component: 'scheduler' });
  const jobs = [
    cron.schedule(
      '* * * * *',
      async () => {
        const resumed = await useCases.resume.execute();
        if (resumed.length) log.info({ resumed }, 'resumed environments whose worker stopped');
      },
      { name: 'resume-stuck', noOverlap: true },
    ),
  ];
  for (const job of jobs) job.on('execution:failed', (ctx: { execution?: { error?: unknown } }) => log.error({ err: ctx.execution?.error, job: job.name }, 'scheduled job failed'));
  return { stop: () => jobs.forEach((j) => void j.stop()) };
}
