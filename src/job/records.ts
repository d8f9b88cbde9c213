/**
 * A job and its files as the queue keeps them: the domain form of the store's rows. Types only
 * (the store maps them to and from SQLite in src/store/records.ts).
 */
import type { FileIdentity, FileRange, JobState, JobType, Priority, ProxyUsage } from './types.js';

/** See JobRecord.fileIntent. */
export type FileIntent = 'DELIVER' | 'DISCARD';

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
  /** The reply's bytes a crash of the process cannot lose; see FileRecord.bytesTransferred. */
  readonly replyBytesTransferred: number;
  /** The part of replyBytesTransferred on disk (fdatasync); see FileRecord.syncedBytes. */
  readonly replySyncedBytes: number;
  /** The boot the reply's progress was recorded in; see FileRecord.bootId. */
  readonly replyBootId: string | null;
  readonly cancelPending: boolean;
  readonly cancelNextAt: number | null;
  readonly cancelDeadline: number | null;
  readonly cancelAttempts: number;
  readonly cancelLastError: string | null;
  /** The reply's temp file, as created (null until then). */
  readonly replyTempIdentity: FileIdentity | null;
  /**
   * Local-file work that a committed Complete (DELIVER: rename finished temp files into place,
   * delete the rest) or Cancel (DISCARD: delete every temp file) still owes. Written with the
   * state change, cleared when the work is done; start-up finishes what a crash interrupted.
   */
  readonly fileIntent: FileIntent | null;
  /**
   * Since when the network, its cost or the battery keeps the job from transferring (it waits in
   * TRANSIENT_ERROR with the blocker's error and no retry timer); null when nothing blocks it.
   */
  readonly blockedSince: number | null;
  /** Whether the application set COST_FLAGS (else the config's default for its priority applies). */
  readonly costFlagsSet: boolean;
}

export type JobPatch = Partial<Omit<JobRecord, 'id' | 'type' | 'owner' | 'createdAt'>>;

/** What a report of the UPLOAD_REPLY job's reply download may change on the job row. */
export type ReplyProgressPatch = Pick<
  JobPatch,
  'replyUrl' | 'replyTempName' | 'replyBytesTotal' | 'replyBytesTransferred' | 'replySyncedBytes' | 'replyBootId' | 'replyTempIdentity'
>;

export interface FileRecord {
  readonly jobId: string;
  readonly index: number;
  readonly remoteName: string;
  readonly localName: string;
  readonly tempName: string;
  readonly bytesTotal: number;
  /**
   * Bytes a crash of the process cannot lose: for downloads, their write() calls returned (they
   * are at least in the page cache); for uploads, the server acknowledged them.
   */
  readonly bytesTransferred: number;
  /**
   * The part of bytesTransferred that a crash of the system cannot lose either (downloads: an
   * fdatasync covered it). After a reboot, bytesTransferred falls back to it.
   */
  readonly syncedBytes: number;
  /** The boot (src/shared/boot-id.ts) the progress was recorded in; null before any progress. */
  readonly bootId: string | null;
  readonly transferred: boolean;
  readonly completed: boolean;
  readonly ranges: readonly FileRange[] | null;
  readonly engineState: Readonly<Record<string, unknown>>;
  /** The temp file as bitsd created it (O_EXCL); null before it exists. */
  readonly tempIdentity: FileIdentity | null;
}

export type FilePatch = Partial<Omit<FileRecord, 'jobId' | 'index'>>;

/** What a progress report may change on a file row (with the job's modification time). */
export type FileProgressPatch = Pick<FilePatch, 'bytesTotal' | 'bytesTransferred' | 'syncedBytes' | 'engineState' | 'remoteName'>;
