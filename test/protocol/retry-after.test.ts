/**
 * Retry-After (RFC 9110 §10.2.3): delay-seconds and the three HTTP-date forms, bad values ignored,
 * honoured on 503 and 429 only. Pure; `now` is a fixed instant.
 */
import { describe, expect, it } from 'vitest';
import { parseHttpDate, parseRetryAfter, retryAfterDetails, retryAfterFor, retryAfterOf } from '../../src/protocol/retry-after.js';

const SEC = 1000;
/** Sun, 06 Nov 1994 08:49:37 GMT, the RFC's example instant. */
const RFC_EXAMPLE = Date.UTC(1994, 10, 6, 8, 49, 37);
const NOW = Date.UTC(2026, 2, 1, 12, 0, 0);

describe('parseHttpDate', () => {
  it('reads the three forms of the RFC example as the same instant', () => {
    expect(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT', NOW)).toBe(RFC_EXAMPLE);
    expect(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT', Date.UTC(2000, 0, 1))).toBe(RFC_EXAMPLE);
    expect(parseHttpDate('Sun Nov  6 08:49:37 1994', NOW)).toBe(RFC_EXAMPLE);
    expect(parseHttpDate('Sun Nov 16 08:49:37 1994', NOW)).toBe(RFC_EXAMPLE + 10 * 24 * 3600 * SEC);
  });

  it('RFC 850 two-digit years: more than 50 years ahead means the previous century', () => {
    // In 2026, "76" is 2076 (50 years ahead: not more), "77" is 1977.
    expect(new Date(parseHttpDate('Wednesday, 01-Jan-76 00:00:00 GMT', NOW) ?? 0).getUTCFullYear()).toBe(2076);
    expect(new Date(parseHttpDate('Saturday, 01-Jan-77 00:00:00 GMT', NOW) ?? 0).getUTCFullYear()).toBe(1977);
    expect(new Date(parseHttpDate('Sunday, 01-Mar-26 12:00:00 GMT', NOW) ?? 0).getUTCFullYear()).toBe(2026);
  });

  it('a leap second counts as the next second', () => {
    expect(parseHttpDate('Sat, 31 Dec 2016 23:59:60 GMT', NOW)).toBe(Date.UTC(2017, 0, 1));
  });

  it.each([
    ['no such day', 'Mon, 31 Feb 2026 10:00:00 GMT'],
    ['day 0', 'Mon, 00 Feb 2026 10:00:00 GMT'],
    ['hour 24', 'Mon, 02 Feb 2026 24:00:00 GMT'],
    ['minute 60', 'Mon, 02 Feb 2026 10:60:00 GMT'],
    ['another zone', 'Mon, 02 Feb 2026 10:00:00 UTC'],
    ['an offset', 'Mon, 02 Feb 2026 10:00:00 +0000'],
    ['lower case', 'mon, 02 feb 2026 10:00:00 gmt'],
    ['one-digit day in IMF-fixdate', 'Mon, 2 Feb 2026 10:00:00 GMT'],
    ['no day name', '02 Feb 2026 10:00:00 GMT'],
    ['ISO 8601', '2026-02-02T10:00:00Z'],
    ['asctime with a zone', 'Sun Nov  6 08:49:37 1994 GMT'],
    ['long day name in IMF-fixdate', 'Sunday, 06 Nov 1994 08:49:37 GMT'],
    ['empty', ''],
  ])('refuses %s', (_why, value) => {
    expect(parseHttpDate(value, NOW)).toBeNull();
  });
});

describe('parseRetryAfter', () => {
  it('delay-seconds: milliseconds from now, whatever now is', () => {
    expect(parseRetryAfter('120', NOW)).toBe(120 * SEC);
    expect(parseRetryAfter('0', NOW)).toBe(0);
    expect(parseRetryAfter('007', NOW)).toBe(7 * SEC);
    // Optional whitespace around the value is not part of it.
    expect(parseRetryAfter(' \t3600 ', NOW)).toBe(3600 * SEC);
  });

  it('an HTTP-date: the time left until it, 0 once it has passed', () => {
    expect(parseRetryAfter('Sun, 01 Mar 2026 12:30:00 GMT', NOW)).toBe(30 * 60 * SEC);
    expect(parseRetryAfter('Sunday, 01-Mar-26 12:00:05 GMT', NOW)).toBe(5 * SEC);
    expect(parseRetryAfter('Sun Mar  1 13:00:00 2026', NOW)).toBe(3600 * SEC);
    expect(parseRetryAfter('Sun, 01 Mar 2026 11:59:59 GMT', NOW)).toBe(0);
    expect(parseRetryAfter('Sun, 06 Nov 1994 08:49:37 GMT', NOW)).toBe(0);
  });

  it('a huge number is clamped to an exact integer, not Infinity', () => {
    expect(parseRetryAfter('9'.repeat(400), NOW)).toBe(Number.MAX_SAFE_INTEGER);
  });

  it.each([
    ['absent', undefined],
    ['empty', ''],
    ['negative', '-5'],
    ['fractional', '1.5'],
    ['signed', '+30'],
    ['with a unit', '30s'],
    ['words', 'soon'],
    ['two values joined by a proxy', '120, 120'],
    ['hex', '0x10'],
    ['exponent', '1e3'],
    ['a bad date', 'Mon, 31 Feb 2026 10:00:00 GMT'],
  ])('ignores a value that is %s', (_why, value) => {
    expect(parseRetryAfter(value, NOW)).toBeNull();
  });
});

describe('retryAfterFor: only 503 and 429 ask for a wait', () => {
  it('503 and 429 with a Retry-After', () => {
    expect(retryAfterFor(503, '30', NOW)).toBe(30 * SEC);
    expect(retryAfterFor(429, 'Sun, 01 Mar 2026 12:01:00 GMT', NOW)).toBe(60 * SEC);
  });

  it('other statuses, a missing header and a bad value give none', () => {
    for (const status of [200, 301, 408, 500, 502, 504]) expect(retryAfterFor(status, '30', NOW)).toBeNull();
    expect(retryAfterFor(503, undefined, NOW)).toBeNull();
    expect(retryAfterFor(503, null, NOW)).toBeNull();
    expect(retryAfterFor(429, 'later', NOW)).toBeNull();
  });
});

describe('the BitsError details that carry the wait', () => {
  it('round-trips through retryAfterDetails and retryAfterOf', () => {
    expect(retryAfterOf(retryAfterDetails(30 * SEC))).toBe(30 * SEC);
    expect(retryAfterDetails(null)).toEqual({});
    expect(retryAfterOf({ ...retryAfterDetails(0), status: 503 })).toBe(0);
  });

  it('ignores details without a usable wait', () => {
    expect(retryAfterOf(undefined)).toBeUndefined();
    expect(retryAfterOf({ status: 503 })).toBeUndefined();
    expect(retryAfterOf({ retryAfterMs: -1 })).toBeUndefined();
    expect(retryAfterOf({ retryAfterMs: '30' })).toBeUndefined();
    expect(retryAfterOf({ retryAfterMs: Number.NaN })).toBeUndefined();
  });
});
