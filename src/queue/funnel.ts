/**
 * The funnel: the only path by which anything writes a job. A state change is `apply()`: load
 * the job, ask the pure machine, write the new state with everything it implies (timers, error
 * object, owed file work, timestamps) in one transaction, and only after the commit carry out
 * the effects (abort the transfer, wake the scheduler, emit events). Progress and the other
 * reports of a running transfer are named writes beside it (recordFileProgress, ...). A refused
 * call throws before anything is written.
 *
 * The store group-commits (store/group-commit.ts): "after the commit" is when the current
 * microtask queue has drained.
 */
import type { Clock } from '../shared/clock.js';
import { BitsError } from '../shared/errors.js';
import { type Effect, type JobEvent, type MachineJob, transition } from '../job/machine.js';
import type { FileProgressPatch, FileRecord, JobPatch, JobRecord } from '../job/records.js';
import { FINAL_STATES, type AuthScheme, type AuthTarget, type Credentials, type FileIdentity } from '../job/types.js';
import type { JobAggregate, JobStore } from '../store/job-store.js';
import type { EngineState, ReplyInfo } from '../engine/types.js';
import { transitionPatch } from './apply-transition.js';
import type { Notifier, NotifyKind } from './notifier.js';
import type { ProgressWrites } from './progress-sink.js';

export interface AppliedTransition {
  readonly before: JobRecord;
  readonly after: JobRecord;
  readonly effects: readonly Effect[];
}

/** What the funnel does after a commit that it does not own itself. */
export interface FunnelEffects {
  abortTransfer(jobId: string): void;
  wakeScheduler(): void;
  /** The job reached ACKNOWLEDGED or CANCELLED. */
  becameFinal(job: JobRecord): void;
}

/** Writes that belong in a transition's transaction (AddFile's rows, credentials, ...). */
export interface TransactionWrites {
  countFiles(jobId: string): number;
  getFiles(jobId: string): FileRecord[];
  insertFile(file: FileRecord): void;
  setRemoteName(jobId: string, index: number, remoteName: string): void;
  setCredential(jobId: string, credentials: Credentials): void;
  removeCredential(jobId: string, target: AuthTarget, scheme: AuthScheme): void;
}

export interface ApplyOptions {
  /** Columns set with the transition (a setter's new values). */
  readonly patch?: JobPatch;
  /** PREEMPT: to the back of the line (round robin) rather than keeping its place. */
  readonly toBack?: boolean;
  /**
   * Runs inside the transaction once the machine accepted the event, with the job as stored:
   * may throw to refuse, write through `tx`, and return more columns for the job row.
   */
  readonly prepare?: (job: JobRecord, tx: TransactionWrites) => JobPatch | void;
  /** See TransitionPatchInput.activeUntil (recovery). */
  readonly activeUntil?: number;
}

function machineView(job: JobRecord, aggregate: JobAggregate): MachineJob {
  return {
    state: job.state,
    type: job.type,
    filesTotal: aggregate.filesTotal,
    filesTransferred: aggregate.filesTransferred,
    minimumRetryDelaySec: job.minRetryDelaySec,
    noProgressTimeoutSec: job.noProgressTimeoutSec,
    noProgressSince: job.noProgressSince,
    fileIntent: job.fileIntent,
    blockedSince: job.blockedSince,
    errorHresult: job.errorHresult,
  };
}

export class JobFunnel implements ProgressWrites {
  readonly #store: JobStore;
  readonly #clock: Clock;
  readonly #notifier: Notifier;
  readonly #effects: FunnelEffects;
  /** The boot this process runs in, recorded with every offset (src/shared/boot-id.ts). */
  readonly #bootId: string;
  #queueSeq: number;

  constructor(store: JobStore, clock: Clock, notifier: Notifier, effects: FunnelEffects, bootId: string) {
    this.#store = store;
    this.#clock = clock;
    this.#notifier = notifier;
    this.#effects = effects;
    this.#bootId = bootId;
    this.#queueSeq = store.maxQueueSeq();
  }

