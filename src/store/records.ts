/**
 * The mapping of the queue's records (src/job/records.ts: camelCase, BITS names, booleans, parsed
 * JSON) to and from SQLite rows. Pure: no database handle here.
 */
import type { FileRecord, FileIntent, JobRecord } from '../job/records.js';
import type { FileRange, JobState, JobType, Priority, ProxyUsage } from '../job/types.js';
import { PRIORITIES } from '../job/types.js';

type SqlValue = string | number | bigint | null;
export type SqlRow = Record<string, SqlValue>;

const JOB_BOOLEANS = new Set(['customHeadersWriteOnly', 'dynamicContent', 'highPerformance', 'onDemand', 'everResumed', 'cancelPending', 'costFlagsSet']);

// Memoised: every job row written converts up to ~60 names, and the regular expression was
// the store's largest CPU cost under load (bench case 5).
const snakeNames = new Map<string, string>();

export function snakeCase(key: string): string {
  let name = snakeNames.get(key);
  if (name === undefined) {
    name = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    snakeNames.set(key, name);
  }
  return name;
}

export function jobToRow(patch: Partial<JobRecord>): SqlRow {
  const row: SqlRow = {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    if (key === 'priority') row.priority = PRIORITIES.indexOf(value as Priority);
    else if (JOB_BOOLEANS.has(key)) row[snakeCase(key)] = value ? 1 : 0;
    else row[snakeCase(key)] = value as SqlValue;
  }
  return row;
}

/**
 * One literal with every field, so every record has the same shape: the generic loop this
 * replaces (Object.entries, a name lookup and a keyed store per column) cost ~25 µs per row,
 * and jobs are read several times per API call (bench case 5). The compiler checks that no
 * field of JobRecord is missing.
 */
export function jobFromRow(row: SqlRow): JobRecord {
  return {
    id: row.id as string,
    type: row.type as JobType,
    state: row.state as JobState,
    displayName: row.display_name as string,
    description: row.description as string,
    owner: row.owner as string,
    priority: PRIORITIES[Number(row.priority)] as Priority,
    queueSeq: row.queue_seq as number,
    notifyFlags: row.notify_flags as number,
    notifyProgram: row.notify_program as string | null,
    notifyParameters: row.notify_parameters as string | null,
    minRetryDelaySec: row.min_retry_delay_sec as number,
    noProgressTimeoutSec: row.no_progress_timeout_sec as number,
    maxDownloadTimeSec: row.max_download_time_sec as number,
    proxyUsage: row.proxy_usage as ProxyUsage,
    proxyList: row.proxy_list as string | null,
    proxyBypass: row.proxy_bypass as string | null,
    customHeaders: row.custom_headers as string | null,
    customHeadersWriteOnly: row.custom_headers_write_only === 1,
    securityFlags: row.security_flags as number,
    clientCertFile: row.client_cert_file as string | null,
    clientKeyFile: row.client_key_file as string | null,
    httpMethod: row.http_method as string | null,
    replyFileName: row.reply_file_name as string | null,
    aclFlags: row.acl_flags as number,
    dynamicContent: row.dynamic_content === 1,
    highPerformance: row.high_performance === 1,
    maxDownloadSize: row.max_download_size as number | null,
    minNotificationIntervalMs: row.min_notification_interval_ms as number,
    costFlags: row.cost_flags as number,
    notificationClsid: row.notification_clsid as string | null,
    useStoredCredentials: row.use_stored_credentials as string | null,
    onDemand: row.on_demand === 1,
    everResumed: row.ever_resumed === 1,
    errorCount: row.error_count as number,
    errorHresult: row.error_hresult as number | null,
    errorCode: row.error_code as string | null,
    errorContext: row.error_context as string | null,
    errorMessage: row.error_message as string | null,
    errorFileIndex: row.error_file_index as number | null,
    createdAt: row.created_at as number,
    modifiedAt: row.modified_at as number,
    transferredAt: row.transferred_at as number | null,
    finalAt: row.final_at as number | null,
    noProgressSince: row.no_progress_since as number | null,
    retryAt: row.retry_at as number | null,
    retryDeadline: row.retry_deadline as number | null,
    activeMs: row.active_ms as number,
    activeSince: row.active_since as number | null,
    replyUrl: row.reply_url as string | null,
    replyTempName: row.reply_temp_name as string | null,
    replyBytesTotal: row.reply_bytes_total as number,
    replyBytesTransferred: row.reply_bytes_transferred as number,
    replySyncedBytes: row.reply_synced_bytes as number,
    replyBootId: row.reply_boot_id as string | null,
    cancelPending: row.cancel_pending === 1,
    cancelNextAt: row.cancel_next_at as number | null,
    cancelDeadline: row.cancel_deadline as number | null,
    cancelAttempts: row.cancel_attempts as number,
    cancelLastError: row.cancel_last_error as string | null,
    replyTempIdentity: row.reply_temp_identity as string | null,
    fileIntent: row.file_intent as FileIntent | null,
    blockedSince: row.blocked_since as number | null,
    costFlagsSet: row.cost_flags_set === 1,
  };
}

