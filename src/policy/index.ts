/**
 * The bandwidth policy core (issue 11): RATE values, schedules, the token bucket, the config file
 * schema, the policy in force at an instant, and the holder that shares it. Pure: no I/O.
 */
export { formatRate, parseRate, RATE_SYNTAX, type Rate } from './rate.js';
export { DAY_NAMES, formatDays, formatTimeOfDay, parseDays, parseTime, scheduleAt, type ScheduleState, type ScheduleWindow } from './schedule.js';
export { defaultBurst, MIN_BURST, TokenBucket, type TokenBucketOptions, type Wait } from './token-bucket.js';
export {
  type BitsdConfig,
  type ConfigFile,
  DEFAULT_CONFIG,
  DEFAULT_LIMIT_KEYS,
  ENTRY_LIMIT_KEYS,
  type LimitKey,
  mergeConfig,
  POLICY_PRIORITY_KEYS,
  type PolicyPriorityKey,
  type ScheduleEntry,
  validateConfig,
} from './config.js';
export { effectivePolicy, type EffectivePolicy, heldUntil, type PolicyLimits } from './policy.js';
export { PolicyHolder, type PolicySource } from './holder.js';
export { type ConfigFileStatus, isPolicyControl, type PolicyControl, policyReport, type PolicyReport } from './report.js';
export { nextYield, YIELD_START, type YieldOptions, type YieldSample, type YieldState } from './yield.js';
export { RATE_BIN_MS, RATE_WINDOW_MS, RateMeter } from './rate-meter.js';
export {
  type BlockReason,
  blockerFor,
  COST_STATE,
  costAllows,
  costState,
  type GateSettings,
  type ManagerView,
  type MeteredSetting,
  type NetworkSnapshot,
  type NetworkSource,
  NM_METERED,
  NM_STATE,
  online,
  parseAddress,
  reachable,
  type Route,
} from './network.js';
