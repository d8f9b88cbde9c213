/**
 * The config file schema: what a valid file gives, every refusal naming the file, the key path and
 * what is allowed, and the merge of the system file and the user file.
 */
import { describe, expect, it } from 'vitest';
import { type ConfigFile, DEFAULT_CONFIG, mergeConfig, validateConfig } from '../../../src/policy/config.js';
import { BitsError } from '../../../src/shared/errors.js';

const FILE = '/etc/bitsd/config.json';

function refusal(raw: unknown): string {
  try {
    validateConfig(raw, FILE);
  } catch (err) {
    expect(err).toBeInstanceOf(BitsError);
    expect((err as BitsError).code).toBe('E_INVALIDARG');
    return (err as BitsError).message;
  }
  throw new Error(`accepted ${JSON.stringify(raw)}`);
}

const full = {
  concurrency: { background: 3 },
  bandwidth: {
    background: '10 MB/s',
    high: 'unlimited',
    normal: '2 MiB/s',
    low: '500 KB/s',
    yield: false,
    schedule: [
      { days: 'mon-fri', from: '08:00', to: '17:00', background: '1 MB/s', normal: 0 },
      { days: 'sat,sun', from: '22:00', to: '06:00', foreground: '4 Mbit/s', low: 'unlimited' },
    ],
  },
};

