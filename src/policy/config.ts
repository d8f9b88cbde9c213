/**
 * The daemon config file (docs/config.md): its schema, the validation of one file, and the merge
 * of the system file and the user file. Pure: the caller reads and JSON-parses the files.
 *
 *   {
 *     "concurrency": { "background": N },
 *     "bandwidth": {
 *       "background": RATE, "high": RATE, "normal": RATE, "low": RATE, "yield": true|false,
 *       "schedule": [ { "days": DAYS, "from": "HH:MM", "to": "HH:MM",
 *                       <any of foreground, background, high, normal, low>: RATE }, ... ]
 *     },
 *     "network": { "metered": "auto"|"yes"|"no",
 *                  "transferPolicy": { <any of foreground, high, normal, low>: POLICY } },
 *     "power": { "pauseOnBattery": true|false }
 *   }
 *
 * Every error is E_INVALIDARG naming the file, the key path (bandwidth.schedule[1].from) and
 * what is allowed. Unknown keys are errors, so a typo never passes for a default.
 */
import { BitsError } from '../shared/errors.js';
import { parseRate, type Rate } from './rate.js';
import { parseDays, parseTime, type ScheduleWindow } from './schedule.js';
import type { MeteredSetting } from './network.js';
import { parseTransferPolicy, TRANSFER_POLICY_SYNTAX } from '../job/transfer-policy.js';

/** The priorities network.transferPolicy sets a default for (Group Policy's four levels). */
export const POLICY_PRIORITY_KEYS = ['foreground', 'high', 'normal', 'low'] as const;
export type PolicyPriorityKey = (typeof POLICY_PRIORITY_KEYS)[number];
const METERED: readonly MeteredSetting[] = ['auto', 'yes', 'no'];

/** The limits of the top level of "bandwidth". */
export const DEFAULT_LIMIT_KEYS = ['background', 'high', 'normal', 'low'] as const;
/** The limits a schedule entry may set: FOREGROUND only there, for maintenance windows. */
export const ENTRY_LIMIT_KEYS = ['foreground', 'background', 'high', 'normal', 'low'] as const;
export type LimitKey = (typeof ENTRY_LIMIT_KEYS)[number];

export const MAX_BACKGROUND_CONCURRENCY = 1000;
export const MAX_SCHEDULE_ENTRIES = 100;

export interface ScheduleEntry extends ScheduleWindow {
  /** The limits this entry sets; a key it leaves out keeps its top-level value. */
  readonly limits: Readonly<Partial<Record<LimitKey, Rate>>>;
}

/** What one file says: only the keys it sets. */
export interface ConfigFile {
  readonly concurrency?: { readonly background?: number };
  readonly bandwidth?: {
    readonly background?: Rate;
    readonly high?: Rate;
    readonly normal?: Rate;
    readonly low?: Rate;
    readonly yield?: boolean;
    readonly schedule?: readonly ScheduleEntry[];
  };
  readonly network?: {
    readonly metered?: MeteredSetting;
    readonly transferPolicy?: Readonly<Partial<Record<PolicyPriorityKey, number>>>;
  };
  readonly power?: { readonly pauseOnBattery?: boolean };
}

/** The configuration in force: every key, defaults filled in. Frozen. */
export interface BitsdConfig {
  readonly concurrency: { readonly background: number };
  readonly bandwidth: {
    /** Caps all background (HIGH, NORMAL, LOW) transfers together. null: unlimited. */
    readonly background: Rate;
    /** Cap the jobs of one priority. null: no cap of their own. */
    readonly high: Rate;
    readonly normal: Rate;
    readonly low: Rate;
    readonly yield: boolean;
    readonly schedule: readonly ScheduleEntry[];
  };
  readonly network: {
    /** auto: NetworkManager's Metered; yes/no: override it. */
    readonly metered: MeteredSetting;
    /** COST_FLAGS for jobs of a priority whose application never set them; a key left out keeps the job's own. */
    readonly transferPolicy: Readonly<Partial<Record<PolicyPriorityKey, number>>>;
  };
  readonly power: {
    /** Hold background jobs while UPower reports the machine on battery. */
    readonly pauseOnBattery: boolean;
  };
}

