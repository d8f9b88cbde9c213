/**
 * The policy in force at an instant (effectivePolicy), its report for /policy (policyReport) and
 * the holder that shares a config and announces replacements (PolicyHolder). Explicit instants in
 * UTC.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mergeConfig, validateConfig } from '../../../src/policy/config.js';
import { PolicyHolder } from '../../../src/policy/holder.js';
import { effectivePolicy, heldUntil } from '../../../src/policy/policy.js';
import { isPolicyControl, policyReport } from '../../../src/policy/report.js';

const savedTz = process.env.TZ;
beforeAll(() => {
  process.env.TZ = 'UTC';
});
afterAll(() => {
  if (savedTz === undefined) delete process.env.TZ;
  else process.env.TZ = savedTz;
});

// 2025-01-06 is a Monday.
const config = mergeConfig(
  validateConfig(
    {
      bandwidth: {
        background: '10 MB/s',
        normal: '1 MB/s',
        yield: false,
        schedule: [
          { days: 'mon-fri', from: '08:00', to: '17:00', normal: 0, foreground: '5 MB/s' },
          { days: 'daily', from: '12:00', to: '20:00', background: 'unlimited', low: '100 KB/s' },
        ],
      },
    },
    'system.json',
  ),
);

describe('effectivePolicy', () => {
  it('outside all entries: the top-level values; foreground unlimited', () => {
    expect(effectivePolicy(config, new Date('2025-01-06T07:00:00Z'))).toEqual({
      limits: { foreground: null, background: 10_000_000, high: null, normal: 1_000_000, low: null },
      entry: null,
      source: 'default',
      nextChangeAt: new Date('2025-01-06T08:00:00Z'),
      yield: false,
    });
  });

  it('inside an entry, the keys it sets replace the top-level ones; the others keep them', () => {
    expect(effectivePolicy(config, new Date('2025-01-06T08:00:00Z'))).toEqual({
      limits: { foreground: 5_000_000, background: 10_000_000, high: null, normal: 0, low: null },
      entry: 0,
      source: 'schedule',
      nextChangeAt: new Date('2025-01-06T17:00:00Z'),
      yield: false,
    });
    // At 13:00 both entries cover the time: the first wins.
    expect(effectivePolicy(config, new Date('2025-01-06T13:00:00Z')).entry).toBe(0);
    // After 17:00 the second: "unlimited" lifts the top-level background cap.
    expect(effectivePolicy(config, new Date('2025-01-06T17:00:00Z'))).toEqual({
      limits: { foreground: null, background: null, high: null, normal: 1_000_000, low: 100_000 },
      entry: 1,
      source: 'schedule',
      nextChangeAt: new Date('2025-01-06T20:00:00Z'),
      yield: false,
    });
  });

  it('the defaults: everything unlimited, yield on, no change', () => {
    expect(effectivePolicy(mergeConfig(), new Date('2025-01-06T12:00:00Z'))).toEqual({
      limits: { foreground: null, background: null, high: null, normal: null, low: null },
      entry: null,
      source: 'default',
      nextChangeAt: null,
      yield: true,
    });
  });
});

describe('policyReport', () => {
  it('JSON-ready: rates in B/s, the entry with its canonical text, times in ISO, files and concurrency', () => {
    const files = [
      { path: '/etc/bitsd/config.json', role: 'system' as const, found: true },
      { path: '/home/u/.config/bitsd/config.json', role: 'user' as const, found: false },
    ];
    const report = policyReport({ config, now: new Date('2025-01-06T09:30:00Z'), files, loadedAt: new Date('2025-01-06T09:00:00Z'), backgroundInForce: 2 });
    expect(report).toEqual({
      at: '2025-01-06T09:30:00.000Z',
      limits: { foreground: 5_000_000, background: 10_000_000, high: null, normal: 0, low: null },
      source: 'schedule',
      entry: { index: 0, days: 'mon-fri', from: '08:00', to: '17:00' },
      nextChangeAt: '2025-01-06T17:00:00.000Z',
      yield: false,
      concurrency: { background: 2, configured: 1 },
      network: { metered: 'auto', transferPolicy: {} },
      power: { pauseOnBattery: false },
      files,
      loadedAt: '2025-01-06T09:00:00.000Z',
    });
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
    const outside = policyReport({ config, now: new Date('2025-01-06T21:00:00Z'), files: [], loadedAt: new Date(0), backgroundInForce: 1 });
    expect(outside).toMatchObject({ source: 'default', entry: null, nextChangeAt: '2025-01-07T08:00:00.000Z' });
  });

  it('isPolicyControl tells a daemon client from a plain manager', () => {
    expect(isPolicyControl({ getPolicy: async () => ({}), reloadPolicy: async () => ({}) })).toBe(true);
    expect(isPolicyControl({ getPolicy: async () => ({}) })).toBe(false);
    expect(isPolicyControl(null)).toBe(false);
  });
});

describe('PolicyHolder', () => {
  it('holds a config, tells listeners of each replacement, and stops telling after unsubscribe', () => {
    const holder = new PolicyHolder(mergeConfig());
    expect(holder.current().bandwidth.normal).toBeNull();
    const seen: Array<number | null> = [];
    const off = holder.onChange((c) => seen.push(c.bandwidth.normal));
    holder.replace(config);
    expect(holder.current()).toBe(config);
    off();
    holder.replace(mergeConfig());
    expect(seen).toEqual([1_000_000]);
  });

  it('a listener that throws does not stop the others or undo the replacement; its error comes back', () => {
    const holder = new PolicyHolder(mergeConfig());
    const calls: string[] = [];
    holder.onChange(() => {
      calls.push('a');
      throw new Error('listener a failed');
    });
    holder.onChange(() => calls.push('b'));
    expect(() => holder.replace(config)).toThrow('listener a failed');
    expect(calls).toEqual(['a', 'b']);
    expect(holder.current()).toBe(config);
  });
});

describe('heldUntil', () => {
  const at = (iso: string): Date => new Date(iso);
  const cfg = (bandwidth: unknown) => mergeConfig(validateConfig({ bandwidth }, 'c.json'));

  it('a schedule entry that holds: until it ends; nothing when no key is 0', () => {
    expect(heldUntil(config, ['normal', 'background'], at('2025-01-06T09:00:00Z'))).toEqual({ by: 'normal', until: at('2025-01-06T17:00:00Z') });
    expect(heldUntil(config, ['normal', 'background'], at('2025-01-06T07:59:59Z'))).toBeNull();
    expect(heldUntil(config, ['foreground'], at('2025-01-06T09:00:00Z'))).toBeNull();
    // Saturday: the weekday entry is not in force.
    expect(heldUntil(config, ['normal', 'background'], at('2025-01-11T09:00:00Z'))).toBeNull();
  });

  it('entries that hold one after the other: until the last one ends, past midnight', () => {
    const back2back = cfg({
      schedule: [
        { days: 'mon-fri', from: '08:00', to: '17:00', low: 0 },
        { days: 'daily', from: '17:00', to: '01:00', background: 0 },
      ],
    });
    expect(heldUntil(back2back, ['low', 'background'], at('2025-01-06T09:00:00Z'))).toEqual({ by: 'low', until: at('2025-01-07T01:00:00Z') });
    // HIGH is held only by the second.
    expect(heldUntil(back2back, ['high', 'background'], at('2025-01-06T09:00:00Z'))).toBeNull();
    expect(heldUntil(back2back, ['high', 'background'], at('2025-01-06T23:00:00Z'))).toEqual({ by: 'background', until: at('2025-01-07T01:00:00Z') });
  });

  it('a top-level 0: until an entry lifts it, or null when none does', () => {
    const nights = cfg({ normal: 0, schedule: [{ days: 'daily', from: '22:00', to: '06:00', normal: 'unlimited' }] });
    expect(heldUntil(nights, ['normal', 'background'], at('2025-01-06T10:00:00Z'))).toEqual({ by: 'normal', until: at('2025-01-06T22:00:00Z') });
    expect(heldUntil(nights, ['normal', 'background'], at('2025-01-06T23:00:00Z'))).toBeNull();
    expect(heldUntil(cfg({ background: 0 }), ['high', 'background'], at('2025-01-06T10:00:00Z'))).toEqual({ by: 'background', until: null });
    // An entry that also holds does not lift it: the week goes by without a lift.
    const always = cfg({ normal: 0, schedule: [{ days: 'sat,sun', from: '00:00', to: '12:00', normal: 0, low: '1 MB/s' }] });
    expect(heldUntil(always, ['normal', 'background'], at('2025-01-06T10:00:00Z'))).toEqual({ by: 'normal', until: null });
  });
});
