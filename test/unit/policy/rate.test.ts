/**
 * RATE values of the config file: every unit, the special values, and the refusals (bare numbers,
 * unknown or ambiguous units, negative, too small, wrong JSON types); formatRate reads back.
 */
import { describe, expect, it } from 'vitest';
import { formatRate, parseRate } from '../../../src/policy/rate.js';
import { BitsError } from '../../../src/shared/errors.js';

function refusal(value: unknown): BitsError {
  try {
    parseRate(value, 'bandwidth.normal');
  } catch (err) {
    expect(err).toBeInstanceOf(BitsError);
    return err as BitsError;
  }
  throw new Error(`parseRate accepted ${JSON.stringify(value)}`);
}

describe('parseRate', () => {
  it('reads every unit, with or without a space, into whole bytes per second', () => {
    const cases: Array<[string, number]> = [
      ['1 B/s', 1],
      ['500 KB/s', 500_000],
      ['500 kB/s', 500_000],
      ['1 KiB/s', 1024],
      ['2 MB/s', 2_000_000],
      ['1.5 MiB/s', 1_572_864],
      ['1 GB/s', 1_000_000_000],
      ['2 GiB/s', 2 * 1024 ** 3],
      ['8 kbit/s', 1000],
      ['8 Kbit/s', 1000],
      ['1 kbit/s', 125],
      ['80 Mbit/s', 10_000_000],
      ['1 Gbit/s', 125_000_000],
      ['1.5kbit/s', 188], // 187.5 rounds to a whole byte
      ['  4MiB/s ', 4 * 1024 ** 2],
    ];
    for (const [text, bytes] of cases) expect(parseRate(text), text).toBe(bytes);
  });

  it('"unlimited" is null; 0, "0" and a zero with a unit hold (0)', () => {
    expect(parseRate('unlimited')).toBeNull();
    expect(parseRate(0)).toBe(0);
    expect(parseRate('0')).toBe(0);
    expect(parseRate('0 MB/s')).toBe(0);
    expect(parseRate('0.0 kbit/s')).toBe(0);
  });

  it('refuses a bare number other than 0: the unit is required', () => {
    for (const value of [100, '100', 1.5, '2.5']) {
      const err = refusal(value);
      expect(err.code).toBe('E_INVALIDARG');
      expect(err.message).toContain('without a unit');
      expect(err.message).toMatch(/^bandwidth\.normal is .* without a unit; use "unlimited", 0, or a number with a unit: B\/s, KB\/s, KiB\/s, MB\/s, MiB\/s, GB\/s, GiB\/s, kbit\/s, Mbit\/s or Gbit\/s/);
    }
  });

  it('refuses unknown and ambiguous units, signs, exponents and other text, naming what is allowed', () => {
    for (const value of ['1 kb/s', '1 KBps', '1 MB', '1 mb/s', '1 Mib/s', '-1 KB/s', '+1 KB/s', '1e3 KB/s', '.5 MB/s', '1. MB/s', 'fast', '', 'Unlimited', '1 KB/s/s', '1,5 MB/s']) {
      const err = refusal(value);
      expect(err.code, String(value)).toBe('E_INVALIDARG');
      expect(err.message).toContain(`bandwidth.normal is ${JSON.stringify(value)}; use "unlimited", 0, or a number with a unit`);
    }
  });

  it('refuses values below 1 B/s (other than 0) and above 2^53 B/s', () => {
    expect(refusal('0.4 B/s').message).toContain('less than 1 B/s (0 holds the jobs)');
    expect(refusal('0.001 kbit/s').message).toContain('less than 1 B/s');
    expect(parseRate('0.5 B/s')).toBe(1);
    expect(refusal('9000000 GiB/s').message).toContain('more than 9007199254740991 B/s');
  });

  it('refuses wrong JSON types: negative numbers, NaN, null, booleans, arrays, objects', () => {
    expect(refusal(-1).message).toContain('is -1;');
    expect(refusal(Number.NaN).code).toBe('E_INVALIDARG');
    expect(refusal(null).message).toContain('must be a string or 0; got null');
    expect(refusal(true).message).toContain('must be a string or 0; got true');
    expect(refusal([]).message).toContain('got an array');
    expect(refusal({ rate: 1 }).message).toContain('got an object');
    expect(refusal(undefined).code).toBe('E_INVALIDARG');
  });
});

describe('formatRate', () => {
  it('shows the largest unit that is exact with at most three decimals', () => {
    expect(formatRate(null)).toBe('unlimited');
    expect(formatRate(0)).toBe('0');
    expect(formatRate(1)).toBe('1 B/s');
    expect(formatRate(999)).toBe('999 B/s');
    expect(formatRate(1000)).toBe('1 KB/s');
    expect(formatRate(1024)).toBe('1 KiB/s');
    expect(formatRate(125_000)).toBe('125 KB/s');
    expect(formatRate(1_500_000)).toBe('1.5 MB/s');
    expect(formatRate(1_572_864)).toBe('1.5 MiB/s');
    expect(formatRate(1024 ** 3)).toBe('1 GiB/s');
    expect(formatRate(10_000_000)).toBe('10 MB/s');
    expect(formatRate(1_234_567)).toBe('1234.567 KB/s');
  });

  it('reads back to the same rate', () => {
    for (const rate of [null, 0, 1, 7, 1000, 1023, 1024, 1536, 125_000, 1_000_001, 1_572_864, 3 * 1024 ** 3, 123_456_789_012]) {
      expect(parseRate(formatRate(rate)), formatRate(rate)).toBe(rate);
    }
  });
});
