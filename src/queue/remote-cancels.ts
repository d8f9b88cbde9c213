/**
 * The Cancel-Session an upload owes its server after Cancel. BITS keeps sending it once per
 * minimum retry delay for up to 24 hours, or the no-progress timeout if shorter, then gives up
 * (IBackgroundCopyJob::Cancel). Each wait is the retry delay or the server's Retry-After (503,
 * 429), whichever is longer, plus 0 to +10% jitter (src/job/retry-wait.ts); when that minimum
 * already ends past the deadline, the debt is given up at once (the server asked not to be
 * called before then), and jitter alone never pushes an attempt past the deadline. The debt is written on the job row by the transaction that
 * cancels the job (debtFor), so a crash right after Cancel still owes it; attempts are recorded
 * as they end, and `list()` shows what is still owed.
 *
 * Crash seam: `cancel-session:answered`, after the server answered and before that is recorded.
 */
import type { Clock } from '../shared/clock.js';
import type { CrashSeam } from '../shared/crash-seam.js';
import type { FileRecord, JobPatch, JobRecord } from '../job/records.js';
import { DEFAULTS, type PendingCancellation } from '../job/types.js';
import { minimumWaitMs, retryWaitMs } from '../job/retry-wait.js';
import { pickEngine } from '../engine/job-runner.js';
import type { RemoteCancelOutcome, TransferEngine, TransferJob } from '../engine/types.js';
import { toTransferFile } from './transfer-view.js';

export interface RemoteCancelDeps {
  readonly clock: Clock;
  readonly engines: readonly TransferEngine[];
  readonly job: (jobId: string) => JobRecord | undefined;
  readonly files: (jobId: string) => FileRecord[];
  readonly transferJob: (job: JobRecord) => TransferJob;
  readonly due: (now: number) => string[];
  /** The first `limit` debts by next attempt time. */
  readonly next: (limit: number) => Array<{ id: string; at: number }>;
  readonly owed: () => JobRecord[];
  readonly record: (jobId: string, outcome: { nextAt: number | null; attempts: number; lastError: string | null }) => void;
  /** Settles once the job's transfer has stopped (an upload may be creating its session). */
  readonly whenStopped: (jobId: string) => Promise<void>;
  readonly wake: () => void;
  readonly seam: CrashSeam;
  /** Uniform draws in [0, 1) for the jitter of the retry interval. */
  readonly random: () => number;
}

export class RemoteCancels {
  readonly #deps: RemoteCancelDeps;
  readonly #inflight = new Map<string, Promise<void>>();
  readonly #controller = new AbortController();

  constructor(deps: RemoteCancelDeps) {
    this.#deps = deps;
  }

  /**
   * The columns that record a Cancel-Session debt for a job being cancelled, or null when its
   * transfer never reached the server. Written in the same transaction as CANCELLED.
   */
  debtFor(job: JobRecord, files: readonly FileRecord[]): JobPatch | null {
    const file = files[0];
    if (job.type === 'DOWNLOAD' || !file) return null;
    const engine = pickEngine(this.#deps.engines, this.#deps.transferJob(job), file.remoteName);
    if (!engine?.cancelRemote || !engine.needsRemoteCancel?.(toTransferFile(file))) return null;
    const now = this.#deps.clock.now();
    const windowSec = Math.min(DEFAULTS.cancelRetryWindowSec, job.noProgressTimeoutSec);
    return { cancelPending: true, cancelNextAt: now, cancelDeadline: now + windowSec * 1000, cancelAttempts: 0, cancelLastError: null };
  }

  /**
   * When the next debt is due, not counting attempts under way (those are in memory only: an
   * attempt cut off by a crash is simply due again at start-up).
   */
  earliestDue(): number | null {
    return this.#deps.next(this.#inflight.size + 1).find((d) => !this.#inflight.has(d.id))?.at ?? null;
  }

  fireDue(now: number): void {
    for (const id of this.#deps.due(now)) {
      if (this.#inflight.has(id)) continue;
      const attempt = this.#attempt(id).finally(() => {
        this.#inflight.delete(id);
        this.#deps.wake();
      });
      this.#inflight.set(id, attempt);
    }
  }

  async #attempt(id: string): Promise<void> {
    const deps = this.#deps;
    await deps.whenStopped(id);
    const job = deps.job(id);
    const file = deps.files(id)[0];
    if (!job || !file || !job.cancelPending) return;
    const tjob = deps.transferJob(job);
    const engine = pickEngine(deps.engines, tjob, file.remoteName);
    let outcome: RemoteCancelOutcome;
    if (!engine?.cancelRemote) {
      outcome = { done: true };
    } else {
      try {
        outcome = await engine.cancelRemote({ job: tjob, file: toTransferFile(file), signal: this.#controller.signal, clock: deps.clock });
      } catch (err) {
        outcome = { done: false, error: err instanceof Error ? err.message : String(err) };
      }
    }
    if (this.#controller.signal.aborted) {
      // Shutting down: try again at the next start.
      deps.record(id, { nextAt: deps.clock.now(), attempts: job.cancelAttempts, lastError: job.cancelLastError });
      return;
    }
    deps.seam('cancel-session:answered');
    const attempts = job.cancelAttempts + 1;
    if (outcome.done) {
      deps.record(id, { nextAt: null, attempts, lastError: null });
      return;
    }
    const now = deps.clock.now();
    const delayMs = job.minRetryDelaySec * 1000;
    const earliest = now + minimumWaitMs(delayMs, outcome.retryAfterMs);
    const deadline = job.cancelDeadline;
    if (deadline === null || earliest > deadline) {
      const askedTooLong = deadline !== null && now + delayMs <= deadline;
      const why = askedTooLong ? ' (its Retry-After ends past the retry window)' : '';
      deps.record(id, { nextAt: null, attempts, lastError: `Gave up after ${attempts} attempts${why}: ${outcome.error}` });
      return;
    }
    const next = Math.min(now + retryWaitMs(delayMs, { retryAfterMs: outcome.retryAfterMs, jitter: deps.random() }), deadline);
    deps.record(id, { nextAt: next, attempts, lastError: outcome.error });
  }

  list(): PendingCancellation[] {
    return this.#deps.owed().map((job) => ({
      jobId: job.id,
      displayName: job.displayName,
      remoteName: this.#deps.files(job.id)[0]?.remoteName ?? '',
      attempts: job.cancelAttempts,
      nextAttemptAt: job.cancelNextAt,
      deadline: job.cancelDeadline,
      lastError: job.cancelLastError,
    }));
  }

  async stop(): Promise<void> {
    this.#controller.abort();
    await Promise.all(this.#inflight.values());
  }
}
