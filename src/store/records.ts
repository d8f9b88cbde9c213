/**
 * The store's records in domain form (camelCase, BITS names, booleans, parsed JSON) and their
 * mapping to and from SQLite rows. Pure: no database handle here.
 */
import type { FileRange, JobState, JobType, Priority, ProxyUsage } from '../job/types.js';
import { PRIORITIES } from '../job/types.js';

export interface JobRecord {
  readonly id: string;
  readonly type: JobType;
  readonly state: JobState;
  readonly displayName: string;
  readonly description: string;
  readonly owner: string;
  readonly priority: Priority;
  readonly queueSeq: number;
  readonly notifyFlags: number;
  readonly notifyProgram: string | null;
  readonly notifyParameters: string | null;
  readonly minRetryDelaySec: number;
  readonly noProgressTimeoutSec: number;
  readonly maxDownloadTimeSec: number;
  readonly proxyUsage: ProxyUsage;
  readonly proxyList: string | null;
  readonly proxyBypass: string | null;
  readonly customHeaders: string | null;
  readonly customHeadersWriteOnly: boolean;
  readonly securityFlags: number;
  readonly clientCertFile: string | null;
  readonly clientKeyFile: string | null;
  readonly httpMethod: string | null;
  readonly replyFileName: string | null;
  readonly aclFlags: number;
  readonly dynamicContent: boolean;
  readonly highPerformance: boolean;
  readonly maxDownloadSize: number | null;
  readonly minNotificationIntervalMs: number;
  readonly costFlags: number;
  readonly notificationClsid: string | null;
  readonly useStoredCredentials: string | null;
  readonly onDemand: boolean;
  readonly everResumed: boolean;
  readonly errorCount: number;
  readonly errorHresult: number | null;
  readonly errorCode: string | null;
  readonly errorContext: string | null;
  readonly errorMessage: string | null;
  readonly errorFileIndex: number | null;
  readonly createdAt: number;
  readonly modifiedAt: number;
  readonly transferredAt: number | null;
  readonly finalAt: number | null;
  readonly noProgressSince: number | null;
  readonly retryAt: number | null;
  readonly retryDeadline: number | null;
  readonly activeMs: number;
  readonly activeSince: number | null;
  readonly replyUrl: string | null;
  readonly replyTempName: string | null;
  readonly replyBytesTotal: number;
  readonly replyBytesTransferred: number;
  readonly cancelPending: boolean;
  readonly cancelNextAt: number | null;
  readonly cancelDeadline: number | null;
  readonly cancelAttempts: number;
  readonly cancelLastError: string | null;
}

export type JobPatch = Partial<Omit<JobRecord, 'id' | 'type' | 'owner' | 'createdAt'>>;

export interface FileRecord {
  readonly jobId: string;
  readonly index: number;
  readonly remoteName: string;
  readonly localName: string;
  readonly tempName: string;
  readonly bytesTotal: number;
  readonly bytesTransferred: number;
  readonly transferred: boolean;
  readonly completed: boolean;
  readonly ranges: readonly FileRange[] | null;
  readonly engineState: Readonly<Record<string, unknown>>;
}

export type FilePatch = Partial<Omit<FileRecord, 'jobId' | 'index'>>;

type SqlValue = string | number | bigint | null;
export type SqlRow = Record<string, SqlValue>;

const JOB_BOOLEANS = new Set(['customHeadersWriteOnly', 'dynamicContent', 'highPerformance', 'onDemand', 'everResumed', 'cancelPending']);

export function snakeCase(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function camelCase(column: string): string {
  return column.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
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

export function jobFromRow(row: SqlRow): JobRecord {
  const out: Record<string, unknown> = {};
  for (const [column, value] of Object.entries(row)) {
    const key = camelCase(column);
    if (key === 'priority') out.priority = PRIORITIES[Number(value)];
    else if (JOB_BOOLEANS.has(key)) out[key] = value === 1;
    else out[key] = value;
  }
  return out as unknown as JobRecord;
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
    transferred: row.transferred === 1,
    completed: row.completed === 1,
    ranges,
    engineState: JSON.parse(String(row.engine_state)) as Record<string, unknown>,
  };
}
