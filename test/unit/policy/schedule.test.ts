/**
 * Schedules on explicit instants: the edges (from is in, to is out), wrap past midnight, from ==
 * to, day lists and ranges, first match, the next change, and both daylight-saving changes of
 * Europe/Berlin in 2025 (Sunday 30 March 02:00 CET -> 03:00 CEST, Sunday 26 October 03:00 CEST
 * -> 02:00 CET). Times are local, so each block sets process.env.TZ (Node applies it at once).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatDays, localInstant, parseDays, parseTime, scheduleAt, type ScheduleWindow } from '../../../src/policy/schedule.js';

const savedTz = process.env.TZ;
function useTz(tz: string): void {
  beforeAll(() => {
    process.env.TZ = tz;
  });
  afterAll(() => {
    if (savedTz === undefined) delete process.env.TZ;
    else process.env.TZ = savedTz;
  });
}

/** A window from DAYS and "HH:MM" strings, as the config file gives them. */
function w(days: string, from: string, to: string): ScheduleWindow {
  return { days: parseDays(days, 'days'), from: parseTime(from, 'from'), to: parseTime(to, 'to') };
}

/** A local instant (month 1-12), in ms. */
function at(y: number, month: number, d: number, h = 0, min = 0, s = 0, ms = 0): number {
  return new Date(y, month - 1, d, h, min, s, ms).getTime();
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

describe('parseDays and parseTime', () => {
  it('reads day names, lists, ranges (also wrapping the week) and "daily", in any case', () => {
    const set = (text: string): string => formatDays(parseDays(text, 'days'));
    expect(set('daily')).toBe('daily');
    expect(set('mon-fri')).toBe('mon-fri');
    expect(set('sat,sun')).toBe('sat,sun');
    expect(set('mon,wed-fri')).toBe('mon,wed-fri');
    expect(set('SAT, Sun')).toBe('sat,sun');
    expect(set('fri-mon')).toBe('mon,fri-sun');
    expect(set('sun-sat')).toBe('daily');
    expect(set('wed')).toBe('wed');
    expect(set('tue,tue')).toBe('tue');
    expect(parseDays('sun', 'days')).toEqual([true, false, false, false, false, false, false]);
  });

  it('refuses anything else, naming the key and the grammar', () => {
    for (const bad of ['', 'funday', 'mon-', '-fri', 'mon--fri', 'mon-wed-fri', 'daily,mon', 'monday', 'weekdays']) {
      expect(() => parseDays(bad, 'f.json: bandwidth.schedule[0].days'), bad).toThrow(/^f\.json: bandwidth\.schedule\[0\]\.days (is empty|has ".*", not a day or a range of days); use "daily", or day names \(mon, tue, wed, thu, fri, sat, sun\)/);
    }
    expect(() => parseDays(5, 'd')).toThrow('d must be a string; got 5');
    expect(() => parseDays(['mon'], 'd')).toThrow('d must be a string; got an array');
  });

  it('reads HH:MM from 00:00 to 23:59 and nothing else', () => {
    expect(parseTime('00:00', 't')).toBe(0);
    expect(parseTime('08:30', 't')).toBe(510);
    expect(parseTime('23:59', 't')).toBe(1439);
    for (const bad of ['24:00', '8:30', '08:60', '0830', '08:30:00', ' 08:30', 'noon', 830, null, undefined]) {
      expect(() => parseTime(bad, 'f.json: bandwidth.schedule[1].from'), String(bad)).toThrow(/^f\.json: bandwidth\.schedule\[1\]\.from is .*; use "HH:MM", 00:00 to 23:59\.$/);
    }
  });
});

describe('scheduleAt in UTC', () => {
  useTz('UTC');
  // 2025-01-06 is a Monday.
  const workday = [w('mon-fri', '08:00', '17:00')];

  it('from is inside the window, to is outside; the next change is the next edge', () => {
    expect(scheduleAt(workday, at(2025, 1, 6, 7, 59, 59, 999))).toEqual({ entry: null, nextChangeAt: at(2025, 1, 6, 8) });
    expect(scheduleAt(workday, at(2025, 1, 6, 8))).toEqual({ entry: 0, nextChangeAt: at(2025, 1, 6, 17) });
    expect(scheduleAt(workday, at(2025, 1, 6, 16, 59, 59, 999))).toEqual({ entry: 0, nextChangeAt: at(2025, 1, 6, 17) });
    expect(scheduleAt(workday, at(2025, 1, 6, 17))).toEqual({ entry: null, nextChangeAt: at(2025, 1, 7, 8) });
    // Friday evening: the next change is Monday morning.
    expect(scheduleAt(workday, at(2025, 1, 10, 17))).toEqual({ entry: null, nextChangeAt: at(2025, 1, 13, 8) });
    expect(scheduleAt(workday, at(2025, 1, 11, 12))).toEqual({ entry: null, nextChangeAt: at(2025, 1, 13, 8) });
  });

  it('from later than to wraps past midnight and belongs to the day it starts on', () => {
    const friNight = [w('fri', '22:00', '06:00')];
    expect(scheduleAt(friNight, at(2025, 1, 10, 21, 59))).toEqual({ entry: null, nextChangeAt: at(2025, 1, 10, 22) });
    expect(scheduleAt(friNight, at(2025, 1, 10, 22))).toEqual({ entry: 0, nextChangeAt: at(2025, 1, 11, 6) });
    expect(scheduleAt(friNight, at(2025, 1, 11, 0))).toEqual({ entry: 0, nextChangeAt: at(2025, 1, 11, 6) });
    expect(scheduleAt(friNight, at(2025, 1, 11, 5, 59))).toMatchObject({ entry: 0 });
    expect(scheduleAt(friNight, at(2025, 1, 11, 6))).toEqual({ entry: null, nextChangeAt: at(2025, 1, 17, 22) });
    // Saturday night is not Friday's: the window starts only on Fridays.
    expect(scheduleAt(friNight, at(2025, 1, 11, 23))).toMatchObject({ entry: null });
    // Friday early morning belongs to Thursday, which is not in the entry.
    expect(scheduleAt(friNight, at(2025, 1, 10, 3))).toMatchObject({ entry: null });
  });

  it('from == to is 24 hours from `from`; "daily 00:00-00:00" is always and never changes', () => {
    const mon = [w('mon', '09:00', '09:00')];
    expect(scheduleAt(mon, at(2025, 1, 6, 8, 59))).toEqual({ entry: null, nextChangeAt: at(2025, 1, 6, 9) });
    expect(scheduleAt(mon, at(2025, 1, 6, 9))).toEqual({ entry: 0, nextChangeAt: at(2025, 1, 7, 9) });
    expect(scheduleAt(mon, at(2025, 1, 7, 8, 59))).toMatchObject({ entry: 0 });
    expect(scheduleAt(mon, at(2025, 1, 7, 9))).toEqual({ entry: null, nextChangeAt: at(2025, 1, 13, 9) });
    const always = [w('daily', '00:00', '00:00')];
    for (const t of [at(2025, 1, 6), at(2025, 1, 8, 13, 37), at(2025, 1, 12, 23, 59, 59, 999)]) expect(scheduleAt(always, t)).toEqual({ entry: 0, nextChangeAt: null });
    // Adjacent days of one entry do not count as a change.
    const weekdays = [w('mon-fri', '00:00', '00:00')];
    expect(scheduleAt(weekdays, at(2025, 1, 6, 12))).toEqual({ entry: 0, nextChangeAt: at(2025, 1, 11, 0) });
  });

  it('day lists and ranges pick the days', () => {
    const mwf = [w('mon,wed-fri', '10:00', '11:00')];
    const active = (d: number): number | null => scheduleAt(mwf, at(2025, 1, d, 10, 30)).entry;
    expect([6, 7, 8, 9, 10, 11, 12].map(active)).toEqual([0, null, 0, 0, 0, null, null]);
    const weekend = [w('sat,sun', '00:00', '00:00')];
    expect([10, 11, 12, 13].map((d) => scheduleAt(weekend, at(2025, 1, d, 12)).entry)).toEqual([null, 0, 0, null]);
    expect(scheduleAt(weekend, at(2025, 1, 10, 12)).nextChangeAt).toBe(at(2025, 1, 11));
    expect(scheduleAt(weekend, at(2025, 1, 12, 12)).nextChangeAt).toBe(at(2025, 1, 13));
  });

  it('the first matching entry wins; a shadowed entry changes nothing, an uncovered one does', () => {
    const windows = [w('mon-fri', '08:00', '17:00'), w('daily', '12:00', '20:00')];
    expect(scheduleAt(windows, at(2025, 1, 6, 11))).toEqual({ entry: 0, nextChangeAt: at(2025, 1, 6, 17) });
    expect(scheduleAt(windows, at(2025, 1, 6, 13))).toEqual({ entry: 0, nextChangeAt: at(2025, 1, 6, 17) });
    // When the first ends, the second is still on: that is a change (entry 0 -> 1).
    expect(scheduleAt(windows, at(2025, 1, 6, 17))).toEqual({ entry: 1, nextChangeAt: at(2025, 1, 6, 20) });
    expect(scheduleAt(windows, at(2025, 1, 11, 12))).toEqual({ entry: 1, nextChangeAt: at(2025, 1, 11, 20) });
    // Order matters: reversed, the daily entry wins from noon.
    expect(scheduleAt([...windows].reverse(), at(2025, 1, 6, 13))).toEqual({ entry: 0, nextChangeAt: at(2025, 1, 6, 20) });
    // An always-on first entry shadows everything after it: no change ever comes.
    expect(scheduleAt([w('daily', '00:00', '00:00'), w('mon', '09:00', '10:00')], at(2025, 1, 6, 9, 30))).toEqual({ entry: 0, nextChangeAt: null });
  });

  it('no entries: nothing in force, no change', () => {
    expect(scheduleAt([], at(2025, 1, 6))).toEqual({ entry: null, nextChangeAt: null });
  });
});

describe('scheduleAt in Europe/Berlin across daylight-saving changes', () => {
  useTz('Europe/Berlin');

  it('the local fields are Berlin time (the test zone is really in effect)', () => {
    expect(new Date('2025-01-06T12:00:00Z').getHours()).toBe(13);
    expect(new Date('2025-07-06T12:00:00Z').getHours()).toBe(14);
  });

  it('spring forward: a night window is an hour shorter, a daily window starts at its local time', () => {
    const satNight = [w('sat', '22:00', '06:00')];
    // Saturday 29 March 22:00 CET = 21:00Z; Sunday 06:00 CEST = 04:00Z.
    const before = scheduleAt(satNight, Date.parse('2025-03-29T20:59:00Z'));
    expect(iso(before.nextChangeAt)).toBe('2025-03-29T21:00:00.000Z');
    const inside = scheduleAt(satNight, Date.parse('2025-03-29T21:00:00Z'));
    expect(inside.entry).toBe(0);
    expect(iso(inside.nextChangeAt)).toBe('2025-03-30T04:00:00.000Z');
    expect(scheduleAt(satNight, Date.parse('2025-03-30T03:59:59Z')).entry).toBe(0);
    expect(scheduleAt(satNight, Date.parse('2025-03-30T04:00:00Z')).entry).toBeNull();
    // A daily 08:00 start: 07:00Z on Saturday (CET), 06:00Z on Sunday (CEST).
    const daily = [w('daily', '08:00', '17:00')];
    expect(iso(scheduleAt(daily, Date.parse('2025-03-29T18:00:00Z')).nextChangeAt)).toBe('2025-03-30T06:00:00.000Z');
    expect(iso(scheduleAt(daily, Date.parse('2025-03-28T18:00:00Z')).nextChangeAt)).toBe('2025-03-29T07:00:00.000Z');
  });

  it('spring forward: a start or end in the skipped hour happens at the jump (02:00 CET = 01:00Z)', () => {
    expect(iso(localInstant({ y: 2025, m: 2, d: 30 }, 150))).toBe('2025-03-30T01:00:00.000Z');
    expect(iso(localInstant({ y: 2025, m: 2, d: 30 }, 120))).toBe('2025-03-30T01:00:00.000Z');
    expect(iso(localInstant({ y: 2025, m: 2, d: 30 }, 119))).toBe('2025-03-30T00:59:00.000Z');
    expect(iso(localInstant({ y: 2025, m: 2, d: 30 }, 180))).toBe('2025-03-30T01:00:00.000Z');
    const skippedStart = [w('sun', '02:30', '04:00')];
    expect(scheduleAt(skippedStart, Date.parse('2025-03-30T00:59:59Z'))).toEqual({ entry: null, nextChangeAt: Date.parse('2025-03-30T01:00:00Z') });
    expect(scheduleAt(skippedStart, Date.parse('2025-03-30T01:00:00Z'))).toEqual({ entry: 0, nextChangeAt: Date.parse('2025-03-30T02:00:00Z') });
    // A window entirely inside the skipped hour does not happen that day.
    const gone = [w('sun', '02:10', '02:50')];
    expect(iso(scheduleAt(gone, Date.parse('2025-03-30T00:00:00Z')).nextChangeAt)).toBe('2025-04-06T00:10:00.000Z');
  });

  it('fall back: a night window is an hour longer; an end in the repeated hour is its first pass', () => {
    const satNight = [w('sat', '22:00', '06:00')];
    // Saturday 25 October 22:00 CEST = 20:00Z; Sunday 06:00 CET = 05:00Z: nine hours.
    const inside = scheduleAt(satNight, Date.parse('2025-10-25T20:00:00Z'));
    expect(inside.entry).toBe(0);
    expect(iso(inside.nextChangeAt)).toBe('2025-10-26T05:00:00.000Z');
    expect(scheduleAt(satNight, Date.parse('2025-10-26T04:59:59Z')).entry).toBe(0);
    // Ends at 02:30: the first 02:30 (CEST, 00:30Z); the second pass of 02:15 (CET, 01:15Z) stays out.
    const endsInRepeat = [w('sat', '22:00', '02:30')];
    expect(iso(scheduleAt(endsInRepeat, Date.parse('2025-10-25T21:00:00Z')).nextChangeAt)).toBe('2025-10-26T00:30:00.000Z');
    expect(new Date('2025-10-26T01:15:00Z').getHours()).toBe(2);
    expect(scheduleAt(endsInRepeat, Date.parse('2025-10-26T01:15:00Z')).entry).toBeNull();
    // Starts in the repeated hour: at its first pass.
    const startsInRepeat = [w('sun', '02:30', '05:00')];
    expect(scheduleAt(startsInRepeat, Date.parse('2025-10-26T00:00:00Z'))).toEqual({ entry: null, nextChangeAt: Date.parse('2025-10-26T00:30:00Z') });
    expect(scheduleAt(startsInRepeat, Date.parse('2025-10-26T01:30:00Z'))).toEqual({ entry: 0, nextChangeAt: Date.parse('2025-10-26T04:00:00Z') });
  });

  it('the same schedule and instant give another answer in another zone (times are local)', () => {
    const morning = [w('daily', '08:00', '09:00')];
    const t = Date.parse('2025-01-06T07:30:00Z'); // 08:30 in Berlin, 07:30 in UTC
    expect(scheduleAt(morning, t).entry).toBe(0);
    process.env.TZ = 'UTC';
    try {
      expect(scheduleAt(morning, t).entry).toBeNull();
    } finally {
      process.env.TZ = 'Europe/Berlin';
    }
  });
});
