/**
 * The queue: the store, the scheduler and the engines tied together. It is the composition root
 * of src/queue; each responsibility lives in its own room:
 *   funnel.ts        the only path to a job write (transitions, progress, the Cancel-Session debt)
 *   notifier.ts      events and notify command lines, after the commit
 *   runner-host.ts   what a running job reads and reports (a ProgressSink per file)
 *   closer.ts        Complete and Cancel, serialised per job; file-work.ts does what they owe
 *   remote-cancels.ts the Cancel-Session owed to upload servers
 *   sweeper.ts       hourly purge of final jobs and 90-day inactivity cancel
 *   scheduler-host.ts what the scheduler asks of the queue (due timers, dispatch, runs)
 *   bandwidth.ts     the limits the policy sets and yielding (yield-monitor.ts), as pacers
 *   transfer-rates.ts each running job's current rate; transfer-status.ts what /info shows of it
 *   network-gate.ts  offline, metered and on-battery jobs wait blocked, and go on by themselves
 * The store is private to the queue: callers read through `reads` and write through the funnel.
 */
import { v4 as uuidv4 } from 'uuid';
import type { Clock } from '../shared/clock.js';
import { BitsError } from '../shared/errors.js';
import type { JobEvent } from '../job/machine.js';
import type { JobPatch, JobRecord } from '../job/records.js';
import type { JobType, PendingCancellation, Quotas, TransferStatus } from '../job/types.js';
import { JobStore, type WriteStats } from '../store/job-store.js';
import type { CancelResult, CompleteResult } from './closer.js';
import type { ApplyOptions } from './funnel.js';
import { newJobRecord } from './new-job.js';
import type { QueueEmitter } from './events.js';
import type { JobQueueOptions } from './queue-options.js';
import { type Rooms, wireRooms } from './wiring.js';

export type { JobQueueOptions } from './queue-options.js';

/** What the API reads; it writes only through the queue's methods. */
export type JobReads = Pick<JobStore, 'getJob' | 'getJobType' | 'getJobWithAggregate' | 'getFiles' | 'countFiles' | 'listLiveJobIds'>;

export class JobQueue {
  readonly clock: Clock;
  readonly quotas: Quotas;
  readonly #store: JobStore;
  readonly #rooms: Rooms;
  /** Set by close(): calls are refused from then on with a BitsError, not a SQLite TypeError. */
  #closed = false;

  /** Opens the store in `dataDir`, finishes what a crash interrupted, and starts scheduling. */
  static async open(options: JobQueueOptions): Promise<JobQueue> {
    const store = JobStore.open({ dataDir: options.dataDir, now: options.clock.now() });
    try {
      const queue = new JobQueue(store, options);
      await queue.#start();
      return queue;
    } catch (err) {
      store.close();
      throw err;
    }
  }

  private constructor(store: JobStore, options: JobQueueOptions) {
    this.#store = store;
    this.clock = options.clock;
    this.quotas = options.quotas;
    this.#rooms = wireRooms(store, options);
  }

  /**
   * Crash recovery, then scheduling: after a reboot, offsets fall back to what reached the disk;
   * owed file work is finished, cut-off transfers requeued.
   */
  async #start(): Promise<void> {
    // First: nothing may resume (or be delivered) from bytes the page cache lost with the system.
    this.#rooms.funnel.fallBackToSyncedOffsets();
    this.#rooms.sweeper.start();
    await this.#rooms.closer.finishOwedWork();
    for (const id of this.#store.activeJobIds()) {
      // The job was last seen alive at its last recorded change: its active time ends there.
      const job = this.#store.getJob(id);
      if (job) this.#rooms.funnel.tryApply(id, { type: 'RECOVER' }, { activeUntil: Math.max(job.modifiedAt, job.activeSince ?? 0) });
    }
    await this.#store.committed();
    // The network, the config or the battery may have changed while bitsd was down.
    this.#rooms.gate.recheckAll();
    this.#rooms.scheduler.wake();
  }

  /** Stops every transfer (progress made so far is kept), then closes the store. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#rooms.sweeper.stop();
    this.#rooms.gate.stop();
    this.#rooms.limiter.stop();
    this.#rooms.notifier.stop();
    await this.#rooms.scheduler.stop();
    await this.#rooms.cancels.stop();
    await this.#rooms.closer.idle();
    // Only now: stopping transfers still record their last progress through the funnel.
    this.#closed = true;
    this.#store.close();
  }

  // ---- for the API ---------------------------------------------------------------------------

  get events(): QueueEmitter {
    return this.#rooms.notifier.events;
  }

  get reads(): JobReads {
    this.#assertOpen();
    return this.#store;
  }

  record(id: string): JobRecord {
    const job = this.reads.getJob(id);
    if (!job) throw new BitsError('BG_E_NOT_FOUND', `No job ${id} in the queue.`);
    return job;
  }

  apply(id: string, event: JobEvent, options?: ApplyOptions): JobRecord {
    this.#assertOpen();
    return this.#rooms.funnel.apply(id, event, options).after;
  }

  modify(id: string, patch: JobPatch, prepare?: ApplyOptions['prepare']): JobRecord {
    this.#assertOpen();
    const after = this.#rooms.funnel.modify(id, patch, prepare);
    // The transfer policy and the priority decide whether the network lets the job go on.
    if (patch.costFlags !== undefined || patch.priority !== undefined) this.#rooms.gate.recheck(id);
    return after;
  }

  /** The job's transfer policy in force: its own, or the config's default for its priority. */
  costFlagsOf(job: JobRecord): number {
    return this.#rooms.gate.costFlagsOf(job);
  }

  /** Settles once the writes made so far are committed; rejects (BitsError) if they were lost. */
  committed(): Promise<void> {
    return this.#store.committed();
  }

  complete(id: string): Promise<CompleteResult> {
    this.#assertOpen();
    return this.#rooms.closer.complete(id);
  }

  cancel(id: string): Promise<CancelResult> {
    this.#assertOpen();
    return this.#rooms.closer.cancel(id);
  }

  createJob(displayName: string, type: JobType, owner: string): JobRecord {
    this.#assertOpen();
    this.#rooms.live.checkRoomFor(owner, this.quotas);
    const job = newJobRecord(`{${uuidv4().toUpperCase()}}`, displayName, type, owner, this.clock.now());
    this.#rooms.funnel.insertJob(job);
    this.#rooms.live.added(owner);
    return job;
  }

  /** A change may have made work runnable (a priority raised). */
  wake(): void {
    this.#rooms.scheduler.wake();
  }

  /** Pending Cancel-Session deliveries (upload jobs), for listings. */
  pendingCancellations(): PendingCancellation[] {
    this.#assertOpen();
    return this.#rooms.cancels.list();
  }

  /** The job's rate and the limit on it, or what holds it (bitsd's own read, for /info). */
  transferStatus(id: string): TransferStatus {
    return this.#rooms.statusOf(this.record(id));
  }

  writeStats(): WriteStats {
    return this.#store.writeStats();
  }

  #assertOpen(): void {
    if (this.#closed) throw new BitsError('BG_E_INVALID_STATE', 'The manager is closed; open it again to use its jobs.');
  }
}
