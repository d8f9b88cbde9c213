/**
 * RateMeter: a job's current rate over the last 2 s, in 250 ms bins, on explicit instants.
 */
import { describe, expect, it } from 'vitest';
import { RATE_BIN_MS, RATE_WINDOW_MS, RateMeter } from '../../../src/policy/rate-meter.js';

/** Feeds `rate` bytes per second in 10 ms steps from `from` to `to`. */
function feed(meter: RateMeter, rate: number, from: number, to: number): void {
  for (let t = from; t < to; t += 10) meter.add((rate * 10) / 1000, t);
}

describe('RateMeter', () => {
  it('a steady rate reads as itself, from the first bin on', () => {
    const meter = new RateMeter();
    expect(meter.rate(0)).toBe(0);
    feed(meter, 1_000_000, 1_000_000, 1_000_300);
    expect(meter.rate(1_000_300)).toBeCloseTo(1_000_000, -4);
    feed(meter, 1_000_000, 1_000_300, 1_010_000);
    expect(meter.rate(1_010_000)).toBeCloseTo(1_000_000, -4);
  });

  it('follows a change within the window, and reads 0 a window after the last byte', () => {
    const meter = new RateMeter();
    feed(meter, 4_000_000, 0, 5000);
    feed(meter, 1_000_000, 5000, 5000 + RATE_WINDOW_MS + RATE_BIN_MS);
    expect(meter.rate(5000 + RATE_WINDOW_MS + RATE_BIN_MS)).toBeCloseTo(1_000_000, -4);
    const last = 5000 + RATE_WINDOW_MS + RATE_BIN_MS - 10;
    expect(meter.idle(last + RATE_WINDOW_MS - 1)).toBe(false);
    expect(meter.idle(last + RATE_WINDOW_MS)).toBe(true);
    expect(meter.rate(last + RATE_WINDOW_MS + RATE_BIN_MS)).toBe(0);
  });

  it('a pause inside the window lowers the rate in proportion', () => {
    const meter = new RateMeter();
    feed(meter, 2_000_000, 0, 4000);
    // Nearly 1 s of nothing: half of the 2 s window moved at 2 MB/s.
    expect(meter.rate(4999)).toBeCloseTo(1_000_000, -4);
  });

  it('bins reused after a long gap do not carry old bytes', () => {
    const meter = new RateMeter();
    feed(meter, 8_000_000, 0, 2000);
    feed(meter, 1_000_000, 60_000, 62_000);
    expect(meter.rate(62_000)).toBeCloseTo(1_000_000, -4);
  });
});
