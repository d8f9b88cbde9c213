/**
 * Schedules: which entry of `bandwidth.schedule` is in force at an instant, and when that changes.
 *
 * An entry covers, on each of its days, the wall-clock times from `from` up to (not including)
 * `to`, in the local time zone of the daemon (the JS Date's local fields, so TZ applies):
 * - from < to: that day, from..to ("mon-fri 08:00-17:00");
 * - from > to: it wraps past midnight and belongs to the day it starts on ("fri 22:00-06:00" is
 *   Friday 22:00 to Saturday 06:00);
 * - from == to: 24 hours from `from` ("daily 00:00-00:00" is always).
 * Each occurrence is a span of real time, from the first instant the clock reads `from` on its
 * start day to the first instant it reads `to` on its end day. On a daylight-saving change this
 * means: a start or end inside the skipped hour happens when the clock jumps over it; an end in
 * the repeated hour happens at its first pass (the window is not re-entered an hour later).
 *
 * The first entry in force wins; outside all entries the top-level values apply (policy.ts).
 * Pure: no I/O; `now` is always a parameter.
 */
import { BitsError } from '../shared/errors.js';

/** Day numbers as Date.getDay(): 0 = Sunday ... 6 = Saturday. */
export const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

export const DAYS_SYNTAX = '"daily", or day names (mon, tue, wed, thu, fri, sat, sun) and ranges joined by commas, e.g. "mon-fri", "sat,sun", "mon,wed-fri"';
export const TIME_SYNTAX = '"HH:MM", 00:00 to 23:59';

/** One schedule entry's time window; the limits it sets live beside it (config.ts). */
export interface ScheduleWindow {
  /** The 7 days, indexed by Date.getDay(): true where the entry starts on that day. */
  readonly days: readonly boolean[];
  /** Minutes after local midnight, 0..1439. */
  readonly from: number;
  readonly to: number;
}

/** Parses DAYS; `where` names the value in the message. */
export function parseDays(value: unknown, where: string): readonly boolean[] {
  const bad = (why: string): BitsError => new BitsError('E_INVALIDARG', `${where} ${why}; use ${DAYS_SYNTAX}.`);
  if (typeof value !== 'string') throw bad(`must be a string; got ${describe(value)}`);
  const text = value.trim().toLowerCase();
  const days = new Array<boolean>(7).fill(false);
  if (text === 'daily') return Object.freeze(days.fill(true));
  if (text === '') throw bad('is empty');
  for (const part of text.split(',')) {
    const ends = part.trim().split('-');
    const first = dayIndex(ends[0]);
    const last = ends.length === 2 ? dayIndex(ends[1]) : first;
    if (ends.length > 2 || first === undefined || last === undefined) throw bad(`has ${JSON.stringify(part.trim())}, not a day or a range of days`);
    // A range may wrap the week: "fri-mon" is fri, sat, sun, mon.
    for (let d = first; ; d = (d + 1) % 7) {
      days[d] = true;
      if (d === last) break;
    }
  }
  return Object.freeze(days);
}

function dayIndex(name: string | undefined): number | undefined {
  const i = (DAY_NAMES as readonly string[]).indexOf((name ?? '').trim());
  return i < 0 ? undefined : i;
}

/** Parses "HH:MM" into minutes after midnight. */
export function parseTime(value: unknown, where: string): number {
  const m = typeof value === 'string' ? /^([01]\d|2[0-3]):([0-5]\d)$/.exec(value) : null;
  if (!m) throw new BitsError('E_INVALIDARG', `${where} is ${describe(value)}; use ${TIME_SYNTAX}.`);
  return Number(m[1]) * 60 + Number(m[2]);
}

function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (Array.isArray(value)) return 'an array';
  if (value !== null && typeof value === 'object') return 'an object';
  const text = JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/** "HH:MM". */
export function formatTimeOfDay(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}

/** The canonical DAYS text: "daily", or runs of days from Monday, e.g. "mon-fri", "mon,wed-fri", "sat,sun". */
export function formatDays(days: readonly boolean[]): string {
  if (days.every(Boolean)) return 'daily';
  const order = [1, 2, 3, 4, 5, 6, 0];
  const parts: string[] = [];
  for (let i = 0; i < 7; i++) {
    if (!days[order[i] as number]) continue;
    let j = i;
    while (j + 1 < 7 && days[order[j + 1] as number]) j++;
    const a = DAY_NAMES[order[i] as number];
    const b = DAY_NAMES[order[j] as number];
    parts.push(j === i ? `${a}` : j === i + 1 ? `${a},${b}` : `${a}-${b}`);
    i = j;
  }
  return parts.join(',');
}