export function fileToRow(patch: Partial<FileRecord>): SqlRow {
  const row: SqlRow = {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    switch (key) {
      case 'index':
        row.idx = value as number;
        break;
      case 'transferred':
      case 'completed':
        row[key] = value ? 1 : 0;
        break;
      case 'ranges':
        row.ranges = value === null ? null : JSON.stringify((value as FileRange[]).map((r) => [r.initialOffset, r.length]));
        break;
      case 'engineState':
        row.engine_state = JSON.stringify(value);
        break;
      default:
        row[snakeCase(key)] = value as SqlValue;
    }
  }
  return row;
}

export function fileFromRow(row: SqlRow): FileRecord {
  const ranges = row.ranges === null || row.ranges === undefined
    ? null
    : (JSON.parse(String(row.ranges)) as [number, number][]).map(([initialOffset, length]) => ({ initialOffset, length }));
  return {
    jobId: String(row.job_id),
    index: Number(row.idx),
    remoteName: String(row.remote_name),
    localName: String(row.local_name),
    tempName: String(row.temp_name),
    bytesTotal: Number(row.bytes_total),
    bytesTransferred: Number(row.bytes_transferred),
    syncedBytes: Number(row.synced_bytes),
    bootId: row.boot_id === null || row.boot_id === undefined ? null : String(row.boot_id),
    transferred: row.transferred === 1,
    completed: row.completed === 1,
    ranges,
    engineState: JSON.parse(String(row.engine_state)) as Record<string, unknown>,
    tempIdentity: row.temp_identity === null || row.temp_identity === undefined ? null : String(row.temp_identity),
  };
}

export interface JobAggregate {
  readonly filesTotal: number;
  readonly filesTransferred: number;
  readonly bytesTransferred: number;
  /** -1 when any file's size is unknown. */
  readonly bytesTotal: number;
}

/** Writes issued through this store since it was opened (benchmarks report them per GiB). */
export interface WriteStats {
  /** INSERT/UPDATE/DELETE statements run. */
  readonly statements: number;
  /** SQLite transactions committed (one per group-commit batch, see group-commit.ts). */
  readonly commits: number;
}

export interface JobWithAggregate {
  readonly job: JobRecord;
  readonly aggregate: JobAggregate;
}

export function splitAggregate(row: SqlRow): JobWithAggregate {
  // jobFromRow reads only the job's columns: no copy of the row without the aggregate (a rest
  // spread of ~60 columns was most of this function's cost).
  return {
    job: jobFromRow(row),
    aggregate: {
      filesTotal: Number(row.files_total),
      filesTransferred: Number(row.files_transferred),
      bytesTransferred: Number(row.bytes_transferred),
      bytesTotal: Number(row.bytes_total),
    },
  };
}

/** The final states, as an SQL list. */
export const FINAL_STATES_SQL = "('ACKNOWLEDGED', 'CANCELLED')";

/** A job's totals over its files (splitAggregate reads them back). */
export const AGGREGATE_SQL = `
  COUNT(f.idx) AS files_total,
  COALESCE(SUM(f.transferred), 0) AS files_transferred,
  COALESCE(SUM(f.bytes_transferred), 0) AS bytes_transferred,
  CASE WHEN COUNT(f.idx) = 0 THEN 0 WHEN MIN(f.bytes_total) < 0 THEN -1 ELSE SUM(f.bytes_total) END AS bytes_total`;
