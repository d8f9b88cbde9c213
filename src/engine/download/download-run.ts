/**
 * What one download of one file needs (the run), and the progress tracker that mirrors what has
 * been reported to the runner so each step can compare against it. The target/sink split lets
 * the same code download a DOWNLOAD job's file and, later, an UPLOAD_REPLY job's reply.
 */
import type { FileIdentity, FileRange } from '../../job/types.js';
import type { Clock } from '../../shared/clock.js';
import { BitsError } from '../../shared/errors.js';
import { retryAfterDetails, retryAfterFor } from '../../protocol/retry-after.js';
import { httpStatusError } from '../../transport/http-status.js';
import type { HttpResponse, HttpTransport } from '../../transport/types.js';
import type { Env } from '../../transport/proxy-resolver.js';
import type { EngineState, Pacer, ProgressSink, TransferJob } from '../types.js';
import { redirectPolicy } from './redirect-policy.js';
import { TempFile } from './temp-file.js';
import { type BodyWriteOptions, writeBody } from './body-writer.js';

export interface DownloadTarget {
  readonly url: string;
  /** Absolute path of the temp file the bytes go to. */
  readonly tempName: string;
  /** BG_SIZE_UNKNOWN (-1) until known. */
  readonly bytesTotal: number;
  /** Bytes in the temp file so far that a crash of the process could not lose (writes returned). */
  readonly bytesTransferred: number;
  /** The part of them on disk (an fdatasync covered it). */
  readonly syncedBytes: number;
  readonly ranges: readonly FileRange[] | null;
  readonly engineState: EngineState;
  /** The temp file bitsd created (reported through sink.tempCreated), or null: none recorded. */
  readonly tempIdentity: FileIdentity | null;
  /** Permission bits of a new temp file (before the umask). Default 0644. */
  readonly tempMode?: number;
}

export interface DownloadRun {
  readonly job: TransferJob;
  readonly target: DownloadTarget;
  readonly sink: ProgressSink;
  readonly signal: AbortSignal;
  readonly clock: Clock;
  readonly transport: HttpTransport;
  /** Response headers / between body chunks (ms). */
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
  /** PRECONFIG proxy environment; undefined: process.env. */
  readonly env: Env | undefined;
  readonly progressBytes: number | undefined;
  readonly progressIntervalMs: number | undefined;
  readonly syncBytes: number | undefined;
  readonly syncIntervalMs: number | undefined;
  readonly pacer: Pacer;
}

/** Mirrors the file's reported size, progress and engine state, and reports only changes. */
export class Tracker {
  total: number;
  /** Bytes in the temp file whose writes returned, as reported. */
  transferred: number;
  /** The part of `transferred` an fdatasync covered, as reported. */
  synced: number;
  state: EngineState;
  tempIdentity: FileIdentity | null;
  #url: string;
  readonly #sink: ProgressSink;
  readonly #reportRedirects: boolean;

  constructor(run: DownloadRun) {
    this.total = run.target.bytesTotal;
    this.transferred = run.target.bytesTransferred;
    this.synced = Math.min(run.target.syncedBytes, run.target.bytesTransferred);
    this.state = run.target.engineState;
    this.tempIdentity = run.target.tempIdentity;
    this.#url = run.target.url;
    this.#sink = run.sink;
    this.#reportRedirects = redirectPolicy(run.job.securityFlags) === 'ALLOW_REPORT';
  }

  connected(): void {
    this.#sink.connected();
  }

  setTotal(total: number): void {
    if (total === this.total) return;
    this.total = total;
    this.#sink.setTotal(total);
  }

  /**
   * Reports the offset `transferred` (its writes returned). `synced` defaults to what was synced
   * already, cut to `transferred`: moving the offset (a restart, new validators) syncs nothing.
   */
  progress(transferred: number, state?: EngineState, synced = Math.min(this.synced, transferred)): void {
    // The body writer reports its end and the file's end may repeat it: one store write.
    if (state === undefined && transferred === this.transferred && synced === this.synced) return;
    this.transferred = transferred;
    this.synced = synced;
    if (state !== undefined) this.state = state;
    this.#sink.progress(transferred, state, synced);
  }

  /**
   * An fdatasync that started after every write up to `size` returned has finished: the file's
   * end, reported before the file counts as transferred (guarantee 3 of download-engine.md).
   */
  flushed(size: number): void {
    this.progress(size, undefined, size);
  }

