/**
 * The read-only views engines get of a job and its files (src/engine/types.ts), built from the
 * store's records. Pure mapping.
 */
import type { Credentials } from '../job/types.js';
import type { ReplyInfo, TransferFile, TransferJob } from '../engine/types.js';
import type { FileRecord, JobRecord } from '../job/records.js';

export function toTransferJob(job: JobRecord, credentials: readonly Credentials[]): TransferJob {
  return {
    id: job.id,
    type: job.type,
    priority: job.priority,
    customHeaders: job.customHeaders,
    credentials,
    proxy: { usage: job.proxyUsage, proxyList: job.proxyList, bypassList: job.proxyBypass },
    securityFlags: job.securityFlags,
    clientCertificate: job.clientCertFile ? { certFile: job.clientCertFile, keyFile: job.clientKeyFile } : null,
    httpMethod: job.httpMethod,
    dynamicContent: job.dynamicContent,
    highPerformance: job.highPerformance,
    maxDownloadSize: job.maxDownloadSize,
    replyFileName: job.replyFileName,
    minimumRetryDelaySec: job.minRetryDelaySec,
    noProgressTimeoutSec: job.noProgressTimeoutSec,
  };
}

/** `job`: the file's job, whose reply (UPLOAD_REPLY) goes with the file; omit it where no transfer runs. */
export function toTransferFile(f: FileRecord, job?: JobRecord): TransferFile {
  const reply = job ? replyOf(job) : null;
  return {
    index: f.index,
    remoteName: f.remoteName,
    localName: f.localName,
    tempName: f.tempName,
    bytesTotal: f.bytesTotal,
    bytesTransferred: f.bytesTransferred,
    syncedBytes: f.syncedBytes,
    ranges: f.ranges,
    engineState: f.engineState,
    tempIdentity: f.tempIdentity,
    ...(reply !== null ? { reply } : {}),
  };
}

/** An UPLOAD_REPLY job's reply as recorded (jobs.reply_*), or null before it has a URL. */
function replyOf(job: JobRecord): ReplyInfo | null {
  if (job.type !== 'UPLOAD_REPLY' || job.replyUrl === null || job.replyTempName === null) return null;
  return {
    url: job.replyUrl,
    tempName: job.replyTempName,
    bytesTotal: job.replyBytesTotal,
    bytesTransferred: job.replyBytesTransferred,
    syncedBytes: job.replySyncedBytes,
    tempIdentity: job.replyTempIdentity,
  };
}
