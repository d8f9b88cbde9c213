/**
 * The policy in force as bitsadmin /policy and the daemon.policy IPC method show it: JSON-ready
 * (rates in bytes per second, times as ISO 8601), built from the config, the instant and what the
 * daemon knows of its files. Pure.
 */
import type { BitsdConfig, LimitKey } from './config.js';
import { effectivePolicy } from './policy.js';
import { formatDays, formatTimeOfDay } from './schedule.js';

/** A config file the daemon looked at. */
export interface ConfigFileStatus {
  readonly path: string;
  /** system: /etc/bitsd/config.json (or BITSD_SYSTEM_CONFIG); user: the XDG file; given: --config. */
  readonly role: 'system' | 'user' | 'given';
  readonly found: boolean;
}

export interface PolicyReport {
  /** The instant the report describes. */
  readonly at: string;
  /** Bytes per second; null: unlimited; 0: held. */
  readonly limits: Readonly<Record<LimitKey, number | null>>;
  readonly source: 'schedule' | 'default';
  /** The schedule entry in force (index in bandwidth.schedule), or null: the top-level values. */
  readonly entry: { readonly index: number; readonly days: string; readonly from: string; readonly to: string } | null;
  readonly nextChangeAt: string | null;
  readonly yield: boolean;
  readonly concurrency: {
    /** Background jobs transferring at once, in force. */
    readonly background: number;
    /** What the files say now; differs from `background` after a reload until the next start. */
    readonly configured: number;
  };
  /** network.metered and network.transferPolicy (COST_FLAGS defaults by priority), power.pauseOnBattery. */
  readonly network: BitsdConfig['network'];
  readonly power: BitsdConfig['power'];
  readonly files: readonly ConfigFileStatus[];
  /** When the files were last read (start-up or the last successful reload). */
  readonly loadedAt: string;
}

/** What a daemon offers beyond the BITS API (BitsClient has it; an in-process manager does not). */
export interface PolicyControl {
  getPolicy(): Promise<PolicyReport>;
  /** Re-reads the config files; a bad file is refused (BitsError) and the policy in force stays. */
  reloadPolicy(): Promise<PolicyReport>;
}

export function isPolicyControl(value: unknown): value is PolicyControl {
  const v = value as Partial<PolicyControl> | null;
  return typeof v === 'object' && v !== null && typeof v.getPolicy === 'function' && typeof v.reloadPolicy === 'function';
}

export interface ReportInputs {
  readonly config: BitsdConfig;
  readonly now: Date;
  readonly files: readonly ConfigFileStatus[];
  readonly loadedAt: Date;
  /** concurrency.background as the running queue was opened with it. */
  readonly backgroundInForce: number;
}

export function policyReport(inputs: ReportInputs): PolicyReport {
  const policy = effectivePolicy(inputs.config, inputs.now);
  const entry = policy.entry === null ? undefined : inputs.config.bandwidth.schedule[policy.entry];
  return {
    at: inputs.now.toISOString(),
    limits: { ...policy.limits },
    source: policy.source,
    entry: entry === undefined || policy.entry === null ? null : { index: policy.entry, days: formatDays(entry.days), from: formatTimeOfDay(entry.from), to: formatTimeOfDay(entry.to) },
    nextChangeAt: policy.nextChangeAt?.toISOString() ?? null,
    yield: policy.yield,
    concurrency: { background: inputs.backgroundInForce, configured: inputs.config.concurrency.background },
    network: { metered: inputs.config.network.metered, transferPolicy: { ...inputs.config.network.transferPolicy } },
    power: { ...inputs.config.power },
    files: inputs.files.map((f) => ({ ...f })),
    loadedAt: inputs.loadedAt.toISOString(),
  };
}
