/**
 * The policy in force at an instant: the limit of each priority, which schedule entry sets them,
 * and when that changes. Pure: the config and the instant are parameters.
 *
 * Limits (bytes per second; null: unlimited; 0: the jobs it applies to are held):
 * - background caps all background (HIGH, NORMAL, LOW) transfers together;
 * - high, normal, low cap that priority's jobs together (within the background cap);
 * - foreground caps FOREGROUND jobs; it is unlimited outside schedule entries.
 * Inside a schedule entry, each key the entry sets replaces the top-level value; a key it leaves
 * out keeps the top-level value ("unlimited" in the entry lifts a top-level cap).
 */
import type { BitsdConfig, LimitKey } from './config.js';
import type { Rate } from './rate.js';
import { scheduleAt } from './schedule.js';

export type PolicyLimits = Readonly<Record<LimitKey, Rate>>;

export interface EffectivePolicy {
  readonly limits: PolicyLimits;
  /** The index in bandwidth.schedule of the entry in force, or null. */
  readonly entry: number | null;
  readonly source: 'schedule' | 'default';
  /** When the entry in force next changes; null when it does not within 8 days. */
  readonly nextChangeAt: Date | null;
  readonly yield: boolean;
}

export function effectivePolicy(config: BitsdConfig, now: Date): EffectivePolicy {
  const bw = config.bandwidth;
  const state = scheduleAt(bw.schedule, now.getTime());
  const defaults: PolicyLimits = { foreground: null, background: bw.background, high: bw.high, normal: bw.normal, low: bw.low };
  const entry = state.entry === null ? undefined : bw.schedule[state.entry];
  return {
    limits: Object.freeze(entry ? { ...defaults, ...entry.limits } : defaults),
    entry: state.entry,
    source: entry ? 'schedule' : 'default',
    nextChangeAt: state.nextChangeAt === null ? null : new Date(state.nextChangeAt),
    yield: bw.yield,
  };
}

/** A schedule repeats weekly: a hold no edge lifts within 8 days is lifted by none. */
const HOLD_HORIZON_MS = 8 * 24 * 3600_000;

/**
 * When a hold on these limits lifts: the first schedule edge after `now` at which none of them
 * is 0. Null when none is 0 now, and `until: null` when no edge within the schedule's horizon
 * lifts it (only a new config will).
 */
export function heldUntil(config: BitsdConfig, keys: readonly LimitKey[], now: Date): { readonly by: LimitKey; readonly until: Date | null } | null {
  let policy = effectivePolicy(config, now);
  const by = keys.find((key) => policy.limits[key] === 0);
  if (by === undefined) return null;
  const horizon = now.getTime() + HOLD_HORIZON_MS;
  while (policy.nextChangeAt !== null && policy.nextChangeAt.getTime() <= horizon) {
    const at = policy.nextChangeAt;
    policy = effectivePolicy(config, at);
    if (keys.every((key) => policy.limits[key] !== 0)) return { by, until: at };
  }
  return { by, until: null };
}
