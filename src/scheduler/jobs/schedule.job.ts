import type { SavingsQuery } from '../../core/use-cases/savings.use-case.js';
import type { ScheduleService } from '../../core/use-cases/schedule.use-case.js';

/** Fires the timers that are due: reminders, sleeps and wakes on schedule, idle clean-up. */
export const scheduleTickJob = (schedule: Pick<ScheduleService, 'tick'>) => ({
  name: 'schedule-tick',
  run: () => schedule.tick(),
});

/** The weekly savings post (once per week across replicas: the use case claims it). */
export const savingsPostJob = (savings: Pick<SavingsQuery, 'postWeekly'>) => ({
  name: 'savings-post',
  run: () => savings.postWeekly(),
});
