/**
 * The queue: the store, the scheduler and the engines tied together behind one funnel.
 *
 * Every state change goes through `apply()`: load the job, ask the pure machine, write the new
 * state with everything it implies (timers, error object, timestamps) atomically, and only after
 * the commit carry out the effects (abort the transfer, wake the scheduler, emit events). The
 * store group-commits (store/group-commit.ts), so "after the commit" is when the current
 * microtask queue has drained. A refused call throws before anything is written.
 */
import { v4 as uuidv4 } from 'uuid';
import type { Clock, Timer } from '../shared/clock.js';
import { BitsError } from '../shared/errors.js';
import type { ErrorContext } from '../shared/hresult.js';
import { type Effect, type JobEvent, type MachineJob, transition } from '../job/machine.js';
import { FINAL_STATES, type FileIdentity, type JobType, NOTIFY, PRIORITIES, type Quotas } from '../job/types.js';
import type { JobAggregate, JobStore } from '../store/job-store.js';
import type { FilePatch, FileProgressPatch, JobPatch, JobRecord } from '../job/records.js';
import { toTransferFile, toTransferJob } from './transfer-view.js';
import { runJob, type RunnerHost } from '../engine/job-runner.js';
import type { EngineState, ProgressSink, ReplyInfo, TransferEngine, TransferFile, TransferJob } from '../engine/types.js';
import { FileProgressSink, type ProgressWrites } from './progress-sink.js';
import { Scheduler, type SchedulerHost } from '../scheduler/scheduler.js';
import { transitionPatch } from './apply-transition.js';
import type { JobEventData } from '../job/events.js';
import { QueueEmitter } from './events.js';
import { newJobRecord } from './new-job.js';
import { NotifyCommands } from './notify-command.js';
import { RemoteCancels } from './remote-cancels.js';

/** How often final jobs are forgotten and inactive ones cancelled (see #sweep). */
const SWEEP_INTERVAL_MS = 3600_000;

export interface JobQueueOptions {
  readonly store: JobStore;
  readonly clock: Clock;
  readonly engines: readonly TransferEngine[];
  readonly quotas: Quotas;
  readonly maxBackground: number;
  readonly maxForeground: number;
  readonly timeSliceMs: number;
  readonly inactivityTimeoutMs: number;
  /** Final jobs are forgotten this long after they ended. */
  readonly finalRetentionMs: number;
}

export interface AppliedTransition {
  readonly before: JobRecord;
  readonly after: JobRecord;
  readonly effects: readonly Effect[];
}

export function machineView(job: JobRecord, aggregate: JobAggregate): MachineJob {
  return {
    state: job.state,
    type: job.type,
    filesTotal: aggregate.filesTotal,
    filesTransferred: aggregate.filesTransferred,
    minimumRetryDelaySec: job.minRetryDelaySec,
    noProgressTimeoutSec: job.noProgressTimeoutSec,
    noProgressSince: job.noProgressSince,
  };
}

export class JobQueue implements RunnerHost, SchedulerHost, ProgressWrites {
  readonly store: JobStore;
  readonly clock: Clock;
  readonly events = new QueueEmitter();
  readonly scheduler: Scheduler;
  readonly engines: readonly TransferEngine[];
  readonly quotas: Quotas;
  readonly #inactivityTimeoutMs: number;
  readonly #finalRetentionMs: number;
  #sweepTimer: Timer | null = null;
  readonly #liveCounts: Map<string, number>;
  readonly #lastProgressEvent = new Map<string, number>();
  readonly #cancels: RemoteCancels;
  readonly #commands: NotifyCommands;
  /** Jobs whose Complete is moving files: never dispatched meanwhile (see whileCompleting). */
  readonly #completing = new Map<string, number>();
  #queueSeq: number;
  /** Set by stop(): the API's calls are refused from then on (see openStore). */
  #closed = false;

