/**
 * What the scheduler asks of the queue: persisted due times and firing them, the line of queued
 * jobs, and the transitions of dispatching, preempting and running a job.
 */
import type { Clock } from '../shared/clock.js';
import { PRIORITIES, type Priority } from '../job/types.js';
import type { JobStore } from '../store/job-store.js';
import { runJob } from '../engine/job-runner.js';
import type { TransferEngine } from '../engine/types.js';
import type { SchedulerHost } from '../scheduler/scheduler.js';
import type { BandwidthLimiter } from './bandwidth.js';
import type { JobFunnel } from './funnel.js';
import type { NetworkGate } from './network-gate.js';
import type { RemoteCancels } from './remote-cancels.js';
import type { QueueRunnerHost } from './runner-host.js';

export interface SchedulerHostDeps {
  readonly store: JobStore;
  readonly clock: Clock;
  readonly engines: readonly TransferEngine[];
  readonly funnel: JobFunnel;
  readonly host: QueueRunnerHost;
  readonly gate: NetworkGate;
  /** Late-bound: the Cancel-Session room needs the scheduler that needs this host. */
  readonly cancels: () => RemoteCancels;
  readonly limiter: () => BandwidthLimiter;
}

export class QueueSchedulerHost implements SchedulerHost {
  readonly #deps: SchedulerHostDeps;

  constructor(deps: SchedulerHostDeps) {
    this.#deps = deps;
  }

  earliestDue(): number | null {
    const due = [this.#deps.store.earliestRetryAt(), this.#deps.cancels().earliestDue()].filter((t): t is number => t !== null);
    return due.length === 0 ? null : Math.min(...due);
  }

  fireDue(now: number): void {
    const { store, funnel } = this.#deps;
    for (const id of store.dueRetries(now)) {
      const job = store.getJob(id);
      const expired = job?.retryDeadline != null && now >= job.retryDeadline;
      if (job) funnel.tryApply(id, { type: expired ? 'NO_PROGRESS_TIMEOUT' : 'RETRY_DUE' });
    }
    this.#deps.cancels().fireDue(now);
  }

  queued(priority: number, limit: number): string[] {
    const { store } = this.#deps;
    return limit === 1 ? [store.nextQueued(priority)].filter((x): x is string => x !== undefined) : store.queuedAtLevel(priority, limit);
  }

  dispatch(jobId: string): { priority: number; maxActiveMs: number | null } | 'blocked' | null {
    // Offline, too expensive or on battery: the job waits blocked and the next one gets the slot.
    if (this.#deps.gate.block(jobId)) return 'blocked';
    const job = this.#deps.funnel.tryApply(jobId, { type: 'DISPATCH' })?.after;
    if (!job) return null;
    const maxActiveMs = job.maxDownloadTimeSec === 0 ? null : job.maxDownloadTimeSec * 1000 - job.activeMs;
    return { priority: PRIORITIES.indexOf(job.priority), maxActiveMs };
  }

  run(jobId: string, signal: AbortSignal): Promise<void> {
    return runJob(this.#deps.host, this.#deps.engines, this.#deps.clock, jobId, signal);
  }

  preempt(jobId: string, toBack: boolean): void {
    this.#deps.funnel.tryApply(jobId, { type: 'PREEMPT' }, { toBack });
  }

  maxTimeExceeded(jobId: string): void {
    this.#deps.funnel.tryApply(jobId, { type: 'MAX_DOWNLOAD_TIME' });
  }

  held(priority: number): boolean {
    return this.#deps.limiter().held(PRIORITIES[priority] as Priority);
  }
}
