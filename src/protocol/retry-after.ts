/**
 * Retry-After (RFC 9110 §10.2.3): how long a server asks the client to wait before its next
 * request, as delay-seconds ("120") or an HTTP-date ("Fri, 31 Dec 1999 23:59:59 GMT"). Pure: the
 * clock's `now` comes in as an argument, because an HTTP-date means nothing without it.
 *
 * bitsd honours it on 503 (Service Unavailable) and 429 (Too Many Requests, RFC 6585 §4), the two
 * answers that say "come back later". Windows BITS documents no handling of the header
 * (bits-policies.md §7); docs/decisions.md holds the decision. A value that does not parse is
 * ignored, as if the header were absent: a broken header must not stop retries.
 *
 * Both the download engine (static GET/HEAD, the upload-reply reply) and the upload engine (every
 * BITS packet, Cancel-Session) read it here; the wait it gives travels in the BitsError's
 * `details.retryAfterMs` to the queue, which arms the retry (src/job/retry-wait.ts).
 */

/** The statuses whose Retry-After is honoured. */
export const RETRY_AFTER_STATUSES: ReadonlySet<number> = new Set([429, 503]);

/** The BitsError `details` key that carries the wait a server asked for (ms from the answer). */
export const RETRY_AFTER_DETAIL = 'retryAfterMs';

/** Larger waits are clamped here so the value stays an exact integer (and JSON-safe). */
const MAX_WAIT_MS = Number.MAX_SAFE_INTEGER;

const DAY_NAMES = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
const LONG_DAY_NAMES = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const DAY = DAY_NAMES.join('|');
const LONG_DAY = LONG_DAY_NAMES.join('|');
const MONTH = MONTHS.join('|');
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
/** IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT". */
const IMF_FIXDATE = new RegExp(`^(?:${DAY}), (\\d{2}) (${MONTH}) (\\d{4}) ${TIME} GMT$`);
/** Obsolete RFC 850 form: "Sunday, 06-Nov-94 08:49:37 GMT". */
const RFC850_DATE = new RegExp(`^(?:${LONG_DAY}), (\\d{2})-(${MONTH})-(\\d{2}) ${TIME} GMT$`);
/** Obsolete asctime form: "Sun Nov  6 08:49:37 1994" (a one-digit day is padded with a space). */
const ASCTIME_DATE = new RegExp(`^(?:${DAY}) (${MONTH}) (\\d{2}| \\d) ${TIME} (\\d{4})$`);

/** delay-seconds = 1*DIGIT. */
const DELAY_SECONDS = /^\d+$/;

/** Milliseconds since the epoch of a valid calendar time in UTC, or null (31 Feb, 25:00, ...). */
function utc(year: number, month: number, day: number, hour: number, minute: number, second: number): number | null {
  // A leap second (:60) is allowed by the grammar; it counts as the next second.
  if (hour > 23 || minute > 59 || second > 60 || day < 1) return null;
  const probe = new Date(Date.UTC(year, month, day));
  // Date.UTC maps 0..99 to 1900..1999: set the full year explicitly.
  probe.setUTCFullYear(year, month, day);
  if (probe.getUTCMonth() !== month || probe.getUTCDate() !== day) return null;
  return probe.getTime() + ((hour * 60 + minute) * 60 + second) * 1000;
}

/**
 * RFC 850's two-digit year: RFC 9110 §5.6.7 says a year that looks more than 50 years in the
 * future is the most recent past year with the same last two digits.
 */
function fullYear(twoDigits: number, now: number): number {
  const current = new Date(now).getUTCFullYear();
  let year = current - (current % 100) + twoDigits;
  if (year > current + 50) year -= 100;
  return year;
}

/**
 * An HTTP-date (RFC 9110 §5.6.7: IMF-fixdate, or the obsolete RFC 850 and asctime forms that
 * recipients must accept) as milliseconds since the epoch, or null. Case-sensitive, as the
 * grammar is; `now` settles RFC 850's two-digit years.
 */
export function parseHttpDate(value: string, now: number): number | null {
  let m = IMF_FIXDATE.exec(value);
  if (m) return utc(Number(m[3]), MONTHS.indexOf(m[2] as string), Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  m = RFC850_DATE.exec(value);
  if (m) return utc(fullYear(Number(m[3]), now), MONTHS.indexOf(m[2] as string), Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  m = ASCTIME_DATE.exec(value);
  if (m) return utc(Number(m[6]), MONTHS.indexOf(m[1] as string), Number((m[2] as string).trim()), Number(m[3]), Number(m[4]), Number(m[5]));
  return null;
}

/**
 * The wait a Retry-After value asks for, in milliseconds from `now` (0 for a date already past),
 * or null when it is absent or does not parse (a negative or fractional number, two values
 * joined by a comma, a date in another format, ...).
 */
export function parseRetryAfter(value: string | undefined, now: number): number | null {
  if (value === undefined) return null;
  // Optional whitespace around a field value is not part of it (RFC 9110 §5.5).
  const text = value.replace(/^[ \t]+|[ \t]+$/g, '');
  if (DELAY_SECONDS.test(text)) return Math.min(Number(text) * 1000, MAX_WAIT_MS);
  const at = parseHttpDate(text, now);
  if (at === null) return null;
  return Math.max(0, at - now);
}

/**
 * The wait an answer asks for: the value of its Retry-After header on a 503 or a 429, or null
 * (another status, no header, a bad value).
 */
export function retryAfterFor(status: number, retryAfter: string | null | undefined, now: number): number | null {
  if (!RETRY_AFTER_STATUSES.has(status)) return null;
  return parseRetryAfter(retryAfter ?? undefined, now);
}

/** `details` for a BitsError that carries the wait `retryAfterFor` found (none when null). */
export function retryAfterDetails(retryAfterMs: number | null): Readonly<Record<string, number>> {
  return retryAfterMs === null ? {} : { [RETRY_AFTER_DETAIL]: retryAfterMs };
}

/** The wait recorded in a BitsError's details (see RETRY_AFTER_DETAIL), or undefined. */
export function retryAfterOf(details: Readonly<Record<string, unknown>> | undefined): number | undefined {
  const value = details?.[RETRY_AFTER_DETAIL];
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}
