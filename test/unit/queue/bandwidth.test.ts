/**
 * The bandwidth limiter on a FakeClock: real token buckets, real policy evaluation, simulated
 * time. Transfers are modelled as loops that acquire 16 KiB reads.
 */
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../src/shared/clock.js';
import { mergeConfig, PolicyHolder, validateConfig } from '../../../src/policy/index.js';
import { BandwidthLimiter, WAIT_SLICE_MS } from '../../../src/queue/bandwidth.js';
import type { Pacer } from '../../../src/engine/types.js';
import type { LinkProbe } from '../../../src/shared/net-counters.js';
import { TransferRates } from '../../../src/queue/transfer-rates.js';

const KIB = 1024;
const MIB = 1024 * 1024;
const CHUNK = 16 * KIB;

function config(raw: unknown) {
  return mergeConfig(validateConfig(raw, 'test.json'));
}

/** Acquires CHUNK after CHUNK until `bytes` went or the signal aborts; counts what went. */
function transfer(pacer: Pacer, bytes: number, signal: AbortSignal): { moved: () => number; done: Promise<void> } {
  let moved = 0;
  const done = (async () => {
    while (moved < bytes && !signal.aborted) {
      const wait = pacer.acquire(CHUNK, signal);
      if (wait) await wait;
      moved += CHUNK;
    }
  })().catch(() => undefined);
  return { moved: () => moved, done };
}

/** Advances in 10 ms steps (each lets the transfers' promise chains run). */
async function run(clock: FakeClock, ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 10) await clock.advance(10);
}

