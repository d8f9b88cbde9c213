/**
 * BITS's vocabulary, spelled as BITS spells it, defined once and used by the store, the API, IPC
 * and the CLI alike. Pure data: no I/O.
 */

export const JOB_STATES = [
  'QUEUED',
  'CONNECTING',
  'TRANSFERRING',
  'SUSPENDED',
  'ERROR',
  'TRANSIENT_ERROR',
  'TRANSFERRED',
  'ACKNOWLEDGED',
  'CANCELLED',
] as const;
export type JobState = (typeof JOB_STATES)[number];

export const JOB_TYPES = ['DOWNLOAD', 'UPLOAD', 'UPLOAD_REPLY'] as const;
export type JobType = (typeof JOB_TYPES)[number];

export const PRIORITIES = ['FOREGROUND', 'HIGH', 'NORMAL', 'LOW'] as const;
export type Priority = (typeof PRIORITIES)[number];

export const PROXY_USAGES = ['PRECONFIG', 'NO_PROXY', 'OVERRIDE', 'AUTODETECT'] as const;
export type ProxyUsage = (typeof PROXY_USAGES)[number];

export const AUTH_TARGETS = ['SERVER', 'PROXY'] as const;
export type AuthTarget = (typeof AUTH_TARGETS)[number];

export const AUTH_SCHEMES = ['BASIC', 'DIGEST', 'NTLM', 'NEGOTIATE', 'PASSPORT'] as const;
export type AuthScheme = (typeof AUTH_SCHEMES)[number];

/** BG_SIZE_UNKNOWN (0xFFFFFFFFFFFFFFFF) as a JavaScript number: sizes are numbers, unknown is -1. */
export const BG_SIZE_UNKNOWN = -1;
/** BG_LENGTH_TO_EOF for addFileWithRanges. */
export const BG_LENGTH_TO_EOF = -1;

export const FINAL_STATES: ReadonlySet<JobState> = new Set(['ACKNOWLEDGED', 'CANCELLED']);
export const ACTIVE_STATES: ReadonlySet<JobState> = new Set(['CONNECTING', 'TRANSFERRING']);
/** States in which a job will not move on by itself: watch() ends there. */
export const RESTING_STATES: ReadonlySet<JobState> = new Set([
  'SUSPENDED',
  'ERROR',
  'TRANSFERRED',
  'ACKNOWLEDGED',
  'CANCELLED',
]);

export function isFinal(state: JobState): boolean {
  return FINAL_STATES.has(state);
}

/** BG_NOTIFY_* flags. */
export const NOTIFY = {
  JOB_TRANSFERRED: 0x1,
  JOB_ERROR: 0x2,
  DISABLE: 0x4,
  JOB_MODIFICATION: 0x8,
  FILE_TRANSFERRED: 0x10,
  FILE_RANGES_TRANSFERRED: 0x20,
} as const;
export const NOTIFY_ALL_FLAGS = 0x3f;

/** BG_SSL_* and BG_HTTP_REDIRECT_POLICY_* security flags. */
export const SECURITY = {
  ENABLE_CRL_CHECK: 0x1,
  IGNORE_CERT_CN_INVALID: 0x2,
  IGNORE_CERT_DATE_INVALID: 0x4,
  IGNORE_UNKNOWN_CA: 0x8,
  IGNORE_CERT_WRONG_USAGE: 0x10,
  REDIRECT_POLICY_MASK: 0x700,
  REDIRECT_POLICY_ALLOW_SILENT: 0x000,
  REDIRECT_POLICY_ALLOW_REPORT: 0x100,
  REDIRECT_POLICY_DISALLOW: 0x200,
  ALLOW_HTTPS_TO_HTTP: 0x800,
} as const;
export const SECURITY_ALL_FLAGS = 0x1f | 0x300 | 0x800;

/** Job5 property ids (BITS_JOB_PROPERTY_ID_*) that bitsd knows, by BITS's short names. */
export const JOB_PROPERTIES = {
  COST_FLAGS: 1,
  NOTIFICATION_CLSID: 2,
  DYNAMIC_CONTENT: 3,
  HIGH_PERFORMANCE: 4,
  MAX_DOWNLOAD_SIZE: 5,
  USE_STORED_CREDENTIALS: 7,
  MINIMUM_NOTIFICATION_INTERVAL_MS: 9,
  ON_DEMAND_MODE: 10,
} as const;
export type JobPropertyName = keyof typeof JOB_PROPERTIES;

/** Defaults of a new job (bits-api.md (d)). */
export const DEFAULTS = {
  priority: 'NORMAL' as Priority,
  notifyFlags: NOTIFY.JOB_TRANSFERRED | NOTIFY.JOB_ERROR,
  minimumRetryDelaySec: 600,
  noProgressTimeoutSec: 1_209_600,
  maximumDownloadTimeSec: 7_776_000,
  proxyUsage: 'PRECONFIG' as ProxyUsage,
  securityFlags: 0,
  /**
   * BITS_JOB_PROPERTY_ID_COST_FLAGS. bitsd does not measure network cost, so the value is stored and
   * returned only; NOT_ROAMING (0x8000007F) is our default (the docs do not state Windows').
   */
  costFlags: 0x8000007f,
  minimumNotificationIntervalMs: 500,
  /** JobInactivityTimeout: a job without progress or change for this long is cancelled. */
  inactivityTimeoutSec: 90 * 24 * 3600,
  /** Cancel-Session retries give up after this long (or the no-progress timeout if shorter). */
  cancelRetryWindowSec: 24 * 3600,
} as const;