export const DEFAULT_CONFIG: BitsdConfig = deepFreeze({
  concurrency: { background: 1 },
  bandwidth: { background: null, high: null, normal: null, low: null, yield: true, schedule: [] },
  network: { metered: 'auto', transferPolicy: {} },
  power: { pauseOnBattery: false },
});

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function kind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  const text = JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

class Checker {
  readonly source: string;

  constructor(source: string) {
    this.source = source;
  }

  error(path: string, message: string): BitsError {
    return new BitsError('E_INVALIDARG', `${this.source}: ${path} ${message}`);
  }

  /** `value` as an object holding only `allowed` keys; `hint` explains a key that is known elsewhere. */
  object(value: unknown, path: string, allowed: readonly string[], hint: (key: string) => string | undefined = () => undefined): Json {
    if (!isObject(value)) throw this.error(path, `must be an object with any of ${allowed.join(', ')}; got ${kind(value)}.`);
    for (const key of Object.keys(value)) {
      if (allowed.includes(key)) continue;
      throw this.error(`${path}.${key}`.replace(/^\./, ''), hint(key) ?? `is not a known key; allowed here: ${allowed.join(', ')}.`);
    }
    return value;
  }

  rate(value: unknown, path: string): Rate {
    return parseRate(value, `${this.source}: ${path}`);
  }
}

const FOREGROUND_HINT = 'is allowed only inside a schedule entry (bandwidth.schedule[N].foreground), for maintenance windows: outside them FOREGROUND jobs are never limited.';

/**
 * Checks one parsed file (`raw` is JSON.parse's result) and returns what it sets, frozen.
 * `source` names the file in messages.
 */
export function validateConfig(raw: unknown, source: string): ConfigFile {
  const c = new Checker(source);
  if (!isObject(raw)) throw new BitsError('E_INVALIDARG', `${source}: the file must hold a JSON object ({"concurrency": ..., "bandwidth": ...}); got ${kind(raw)}.`);
  const top = c.object(raw, '', ['concurrency', 'bandwidth', 'network', 'power']);
  const out: { -readonly [K in keyof ConfigFile]: ConfigFile[K] } = {};
  if (top.concurrency !== undefined) {
    const conc = c.object(top.concurrency, 'concurrency', ['background']);
    const n = conc.background;
    if (n === undefined) out.concurrency = {};
    else if (typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= MAX_BACKGROUND_CONCURRENCY) out.concurrency = { background: n };
    else throw c.error('concurrency.background', `is ${kind(n)}; use an integer from 1 to ${MAX_BACKGROUND_CONCURRENCY} (how many background jobs transfer at once).`);
  }
  if (top.bandwidth !== undefined) {
    const bw = c.object(top.bandwidth, 'bandwidth', [...DEFAULT_LIMIT_KEYS, 'yield', 'schedule'], (key) =>
      key === 'foreground' ? FOREGROUND_HINT : undefined,
    );
    const bandwidth: Record<string, unknown> = {};
    for (const key of DEFAULT_LIMIT_KEYS) {
      if (bw[key] !== undefined) bandwidth[key] = c.rate(bw[key], `bandwidth.${key}`);
    }
    if (bw.yield !== undefined) {
      if (typeof bw.yield !== 'boolean') throw c.error('bandwidth.yield', `is ${kind(bw.yield)}; use true or false.`);
      bandwidth.yield = bw.yield;
    }
    if (bw.schedule !== undefined) bandwidth.schedule = schedule(c, bw.schedule);
    out.bandwidth = bandwidth as NonNullable<ConfigFile['bandwidth']>;
  }
  if (top.network !== undefined) out.network = network(c, top.network);
  if (top.power !== undefined) {
    const power = c.object(top.power, 'power', ['pauseOnBattery']);
    if (power.pauseOnBattery !== undefined && typeof power.pauseOnBattery !== 'boolean') {
      throw c.error('power.pauseOnBattery', `is ${kind(power.pauseOnBattery)}; use true or false.`);
    }
    out.power = power.pauseOnBattery === undefined ? {} : { pauseOnBattery: power.pauseOnBattery };
  }
  return deepFreeze(out as ConfigFile);
}

