/**
 * What happens after Cancel: local temp files go at once; for an upload whose session reached the
 * server, the Cancel-Session packet is owed to the server. BITS keeps sending it once per minimum
 * retry delay for up to 24 hours, or the no-progress timeout if shorter, then gives up
 * (IBackgroundCopyJob::Cancel). The debt is persisted on the job row (cancel_pending, next
 * attempt, deadline), so it survives restarts, and it is listed by `list()`.
 */
import { DEFAULTS, type PendingCancellation } from '../job/types.js';
import { pickEngine } from '../engine/job-runner.js';
import type { FileRecord, JobRecord } from '../job/records.js';
import { deleteTempFiles } from './local-files.js';
import type { JobQueue } from './job-queue.js';
import { toTransferFile } from './transfer-view.js';

/** While an attempt is in flight its next-attempt time is pushed this far out, as a lease. */
const ATTEMPT_LEASE_MS = 5 * 60 * 1000;

export class RemoteCancels {
  readonly #queue: JobQueue;
  readonly #inflight = new Map<string, Promise<void>>();
  readonly #controller = new AbortController();

  constructor(queue: JobQueue) {
    this.#queue = queue;
  }

  /** Deletes the job's local temp files and, for uploads, records the Cancel-Session debt. */
  async afterCancel(job: JobRecord, files: readonly FileRecord[]): Promise<boolean> {
    const paths = job.type === 'DOWNLOAD' ? files.map((f) => f.tempName) : job.replyTempName ? [job.replyTempName] : [];
    const deleted = await deleteTempFiles(paths);
    const file = files[0];
    if (job.type !== 'DOWNLOAD' && file) {
      const tjob = this.#queue.transferJob(job);
      const engine = pickEngine(this.#queue.engines, tjob, file.remoteName);
      if (engine?.cancelRemote && engine.needsRemoteCancel?.(toTransferFile(file))) {
        const now = this.#queue.clock.now();
        const windowSec = Math.min(DEFAULTS.cancelRetryWindowSec, job.noProgressTimeoutSec);
        this.#queue.store.updateJob(job.id, {
          cancelPending: true,
          cancelNextAt: now,
          cancelDeadline: now + windowSec * 1000,
          cancelAttempts: 0,
          cancelLastError: null,
        });
        this.#queue.scheduler.wake();
      }
    }
    return deleted;
  }

  earliestDue(): number | null {
    return this.#queue.store.earliestCancelAt();
  }

  fireDue(now: number): void {
    for (const id of this.#queue.store.dueCancels(now)) {
      if (this.#inflight.has(id)) continue;
      const attempt = this.#attempt(id).finally(() => {
        this.#inflight.delete(id);
        this.#queue.scheduler.wake();
      });
      this.#inflight.set(id, attempt);
    }
  }

  async #attempt(id: string): Promise<void> {
    const { store, clock } = this.#queue;
    const job = store.getJob(id);
    const file = store.getFiles(id)[0];
    if (!job || !file || !job.cancelPending) return;
    store.updateJob(id, { cancelNextAt: clock.now() + ATTEMPT_LEASE_MS });
    const tjob = this.#queue.transferJob(job);
    const engine = pickEngine(this.#queue.engines, tjob, file.remoteName);
    let outcome: { done: true } | { done: false; error: string };
    if (!engine?.cancelRemote) {
      outcome = { done: true };
    } else {
      try {
        outcome = await engine.cancelRemote({ job: tjob, file: toTransferFile(file), signal: this.#controller.signal, clock });
      } catch (err) {
        outcome = { done: false, error: err instanceof Error ? err.message : String(err) };
      }
    }
    if (this.#controller.signal.aborted) {
      // Shutting down: try again at the next start.
      store.updateJob(id, { cancelNextAt: clock.now() });
      return;
    }
    const now = clock.now();
    const attempts = job.cancelAttempts + 1;
    if (outcome.done) {
      store.updateJob(id, { cancelPending: false, cancelNextAt: null, cancelAttempts: attempts, cancelLastError: null });
      return;
    }
    const next = now + job.minRetryDelaySec * 1000;
    if (job.cancelDeadline === null || next > job.cancelDeadline) {
      store.updateJob(id, {
        cancelPending: false,
        cancelNextAt: null,
        cancelAttempts: attempts,
        cancelLastError: `Gave up after ${attempts} attempts: ${outcome.error}`,
      });
      return;
    }
    store.updateJob(id, { cancelNextAt: next, cancelAttempts: attempts, cancelLastError: outcome.error });
  }

  list(): PendingCancellation[] {
    return this.#queue.store.pendingCancels().map((job) => ({
      jobId: job.id,
      displayName: job.displayName,
      remoteName: this.#queue.store.getFiles(job.id)[0]?.remoteName ?? '',
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