describe('validateConfig', () => {
  it('reads every key into bytes per second, minutes and day sets; only the keys the file sets', () => {
    const file = validateConfig(full, FILE);
    expect(file).toEqual({
      concurrency: { background: 3 },
      bandwidth: {
        background: 10_000_000,
        high: null,
        normal: 2 * 1024 * 1024,
        low: 500_000,
        yield: false,
        schedule: [
          { days: [false, true, true, true, true, true, false], from: 480, to: 1020, limits: { background: 1_000_000, normal: 0 } },
          { days: [true, false, false, false, false, false, true], from: 1320, to: 360, limits: { foreground: 500_000, low: null } },
        ],
      },
    });
    expect(validateConfig({}, FILE)).toEqual({});
    expect(validateConfig({ bandwidth: { normal: '1 MB/s' } }, FILE)).toEqual({ bandwidth: { normal: 1_000_000 } });
    expect(validateConfig({ concurrency: {} }, FILE)).toEqual({ concurrency: {} });
    // An entry may set no limits: it applies the top-level values but still wins the first match.
    expect(validateConfig({ bandwidth: { schedule: [{ days: 'daily', from: '00:00', to: '00:00' }] } }, FILE).bandwidth?.schedule?.[0]?.limits).toEqual({});
  });

  it('the result is frozen all the way down', () => {
    const file = validateConfig(full, FILE) as unknown as { bandwidth: { schedule: Array<{ limits: Record<string, unknown>; days: boolean[] }> } };
    expect(Object.isFrozen(file)).toBe(true);
    expect(() => {
      file.bandwidth.schedule[0]!.limits.normal = 5;
    }).toThrow(TypeError);
    expect(() => {
      file.bandwidth.schedule[0]!.days[0] = true;
    }).toThrow(TypeError);
    expect(() => (file.bandwidth.schedule as unknown[]).push({})).toThrow(TypeError);
  });

  it('refuses a file that is not an object', () => {
    for (const raw of [null, [], 3, 'text']) {
      expect(refusal(raw)).toMatch(/^\/etc\/bitsd\/config\.json: the file must hold a JSON object \(\{"concurrency": \.\.\., "bandwidth": \.\.\.\}\); got (null|an array|3|"text")\.$/);
    }
  });

  it('refuses unknown keys at every level, naming the key path and the allowed keys', () => {
    expect(refusal({ bandwith: {} })).toBe(`${FILE}: bandwith is not a known key; allowed here: concurrency, bandwidth, network, power.`);
    expect(refusal({ concurrency: { foreground: 2 } })).toBe(`${FILE}: concurrency.foreground is not a known key; allowed here: background.`);
    expect(refusal({ bandwidth: { Normal: '1 MB/s' } })).toBe(`${FILE}: bandwidth.Normal is not a known key; allowed here: background, high, normal, low, yield, schedule.`);
    expect(refusal({ bandwidth: { schedule: [{ days: 'daily', from: '00:00', to: '01:00' }, { days: 'daily', from: '00:00', to: '01:00', until: 'x' }] } })).toBe(
      `${FILE}: bandwidth.schedule[1].until is not a known key; allowed here: days, from, to, foreground, background, high, normal, low.`,
    );
  });

  it('network and power: metered, per-priority transfer policies by name, hex or number, pauseOnBattery; bad values named', () => {
    const file = validateConfig({ network: { metered: 'yes', transferPolicy: { normal: 'Standard', low: '0x21', high: 0x800000ff } }, power: { pauseOnBattery: true } }, FILE);
    expect(file.network).toEqual({ metered: 'yes', transferPolicy: { normal: 0x80000067, low: 0x21, high: 0x800000ff } });
    const merged = mergeConfig(file, validateConfig({ network: { transferPolicy: { low: 'Always' } } }, 'user.json'));
    expect(merged.network).toEqual({ metered: 'yes', transferPolicy: { normal: 0x80000067, low: 0x800000ff, high: 0x800000ff } });
    expect(merged.power).toEqual({ pauseOnBattery: true });
    expect(refusal({ network: { metered: 'maybe' } })).toBe(`${FILE}: network.metered is "maybe"; use "auto" (what NetworkManager says), "yes" or "no".`);
    expect(refusal({ network: { transferPolicy: { normal: 'Cheap' } } })).toMatch(/^\/etc\/bitsd\/config\.json: network\.transferPolicy\.normal "Cheap" is not valid: unknown name "Cheap"; use a hex DWORD/);
    expect(refusal({ network: { transferPolicy: { normal: -1 } } })).toMatch(/^\/etc\/bitsd\/config\.json: network\.transferPolicy\.normal is -1; use a hex DWORD/);
    expect(refusal({ network: { transferPolicy: { background: 'Always' } } })).toBe(`${FILE}: network.transferPolicy.background is not a known key; allowed here: foreground, high, normal, low.`);
    expect(refusal({ power: { pauseOnBattery: 'yes' } })).toBe(`${FILE}: power.pauseOnBattery is "yes"; use true or false.`);
    expect(refusal({ power: { onBattery: true } })).toBe(`${FILE}: power.onBattery is not a known key; allowed here: pauseOnBattery.`);
  });

  it('foreground is allowed only inside a schedule entry', () => {
    expect(refusal({ bandwidth: { foreground: '1 MB/s' } })).toBe(
      `${FILE}: bandwidth.foreground is allowed only inside a schedule entry (bandwidth.schedule[N].foreground), for maintenance windows: outside them FOREGROUND jobs are never limited.`,
    );
  });

  it('refuses bad values, naming the key and what is allowed', () => {
    expect(refusal({ bandwidth: { normal: 'fast' } })).toMatch(/^\/etc\/bitsd\/config\.json: bandwidth\.normal is "fast"; use "unlimited", 0, or a number with a unit: B\/s, KB\/s/);
    expect(refusal({ bandwidth: { background: 1000 } })).toMatch(/bandwidth\.background is 1000 without a unit; use/);
    expect(refusal({ bandwidth: { yield: 'yes' } })).toBe(`${FILE}: bandwidth.yield is "yes"; use true or false.`);
    expect(refusal({ bandwidth: 'none' })).toBe(`${FILE}: bandwidth must be an object with any of background, high, normal, low, yield, schedule; got "none".`);
    expect(refusal({ bandwidth: { schedule: {} } })).toMatch(/^\/etc\/bitsd\/config\.json: bandwidth\.schedule must be an array of entries/);
    expect(refusal({ bandwidth: { schedule: ['mon'] } })).toMatch(/bandwidth\.schedule\[0\] must be an object with any of days, from, to, foreground/);
    for (const n of [0, -1, 1.5, '2', null, 1001]) {
      expect(refusal({ concurrency: { background: n } })).toMatch(/^\/etc\/bitsd\/config\.json: concurrency\.background is .*; use an integer from 1 to 1000 \(how many background jobs transfer at once\)\.$/);
    }
  });

  it('refuses bad schedule entries, naming the entry and the key', () => {
    const entry = (e: Record<string, unknown>): unknown => ({ bandwidth: { schedule: [{ days: 'daily', from: '00:00', to: '01:00' }, e] } });
    expect(refusal(entry({ days: 'mon', from: '25:00', to: '06:00' }))).toBe(`${FILE}: bandwidth.schedule[1].from is "25:00"; use "HH:MM", 00:00 to 23:59.`);
    expect(refusal(entry({ days: 'mon', from: '08:00', to: 800 }))).toBe(`${FILE}: bandwidth.schedule[1].to is 800; use "HH:MM", 00:00 to 23:59.`);
    expect(refusal(entry({ days: 'someday', from: '08:00', to: '09:00' }))).toMatch(/^\/etc\/bitsd\/config\.json: bandwidth\.schedule\[1\]\.days has "someday", not a day or a range of days; use "daily"/);
    expect(refusal(entry({ from: '08:00', to: '09:00' }))).toBe(`${FILE}: bandwidth.schedule[1].days is missing; every entry needs days, from and to.`);
    expect(refusal(entry({ days: 'mon', to: '09:00' }))).toBe(`${FILE}: bandwidth.schedule[1].from is missing; every entry needs days, from and to.`);
    expect(refusal(entry({ days: 'mon', from: '08:00', to: '09:00', normal: '-5 MB/s' }))).toMatch(/^\/etc\/bitsd\/config\.json: bandwidth\.schedule\[1\]\.normal is "-5 MB\/s"; use/);
    expect(refusal(entry({ days: 'mon', from: '08:00', to: '09:00', foreground: true }))).toMatch(/bandwidth\.schedule\[1\]\.foreground must be a string or 0; got true/);
    const many = { bandwidth: { schedule: Array.from({ length: 101 }, () => ({ days: 'daily', from: '00:00', to: '01:00' })) } };
    expect(refusal(many)).toBe(`${FILE}: bandwidth.schedule has 101 entries; at most 100 are allowed.`);
  });
});

