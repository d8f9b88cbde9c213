/**
 * Builds the queue's rooms and connects each to the narrow part of the others it needs (see
 * job-queue.ts for what each room does). Nothing here holds state of its own.
 */
import { systemBootId } from '../shared/boot-id.js';
import { noCrashSeams } from '../shared/crash-seam.js';
import type { JobStore } from '../store/job-store.js';
import { DEFAULT_CONFIG, PolicyHolder } from '../policy/index.js';
import { Scheduler } from '../scheduler/scheduler.js';
import { BandwidthLimiter } from './bandwidth.js';
import { JobCloser } from './closer.js';
import { FileWork } from './file-work.js';
import { JobFunnel } from './funnel.js';
import type { JobQueueOptions } from './queue-options.js';
import { LiveCounts } from './live-counts.js';
import { NetworkGate } from './network-gate.js';
import { Notifier } from './notifier.js';
import { RemoteCancels } from './remote-cancels.js';
import { QueueRunnerHost } from './runner-host.js';
import { QueueSchedulerHost } from './scheduler-host.js';
import { Sweeper } from './sweeper.js';
import { TransferRates } from './transfer-rates.js';
import { transferStatusOf } from './transfer-status.js';
import type { JobRecord } from '../job/records.js';
import type { TransferStatus } from '../job/types.js';

export interface Rooms {
  readonly notifier: Notifier;
  readonly scheduler: Scheduler;
  readonly funnel: JobFunnel;
  readonly live: LiveCounts;
  readonly host: QueueRunnerHost;
  readonly cancels: RemoteCancels;
  readonly closer: JobCloser;
  readonly sweeper: Sweeper;
  readonly limiter: BandwidthLimiter;
  readonly rates: TransferRates;
  readonly gate: NetworkGate;
  /** A job's rate and limit, or why it waits (transfer-status.ts). */
  readonly statusOf: (job: JobRecord) => TransferStatus;
}

export function wireRooms(store: JobStore, o: JobQueueOptions): Rooms {
  const seam = o.crashSeam ?? noCrashSeams;
  const live = new LiveCounts(() => store.countLiveJobsByOwner());
  const notifier = new Notifier(o.clock, (id) => store.getJob(id));
  let cancels: RemoteCancels | null = null;
  let scheduler: Scheduler;
  const funnel = new JobFunnel(
    store,
    o.clock,
    notifier,
    {
      abortTransfer: (id) => scheduler.abort(id),
      wakeScheduler: () => scheduler.wake(),
      becameFinal: (job) => live.left(job.owner),
    },
    (o.bootId ?? systemBootId)(),
  );
  const policy = o.policy ?? new PolicyHolder(DEFAULT_CONFIG);
  const limiter = new BandwidthLimiter(o.clock, policy, o.link);
  const gate = new NetworkGate({ store, funnel, policy, network: o.network ?? null });
  const rates = new TransferRates(o.clock);
  const host = new QueueRunnerHost(store, funnel, limiter, rates, gate, o.random);
  const schedulerHost = new QueueSchedulerHost({ store, clock: o.clock, engines: o.engines, funnel, host, gate, cancels: () => cancels as RemoteCancels, limiter: () => limiter });
  scheduler = new Scheduler(schedulerHost, o.clock, { maxBackground: o.maxBackground, maxForeground: o.maxForeground, timeSliceMs: o.timeSliceMs });
  const whenStopped = (id: string): Promise<void> => scheduler.whenStopped(id);
  const committed = (): Promise<void> => store.committed();
  cancels = new RemoteCancels({
    clock: o.clock,
    engines: o.engines,
    job: (id) => store.getJob(id),
    files: (id) => store.getFiles(id),
    transferJob: (job) => host.transferJob(job),
    due: (now) => store.dueCancels(now),
    next: (limit) => store.nextCancels(limit),
    owed: () => store.pendingCancels(),
    record: (id, outcome) => funnel.recordCancelAttempt(id, outcome),
    whenStopped,
    wake: () => scheduler.wake(),
    seam,
    random: o.random,
  });
  const work = new FileWork({
    job: (id) => store.getJob(id),
    files: (id) => store.getFiles(id),
    settle: (id, event) => funnel.apply(id, event),
    fileDelivered: (id, index) => funnel.fileDelivered(id, index),
    tempIdentified: (id, target, identity) =>
      target === 'reply' ? funnel.recordReplyTempIdentity(id, identity) : funnel.recordTempIdentity(id, target.fileIndex, identity),
    committed,
    whenStopped,
    seam,
  });
  const closer = new JobCloser({
    apply: (id, event, options) => funnel.apply(id, event, options),
    committed,
    work,
    cancelSessionDebt: (job, files) => cancels.debtFor(job, files),
    jobsOwingFileWork: () => store.jobsOwingFileWork(),
    reportError: (err) => notifier.reportError(err),
  });
  const sweeper = new Sweeper({
    clock: o.clock,
    finalRetentionMs: o.finalRetentionMs,
    inactivityTimeoutMs: o.inactivityTimeoutMs,
    purgeFinalJobs: (before) => funnel.purgeFinalJobs(before),
    inactiveJobs: (before) => store.inactiveJobs(before),
    expire: (id) => void closer.cancel(id, 'INACTIVITY_EXPIRED').catch((err: unknown) => notifier.reportError(err)),
  });
  // A level the policy now holds gives up its running jobs; one it releases gets work again.
  limiter.onLimitsChange(() => scheduler.releaseHeld());
  // A batch of writes rolled back as a whole (a full disk at COMMIT) took its new and finished
  // jobs with it: count again from what the database holds.
  store.onBatchLost(() => {
    live.recount();
    scheduler.wake();
  });
  const statusOf = (job: JobRecord): TransferStatus => transferStatusOf(job, { rates, limiter, queuedAhead: (...args) => store.queuedAhead(...args) });
  return { notifier, scheduler, funnel, live, host, cancels, closer, sweeper, limiter, rates, gate, statusOf };
}