/** A local calendar date. */
interface LocalDate {
  readonly y: number;
  readonly m: number;
  readonly d: number;
}

/** The local date `offset` days after `date` (noon avoids the daylight-saving hours). */
function addDays(date: LocalDate, offset: number): LocalDate & { readonly dow: number } {
  const t = new Date(date.y, date.m, date.d + offset, 12);
  return { y: t.getFullYear(), m: t.getMonth(), d: t.getDate(), dow: t.getDay() };
}

/** Local wall-clock fields as one comparable number: yyyymmddhhmm. */
function wallKey(t: Date): number {
  return (((t.getFullYear() * 100 + t.getMonth()) * 100 + t.getDate()) * 100 + t.getHours()) * 100 + t.getMinutes();
}

/**
 * The first instant whose local date is `date` and whose local time is at least `minutes`: the
 * instant the clock reads that time, or, when daylight saving skips it, the instant of the jump.
 */
export function localInstant(date: LocalDate, minutes: number): number {
  const h = Math.floor(minutes / 60);
  const min = minutes % 60;
  const guess = new Date(date.y, date.m, date.d, h, min);
  const target = (((date.y * 100 + date.m) * 100 + date.d) * 100 + h) * 100 + min;
  if (wallKey(guess) === target) return guess.getTime(); // a repeated time resolves to its first pass
  // Skipped: Date put it after the jump. The jump is the first minute whose wall time reaches the
  // target; no zone skips more than a day, so search the day before the guess.
  let lo = guess.getTime() - 24 * 3600_000;
  let hi = guess.getTime();
  while (hi - lo > 60_000) {
    const mid = lo + Math.floor((hi - lo) / 120_000) * 60_000;
    if (wallKey(new Date(mid)) >= target) hi = mid;
    else lo = mid;
  }
  return hi;
}

interface Span {
  readonly entry: number;
  readonly start: number;
  readonly end: number;
}

/** Every occurrence of every entry that starts between `first` and `last` days from `now`'s local date. */
function spans(windows: readonly ScheduleWindow[], now: number, first: number, last: number): Span[] {
  const t = new Date(now);
  const today = { y: t.getFullYear(), m: t.getMonth(), d: t.getDate() };
  const out: Span[] = [];
  for (let offset = first; offset <= last; offset++) {
    const day = addDays(today, offset);
    windows.forEach((w, entry) => {
      if (!w.days[day.dow]) return;
      const start = localInstant(day, w.from);
      const end = localInstant(w.to > w.from ? day : addDays(day, 1), w.to);
      if (end > start) out.push({ entry, start, end });
    });
  }
  return out;
}

function entryIn(all: readonly Span[], at: number): number | null {
  let best: number | null = null;
  for (const s of all) {
    if (s.start <= at && at < s.end && (best === null || s.entry < best)) best = s.entry;
  }
  return best;
}

export interface ScheduleState {
  /** The index of the entry in force (the first that covers now), or null. */
  readonly entry: number | null;
  /** When the entry in force next changes (ms since the epoch), or null if never within 8 days. */
  readonly nextChangeAt: number | null;
}

/** How far ahead nextChangeAt looks: a week repeats, plus the longest (25-hour) occurrence. */
const HORIZON_DAYS = 8;

/** The entry in force at `now` (ms) and the next instant that changes. */
export function scheduleAt(windows: readonly ScheduleWindow[], now: number): ScheduleState {
  if (windows.length === 0) return { entry: null, nextChangeAt: null };
  // An occurrence lasts at most 25 hours, so one that covers now started today or yesterday.
  const all = spans(windows, now, -1, HORIZON_DAYS + 1);
  const entry = entryIn(all, now);
  const horizon = now + HORIZON_DAYS * 24 * 3600_000;
  const edges = [...new Set(all.flatMap((s) => [s.start, s.end]))].filter((e) => e > now && e <= horizon).sort((a, b) => a - b);
  for (const edge of edges) {
    if (entryIn(all, edge) !== entry) return { entry, nextChangeAt: edge };
  }
  return { entry, nextChangeAt: null };
}
