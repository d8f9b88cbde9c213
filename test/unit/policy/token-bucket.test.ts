/**
 * The token bucket on an explicit clock (ms): waits, bursts, pacing over a long stream,
 * reconfiguring mid-stream, rate 0 (hold) and unlimited.
 */
import { describe, expect, it } from 'vitest';
import { defaultBurst, MIN_BURST, TokenBucket } from '../../../src/policy/token-bucket.js';
import { BitsError } from '../../../src/shared/errors.js';

/** Moves `total` bytes in `chunk`-byte reads through `bucket`, sleeping as told; returns the end time. */
function stream(bucket: TokenBucket, start: number, total: number, chunk: number): number {
  let now = start;
  for (let sent = 0; sent < total; sent += chunk) {
    const wait = bucket.take(chunk, now);
    if (wait === 'hold') throw new Error('held');
    now += wait;
  }
  return now;
}

describe('TokenBucket', () => {
  it('the burst is max(16 KiB, 0.1 s of the rate), and the bucket starts full', () => {
    expect(defaultBurst(1000)).toBe(MIN_BURST);
    expect(defaultBurst(1024 * 1024)).toBeCloseTo(104857.6);
    const b = new TokenBucket({ rate: 1000, now: 0 });
    expect(b.burst).toBe(16 * 1024);
    expect(b.tokens(0)).toBe(16 * 1024);
    expect(new TokenBucket({ rate: 1000, burst: 500, now: 0 }).burst).toBe(500);
  });

  it('take() answers 0 while tokens last, then the ms until the debt is paid', () => {
    const b = new TokenBucket({ rate: 1000, burst: 2000, now: 0 });
    expect(b.take(1500, 0)).toBe(0);
    expect(b.take(500, 0)).toBe(0);
    expect(b.take(1000, 0)).toBe(1000);
    // A second caller queues behind the first: its bytes are paid after the first's.
    expect(b.take(500, 0)).toBe(1500);
    expect(b.tokens(1500)).toBe(0);
    expect(b.take(1, 1500)).toBe(1);
    // Idle time refills up to the burst, never beyond.
    expect(b.tokens(1_000_000)).toBe(2000);
  });

  it('a read larger than the burst is paced, not refused', () => {
    const b = new TokenBucket({ rate: 10_000, burst: 1000, now: 0 });
    expect(b.take(51_000, 0)).toBe(5000);
  });

  it('paces a long stream at the rate: 5 s of 64 KiB reads at 1 MiB/s', () => {
    const rate = 1024 * 1024;
    const b = new TokenBucket({ rate, now: 0 });
    const total = 5 * rate;
    const end = stream(b, 0, total, 64 * 1024);
    // The first burst is free, the rest goes at the rate.
    const expected = ((total - b.burst - 64 * 1024) / rate) * 1000;
    expect(end).toBeGreaterThanOrEqual(expected - 1);
    expect(end).toBeLessThanOrEqual(5000);
    expect(total / (end / 1000)).toBeLessThan(rate * 1.1);
  });

  it('reconfigure mid-stream: the new rate applies from now, a debt is kept, tokens are capped by the new burst', () => {
    const b = new TokenBucket({ rate: 1000, burst: 1000, now: 0 });
    expect(b.take(3000, 0)).toBe(2000); // 2000 bytes of debt at 1000 B/s
    b.reconfigure(4000, 1000, 1000); // 1000 bytes paid at the old rate, 1000 still owed
    expect(b.tokens(1000)).toBe(-1000);
    expect(b.take(0, 1000)).toBe(250); // owed at the new rate
    // Idle, the bucket fills to its burst; a smaller burst caps what was saved.
    const c = new TokenBucket({ rate: 1024 * 1024, now: 0 });
    expect(c.tokens(10_000)).toBeCloseTo(104857.6);
    c.reconfigure(100, 10_000);
    expect(c.burst).toBe(MIN_BURST);
    expect(c.tokens(10_000)).toBe(MIN_BURST);
    // A larger burst does not create tokens: they are earned at the new rate.
    c.reconfigure(1024 * 1024, 10_000);
    expect(c.tokens(10_000)).toBe(MIN_BURST);
    expect(c.tokens(10_050)).toBeCloseTo(MIN_BURST + 1024 * 1024 * 0.05);
  });

  it('rate 0 holds: take() says "hold", reserves nothing, and earns nothing while held', () => {
    const b = new TokenBucket({ rate: 1000, burst: 1000, now: 0 });
    expect(b.take(400, 0)).toBe(0);
    b.reconfigure(0, 0);
    expect(b.take(1, 0)).toBe('hold');
    expect(b.take(1_000_000, 60_000)).toBe('hold');
    expect(b.tokens(60_000)).toBe(600);
    b.reconfigure(1000, 60_000, 1000);
    expect(b.take(600, 60_000)).toBe(0);
    expect(b.take(100, 60_000)).toBe(100);
    expect(new TokenBucket({ rate: 0, now: 0 }).take(1, 0)).toBe('hold');
  });

  it('unlimited never waits and counts nothing; from unlimited to a rate it starts full', () => {
    const b = new TokenBucket({ rate: null, now: 0 });
    expect(b.take(1e12, 0)).toBe(0);
    expect(b.take(1e12, 0)).toBe(0);
    expect(b.tokens(0)).toBe(Number.POSITIVE_INFINITY);
    b.reconfigure(1000, 5000);
    expect(b.tokens(5000)).toBe(MIN_BURST);
    expect(b.take(MIN_BURST + 1000, 5000)).toBe(1000);
    b.reconfigure(null, 5000);
    expect(b.take(1e9, 5000)).toBe(0);
  });

  it('a clock that goes back earns nothing', () => {
    const b = new TokenBucket({ rate: 1000, burst: 1000, now: 10_000 });
    expect(b.take(1000, 10_000)).toBe(0);
    expect(b.tokens(5000)).toBe(0);
    expect(b.tokens(10_500)).toBe(500);
  });

  it('refuses negative, NaN and infinite rates and bursts', () => {
    for (const rate of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new TokenBucket({ rate, now: 0 })).toThrow(BitsError);
    }
    expect(() => new TokenBucket({ rate: 1, burst: 0, now: 0 })).toThrow(/burst must be a finite number > 0/);
    expect(() => new TokenBucket({ rate: 1, now: 0 }).reconfigure(-5, 0)).toThrow(/rate must be null or a finite number >= 0/);
  });
});
