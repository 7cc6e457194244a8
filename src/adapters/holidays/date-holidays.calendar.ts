/**
 * The holiday calendar of a country (and region), from the date-holidays package, plus the extra
 * days off the configuration lists. Only days off count: holidays of type public or bank, not
 * observances, optional or school holidays. Dates are local calendar dates, as the schedule asks.
 */
import Holidays from 'date-holidays';
import type { HolidayCalendar } from '../../core/schedule/schedule.js';

/** Holiday types that are days off. */
const DAYS_OFF = new Set(['public', 'bank']);
const EXTRA_NAME = 'extra day off';
const DAY_MS = 86_400_000;

export interface HolidayCalendarOptions {
  /** ISO 3166-1 alpha-2 code (`FR`, `US`); none: only the extra days. */
  country?: string;
  /** The country's state or region code as date-holidays names it (`BY` in `DE`, `CA` in `US`). */
  region?: string;
  /** `YYYY-MM-DD` days off of the organisation's own. */
  extraDates?: string[];
}

/**
 * A calendar answering from a table per year, built on first use. Validate the country and region
 * with `validHolidayCountry` first: date-holidays quietly knows no holidays for an unknown one.
 */
export function holidayCalendar(opts: HolidayCalendarOptions): HolidayCalendar {
  const extra = new Set(opts.extraDates ?? []);
  const source = opts.country ? new Holidays(opts.country.toUpperCase(), opts.region?.toUpperCase() ?? '', { languages: ['en'] }) : undefined;
  const years = new Map<number, Map<string, string>>();
  const yearOf = (date: string): Map<string, string> => {
    const year = Number(date.slice(0, 4));
    let table = years.get(year);
    if (table === undefined) {
      table = source ? daysOff(source, year) : new Map();
      years.set(year, table);
    }
    return table;
  };
  const nameOf = (date: string): string | undefined => yearOf(date).get(date) ?? (extra.has(date) ? EXTRA_NAME : undefined);
  return { isHoliday: (date) => nameOf(date) !== undefined, nameOf };
}

/**
 * The days off falling in `year`, by local date, with their names. A holiday lasting several days
 * (Eid in some countries) covers each of them; the year before is read too, for one that runs into January.
 */
function daysOff(source: Holidays, year: number): Map<string, string> {
  const table = new Map<string, string>();
  for (const holiday of [...source.getHolidays(year - 1), ...source.getHolidays(year)]) {
    if (!DAYS_OFF.has(holiday.type)) continue;
    // Rounded: start and end are in the process's zone, where a daylight-saving day lasts 23 or 25 hours.
    const length = Math.max(1, Math.round((holiday.end.getTime() - holiday.start.getTime()) / DAY_MS));
    for (let i = 0; i < length; i++) {
      const date = plusDays(holiday.date.slice(0, 10), i);
      if (date.startsWith(`${year}-`) && !table.has(date)) table.set(date, holiday.name);
    }
  }
  return table;
}

/** A calendar date `days` later (calendar arithmetic in UTC, where every day has 24 hours). */
function plusDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

/**
 * Why a holiday country (and region) cannot be used, in plain words; undefined when it can.
 * For the configuration's validation at start.
 */
export function validHolidayCountry(country: string, region?: string): string | undefined {
  const catalogue = new Holidays();
  const code = country.toUpperCase();
  const countries = catalogue.getCountries('en');
  if (!(code in countries)) return `'${country}' is not a country the holiday calendar knows: use a two-letter ISO 3166 country code, such as FR or US`;
  if (region === undefined || region === '') return undefined;
  const regions = catalogue.getStates(code, 'en') ?? {};
  if (region.toUpperCase() in regions) return undefined;
  const known = Object.keys(regions);
  return known.length === 0
    ? `${countries[code]} has no regions in the holiday calendar: leave the region out`
    : `'${region}' is not a region of ${countries[code]} in the holiday calendar: use one of ${known.join(', ')}`;
}
