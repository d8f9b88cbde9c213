/**
 * A job's TransferStatus (job/types.ts): its rate and the limit on it while it transfers, or
 * what holds it while it is QUEUED.
 */
import type { JobRecord } from '../job/records.js';
import type { TransferStatus } from '../job/types.js';
import type { BandwidthLimiter } from './bandwidth.js';
import type { TransferRates } from './transfer-rates.js';

export function transferStatusOf(job: JobRecord, rates: TransferRates, limiter: BandwidthLimiter): TransferStatus {
  if (job.state === 'CONNECTING' || job.state === 'TRANSFERRING') {
    return { bytesPerSecond: rates.rate(job.id), limit: limiter.limitOn(job.priority), waiting: null };
  }
  return { bytesPerSecond: 0, limit: null, waiting: job.state === 'QUEUED' ? limiter.holdOf(job.priority) : null };
}