function network(c: Checker, value: unknown): NonNullable<ConfigFile['network']> {
  const net = c.object(value, 'network', ['metered', 'transferPolicy']);
  const out: { metered?: MeteredSetting; transferPolicy?: Partial<Record<PolicyPriorityKey, number>> } = {};
  if (net.metered !== undefined) {
    if (!METERED.includes(net.metered as MeteredSetting)) throw c.error('network.metered', `is ${kind(net.metered)}; use "auto" (what NetworkManager says), "yes" or "no".`);
    out.metered = net.metered as MeteredSetting;
  }
  if (net.transferPolicy !== undefined) {
    const tp = c.object(net.transferPolicy, 'network.transferPolicy', POLICY_PRIORITY_KEYS);
    const policies: Partial<Record<PolicyPriorityKey, number>> = {};
    for (const key of POLICY_PRIORITY_KEYS) {
      const v = tp[key];
      if (v === undefined) continue;
      const path = `network.transferPolicy.${key}`;
      if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff) policies[key] = v;
      else if (typeof v === 'string') policies[key] = parseTransferPolicy(v, `${c.source}: ${path}`);
      else throw c.error(path, `is ${kind(v)}; use ${TRANSFER_POLICY_SYNTAX}.`);
    }
    out.transferPolicy = policies;
  }
  return out;
}

function schedule(c: Checker, value: unknown): ScheduleEntry[] {
  if (!Array.isArray(value)) throw c.error('bandwidth.schedule', `must be an array of entries ({"days", "from", "to", and rates}); got ${kind(value)}.`);
  if (value.length > MAX_SCHEDULE_ENTRIES) throw c.error('bandwidth.schedule', `has ${value.length} entries; at most ${MAX_SCHEDULE_ENTRIES} are allowed.`);
  return value.map((item, i) => {
    const path = `bandwidth.schedule[${i}]`;
    const entry = c.object(item, path, ['days', 'from', 'to', ...ENTRY_LIMIT_KEYS]);
    for (const key of ['days', 'from', 'to']) {
      if (entry[key] === undefined) throw c.error(`${path}.${key}`, `is missing; every entry needs days, from and to.`);
    }
    const limits: Partial<Record<LimitKey, Rate>> = {};
    for (const key of ENTRY_LIMIT_KEYS) {
      if (entry[key] !== undefined) limits[key] = c.rate(entry[key], `${path}.${key}`);
    }
    return {
      days: parseDays(entry.days, `${c.source}: ${path}.days`),
      from: parseTime(entry.from, `${c.source}: ${path}.from`),
      to: parseTime(entry.to, `${c.source}: ${path}.to`),
      limits,
    };
  });
}

/**
 * The configuration in force from files, lowest first (the system file, then the user file):
 * each file overrides the ones before it key by key, at every level of "concurrency" and
 * "bandwidth"; "schedule" is one value (a later file's schedule replaces the earlier one whole,
 * entries are never mixed). Keys no file sets keep DEFAULT_CONFIG.
 */
export function mergeConfig(...files: readonly ConfigFile[]): BitsdConfig {
  const concurrency = { ...DEFAULT_CONFIG.concurrency };
  const bandwidth = { ...DEFAULT_CONFIG.bandwidth };
  const network = { ...DEFAULT_CONFIG.network, transferPolicy: { ...DEFAULT_CONFIG.network.transferPolicy } };
  const power = { ...DEFAULT_CONFIG.power };
  for (const file of files) {
    Object.assign(concurrency, file.concurrency);
    Object.assign(bandwidth, file.bandwidth);
    if (file.network?.metered !== undefined) network.metered = file.network.metered;
    Object.assign(network.transferPolicy, file.network?.transferPolicy);
    Object.assign(power, file.power);
  }
  return deepFreeze({ concurrency, bandwidth, network, power });
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
