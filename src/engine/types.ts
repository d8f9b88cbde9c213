/**
 * The seam between the job runner and the transfer engines (file://, HTTP download, BITS upload).
 *
 * An engine moves the bytes of one file of one job. It receives everything it needs in a
 * TransferContext (the job's settings, the file, an AbortSignal, the clock and the ProgressSink
 * that persists what it reports) and imports no store: the runner owns persistence and state transitions.
 *
 * Contract:
 * - `transfer()` resolves when every byte of the file is transferred (download: in the temp file,
 *   flushed by an fdatasync that covered all of it; upload: acknowledged by the server and the
 *   session closed). Only then does the queue mark the file transferred.
 * - It rejects with a BitsError whose `transient` says whether a later retry may succeed, and whose
 *   `context` says where it failed (LOCAL_FILE, REMOTE_FILE, GENERAL_TRANSPORT, ...). Anything else
 *   it throws is treated as a fatal GENERAL_QUEUE_MANAGER error.
 * - When `signal` aborts (suspend, cancel, preemption, shutdown) it stops promptly and rejects;
 *   the runner ignores that rejection. Progress already reported stays valid.
 * - `sink.progress()` must only report bytes that a crash of the process cannot lose (download:
 *   their write() calls returned, so they are at least in the page cache; upload: acknowledged by
 *   the server), each with how many of them a crash of the system cannot lose either (download:
 *   an fdatasync covered them); at a bounded rate, not once per network chunk.
 */
import type { Clock } from '../shared/clock.js';
import type { ClientCertificate, Credentials, FileIdentity, FileRange, JobType, Priority, ProxySettings } from '../job/types.js';

/** Engine-owned, JSON-serialisable state persisted per file (upload session id, validators, ...). */
export type EngineState = Readonly<Record<string, unknown>>;

/** The settings of a job that engines apply to every request. */
export interface TransferJob {
  readonly id: string;
  readonly type: JobType;
  readonly priority: Priority;
  /** CRLF-separated "Name: value" lines, or null. */
  readonly customHeaders: string | null;
  /** Includes passwords: never log this. */
  readonly credentials: readonly Credentials[];
  readonly proxy: ProxySettings;
  readonly securityFlags: number;
  readonly clientCertificate: ClientCertificate | null;
  /** HttpOptions2 custom verb, or null for the default. */
  readonly httpMethod: string | null;
  readonly dynamicContent: boolean;
  readonly highPerformance: boolean;
  /** MAX_DOWNLOAD_SIZE property, or null when unset. */
  readonly maxDownloadSize: number | null;
  /** UPLOAD_REPLY: where the reply goes once completed (null: bitsd picks a name). */
  readonly replyFileName: string | null;
  readonly minimumRetryDelaySec: number;
  readonly noProgressTimeoutSec: number;
}

export interface TransferFile {
  readonly index: number;
  readonly remoteName: string;
  readonly localName: string;
  /** Absolute path of the temp file (BIT*.tmp beside the local name) for downloads. */
  readonly tempName: string;
  /** BG_SIZE_UNKNOWN (-1) until known. */
  readonly bytesTotal: number;
  /**
   * Bytes so far that a crash of the process could not lose: resume from here (after checking
   * validators). After a reboot the queue has already cut this back to syncedBytes.
   */
  readonly bytesTransferred: number;
  /** The part of bytesTransferred on disk (an fdatasync covered it). */
  readonly syncedBytes: number;
  /** addFileWithRanges ranges, or null for the whole file. */
  readonly ranges: readonly FileRange[] | null;
  readonly engineState: EngineState;
  /** The temp file as created by the engine (see ProgressSink.tempCreated); null before that. */
  readonly tempIdentity: FileIdentity | null;
  /**
   * UPLOAD_REPLY: the reply as the queue recorded it (ProgressSink.replyProgress), after
   * start-up's reboot rule; the reply resumes from no further than its bytesTransferred. Absent
   * for other jobs and before the reply.
   */
  readonly reply?: ReplyInfo;
}

export interface ReplyInfo {
  readonly url: string;
  /** Absolute path of the reply's temp file. */
  readonly tempName: string;
  readonly bytesTotal: number;
  /** As TransferFile.bytesTransferred, for the reply. */
  readonly bytesTransferred: number;
  /** As TransferFile.syncedBytes, for the reply. */
  readonly syncedBytes: number;
  /** The reply's temp file as created; null before that. */
  readonly tempIdentity: FileIdentity | null;
}

