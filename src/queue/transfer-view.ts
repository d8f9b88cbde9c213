/**
 * The read-only views engines get of a job and its files (src/engine/types.ts), built from the
 * store's records. Pure mapping.
 */
import type { Credentials } from '../job/types.js';
import type { TransferFile, TransferJob } from '../engine/types.js';
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

export function toTransferFile(f: FileRecord): TransferFile {
  return {
    index: f.index,
    remoteName: f.remoteName,
    localName: f.localName,
    tempName: f.tempName,
    bytesTotal: f.bytesTotal,
    bytesTransferred: f.bytesTransferred,
    ranges: f.ranges,
    engineState: f.engineState,
    tempIdentity: f.tempIdentity,
  };
}
