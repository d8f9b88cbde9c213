/**
 * What the job runner (engine/job-runner.ts) needs from the queue: the job's settings and files
 * to transfer, a ProgressSink per file, and the transitions a run ends in. Reads come from the
 * store, every write goes through the funnel.
 */
import type { BitsError } from '../shared/errors.js';
import { isLoopbackHost } from '../shared/hosts.js';
import { retryAfterOf } from '../protocol/retry-after.js';
import type { FileRecord, JobRecord } from '../job/records.js';
import type { Credentials } from '../job/types.js';
import type { RunnerHost } from '../engine/job-runner.js';
import { type Pacer, type ProgressSink, type TransferFile, type TransferJob, UNPACED } from '../engine/types.js';
import type { BandwidthLimiter } from './bandwidth.js';
import type { JobFunnel } from './funnel.js';
import { FileProgressSink } from './progress-sink.js';
import type { TransferRates } from './transfer-rates.js';
import type { NetworkGate } from './network-gate.js';
import { toTransferFile, toTransferJob } from './transfer-view.js';

export interface RunnerReads {
  getJob(jobId: string): JobRecord | undefined;
  getFiles(jobId: string): FileRecord[];
  getCredentials(jobId: string): Credentials[];
}

export class QueueRunnerHost implements RunnerHost {
  readonly #reads: RunnerReads;
  readonly #funnel: JobFunnel;
  readonly #limiter: BandwidthLimiter;
  readonly #rates: TransferRates;
  readonly #gate: NetworkGate;
  /** Draws in [0, 1) for retry jitter (the machine may not read a random source itself). */
  readonly #random: () => number;

  constructor(reads: RunnerReads, funnel: JobFunnel, limiter: BandwidthLimiter, rates: TransferRates, gate: NetworkGate, random: () => number) {
    this.#reads = reads;
    this.#funnel = funnel;
    this.#limiter = limiter;
    this.#rates = rates;
    this.#gate = gate;
    this.#random = random;
  }

  load(jobId: string): { job: TransferJob; files: TransferFile[] } | null {
    const job = this.#reads.getJob(jobId);
    if (!job) return null;
    const files = this.#reads.getFiles(jobId).filter((f) => !f.transferred).map((f) => toTransferFile(f, job));
    return { job: this.transferJob(job), files };
  }

  transferJob(job: JobRecord): TransferJob {
    return toTransferJob(job, this.#reads.getCredentials(job.id));
  }

  sink(jobId: string, file: TransferFile, signal: AbortSignal): ProgressSink {
    return new FileProgressSink(this.#funnel, jobId, file, signal);
  }

  pacer(jobId: string): Pacer {
    const job = this.#reads.getJob(jobId);
    if (!job) return UNPACED;
    const next = this.#reads.getFiles(jobId).find((f) => !f.transferred);
    return this.#rates.track(jobId, this.#limiter.pacerFor(job.priority, next !== undefined && isLoopbackUrl(next.remoteName)));
  }

  fileTransferred(jobId: string, fileIndex: number): void {
    this.#funnel.fileTransferred(jobId, fileIndex);
  }

  allTransferred(jobId: string): void {
    this.#funnel.tryApply(jobId, { type: 'ALL_TRANSFERRED' });
  }

  async failed(jobId: string, error: BitsError, fileIndex: number | null): Promise<void> {
    // A connection that failed or dropped may mean the network went: then the job waits for it
    // (no error counted, no retry armed) rather than failing.
    if (error.transient && error.context === 'GENERAL_TRANSPORT' && (await this.#gate.blockAfterFailure(jobId))) return;
    const job = this.#reads.getJob(jobId);
    if (!job) return;
    const info = { hresult: error.hresult, code: error.code, context: error.context, message: error.message, fileIndex };
    // A custom HTTP method makes every error fatal (HttpOptions2::SetHttpMethod).
    const transient = error.transient && job.httpMethod === null;
    if (!transient) {
      this.#funnel.tryApply(jobId, { type: 'FATAL_FAILURE', error: info });
      return;
    }
    // The wait a 503 or 429 asked for (Retry-After) and a jitter draw come in with the event.
    const retryAfterMs = retryAfterOf(error.details);
    this.#funnel.tryApply(jobId, { type: 'TRANSIENT_FAILURE', error: info, jitter: this.#random(), ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
  }
}

/** Whether a URL's server is on this machine's loopback (its traffic crosses `lo`). */
function isLoopbackUrl(url: string): boolean {
  try {
    return isLoopbackHost(new URL(url).hostname);
  } catch {
    return false;
  }
}