  apply(id: string, event: JobEvent, options: ApplyOptions = {}): AppliedTransition {
    const now = this.#clock.now();
    const result = this.#store.transaction(() => {
      const found = this.#store.getJobWithAggregate(id);
      if (!found) throw new BitsError('BG_E_NOT_FOUND', `No job ${id} in the queue.`);
      const before = found.job;
      const outcome = transition(machineView(before, found.aggregate), event, now);
      if (!outcome.ok) throw outcome.error;
      const prepared = options.prepare?.(before, this.#store) ?? {};
      // Preempted jobs keep their place in line; everything else re-enters QUEUED at the back.
      const queueSeq = event.type === 'PREEMPT' && !options.toBack ? undefined : ++this.#queueSeq;
      const patch = {
        ...transitionPatch({ job: before, next: outcome.state, effects: outcome.effects, now, queueSeq, ...(options.activeUntil !== undefined ? { activeUntil: options.activeUntil } : {}) }),
        ...options.patch,
        ...prepared,
      };
      this.#store.writeTransition(id, patch);
      return { before, after: { ...before, ...patch } as JobRecord, effects: outcome.effects };
    });
    this.#store.afterCommit(() => this.#afterCommit(result));
    return result;
  }

  /** For events the job may have outgrown meanwhile (timers, late reports): a refusal is no error. */
  tryApply(id: string, event: JobEvent, options: ApplyOptions = {}): AppliedTransition | null {
    try {
      return this.apply(id, event, options);
    } catch (err) {
      if (err instanceof BitsError && (err.code === 'BG_E_INVALID_STATE' || err.code === 'BG_E_NOT_FOUND')) return null;
      throw err;
    }
  }

  /** A setter: MODIFY (refused on final jobs and during Complete) plus the new values, in one write. */
  modify(id: string, patch: JobPatch, prepare?: ApplyOptions['prepare']): JobRecord {
    return this.apply(id, { type: 'MODIFY' }, { patch, ...(prepare ? { prepare } : {}) }).after;
  }

  #afterCommit({ before, after, effects }: AppliedTransition): void {
    if (!FINAL_STATES.has(before.state) && FINAL_STATES.has(after.state)) this.#effects.becameFinal(after);
    const notify: NotifyKind[] = [];
    for (const effect of effects) {
      if (effect.type === 'abort-transfer') this.#effects.abortTransfer(after.id);
      else if (effect.type === 'wake-scheduler') this.#effects.wakeScheduler();
      else if (effect.type === 'notify') notify.push(effect.kind);
    }
    this.#notifier.changed(before, after, notify);
  }

  // ---- a running transfer's reports (ProgressWrites) -----------------------------------------

  connected(jobId: string): void {
    this.tryApply(jobId, { type: 'CONNECTED' });
  }

  recordFileProgress(jobId: string, fileIndex: number, patch: FileProgressPatch): void {
    // An offset is only as good as the boot that wrote it: start-up compares (fallBackToSyncedOffsets).
    const recorded = patch.bytesTransferred === undefined ? patch : { ...patch, bootId: this.#bootId };
    this.#store.transaction(() => this.#store.recordFileProgress(jobId, fileIndex, recorded, this.#clock.now()));
    this.#progressEvent(jobId);
  }

  recordEngineState(jobId: string, fileIndex: number, engineState: EngineState): void {
    this.#store.recordEngineState(jobId, fileIndex, engineState);
  }

  recordTempIdentity(jobId: string, fileIndex: number, identity: FileIdentity): void {
    this.#store.recordTempIdentity(jobId, fileIndex, identity);
  }

  recordReplyTempIdentity(jobId: string, identity: FileIdentity): void {
    this.#store.recordReplyTempIdentity(jobId, identity);
  }

  recordReplyProgress(jobId: string, reply: ReplyInfo): void {
    this.#store.recordReplyProgress(
      jobId,
      {
        replyUrl: reply.url,
        replyTempName: reply.tempName,
        replyBytesTotal: reply.bytesTotal,
        replyBytesTransferred: reply.bytesTransferred,
        replySyncedBytes: reply.syncedBytes,
        replyBootId: this.#bootId,
        ...(reply.tempIdentity !== null ? { replyTempIdentity: reply.tempIdentity } : {}),
      },
      this.#clock.now(),
    );
    this.#progressEvent(jobId);
  }

  /**
   * Start-up: offsets recorded in another boot keep only their synced bytes (the page cache that
   * held the rest is gone). Nothing is written when the boot is the same. Before any transfer runs.
   */
  fallBackToSyncedOffsets(): { files: number; replies: number } {
    return this.#store.transaction(() => this.#store.fallBackToSyncedOffsets(this.#bootId));
  }

  /** Every byte of one file is transferred (downloads: in the temp file, synced; uploads: on the server). */
  fileTransferred(jobId: string, fileIndex: number): void {
    const job = this.#store.getJob(jobId);
    if (!job) return;
    // Download files become "completed" only once Complete makes them visible; uploads when sent.
    this.#store.transaction(() => this.#store.markFileTransferred(jobId, fileIndex, job.type !== 'DOWNLOAD', this.#clock.now()));
    this.#progressEvent(jobId);
    const file = this.#store.getFile(jobId, fileIndex);
    if (file) this.#store.afterCommit(() => this.#notifier.fileTransferred(job, file));
  }

  /** Complete moved the file to its local name. */
  fileDelivered(jobId: string, fileIndex: number): void {
    this.#store.markFileDelivered(jobId, fileIndex);
  }

  #progressEvent(jobId: string): void {
    this.#store.afterCommit(() => this.#notifier.progress(jobId));
  }

  // ---- the Cancel-Session debt (remote-cancels.ts) -------------------------------------------

  recordCancelAttempt(jobId: string, outcome: { nextAt: number | null; attempts: number; lastError: string | null }): void {
    this.#store.recordCancelAttempt(jobId, outcome);
  }

  // ---- whole jobs ----------------------------------------------------------------------------

  insertJob(job: JobRecord): void {
    this.#store.insertJob(job);
    this.#store.afterCommit(() => this.#notifier.created(job));
  }

  /** Forgets final jobs that ended before `before` and owe nothing (no file work, no Cancel-Session). */
  purgeFinalJobs(before: number): void {
    this.#store.purgeFinalJobs(before);
  }
}
