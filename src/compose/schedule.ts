/** The scheduler's settings, from the configuration (validated there: the default schedule parses, the holidays' country exists). */
import { holidayCalendar } from '../adapters/holidays/date-holidays.calendar.js';
import type { Config } from '../config/config.js';
import { parseSchedule } from '../core/schedule/schedule.js';
import type { ScheduleSettings } from '../core/schedule/timers.js';

export function scheduleSettings(config: Config): ScheduleSettings {
  const s = config.schedule;
  const parsed = parseSchedule(s.default, { now: new Date(0) });
  if (!parsed.ok) throw new Error(`DORMOUSE_SCHEDULE_DEFAULT: ${parsed.problem}`);
  return {
    defaultSchedule: parsed.schedule,
    defaultZone: s.zone,
    holidays: holidayCalendar({ ...(s.holidays.country ? { country: s.holidays.country } : {}), ...(s.holidays.region ? { region: s.holidays.region } : {}), extraDates: s.holidays.extraDates }),
    reminderMinutes: s.reminderMinutes,
    allowSkip: s.allowSkip,
    ...(s.offMaxDays ? { offMaxDays: s.offMaxDays } : {}),
    idle: s.idle,
    tickMs: s.tickSeconds * 1000,
  };
}
