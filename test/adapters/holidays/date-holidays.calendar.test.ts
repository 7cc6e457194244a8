/** The holiday calendar from date-holidays: which days are days off, their names, and configuration checks. */
import { describe, expect, it } from 'vitest';
import { holidayCalendar, validHolidayCountry } from '../../../src/adapters/holidays/date-holidays.calendar.js';
import { nextWake, parseSchedule, type WindowSchedule } from '../../../src/core/schedule/schedule.js';

describe('holidayCalendar', () => {
  const france = holidayCalendar({ country: 'FR' });

  it('counts public holidays, by local date, with their English names', () => {
    expect(france.isHoliday('2026-12-25')).toBe(true);
    expect(france.nameOf('2026-12-25')).toBe('Christmas Day');
    expect(france.nameOf('2026-07-14')).toBe('Bastille Day');
    expect(france.nameOf('2026-05-14')).toBe('Ascension Day'); // a moving feast
  });

  it('does not count ordinary days, observances or optional holidays', () => {
    expect(france.isHoliday('2026-06-02')).toBe(false);
    expect(france.nameOf('2026-06-02')).toBeUndefined();
    expect(france.isHoliday('2026-05-31')).toBe(false); // Mother's Day: an observance
    expect(holidayCalendar({ country: 'US' }).isHoliday('2026-12-24')).toBe(false); // Christmas Eve: optional there
  });

  it('counts bank holidays and substitute days', () => {
    expect(holidayCalendar({ country: 'DE' }).nameOf('2026-12-24')).toBe('Christmas Eve'); // a bank holiday in Germany
    expect(holidayCalendar({ country: 'US' }).nameOf('2026-07-03')).toBe('Independence Day (substitute day)');
  });

  it('follows the region', () => {
    expect(holidayCalendar({ country: 'DE', region: 'BY' }).nameOf('2026-01-06')).toBe('Epiphany');
    expect(holidayCalendar({ country: 'de', region: 'by' }).isHoliday('2026-01-06')).toBe(true);
    expect(holidayCalendar({ country: 'DE', region: 'BE' }).isHoliday('2026-01-06')).toBe(false);
  });

  it('covers each day of a holiday lasting several days', () => {
    const emirates = holidayCalendar({ country: 'AE' });
    expect(['2026-03-19', '2026-03-20', '2026-03-21', '2026-03-22', '2026-03-23'].map((d) => emirates.isHoliday(d))).toEqual([false, true, true, true, false]);
  });

  it('answers for any year', () => {
    expect(france.nameOf('2027-12-25')).toBe('Christmas Day');
    expect(france.nameOf('2025-01-01')).toBe("New Year's Day");
    expect(france.isHoliday('2027-07-13')).toBe(false);
  });

  it('adds the extra days off, with or without a country', () => {
    const extra = holidayCalendar({ extraDates: ['2026-08-14', '2026-12-24'] });
    expect(extra.nameOf('2026-08-14')).toBe('extra day off');
    expect(extra.isHoliday('2026-12-24')).toBe(true);
    expect(extra.isHoliday('2026-12-25')).toBe(false);
    const both = holidayCalendar({ country: 'FR', extraDates: ['2026-08-14', '2026-12-25'] });
    expect(both.nameOf('2026-08-14')).toBe('extra day off');
    expect(both.nameOf('2026-12-25')).toBe('Christmas Day'); // the holiday's own name wins
  });

  it('with no country and no extra days knows no holidays', () => {
    expect(holidayCalendar({}).isHoliday('2026-12-25')).toBe(false);
  });

  it('keeps a scheduled wake off a national holiday', () => {
    const r = parseSchedule('weekdays 09:00-18:00 Europe/Paris --wake-at 08:30', { now: new Date('2026-07-13T10:00:00Z') });
    if (!r.ok) throw new Error(r.problem);
    // Mon 13 July, noon in Paris → not Tue 14 (Bastille Day) → Wed 15 at 08:30 summer time (UTC+2) = 06:30Z.
    expect(nextWake(r.schedule as WindowSchedule, 'Europe/Paris', new Date('2026-07-13T10:00:00Z'), france)?.toISOString()).toBe('2026-07-15T06:30:00.000Z');
  });
});

describe('validHolidayCountry', () => {
  it.each([['FR'], ['fr'], ['US', 'CA'], ['DE', 'by'], ['FR', '']])('%s %s is accepted', (country, region?: string) => {
    expect(validHolidayCountry(country, region)).toBeUndefined();
  });

  it('names an unknown country', () => {
    expect(validHolidayCountry('XX')).toBe("'XX' is not a country the holiday calendar knows: use a two-letter ISO 3166 country code, such as FR or US");
  });

  it('names an unknown region and lists the known ones', () => {
    expect(validHolidayCountry('DE', 'ZZ')).toBe(
      "'ZZ' is not a region of Germany in the holiday calendar: use one of BB, BE, BW, BY, HB, HE, HH, MV, NI, NW, RP, SH, SL, SN, ST, TH",
    );
  });

  it('says when a country has no regions at all', () => {
    expect(validHolidayCountry('LU', 'X')).toBe('Luxembourg has no regions in the holiday calendar: leave the region out');
  });
});