describe('mergeConfig', () => {
  const system: ConfigFile = validateConfig(full, '/etc/bitsd/config.json');

  it('no files: the defaults (unlimited, yield on, one background job, no schedule)', () => {
    expect(mergeConfig()).toEqual(DEFAULT_CONFIG);
    expect(DEFAULT_CONFIG).toEqual({
      concurrency: { background: 1 },
      bandwidth: { background: null, high: null, normal: null, low: null, yield: true, schedule: [] },
      network: { metered: 'auto', transferPolicy: {} },
      power: { pauseOnBattery: false },
    });
  });

  it('the user file overrides the system file key by key; keys it does not set keep the system value', () => {
    const user = validateConfig({ bandwidth: { normal: 'unlimited', high: '1 MB/s' } }, '/home/u/.config/bitsd/config.json');
    const merged = mergeConfig(system, user);
    expect(merged.concurrency).toEqual({ background: 3 });
    expect(merged.bandwidth).toMatchObject({ background: 10_000_000, high: 1_000_000, normal: null, low: 500_000, yield: false });
    expect(merged.bandwidth.schedule).toBe(system.bandwidth?.schedule);
    expect(Object.isFrozen(merged) && Object.isFrozen(merged.bandwidth)).toBe(true);
  });

  it("the user's schedule replaces the system's whole; an empty one removes it", () => {
    const one = validateConfig({ bandwidth: { schedule: [{ days: 'sun', from: '01:00', to: '02:00', normal: 0 }] } }, 'user');
    expect(mergeConfig(system, one).bandwidth.schedule).toEqual([{ days: [true, false, false, false, false, false, false], from: 60, to: 120, limits: { normal: 0 } }]);
    expect(mergeConfig(system, validateConfig({ bandwidth: { schedule: [] } }, 'user')).bandwidth.schedule).toEqual([]);
  });

  it('concurrency merges by key too, and a later file wins over an earlier one', () => {
    expect(mergeConfig(system, validateConfig({ concurrency: { background: 7 } }, 'user')).concurrency.background).toBe(7);
    expect(mergeConfig(system, validateConfig({ concurrency: {} }, 'user')).concurrency.background).toBe(3);
    expect(mergeConfig(validateConfig({ bandwidth: { yield: false } }, 'a'), validateConfig({ bandwidth: { yield: true } }, 'b')).bandwidth.yield).toBe(true);
  });
});
