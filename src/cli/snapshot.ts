/**
 * Reads a job through the API into the plain objects that --json prints and the text formatters
 * render, so the text and JSON views of a job come from one read. The reads of one snapshot run
 * concurrently: over IPC each is a round trip.
 */
import type { BackgroundCopyFile, BackgroundCopyJob, JobError } from '../api/types.js';
import type { JobProgress, JobState, JobType, LimitSource, Priority, ProxyUsage, TransferStatus, WaitingStatus, WaitReason } from '../job/types.js';

export interface ProgressJson {
  /** null while unknown (BG_SIZE_UNKNOWN). */
  readonly bytesTotal: number | null;
  readonly bytesTransferred: number;
  readonly filesTotal: number;
  readonly filesTransferred: number;
}

export interface TimesJson {
  /** ISO 8601, UTC. */
  readonly creationTime: string;
  readonly modificationTime: string;
  /** null until the job reaches TRANSFERRED. */
  readonly transferCompletionTime: string | null;
}

export interface ErrorJson {
  readonly hresult: number;
  readonly code: string;
  readonly context: string;
  readonly description: string;
  readonly contextDescription: string;
  readonly message: string;
  readonly protocol: string | null;
  readonly file: { readonly remoteName: string; readonly localName: string } | null;
}

export interface FileJson {
  readonly index: number;
  readonly remoteName: string;
  readonly localName: string;
  readonly bytesTotal: number | null;
  readonly bytesTransferred: number;
  readonly completed: boolean;
}

export interface JobJson {
  readonly id: string;
  readonly displayName: string;
  readonly description: string;
  readonly type: JobType;
  readonly state: JobState;
  readonly priority: Priority;
  readonly owner: string;
  readonly progress: ProgressJson;
  readonly times: TimesJson;
  readonly errorCount: number;
  readonly error: ErrorJson | null;
  readonly files: readonly FileJson[];
}

/** /info and /list /verbose: everything bitsadmin's verbose block shows, and the settings bitsd adds. */
export interface JobDetailsJson extends JobJson {
  readonly notifyFlags: number;
  readonly notifyCmdLine: { readonly program: string | null; readonly parameters: string | null };
  readonly minRetryDelay: number;
  readonly noProgressTimeout: number;
  readonly maxDownloadTime: number;
  readonly proxy: { readonly usage: ProxyUsage; readonly proxyList: string | null; readonly bypassList: string | null };
  /** One entry per header line; null when none are set or they are write-only. */
  readonly customHeaders: readonly string[] | null;
  readonly customHeadersWriteOnly: boolean;
  readonly securityFlags: number;
  readonly httpMethod: string;
  readonly clientCertificate: { readonly certFile: string; readonly keyFile: string | null } | null;
  /** The job's rate and the limit on it while it transfers, or what holds it (bitsd's own). */
  readonly transfer: TransferJson;
  /** UPLOAD_REPLY jobs only; null for the other types. */
  readonly reply: { readonly fileName: string | null; readonly progress: { readonly bytesTotal: number | null; readonly bytesTransferred: number } } | null;
}

/** Why the job is not moving (job/types.ts WaitingStatus): every key present, null when not known. */
export interface WaitingJson {
  readonly reason: WaitReason;
  /** ISO 8601, UTC. */
  readonly since: string | null;
  readonly until: string | null;
  readonly by: LimitSource | null;
  readonly ahead: number | null;
  readonly error: { readonly code: string; readonly message: string } | null;
  readonly attempts: number | null;
}

export interface TransferJson {
  readonly bytesPerSecond: number;
  readonly limit: { readonly bytesPerSecond: number; readonly by: LimitSource } | null;
  readonly waiting: WaitingJson | null;
}

export function waitingJson(w: WaitingStatus): WaitingJson {
  return {
    reason: w.reason,
    since: w.since === null ? null : isoTime(w.since),
    until: w.until === null ? null : isoTime(w.until),
    by: w.by ?? null,
    ahead: w.ahead ?? null,
    error: w.error ? { code: w.error.code, message: w.error.message } : null,
    attempts: w.attempts ?? null,
  };
}

export function transferJson(t: TransferStatus): TransferJson {
  return {
    bytesPerSecond: Math.round(t.bytesPerSecond),
    limit: t.limit && { bytesPerSecond: t.limit.bytesPerSecond, by: t.limit.by },
    waiting: t.waiting && waitingJson(t.waiting),
  };
}

/** BG_SIZE_UNKNOWN is -1 in the API (0xFFFFFFFFFFFFFFFF on Windows): both read as unknown. */
export function knownSize(n: number): number | null {
  return n < 0 || n >= Number.MAX_SAFE_INTEGER ? null : n;
}

export function progressJson(p: JobProgress): ProgressJson {
  return { bytesTotal: knownSize(p.bytesTotal), bytesTransferred: p.bytesTransferred, filesTotal: p.filesTotal, filesTransferred: p.filesTransferred };
}