  constructor(options: JobQueueOptions) {
    this.store = options.store;
    this.clock = options.clock;
    this.engines = options.engines;
    this.quotas = options.quotas;
    this.#inactivityTimeoutMs = options.inactivityTimeoutMs;
    this.#finalRetentionMs = options.finalRetentionMs;
    this.#liveCounts = this.store.countLiveJobsByOwner();
    this.#queueSeq = this.store.maxQueueSeq();
    // A batch of writes rolled back as a whole (a full disk at COMMIT) took its new and finished
    // jobs with it: count again from what the database holds.
    this.store.onBatchLost(() => {
      this.#liveCounts.clear();
      for (const [owner, n] of this.store.countLiveJobsByOwner()) this.#liveCounts.set(owner, n);
      this.scheduler.wake();
    });
    this.#cancels = new RemoteCancels(this);
    this.#commands = new NotifyCommands({
      clock: this.clock,
      current: (id) => this.store.getJob(id),
      onResult: (jobId, exitCode, error) => this.events.safeEmit('notify-command', { jobId, exitCode, error: error?.message ?? null }),
    });
    this.scheduler = new Scheduler(this, this.clock, {
      maxBackground: options.maxBackground,
      maxForeground: options.maxForeground,
      timeSliceMs: options.timeSliceMs,
    });
  }

  /** Crash recovery, then scheduling. Jobs found CONNECTING/TRANSFERRING were cut off: requeue. */
  start(): void {
    this.#sweep();
    for (const id of this.store.activeJobIds()) {
      const job = this.store.getJob(id);
      // The job was last seen alive at its modification time: count active time up to there.
      if (job?.activeSince != null) this.store.updateJob(id, { activeSince: Math.min(job.activeSince, job.modifiedAt) });
      this.apply(id, { type: 'RECOVER' });
    }
    this.scheduler.wake();
  }

  /**
   * At open and then every hour: forgets final jobs past their retention, and cancels jobs with
   * no progress or change for 90 days (BITS_MC_JOB_SCAVENGED). An hourly scan rather than a
   * timer on an index: such an index is rewritten by almost every write (migration 0002), and an
   * hour late is nothing against 90 days.
   */
  #sweep(): void {
    const now = this.clock.now();
    this.store.purgeFinalJobs(now - this.#finalRetentionMs);
    for (const id of this.store.inactiveJobs(now - this.#inactivityTimeoutMs)) {
      void this.cancelJob(id, 'INACTIVITY_EXPIRED').catch((err: unknown) => this.events.safeEmit('listener-error', err));
    }
    this.#sweepTimer = this.clock.at(now + SWEEP_INTERVAL_MS, () => this.#sweep());
  }

  async stop(): Promise<void> {
    this.#sweepTimer?.cancel();
    this.#commands.stop();
    await this.scheduler.stop();
    await this.#cancels.stop();
    // Only now: stopping transfers still record their last progress through apply().
    this.#closed = true;
  }

  // ---- reads ---------------------------------------------------------------------------------

  /**
   * The store, for the API's own reads and writes: once the manager closed, a call on a job
   * object it handed out is refused with a BitsError (not better-sqlite3's TypeError).
   */
  get openStore(): JobStore {
    this.#assertOpen();
    return this.store;
  }

  #assertOpen(): void {
    if (this.#closed) throw new BitsError('BG_E_INVALID_STATE', 'The manager is closed; open it again to use its jobs.');
  }

  record(id: string): JobRecord {
    this.#assertOpen();
    const job = this.store.getJob(id);
    if (!job) throw new BitsError('BG_E_NOT_FOUND', `No job ${id} in the queue.`);
    return job;
  }

  liveCount(owner?: string): number {
    if (owner !== undefined) return this.#liveCounts.get(owner) ?? 0;
    let n = 0;
    for (const v of this.#liveCounts.values()) n += v;
    return n;
  }

  // ---- the funnel ----------------------------------------------------------------------------

  /**
   * Applies one machine event with an optional extra patch, atomically, then runs its effects.
   * `prepare` runs inside the transaction after the machine accepted the event (for writes that
   * belong with it, such as new files).
   */
  apply(id: string, event: JobEvent, extra: { patch?: JobPatch; toBack?: boolean; prepare?: (job: JobRecord) => void } = {}): AppliedTransition {
    this.#assertOpen();
    const now = this.clock.now();
    const result = this.store.transaction(() => {
      const found = this.store.getJobWithAggregate(id);
      if (!found) throw new BitsError('BG_E_NOT_FOUND', `No job ${id} in the queue.`);
      const before = found.job;
      const outcome = transition(machineView(before, found.aggregate), event, now);
      if (!outcome.ok) throw outcome.error;
      extra.prepare?.(before);
      // Preempted jobs keep their place in line; everything else re-enters QUEUED at the back.
      const queueSeq = event.type === 'PREEMPT' && !extra.toBack ? undefined : ++this.#queueSeq;
      const patch = { ...transitionPatch({ job: before, next: outcome.state, effects: outcome.effects, now, queueSeq }), ...extra.patch };
      this.store.updateJob(id, patch);
      return { before, after: { ...before, ...patch } as JobRecord, effects: outcome.effects };
    });
    this.store.afterCommit(() => this.#afterCommit(result));
    return result;
  }

  #afterCommit({ before, after, effects }: AppliedTransition): void {
    if (!FINAL_STATES.has(before.state) && FINAL_STATES.has(after.state)) {
      this.#liveCounts.set(after.owner, Math.max(0, (this.#liveCounts.get(after.owner) ?? 1) - 1));
      this.#lastProgressEvent.delete(after.id);
    }
    const data = eventData(after);
    for (const effect of effects) {
      if (effect.type === 'abort-transfer') this.scheduler.abort(after.id);
      else if (effect.type === 'wake-scheduler') this.scheduler.wake();
    }
    this.events.safeEmit('change', { ...data, kind: before.state === after.state ? 'property' : 'state' });
    for (const effect of effects) {
      if (effect.type === 'notify') this.notify(after, effect.kind);
    }
  }

  /** Emits a public event if the job's notify flags ask for it. */
  notify(job: JobRecord, kind: 'transferred' | 'error' | 'modification'): void {
    if (kind !== 'modification') this.#commands.trigger(job, kind);
    const flags = job.notifyFlags;
    if (flags & NOTIFY.DISABLE) return;
    const data = eventData(job);
    if (kind === 'transferred' && flags & NOTIFY.JOB_TRANSFERRED) this.events.safeEmit('job:transferred', data);
    if (kind === 'modification' && flags & NOTIFY.JOB_MODIFICATION) this.events.safeEmit('job:modification', data);
    if (kind === 'error' && flags & NOTIFY.JOB_ERROR) {
      this.events.safeEmit('job:error', {
        ...data,
        error: {
          hresult: job.errorHresult ?? 0,
          code: job.errorCode ?? '',
          context: (job.errorContext ?? 'NONE') as ErrorContext,
          message: job.errorMessage ?? '',
        },
      });
    }
  }

  /** A setter: MODIFY (refused on final jobs) plus the new values, in one write. */
  modify(id: string, patch: JobPatch, prepare?: (job: JobRecord) => void): JobRecord {
    return this.apply(id, { type: 'MODIFY' }, { patch, ...(prepare ? { prepare } : {}) }).after;
  }

  createJob(displayName: string, type: JobType, owner: string): JobRecord {
    this.#assertOpen();
    const userCount = this.liveCount(owner);
    if (userCount >= this.quotas.jobsPerUser) {
      throw new BitsError('BG_E_TOO_MANY_JOBS_PER_USER', `${owner} already has ${userCount} jobs; the limit per user is ${this.quotas.jobsPerUser}. Complete or cancel some jobs first.`);
    }
    const machineCount = this.liveCount();
    if (machineCount >= this.quotas.jobsPerMachine) {
      throw new BitsError('BG_E_TOO_MANY_JOBS_PER_MACHINE', `The queue already holds ${machineCount} jobs; the limit is ${this.quotas.jobsPerMachine}.`);
    }
    const now = this.clock.now();
    const job: JobRecord = newJobRecord(`{${uuidv4().toUpperCase()}}`, displayName, type, owner, now);
    this.store.insertJob(job);
    this.#liveCounts.set(owner, userCount + 1);
    return job;
  }

  // ---- SchedulerHost -------------------------------------------------------------------------

  earliestDue(): number | null {
    const candidates = [this.store.earliestRetryAt(), this.#cancels.earliestDue()];
    const due = candidates.filter((t): t is number => t !== null);
    return due.length === 0 ? null : Math.min(...due);
  }

  fireDue(now: number): void {
    for (const id of this.store.dueRetries(now)) {
      const job = this.store.getJob(id);
      if (!job) continue;
      const expired = job.retryDeadline !== null && now >= job.retryDeadline;
      this.#tryApply(id, { type: expired ? 'NO_PROGRESS_TIMEOUT' : 'RETRY_DUE' });
    }
    this.#cancels.fireDue(now);
  }

  queued(priority: number, limit: number): string[] {
    return limit === 1 ? [this.store.nextQueued(priority)].filter((x): x is string => x !== undefined) : this.store.queuedAtLevel(priority, limit);
  }

  dispatch(jobId: string): { priority: number; maxActiveMs: number | null } | null {
    if (this.#completing.has(jobId)) return null;
    const applied = this.#tryApply(jobId, { type: 'DISPATCH' });
    if (!applied) return null;
    const job = applied.after;
    const maxActiveMs = job.maxDownloadTimeSec === 0 ? null : job.maxDownloadTimeSec * 1000 - job.activeMs;
    return { priority: PRIORITIES.indexOf(job.priority), maxActiveMs };
  }

  run(jobId: string, signal: AbortSignal): Promise<void> {
    return runJob(this, this.engines, this.clock, jobId, signal);
  }

  preempt(jobId: string, toBack: boolean): void {
    this.#tryApply(jobId, { type: 'PREEMPT' }, toBack);
  }

  maxTimeExceeded(jobId: string): void {
    this.#tryApply(jobId, { type: 'MAX_DOWNLOAD_TIME' });
  }

  /** For timer-driven events the job may have moved on meanwhile: a refusal is not an error. */
  #tryApply(id: string, event: JobEvent, toBack = false): AppliedTransition | null {
    try {
      return this.apply(id, event, { toBack });
    } catch (err) {
      if (err instanceof BitsError && (err.code === 'BG_E_INVALID_STATE' || err.code === 'BG_E_NOT_FOUND')) return null;
      throw err;
    }
  }

  // ---- RunnerHost ----------------------------------------------------------------------------

  load(jobId: string): { job: TransferJob; files: TransferFile[] } | null {
    const job = this.store.getJob(jobId);
    if (!job) return null;
    const files = this.store.getFiles(jobId).filter((f) => !f.transferred).map(toTransferFile);
    return { job: this.transferJob(job), files };
  }

  transferJob(job: JobRecord): TransferJob {
    return toTransferJob(job, this.store.getCredentials(job.id));
  }

  sink(jobId: string, file: TransferFile, signal: AbortSignal): ProgressSink {
    return new FileProgressSink(this, jobId, file, signal);
  }

  connected(jobId: string): void {
    if (this.store.getJob(jobId)?.state === 'CONNECTING') this.#tryApply(jobId, { type: 'CONNECTED' });
  }

  recordFileProgress(jobId: string, fileIndex: number, patch: FileProgressPatch): void {
    this.#writeProgress(jobId, fileIndex, patch);
  }

  recordEngineState(jobId: string, fileIndex: number, engineState: EngineState): void {
    this.store.updateFile(jobId, fileIndex, { engineState });
  }

  recordTempIdentity(jobId: string, fileIndex: number, identity: FileIdentity): void {
    this.store.updateFile(jobId, fileIndex, { tempIdentity: identity });
  }

  recordReplyProgress(jobId: string, reply: ReplyInfo): void {
    this.store.updateJob(jobId, {
      replyUrl: reply.url,
      replyTempName: reply.tempName,
      replyBytesTotal: reply.bytesTotal,
      replyBytesTransferred: reply.bytesTransferred,
      ...(reply.tempIdentity !== null ? { replyTempIdentity: reply.tempIdentity } : {}),
      modifiedAt: this.clock.now(),
      noProgressSince: null,
    });
    this.#progressEvent(jobId);
  }

  fileTransferred(jobId: string, fileIndex: number): void {
    const job = this.record(jobId);
    // Download files become "completed" only once Complete makes them visible; uploads when sent.
    this.#writeProgress(jobId, fileIndex, { transferred: true, completed: job.type !== 'DOWNLOAD' });
    const file = this.store.getFile(jobId, fileIndex);
    const flags = job.notifyFlags;
    if (file && !(flags & NOTIFY.DISABLE) && flags & NOTIFY.FILE_TRANSFERRED) {
      const data = { ...eventData(job), fileIndex, remoteName: file.remoteName, localName: file.localName };
      this.store.afterCommit(() => this.events.safeEmit('file:transferred', data));
    }
  }

  allTransferred(jobId: string): void {
    this.#tryApply(jobId, { type: 'ALL_TRANSFERRED' });
  }

  failed(jobId: string, error: BitsError, fileIndex: number | null): void {
    const job = this.store.getJob(jobId);
    if (!job) return;
    const info = { hresult: error.hresult, code: error.code, context: error.context, message: error.message, fileIndex };
    // A custom HTTP method makes every error fatal (HttpOptions2::SetHttpMethod).
    const transient = error.transient && job.httpMethod === null;
    this.#tryApply(jobId, transient ? { type: 'TRANSIENT_FAILURE', error: info } : { type: 'FATAL_FAILURE', error: info });
  }

  /** Durable progress: the file row and the job's modification time, one transaction. */
  #writeProgress(jobId: string, fileIndex: number, patch: FilePatch): void {
    const now = this.clock.now();
    this.store.transaction(() => {
      this.store.updateFile(jobId, fileIndex, patch);
      this.store.updateJob(jobId, { modifiedAt: now, noProgressSince: null });
    });
    this.#progressEvent(jobId);
  }

  #progressEvent(jobId: string): void {
    this.store.afterCommit(() => this.#emitProgress(jobId));
  }

  #emitProgress(jobId: string): void {
    const job = this.store.getJob(jobId);
    if (!job) return;
    this.events.safeEmit('change', { ...eventData(job), kind: 'progress' });
    // JobModification for progress is rate limited by MINIMUM_NOTIFICATION_INTERVAL_MS.
    const now = this.clock.now();
    const last = this.#lastProgressEvent.get(jobId);
    if (last === undefined || now - last >= job.minNotificationIntervalMs) {
      this.#lastProgressEvent.set(jobId, now);
      this.notify(job, 'modification');
    }
  }

  // ---- Complete -------------------------------------------------------------------------------

  /**
   * Runs Complete's work for a job. Complete leaves the job in its state (QUEUED, TRANSIENT_ERROR,
   * ...) while it renames and deletes files, so a slot freeing up or a retry falling due could
   * otherwise dispatch it and start a transfer that nothing stops once the job is ACKNOWLEDGED.
   */
  async whileCompleting<T>(id: string, work: () => Promise<T>): Promise<T> {
    this.#completing.set(id, (this.#completing.get(id) ?? 0) + 1);
    try {
      return await work();
    } finally {
      const left = (this.#completing.get(id) ?? 1) - 1;
      if (left > 0) this.#completing.set(id, left);
      else this.#completing.delete(id);
      // A dispatch refused meanwhile may have left other queued jobs waiting.
      this.scheduler.wake();
    }
  }

  // ---- Cancel ---------------------------------------------------------------------------------

  /** Cancel (or the inactivity expiry): CANCELLED at once, then temp files and remote clean-up. */
  async cancelJob(id: string, event: 'CANCEL' | 'INACTIVITY_EXPIRED' = 'CANCEL'): Promise<'S_OK' | 'BG_S_UNABLE_TO_DELETE_FILES'> {
    const { before } = this.apply(id, { type: event });
    await this.scheduler.whenStopped(id);
    const files = this.store.getFiles(id);
    const deleted = await this.#cancels.afterCancel(before, files);
    return deleted ? 'S_OK' : 'BG_S_UNABLE_TO_DELETE_FILES';
  }

  /** Pending Cancel-Session deliveries (upload jobs), for listings. */
  pendingCancellations(): ReturnType<RemoteCancels['list']> {
    return this.#cancels.list();
  }
}

function eventData(job: JobRecord): JobEventData {
  return { jobId: job.id, displayName: job.displayName, type: job.type, state: job.state };
}
