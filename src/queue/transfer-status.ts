/**
 * A job's TransferStatus (job/types.ts): its rate and the limit on it while it transfers, or the
 * one reason it is not moving, with since and until when they are known.
 */
import type { JobRecord } from '../job/records.js';
import { PRIORITIES, type TransferStatus, type WaitingStatus, type WaitReason } from '../job/types.js';
import type { BandwidthLimiter } from './bandwidth.js';
import type { TransferRates } from './transfer-rates.js';

export interface StatusReads {
  readonly rates: TransferRates;
  readonly limiter: BandwidthLimiter;
  /** QUEUED jobs ahead of this place in line among levels `from`..`to`. */
  queuedAhead(from: number, to: number, priority: number, queueSeq: number): number;
}

export function transferStatusOf(job: JobRecord, reads: StatusReads): TransferStatus {
  if (job.state === 'CONNECTING' || job.state === 'TRANSFERRING') {
    return { bytesPerSecond: reads.rates.rate(job.id), limit: reads.limiter.limitOn(job.priority), waiting: null };
  }
  return { bytesPerSecond: 0, limit: null, waiting: waitingOf(job, reads) };
}

/** The blockers' errors, by the HRESULT the job waits with. */
const BLOCKED_BY: ReadonlyMap<number, WaitReason> = new Map([
  [0x80200010, 'OFFLINE'],
  [0x80200059, 'COST_POLICY'],
  [0x80200068, 'BATTERY'],
]);

const at = (ms: number | null): Date | null => (ms === null ? null : new Date(ms));

function errorOf(job: JobRecord): { error: { code: string; message: string } } | Record<string, never> {
  return job.errorCode === null ? {} : { error: { code: job.errorCode, message: job.errorMessage ?? '' } };
}

function waitingOf(job: JobRecord, reads: StatusReads): WaitingStatus | null {
  switch (job.state) {
    case 'SUSPENDED':
      return { reason: 'SUSPENDED', since: null, until: null };
    case 'ERROR':
      return { reason: 'ERROR', since: null, until: null, ...errorOf(job) };
    case 'TRANSFERRED':
      return { reason: 'AWAITING_COMPLETE', since: at(job.transferredAt), until: null };
    case 'TRANSIENT_ERROR': {
      const blocked = job.blockedSince === null ? undefined : BLOCKED_BY.get(job.errorHresult ?? 0);
      if (blocked) return { reason: blocked, since: at(job.blockedSince), until: null, ...errorOf(job) };
      return { reason: 'RETRY_DELAY', since: at(job.noProgressSince), until: at(job.retryAt), attempts: job.errorCount, ...errorOf(job) };
    }
    case 'QUEUED': {
      const held = reads.limiter.holdOf(job.priority);
      if (held) return held;
      const level = PRIORITIES.indexOf(job.priority);
      const foreground = level === 0;
      const ahead = foreground ? reads.queuedAhead(0, 0, 0, job.queueSeq) : reads.queuedAhead(1, 3, level, job.queueSeq);
      return { reason: foreground ? 'FOREGROUND_SLOT' : 'BACKGROUND_SLOT', since: null, until: null, ahead };
    }
    case 'CANCELLED':
      if (!job.cancelPending) return null;
      return {
        reason: 'CANCEL_SESSION_OWED',
        since: null,
        until: at(job.cancelNextAt),
        attempts: job.cancelAttempts,
        ...(job.cancelLastError === null ? {} : { error: { code: 'CANCEL_SESSION', message: job.cancelLastError } }),
      };
    default:
      return null;
  }
}