export const LIMITS = {
  displayName: 256,
  description: 1024,
  remoteName: 2200,
  /** Bytes of UTF-8: PATH_MAX (4,096) less its terminating NUL. */
  localPath: 4095,
  /** NAME_MAX: one component of a path, in bytes. */
  nameComponent: 255,
  customHeaders: 16_384,
  proxyList: 4000,
  userName: 300,
  password: 65_536,
  notifyProgram: 4095,
  notifyParameters: 4000,
  minRetryDelayFloorSec: 5,
  replyData: 1024 * 1024,
} as const;

export interface Quotas {
  readonly jobsPerUser: number;
  readonly jobsPerMachine: number;
  readonly filesPerJob: number;
  readonly rangesPerFile: number;
}

export const DEFAULT_QUOTAS: Quotas = {
  jobsPerUser: 60,
  jobsPerMachine: 300,
  filesPerJob: 200,
  rangesPerFile: 500,
};

export interface JobProgress {
  /** BG_SIZE_UNKNOWN until every file's size is known. */
  readonly bytesTotal: number;
  readonly bytesTransferred: number;
  readonly filesTotal: number;
  readonly filesTransferred: number;
}

export interface FileProgress {
  readonly bytesTotal: number;
  readonly bytesTransferred: number;
  readonly completed: boolean;
}

export interface FileRange {
  readonly initialOffset: number;
  /** BG_LENGTH_TO_EOF (-1) means to the end of the file. */
  readonly length: number;
}

export interface JobTimes {
  readonly creationTime: Date;
  readonly modificationTime: Date;
  readonly transferCompletionTime: Date | null;
}

export interface ProxySettings {
  readonly usage: ProxyUsage;
  readonly proxyList: string | null;
  readonly bypassList: string | null;
}

export interface Credentials {
  readonly target: AuthTarget;
  readonly scheme: AuthScheme;
  readonly userName: string | null;
  readonly password: string | null;
}

export interface ClientCertificate {
  /** PEM file with the certificate (chain). */
  readonly certFile: string;
  /** PEM file with the private key; null when the key is in certFile. */
  readonly keyFile: string | null;
}

/** An upload job cancelled while the Cancel-Session it owes its server has not got through. */
export interface PendingCancellation {
  readonly jobId: string;
  readonly displayName: string;
  readonly remoteName: string;
  readonly attempts: number;
  readonly nextAttemptAt: number | null;
  readonly deadline: number | null;
  readonly lastError: string | null;
}

/**
 * Which file a temp file bitsd created is: "<dev>:<ino>" from stat with bigint numbers. A name
 * can be taken over (a symlink or another file planted there); the identity cannot.
 */
export type FileIdentity = string;

/**
 * What slows or holds a job's transfer now (bitsd's own; BITS has no such read). Rates are bytes
 * per second. `limit.by` names the config key whose limit applies (docs/config.md), or `yield`
 * when yielding to other traffic on the link sets it.
 */
export interface TransferStatus {
  /** Over the last 2 s while the job transfers; 0 when it does not. */
  readonly bytesPerSecond: number;
  /** The lowest limit on the job now, while it transfers; null when nothing limits it. */
  readonly limit: { readonly bytesPerSecond: number; readonly by: LimitSource } | null;
  /** Why the job is not moving, and until when; null while it transfers or once it is final. */
  readonly waiting: WaitingStatus | null;
}

export type LimitSource = 'foreground' | 'high' | 'normal' | 'low' | 'background' | 'yield';

/**
 * Why a job is not moving, one reason per job (docs/network.md#why-a-job-waits):
 * SUSPENDED (until Resume), RETRY_DELAY (after an error, until the retry), OFFLINE, COST_POLICY
 * and BATTERY (blocked until the network, its cost or the power changes), BANDWIDTH_POLICY (a
 * limit of 0 until a schedule edge), BACKGROUND_SLOT / FOREGROUND_SLOT (queued behind others),
 * ERROR (until Resume), AWAITING_COMPLETE (transferred, until Complete), CANCEL_SESSION_OWED (a
 * cancelled upload still telling its server).
 */
export const WAIT_REASONS = [
  'SUSPENDED',
  'RETRY_DELAY',
  'OFFLINE',
  'COST_POLICY',
  'BATTERY',
  'BANDWIDTH_POLICY',
  'BACKGROUND_SLOT',
  'FOREGROUND_SLOT',
  'ERROR',
  'AWAITING_COMPLETE',
  'CANCEL_SESSION_OWED',
] as const;
export type WaitReason = (typeof WAIT_REASONS)[number];

export interface WaitingStatus {
  readonly reason: WaitReason;
  /** Since when, when known (a block: when it began; a retry: when the job failed). */
  readonly since: Date | null;
  /** When it ends, when known (a retry, a schedule edge, the next Cancel-Session attempt). */
  readonly until: Date | null;
  /** BANDWIDTH_POLICY: the limit that is 0. */
  readonly by?: LimitSource;
  /** BACKGROUND_SLOT / FOREGROUND_SLOT: queued jobs ahead of this one. */
  readonly ahead?: number;
  /** The error the job waits with (a retry, an error, a block). */
  readonly error?: { readonly code: string; readonly message: string };
  /** RETRY_DELAY: the job's error count; CANCEL_SESSION_OWED: the attempts made. */
  readonly attempts?: number;
}
