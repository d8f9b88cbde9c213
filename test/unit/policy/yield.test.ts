import { describe, expect, it } from 'vitest';
import { nextYield, YIELD_START, type YieldState } from '../../../src/policy/yield.js';

const MB = 1_000_000;
const STEP = 200;

/** Feeds samples of `seconds` at STEP ms: the link carries own + other (bytes/s), plus 3% headers on own. */
function feed(state: YieldState, seconds: number, own: (s: YieldState) => number, other: number): YieldState[] {
  const out: YieldState[] = [];
  let s = state;
  for (let t = 0; t < seconds * 1000; t += STEP) {
    const ownRate = own(s);
    s = nextYield(s, { intervalMs: STEP, linkBytes: ((ownRate * 1.03 + other) * STEP) / 1000, ownBytes: (ownRate * STEP) / 1000 });
    out.push(s);
  }
  return out;
}

/** bitsd takes what its limit allows of a 10 MB/s link that `other` also uses (TCP shares it). */
const bitsd = (link: number, other: number) => (s: YieldState) => Math.min(s.limit ?? Number.POSITIVE_INFINITY, other > 0 ? link / 2 : link);

describe('yielding (pure)', () => {
  it('alone on the link: no limit, and the capacity is learnt', () => {
    const states = feed(YIELD_START, 3, bitsd(10 * MB, 0), 0);
    expect(states.every((s) => s.limit === null)).toBe(true);
    expect(states.at(-1)?.capacity).toBeGreaterThan(10 * MB);
  });

  it('other traffic appears: the limit falls to the floor within about a second; FOREGROUND-free link climbs back', () => {
    const alone = feed(YIELD_START, 2, bitsd(10 * MB, 0), 0).at(-1) as YieldState;
    const busy = feed(alone, 2, bitsd(10 * MB, 5 * MB), 5 * MB);
    // Half the link taken by others is clearly not our own bytes: bitsd drops to the floor at once
    // (2% of the ~10.3 MB/s the link carried).
    const floor = Math.floor((busy.at(-1)?.capacity ?? 0) * 0.02);
    expect(floor).toBeGreaterThan(0.18 * MB);
    expect(busy[0]?.limit).toBeLessThanOrEqual(floor * 1.05);
    const atFloor = busy.findIndex((s) => s.limit !== null && s.limit <= floor * 1.05);
    expect(atFloor).toBeGreaterThanOrEqual(0);
    expect((atFloor + 1) * STEP).toBeLessThanOrEqual(1400);
    expect(busy.at(-1)?.limit).toBe(floor);
    // The link is idle again: the limit grows and is lifted within a few seconds.
    const idle = feed(busy.at(-1) as YieldState, 5, bitsd(10 * MB, 0), 0);
    const lifted = idle.findIndex((s) => s.limit === null);
    expect(lifted).toBeGreaterThan(0);
    expect((lifted + 1) * STEP).toBeLessThanOrEqual(4000);
  });

  it('the floor is at least 16 KiB/s on a slow link', () => {
    const slow = feed(YIELD_START, 2, bitsd(100_000, 0), 0).at(-1) as YieldState;
    const busy = feed(slow, 3, bitsd(100_000, 50_000), 50_000);
    expect(busy.at(-1)?.limit).toBe(16 * 1024);
  });

  it('a small excess in one sample alone (own bytes counted early) is not acted on; two quarter the limit', () => {
    const alone = feed(YIELD_START, 2, bitsd(10 * MB, 0), 0).at(-1) as YieldState;
    const once = nextYield(alone, { intervalMs: STEP, linkBytes: (10 * MB * 1.03 + 1 * MB) * 0.2, ownBytes: 10 * MB * 0.2 });
    expect(once.limit).toBeNull();
    const twice = nextYield(once, { intervalMs: STEP, linkBytes: (10 * MB * 1.03 + 1 * MB) * 0.2, ownBytes: 10 * MB * 0.2 });
    expect(twice.limit).toBe(Math.floor(10 * MB * 0.25));
  });

  it('noise below the threshold (and header bytes) is not other traffic', () => {
    const states = feed(YIELD_START, 3, bitsd(10 * MB, 0), 20_000);
    expect(states.every((s) => s.limit === null)).toBe(true);
  });

  it('a sample of no time changes nothing', () => {
    const s = { limit: 100_000, capacity: 1e7, other: 0 };
    expect(nextYield(s, { intervalMs: 0, linkBytes: 1e9, ownBytes: 0 })).toBe(s);
  });
});