/**
 * Where an engine reports what it learns about one file of one job. Each report is persisted by
 * the queue (one write, with the job's modification time) before it is observable; reports made
 * after the transfer was stopped are ignored, so a late one cannot revive a stopped job.
 */
export interface ProgressSink {
  /** The connection to the server is up: CONNECTING -> TRANSFERRING. Idempotent. */
  connected(): void;
  /** The file's total size became known (or changed: then bytesTransferred restarts). */
  setTotal(bytesTotal: number): void;
  /**
   * Progress of this file (see the contract above), optionally with engine state saved in the
   * same write. `syncedBytes`: how many of the bytes are on disk, default all of them (uploads,
   * and downloads right after an fdatasync). Downloads report bytes between flushes with fewer:
   * after a reboot the queue resumes them from there (docs/download-engine.md, "Durability").
   */
  progress(bytesTransferred: number, engineState?: EngineState, syncedBytes?: number): void;
  /** Saves engine state without progress (e.g. the session id right after Create-Session). */
  saveState(engineState: EngineState): void;
  /** ALLOW_REPORT redirects: the file's remote name becomes the final URL. */
  setRemoteName(url: string): void;
  /**
   * The temp file was created (O_EXCL) and is this file: Complete renames, and Cancel deletes,
   * only a file with this identity. Report it before any progress.
   */
  tempCreated(identity: FileIdentity): void;
  /** UPLOAD_REPLY: the reply download's URL and progress (BytesTotal -1 while unknown). */
  replyProgress(reply: ReplyInfo): void;
}

/**
 * How fast a job may move bytes, as the bandwidth policy says now (src/queue/bandwidth.ts).
 * Downloads ask before consuming each chunk they read, so the socket is not read meanwhile and
 * TCP's window closes; uploads ask before each fragment, and size fragments to the limit.
 */
export interface Pacer {
  /**
   * Resolves when `bytes` more may be moved. Returns undefined, and costs nothing, when nothing
   * limits the job now. Rejects with the signal's reason when `signal` aborts.
   */
  acquire(bytes: number, signal: AbortSignal): Promise<void> | undefined;
  /** The job's limit now in bytes per second; null when unlimited. */
  limit(): number | null;
  /**
   * The most bytes one download request should ask for, or null for no bound. Pacing by reading
   * stops the socket being read, but the kernel keeps accepting data into a receive buffer that
   * can grow to tens of MB: a bounded request bounds what arrives after the pace drops.
   */
  requestSize(): number | null;
  /** A request for `bytes` went out: they will cross the link as this job's, read or not. */
  requested?(bytes: number): void;
}

/** No limit: the pacer of engines used without a queue (and in tests of the engines alone). */
export const UNPACED: Pacer = { acquire: () => undefined, limit: () => null, requestSize: () => null };

export interface TransferContext {
  readonly job: TransferJob;
  readonly file: TransferFile;
  readonly signal: AbortSignal;
  readonly clock: Clock;
  readonly sink: ProgressSink;
  /** Default UNPACED. */
  readonly pacer?: Pacer;
}

/** After Cancel of a job whose transfer reached the server (upload sessions). */
export interface CancelContext {
  readonly job: TransferJob;
  readonly file: TransferFile;
  readonly signal: AbortSignal;
  readonly clock: Clock;
}

export type RemoteCancelOutcome =
  /** Done (acknowledged, or the server does not know the session): nothing more to send. */
  | { readonly done: true }
  /**
   * Try again after the job's retry delay (5xx, 429, network failure), within the retry window;
   * not before `retryAfterMs` when the server's Retry-After asked for a wait.
   */
  | { readonly done: false; readonly error: string; readonly retryAfterMs?: number };

export interface TransferEngine {
  /** For logs and diagnostics: "file", "http-download", "bits-upload". */
  readonly name: string;
  /** Whether this engine moves files of this job type from/to this URL. */
  handles(jobType: JobType, remote: URL): boolean;
  transfer(ctx: TransferContext): Promise<void>;
  /**
   * Remote clean-up after Cancel (the Cancel-Session packet). Engines without remote state omit it.
   * Called by the runner, possibly many times and across restarts, until it reports done.
   */
  cancelRemote?(ctx: CancelContext): Promise<RemoteCancelOutcome>;
  /** Whether cancelRemote has anything to do for this file's state. */
  needsRemoteCancel?(file: TransferFile): boolean;
}