  saveState(state: EngineState): void {
    this.state = state;
    this.#sink.saveState(state);
  }

  tempCreated(identity: FileIdentity): void {
    this.tempIdentity = identity;
    this.#sink.tempCreated(identity);
  }

  /** The URL the server answered from; reported once it differs, under ALLOW_REPORT. */
  answeredFrom(url: string): void {
    if (url === this.#url) return;
    this.#url = url;
    if (this.#reportRedirects) this.#sink.setRemoteName(url);
  }
}

/**
 * The error for an answer whose status the download cannot use: BG_E_HTTP_ERROR_<status>, with
 * the wait a 503 or 429 asked for in its details (Retry-After, read on the run's clock), which
 * the queue honours when it arms the retry.
 */
export function answerError(run: Pick<DownloadRun, 'clock'>, response: Pick<HttpResponse, 'status' | 'headers'>): BitsError {
  const retryAfterMs = retryAfterFor(response.status, response.headers['retry-after'], run.clock.now());
  return httpStatusError(response.status, undefined, 'REMOTE_FILE', retryAfterDetails(retryAfterMs));
}

export function checkMaxDownloadSize(job: { readonly maxDownloadSize: number | null }, size: number | null): void {
  if (job.maxDownloadSize === null || size === null || size <= job.maxDownloadSize) return;
  throw new BitsError('BG_E_MAX_DOWNLOAD_SIZE_LIMIT_REACHED', `The file (${size} bytes) exceeds the job's maximum download size of ${job.maxDownloadSize} bytes.`, {
    context: 'REMOTE_FILE',
    transient: false,
    details: { size, maxDownloadSize: job.maxDownloadSize },
  });
}

/**
 * Opens the run's temp file (temp-file.ts: created with O_EXCL, or reopened only if it is still
 * the file recorded) cut back to `offset`; returns the offset the bytes resume from.
 */
export function openTempFile(run: DownloadRun, tracker: Tracker, offset: number): Promise<{ file: TempFile; offset: number }> {
  return TempFile.open({
    path: run.target.tempName,
    offset,
    identity: tracker.tempIdentity,
    onCreated: (identity) => tracker.tempCreated(identity),
    ...(run.target.tempMode !== undefined ? { mode: run.target.tempMode } : {}),
  });
}

/** The stored bytes cannot be continued (the remote file changed, or its server cannot resume): start the file over. */
export class RemoteChanged extends Error {
  override readonly name = 'RemoteChanged';
}

export const MAX_RESTARTS = 3;

/**
 * Runs `attempt` until it completes, starting the file over (progress 0, validators forgotten)
 * each time it throws RemoteChanged, at most MAX_RESTARTS times.
 */
export async function withRestarts(run: DownloadRun, tracker: Tracker, attempt: () => Promise<void>): Promise<void> {
  for (let restarts = 0; ; restarts++) {
    try {
      await attempt();
      return;
    } catch (err) {
      if (!(err instanceof RemoteChanged)) throw err;
      if (restarts >= MAX_RESTARTS) {
        throw new BitsError('BG_E_REMOTE_FILE_CHANGED', `The remote file ${run.target.url} kept changing during the download.`, {
          context: 'REMOTE_FILE',
          transient: true,
        });
      }
      tracker.progress(0, {});
    }
  }
}

/**
 * Writes a response body into the run's temp file from `position`, reporting the written and
 * synced offsets to the tracker at the run's rates (body-writer.ts). Returns the bytes written;
 * the caller syncs the file's end (Tracker.flushed).
 */
export function writeRunBody(run: DownloadRun, tracker: Tracker, at: Pick<BodyWriteOptions, 'body' | 'file' | 'position' | 'expected'>): Promise<number> {
  return writeBody({
    ...at,
    synced: tracker.synced,
    maxFileSize: run.job.maxDownloadSize,
    clock: run.clock,
    signal: run.signal,
    onProgress: (written, synced) => tracker.progress(written, undefined, synced),
    pacer: run.pacer,
    ...(run.progressBytes !== undefined ? { progressBytes: run.progressBytes } : {}),
    ...(run.progressIntervalMs !== undefined ? { progressIntervalMs: run.progressIntervalMs } : {}),
    ...(run.syncBytes !== undefined ? { syncBytes: run.syncBytes } : {}),
    ...(run.syncIntervalMs !== undefined ? { syncIntervalMs: run.syncIntervalMs } : {}),
  });
}
