/**
 * What one download of one file needs (the run), and the progress tracker that mirrors what has
 * been reported to the runner so each step can compare against it. The target/sink split lets
 * the same code download a DOWNLOAD job's file and, later, an UPLOAD_REPLY job's reply.
 */
import type { FileRange } from '../../job/types.js';
import type { Clock } from '../../shared/clock.js';
import { BitsError } from '../../shared/errors.js';
import type { HttpTransport } from '../../transport/types.js';
import type { Env } from '../../transport/proxy-resolver.js';
import type { EngineState, ProgressSink, TransferJob } from '../types.js';
import { redirectPolicy } from './redirect-policy.js';

export interface DownloadTarget {
  readonly url: string;
  /** Absolute path of the temp file the bytes go to. */
  readonly tempName: string;
  /** BG_SIZE_UNKNOWN (-1) until known. */
  readonly bytesTotal: number;
  /** Durable bytes in the temp file so far. */
  readonly bytesTransferred: number;
  readonly ranges: readonly FileRange[] | null;
  readonly engineState: EngineState;
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
}

/** Mirrors the file's reported size, progress and engine state, and reports only changes. */
export class Tracker {
  total: number;
  transferred: number;
  state: EngineState;
  #url: string;
  readonly #sink: ProgressSink;
  readonly #reportRedirects: boolean;

  constructor(run: DownloadRun) {
    this.total = run.target.bytesTotal;
    this.transferred = run.target.bytesTransferred;
    this.state = run.target.engineState;
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

  progress(transferred: number, state?: EngineState): void {
    // The body writer reports its last flush and the file's end reports it again: one store write.
    if (state === undefined && transferred === this.transferred) return;
    this.transferred = transferred;
    if (state === undefined) {
      this.#sink.progress(transferred);
    } else {
      this.state = state;
      this.#sink.progress(transferred, state);
    }
  }

  saveState(state: EngineState): void {
    this.state = state;
    this.#sink.saveState(state);
  }

  /** The URL the server answered from; reported once it differs, under ALLOW_REPORT. */
  answeredFrom(url: string): void {
    if (url === this.#url) return;
    this.#url = url;
    if (this.#reportRedirects) this.#sink.setRemoteName(url);
  }
}

export function checkMaxDownloadSize(job: { readonly maxDownloadSize: number | null }, size: number | null): void {
  if (job.maxDownloadSize === null || size === null || size <= job.maxDownloadSize) return;
  throw new BitsError('BG_E_MAX_DOWNLOAD_SIZE_LIMIT_REACHED', `The file (${size} bytes) exceeds the job's maximum download size of ${job.maxDownloadSize} bytes.`, {
    context: 'REMOTE_FILE',
    transient: false,
    details: { size, maxDownloadSize: job.maxDownloadSize },
  });
}