/** Dates may arrive as Date, ISO text or epoch ms depending on the transport: normalise. */
export function isoTime(value: Date | string | number): string {
  return new Date(value).toISOString();
}

export function errorJson(e: JobError): ErrorJson {
  return {
    hresult: e.hresult >>> 0,
    code: e.code,
    context: e.context,
    description: e.description,
    contextDescription: e.contextDescription,
    message: e.message,
    protocol: e.protocol,
    file: e.file ? { remoteName: e.file.remoteName, localName: e.file.localName } : null,
  };
}

export function isCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

/** The job's error, or null when it has none (only ERROR and TRANSIENT_ERROR jobs carry one). */
export async function readError(job: BackgroundCopyJob, state: JobState): Promise<ErrorJson | null> {
  if (state !== 'ERROR' && state !== 'TRANSIENT_ERROR') return null;
  try {
    return errorJson(await job.getError());
  } catch (err) {
    // The job left the error state between the two reads.
    if (isCode(err, 'BG_E_ERROR_INFORMATION_UNAVAILABLE')) return null;
    throw err;
  }
}

export async function readFileInfo(file: BackgroundCopyFile): Promise<FileJson> {
  const [remoteName, localName, progress] = await Promise.all([file.getRemoteName(), file.getLocalName(), file.getProgress()]);
  return {
    index: file.index,
    remoteName,
    localName,
    bytesTotal: knownSize(progress.bytesTotal),
    bytesTransferred: progress.bytesTransferred,
    completed: progress.completed,
  };
}

export async function readFiles(job: BackgroundCopyJob): Promise<FileJson[]> {
  const files = await job.enumFiles();
  return Promise.all(files.map((f) => readFileInfo(f)));
}

export async function readJob(job: BackgroundCopyJob): Promise<JobJson> {
  const [displayName, description, type, state, priority, owner, progress, times, errorCount, files] = await Promise.all([
    job.getDisplayName(),
    job.getDescription(),
    job.getType(),
    job.getState(),
    job.getPriority(),
    job.getOwner(),
    job.getProgress(),
    job.getTimes(),
    job.getErrorCount(),
    readFiles(job),
  ]);
  return {
    id: job.id,
    displayName,
    description,
    type,
    state,
    priority,
    owner,
    progress: progressJson(progress),
    times: {
      creationTime: isoTime(times.creationTime),
      modificationTime: isoTime(times.modificationTime),
      transferCompletionTime: times.transferCompletionTime === null ? null : isoTime(times.transferCompletionTime),
    },
    errorCount,
    error: await readError(job, state),
    files,
  };
}

async function readCustomHeaders(job: BackgroundCopyJob): Promise<{ lines: string[] | null; writeOnly: boolean }> {
  try {
    return { lines: splitHeaders(await job.getCustomHeaders()), writeOnly: false };
  } catch (err) {
    // MakeCustomHeadersWriteOnly: the headers still apply but can no longer be read.
    if (isCode(err, 'E_ACCESSDENIED')) return { lines: null, writeOnly: true };
    throw err;
  }
}

export function splitHeaders(headers: string | null): string[] | null {
  if (headers === null || headers === '') return null;
  return headers.split('\r\n').filter((line) => line.length > 0);
}

export async function readJobDetails(job: BackgroundCopyJob): Promise<JobDetailsJson> {
  const base = await readJob(job);
  const isReply = base.type === 'UPLOAD_REPLY';
  const [notifyFlags, notifyCmdLine, minRetryDelay, noProgressTimeout, maxDownloadTime, proxy, headers, securityFlags, httpMethod, cert, replyFileName, replyProgress, transfer] =
    await Promise.all([
      job.getNotifyFlags(),
      job.getNotifyCmdLine(),
      job.getMinimumRetryDelay(),
      job.getNoProgressTimeout(),
      job.getMaximumDownloadTime(),
      job.getProxySettings(),
      readCustomHeaders(job),
      job.getSecurityFlags(),
      job.getHttpMethod(),
      job.getClientCertificate(),
      isReply ? job.getReplyFileName() : Promise.resolve(null),
      isReply ? job.getReplyProgress() : Promise.resolve(null),
      job.getTransferStatus(),
    ]);
  return {
    ...base,
    notifyFlags,
    notifyCmdLine: { program: notifyCmdLine.program, parameters: notifyCmdLine.parameters },
    minRetryDelay,
    noProgressTimeout,
    maxDownloadTime,
    proxy: { usage: proxy.usage, proxyList: proxy.proxyList, bypassList: proxy.bypassList },
    customHeaders: headers.lines,
    customHeadersWriteOnly: headers.writeOnly,
    securityFlags,
    httpMethod,
    clientCertificate: cert ? { certFile: cert.certFile, keyFile: cert.keyFile } : null,
    transfer: transferJson(transfer),
    reply: replyProgress
      ? { fileName: replyFileName, progress: { bytesTotal: knownSize(replyProgress.bytesTotal), bytesTransferred: replyProgress.bytesTransferred } }
      : null,
  };
}