describe('BandwidthLimiter', () => {
  it('nothing limited: acquire answers synchronously (no promise, no cost)', () => {
    const clock = new FakeClock();
    const limiter = new BandwidthLimiter(clock, new PolicyHolder(config({})));
    const pacer = limiter.pacerFor('NORMAL');
    expect(pacer.acquire(MIB, new AbortController().signal)).toBeUndefined();
    expect(pacer.limit()).toBeNull();
    limiter.stop();
  });

  it('a 1 MiB/s background cap holds over 5 s, shared by two jobs of different priorities', async () => {
    const clock = new FakeClock();
    const limiter = new BandwidthLimiter(clock, new PolicyHolder(config({ bandwidth: { background: '1 MiB/s' } })));
    const ac = new AbortController();
    const a = transfer(limiter.pacerFor('NORMAL'), 100 * MIB, ac.signal);
    const b = transfer(limiter.pacerFor('LOW'), 100 * MIB, ac.signal);
    await run(clock, 5000);
    const total = a.moved() + b.moved();
    expect(total).toBeGreaterThan(5 * MIB * 0.95);
    expect(total).toBeLessThan(5 * MIB * 1.05 + 2 * CHUNK);
    // Both progress: one does not starve the other.
    expect(Math.min(a.moved(), b.moved())).toBeGreaterThan(MIB);
    ac.abort();
    await Promise.all([a.done, b.done]);
    limiter.stop();
  });

  it('a per-priority cap applies within the background cap; FOREGROUND is not limited by either', async () => {
    const clock = new FakeClock();
    const limiter = new BandwidthLimiter(clock, new PolicyHolder(config({ bandwidth: { background: '4 MiB/s', low: '512 KiB/s' } })));
    const ac = new AbortController();
    const low = transfer(limiter.pacerFor('LOW'), 100 * MIB, ac.signal);
    expect(limiter.pacerFor('FOREGROUND').acquire(MIB, ac.signal)).toBeUndefined();
    expect(limiter.pacerFor('LOW').limit()).toBe(512 * KIB);
    expect(limiter.pacerFor('HIGH').limit()).toBe(4 * MIB);
    await run(clock, 4000);
    expect(low.moved()).toBeGreaterThan(4 * 512 * KIB * 0.95);
    expect(low.moved()).toBeLessThan(4 * 512 * KIB * 1.05 + 2 * CHUNK);
    ac.abort();
    await low.done;
    limiter.stop();
  });

  it('a reload reaches a waiting transfer within one wait slice, and 0 holds until the next change', async () => {
    const clock = new FakeClock();
    const holder = new PolicyHolder(config({ bandwidth: { background: '1 MiB/s' } }));
    const limiter = new BandwidthLimiter(clock, holder);
    const ac = new AbortController();
    const t = transfer(limiter.pacerFor('NORMAL'), 1000 * MIB, ac.signal);
    await run(clock, 2000);
    holder.replace(config({ bandwidth: { background: '4 MiB/s' } }));
    await run(clock, WAIT_SLICE_MS);
    const before = t.moved();
    await run(clock, 1000);
    expect(t.moved() - before).toBeGreaterThan(4 * MIB * 0.9);

    holder.replace(config({ bandwidth: { background: 0 } }));
    await run(clock, WAIT_SLICE_MS);
    const held = t.moved();
    await run(clock, 3000);
    expect(t.moved()).toBe(held);

    holder.replace(config({}));
    await run(clock, 20);
    expect(t.moved()).toBeGreaterThan(held + 10 * MIB);
    ac.abort();
    await t.done;
    limiter.stop();
  });

  it('a schedule edge changes the limit without a reload', async () => {
    // The FakeClock starts at 2026-01-01T00:00Z; the entry covers the next local minute on.
    const clock = new FakeClock();
    const start = new Date(clock.now());
    const hhmm = (d: Date): string => `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
    const from = new Date(start.getTime() + 60_000);
    const to = new Date(start.getTime() + 180_000);
    const limiter = new BandwidthLimiter(
      clock,
      new PolicyHolder(config({ bandwidth: { background: '1 MiB/s', schedule: [{ days: 'daily', from: hhmm(from), to: hhmm(to), background: 0 }] } })),
    );
    expect(limiter.effective.source).toBe('default');
    const ac = new AbortController();
    const t = transfer(limiter.pacerFor('HIGH'), 10_000 * MIB, ac.signal);
    await run(clock, 60_000 - (start.getSeconds() * 1000 + start.getMilliseconds()) + WAIT_SLICE_MS);
    expect(limiter.effective.source).toBe('schedule');
    const held = t.moved();
    await run(clock, 1000);
    expect(t.moved()).toBe(held);
    ac.abort();
    await t.done;
    limiter.stop();
  });

  it('a transfer aborted while the limits change (a hold that preempts it) stops waiting', async () => {
    const clock = new FakeClock();
    const holder = new PolicyHolder(config({ bandwidth: { background: '16 KiB/s' } }));
    const limiter = new BandwidthLimiter(clock, holder);
    const ac = new AbortController();
    const pacer = limiter.pacerFor('LOW');
    expect(pacer.acquire(CHUNK, ac.signal)).toBeInstanceOf(Promise);
    const wait = pacer.acquire(CHUNK, ac.signal) as Promise<void>;
    // What the scheduler does on a hold: the change wakes the waiter, the abort follows at once.
    limiter.onLimitsChange(() => ac.abort(new Error('preempted')));
    holder.replace(config({ bandwidth: { background: 0 } }));
    await expect(wait).rejects.toThrow('preempted');
    limiter.stop();
  });

  it('an aborted transfer stops waiting at once', async () => {
    const clock = new FakeClock();
    const limiter = new BandwidthLimiter(clock, new PolicyHolder(config({ bandwidth: { background: 0 } })));
    const ac = new AbortController();
    const wait = limiter.pacerFor('NORMAL').acquire(CHUNK, ac.signal);
    expect(wait).toBeInstanceOf(Promise);
    ac.abort(new Error('cancelled'));
    await expect(wait).rejects.toThrow('cancelled');
    limiter.stop();
    expect(clock.pending).toBe(0);
  });

  it('what /info reads: the lowest limit on a job and its key, the limit yielding sets, a hold', async () => {
    const clock = new FakeClock();
    // A scripted link: another application's 8 MiB/s plus whatever the job moves.
    let other = 0;
    let moved = (): number => 0;
    const link: LinkProbe = { interfaces: async () => [{ name: 'eth0', rx: other + moved(), tx: 0 }], ownQueues: async () => ({ rx: 0, tx: 0 }) };
    const holder = new PolicyHolder(config({ bandwidth: { background: '4 MiB/s', low: '512 KiB/s' } }));
    const limiter = new BandwidthLimiter(clock, holder, link);
    expect(limiter.limitOn('LOW')).toEqual({ bytesPerSecond: 512 * KIB, by: 'low' });
    expect(limiter.limitOn('HIGH')).toEqual({ bytesPerSecond: 4 * MIB, by: 'background' });
    expect(limiter.limitOn('FOREGROUND')).toBeNull();
    expect(limiter.holdOf('HIGH')).toBeNull();

    const ac = new AbortController();
    const t = transfer(limiter.pacerFor('HIGH'), 1000 * MIB, ac.signal);
    moved = t.moved;
    for (let ms = 0; ms < 1500; ms += 10) {
      other += (8 * MIB) / 100;
      await clock.advance(10);
    }
    const yielded = limiter.limitOn('HIGH');
    expect(yielded?.by).toBe('yield');
    expect(yielded?.bytesPerSecond).toBeLessThan(512 * KIB);
    // FOREGROUND does not yield.
    expect(limiter.limitOn('FOREGROUND')).toBeNull();
    ac.abort();
    await t.done;

    // A large read at the floor waits for seconds: the link stays watched meanwhile, so the
    // limit it waits on is not lifted under it (it was, once: the job then read at full speed).
    const big = new AbortController();
    const pacer = limiter.pacerFor('HIGH');
    void pacer.acquire(4 * MIB, big.signal)?.catch(() => undefined);
    for (let ms = 0; ms < 3000; ms += 10) {
      other += (8 * MIB) / 100;
      await clock.advance(10);
    }
    expect(limiter.limitOn('HIGH')?.by).toBe('yield');
    big.abort();

    holder.replace(config({ bandwidth: { normal: 0 } }));
    expect(limiter.holdOf('NORMAL')).toEqual({ reason: 'BANDWIDTH_POLICY', since: null, by: 'normal', until: null });
    expect(limiter.holdOf('LOW')).toBeNull();
    limiter.stop();
  });

  it("TransferRates: a job's current rate is what its pacer passed over the last 2 s", async () => {
    const clock = new FakeClock();
    const limiter = new BandwidthLimiter(clock, new PolicyHolder(config({ bandwidth: { normal: '1 MiB/s' } })));
    const rates = new TransferRates(clock);
    const ac = new AbortController();
    const t = transfer(rates.track('{A}', limiter.pacerFor('NORMAL')), 100 * MIB, ac.signal);
    await run(clock, 4000);
    expect(rates.rate('{A}') / MIB).toBeGreaterThan(0.9);
    expect(rates.rate('{A}') / MIB).toBeLessThan(1.1);
    expect(rates.rate('{B}')).toBe(0);
    ac.abort();
    await t.done;
    await run(clock, 2500);
    expect(rates.rate('{A}')).toBe(0);
    limiter.stop();
  });
});
