/**
 * IBackgroundCopyJob (1-5) and IBackgroundCopyJobHttpOptions (1-3), in process. Every method
 * validates its arguments first, then makes one atomic change through the queue: a call that
 * throws has persisted nothing.
 */
import { dirname } from 'node:path';
import { BitsError, invalidArg, notImplemented } from '../shared/errors.js';
import * as v from '../job/validate.js';
import { type AuthScheme, type AuthTarget, type ClientCertificate, type Credentials, type FileRange, type JobProgress, type JobPropertyName, type JobState, type JobTimes, type JobType, type Priority, type ProxySettings, type TransferStatus } from '../job/types.js';
import type { JobQueue } from '../queue/job-queue.js';
import { defaultReplyFileName } from '../queue/file-work.js';
import type { ApplyOptions } from '../queue/funnel.js';
import type { SubscribableEvents } from '../job/events.js';
import type { JobPatch, JobRecord } from '../job/records.js';
import type { JobEvent } from '../job/machine.js';
import { BackgroundCopyFileImpl } from './file.js';
import { errorOf } from './job-error.js';
import { readReplyData } from './job-reply.js';
import { checkNewFiles, insertNewFiles } from './job-files.js';
import { watchJob } from './job-watch.js';
import { subscribe } from './subscribe.js';
import { checkDirectory, checkReadable } from './local-access.js';
import { propertyPatch, readProperty } from './job-properties.js';
import type { BackgroundCopyJob, FileInfo, JobError, NotifyCmdLine, PropertyValue, ReplyProgress, WatchEvent } from './types.js';

export class BackgroundCopyJobImpl implements BackgroundCopyJob {
  readonly id: string;
  readonly #queue: JobQueue;
  /** A job's type never changes: read once, not with every AddFile (a full row read per call). */
  #type: JobType | undefined;

  constructor(queue: JobQueue, id: string, type?: JobType) {
    this.#queue = queue;
    this.id = id;
    this.#type = type;
  }

  #job(): JobRecord {
    return this.#queue.record(this.id);
  }

  /*
   * Every write below answers only once it is committed: the store group-commits (see
   * store/group-commit.ts), and a commit that fails must fail the call that made the write.
   */

  async #modify(patch: JobPatch, prepare?: ApplyOptions['prepare']): Promise<void> {
    this.#queue.modify(this.id, patch, prepare);
    await this.#queue.committed();
  }

  async #apply(event: JobEvent, extra?: { patch?: JobPatch }): Promise<void> {
    this.#queue.apply(this.id, event, extra);
    await this.#queue.committed();
  }

  #jobType(): JobType {
    this.#type ??= this.#queue.reads.getJobType(this.id);
    if (this.#type === undefined) throw new BitsError('BG_E_NOT_FOUND', `No job ${this.id} in the queue.`);
    return this.#type;
  }

  async getType(): Promise<JobType> {
    return this.#job().type;
  }

  async getState(): Promise<JobState> {
    return this.#job().state;
  }

  async getProgress(): Promise<JobProgress> {
    return this.#progress();
  }

  #progress(): JobProgress {
    const found = this.#queue.reads.getJobWithAggregate(this.id);
    if (!found) throw new BitsError('BG_E_NOT_FOUND', `No job ${this.id} in the queue.`);
    return { ...found.aggregate };
  }

  async getTimes(): Promise<JobTimes> {
    const job = this.#job();
    return {
      creationTime: new Date(job.createdAt),
      modificationTime: new Date(job.modifiedAt),
      transferCompletionTime: job.transferredAt === null ? null : new Date(job.transferredAt),
    };
  }

  async getError(): Promise<JobError> {
    const job = this.#job();
    return errorOf(job, job.errorFileIndex === null ? undefined : this.#queue.reads.getFiles(this.id).find((f) => f.index === job.errorFileIndex));
  }

  async getErrorCount(): Promise<number> {
    return this.#job().errorCount;
  }

  async getOwner(): Promise<string> {
    return this.#job().owner;
  }

  // ---- files -----------------------------------------------------------------------------------

  async addFile(remoteName: string, localName: string): Promise<void> {
    await this.#addFiles([{ remoteName, localName }], null);
  }

  async addFileSet(files: readonly FileInfo[]): Promise<void> {
    if (!Array.isArray(files) || files.length === 0) throw invalidArg('addFileSet needs a non-empty array of { remoteName, localName }.');
    await this.#addFiles(files, null);
  }

  async addFileWithRanges(remoteName: string, localName: string, ranges: readonly FileRange[]): Promise<void> {
    const job = this.#job();
    if (job.type !== 'DOWNLOAD') throw notImplemented(`addFileWithRanges for ${job.type} jobs (download jobs only)`);
    if (job.dynamicContent) throw invalidArg('A DYNAMIC_CONTENT job cannot download byte ranges.');
    if (job.httpMethod !== null) {
      throw new BitsError('BG_E_NOT_SUPPORTED_WITH_CUSTOM_HTTP_METHOD', `A job with the custom HTTP method ${job.httpMethod} cannot download byte ranges.`);
    }
    const checked = v.checkRanges(ranges, this.#queue.quotas.rangesPerFile);
    await this.#addFiles([{ remoteName, localName }], checked);
  }

  async #addFiles(entries: readonly FileInfo[], ranges: readonly FileRange[] | null): Promise<void> {
    const files = await checkNewFiles(this.#jobType(), entries, ranges);
    await this.#modify({}, (current, tx) => insertNewFiles(current, tx, files, this.#queue.quotas));
  }

  async enumFiles(): Promise<BackgroundCopyFileImpl[]> {
    this.#job();
    return this.#queue.reads.getFiles(this.id).map((f) => new BackgroundCopyFileImpl(this.#queue, this.id, f.index));
  }

  async replaceRemotePrefix(oldPrefix: string, newPrefix: string): Promise<'S_OK' | 'S_FALSE'> {
    const job = this.#job();
    if (job.type !== 'DOWNLOAD') throw notImplemented(`replaceRemotePrefix for ${job.type} jobs (download jobs only)`);
    if (typeof oldPrefix !== 'string' || oldPrefix === '' || typeof newPrefix !== 'string' || newPrefix === '') {
      throw invalidArg('Both prefixes must be non-empty strings.');
    }
    const changes = this.#queue.reads
      .getFiles(this.id)
      .filter((f) => f.remoteName.startsWith(oldPrefix))
      .map((f) => {
        const remoteName = newPrefix + f.remoteName.slice(oldPrefix.length);
        v.checkRemoteName(remoteName, job.type);
        return { index: f.index, remoteName };
      });
    await this.#modify({}, (_job, tx) => {
      for (const c of changes) tx.setRemoteName(this.id, c.index, c.remoteName);
    });
    return changes.length > 0 ? 'S_OK' : 'S_FALSE';
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  async resume(): Promise<void> {
    // An UPLOAD_REPLY job without a reply file name gets bitsd's default at its first Resume.
    const upload = this.#jobType() === 'UPLOAD_REPLY' && this.#job().replyFileName === null ? this.#queue.reads.getFiles(this.id)[0] : undefined;
    await this.#apply({ type: 'RESUME' }, { patch: { everResumed: true, ...(upload ? { replyFileName: defaultReplyFileName(upload.localName) } : {}) } });
  }

  async suspend(): Promise<void> {
    await this.#apply({ type: 'SUSPEND' });
  }

  async cancel(): Promise<'S_OK' | 'BG_S_UNABLE_TO_DELETE_FILES'> {
    return this.#queue.cancel(this.id);
  }

  async complete(): Promise<'S_OK' | 'BG_S_PARTIAL_COMPLETE'> {
    return this.#queue.complete(this.id);
  }

  // ---- plain properties ------------------------------------------------------------------------

  async getDisplayName(): Promise<string> {
    return this.#job().displayName;
  }

  async setDisplayName(name: string): Promise<void> {
    await this.#modify({ displayName: v.checkDisplayName(name) });
  }

  async getDescription(): Promise<string> {
    return this.#job().description;
  }

  async setDescription(text: string): Promise<void> {
    await this.#modify({ description: v.checkDescription(text) });
  }

  async getPriority(): Promise<Priority> {
    return this.#job().priority;
  }

  async setPriority(priority: Priority): Promise<void> {
    const p = v.checkPriority(priority);
    await this.#modify({ priority: p }, (job) => {
      if (job.httpMethod !== null && p !== 'FOREGROUND') {
        throw new BitsError('BG_E_NOT_SUPPORTED_WITH_CUSTOM_HTTP_METHOD', 'A job with a custom HTTP method stays FOREGROUND.');
      }
    });
    this.#queue.wake();
  }

  async getNotifyFlags(): Promise<number> {
    return this.#job().notifyFlags;
  }

  async setNotifyFlags(flags: number): Promise<void> {
    await this.#modify({ notifyFlags: v.checkNotifyFlags(flags) });
  }

  async getNotifyCmdLine(): Promise<NotifyCmdLine> {
    const job = this.#job();
    return { program: job.notifyProgram, parameters: job.notifyParameters };
  }

  async setNotifyCmdLine(program: string | null, parameters: string | null): Promise<void> {
    const c = v.checkNotifyCmdLine(program, parameters);
    await this.#modify({ notifyProgram: c.program, notifyParameters: c.parameters });
  }

  async getMinimumRetryDelay(): Promise<number> {
    return this.#job().minRetryDelaySec;
  }

  async setMinimumRetryDelay(seconds: number): Promise<void> {
    await this.#modify({ minRetryDelaySec: v.checkMinimumRetryDelay(seconds) });
  }

  async getNoProgressTimeout(): Promise<number> {
    return this.#job().noProgressTimeoutSec;
  }

  async setNoProgressTimeout(seconds: number): Promise<void> {
    await this.#modify({ noProgressTimeoutSec: v.checkNoProgressTimeout(seconds) });
  }

  async getMaximumDownloadTime(): Promise<number> {
    return this.#job().maxDownloadTimeSec;
  }

  async setMaximumDownloadTime(seconds: number): Promise<void> {
    await this.#modify({ maxDownloadTimeSec: v.checkMaximumDownloadTime(seconds) });
  }

  async getProxySettings(): Promise<ProxySettings> {
    const job = this.#job();
    return { usage: job.proxyUsage, proxyList: job.proxyList, bypassList: job.proxyBypass };
  }

  async setProxySettings(usage: ProxySettings['usage'], proxyList: string | null = null, bypassList: string | null = null): Promise<void> {
    const p = v.checkProxySettings(usage, proxyList, bypassList);
    await this.#modify({ proxyUsage: p.usage, proxyList: p.proxyList, proxyBypass: p.bypassList });
  }

  async setCredentials(credentials: Credentials): Promise<void> {
    const c = v.checkCredentials(credentials);
    await this.#modify({}, (_job, tx) => tx.setCredential(this.id, c));
  }

  async removeCredentials(target: AuthTarget, scheme: AuthScheme): Promise<void> {
    const t = v.checkAuthTarget(target);
    const s = v.checkAuthScheme(scheme);
    await this.#modify({}, (_job, tx) => tx.removeCredential(this.id, t, s));
  }

  async getCustomHeaders(): Promise<string | null> {
    const job = this.#job();
    if (job.customHeadersWriteOnly) throw new BitsError('E_ACCESSDENIED', 'The custom headers of this job were made write-only.');
    return job.customHeaders;
  }

  async setCustomHeaders(headers: string | null): Promise<void> {
    await this.#modify({ customHeaders: v.checkCustomHeaders(headers) });
  }

  async makeCustomHeadersWriteOnly(): Promise<void> {
    await this.#modify({ customHeadersWriteOnly: true });
  }

  async getSecurityFlags(): Promise<number> {
    return this.#job().securityFlags;
  }

  async setSecurityFlags(flags: number): Promise<void> {
    await this.#modify({ securityFlags: v.checkSecurityFlags(flags) });
  }

  async getClientCertificate(): Promise<ClientCertificate | null> {
    const job = this.#job();
    return job.clientCertFile ? { certFile: job.clientCertFile, keyFile: job.clientKeyFile } : null;
  }

  async setClientCertificate(certificate: ClientCertificate): Promise<void> {
    const c = (certificate ?? {}) as Partial<ClientCertificate>;
    const certFile = v.checkLocalName(c.certFile, 'The certificate file');
    const keyFile = c.keyFile == null ? null : v.checkLocalName(c.keyFile, 'The key file');
    for (const path of [certFile, keyFile]) if (path) await checkReadable(path);
    await this.#modify({ clientCertFile: certFile, clientKeyFile: keyFile });
  }

  async removeClientCertificate(): Promise<void> {
    await this.#modify({ clientCertFile: null, clientKeyFile: null });
  }

  async getHttpMethod(): Promise<string> {
    return this.#job().httpMethod ?? 'GET';
  }

  async setHttpMethod(method: string): Promise<void> {
    const m = v.checkHttpMethod(method);
    const job = this.#job();
    if (job.type !== 'DOWNLOAD') {
      throw new BitsError('BG_E_PROPERTY_SUPPORTED_FOR_DOWNLOAD_JOBS_ONLY', 'A custom HTTP method applies to DOWNLOAD jobs only.');
    }
    if (m === 'GET') return; // the default verb is a no-op
    await this.#modify({ httpMethod: m, priority: 'FOREGROUND' }, (current) => {
      if (current.everResumed) throw new BitsError('BG_E_READ_ONLY_PROPERTY_AFTER_RESUME', 'The HTTP method can be set only before the job is first resumed.');
      if (current.dynamicContent) throw new BitsError('BG_E_NOT_SUPPORTED_WITH_CUSTOM_HTTP_METHOD', 'A custom HTTP method cannot be combined with DYNAMIC_CONTENT.');
      // A custom method's answer is taken whole: the ranges would be dropped without a word.
      if (this.#queue.reads.getFiles(this.id).some((f) => f.ranges !== null)) {
        throw new BitsError('BG_E_NOT_SUPPORTED_WITH_CUSTOM_HTTP_METHOD', 'A custom HTTP method cannot be used on a job with byte-range files (addFileWithRanges).');
      }
    });
  }

  // ---- upload-reply ----------------------------------------------------------------------------

  async getReplyFileName(): Promise<string | null> {
    const job = this.#job();
    if (job.type !== 'UPLOAD_REPLY') throw notImplemented(`getReplyFileName for ${job.type} jobs (upload-reply jobs only)`);
    return job.replyFileName;
  }

  async setReplyFileName(path: string | null): Promise<void> {
    const job = this.#job();
    if (job.type !== 'UPLOAD_REPLY') throw notImplemented(`setReplyFileName for ${job.type} jobs (upload-reply jobs only)`);
    const name = path === null || path === '' ? null : v.checkLocalName(path, 'The reply file name');
    if (name) await checkDirectory(dirname(name));
    await this.#modify({ replyFileName: name }, (current) => {
      if (current.replyBytesTotal >= 0 || current.replyUrl !== null) {
        throw new BitsError('BG_E_INVALID_STATE', 'The reply download has started: its file name can no longer change.');
      }
    });
  }

  async getReplyProgress(): Promise<ReplyProgress> {
    const job = this.#job();
    if (job.type !== 'UPLOAD_REPLY') throw notImplemented(`getReplyProgress for ${job.type} jobs (upload-reply jobs only)`);
    return { bytesTotal: job.replyBytesTotal, bytesTransferred: job.replyBytesTransferred };
  }

  async getReplyData(): Promise<Buffer | null> {
    return readReplyData(this.#job());
  }

  async getTransferStatus(): Promise<TransferStatus> {
    return this.#queue.transferStatus(this.id);
  }

  // ---- Job5 properties -------------------------------------------------------------------------

  async getProperty(name: JobPropertyName): Promise<PropertyValue> {
    const job = this.#job();
    // The transfer policy in force: the job's own, or the config's default for its priority.
    if (name === 'COST_FLAGS') return this.#queue.costFlagsOf(job);
    return readProperty(job, name);
  }

  async setProperty(name: JobPropertyName, value: PropertyValue): Promise<void> {
    const job = this.#job();
    const files = this.#queue.reads.getFiles(this.id);
    const patch = propertyPatch(job, { count: files.length, ranged: files.some((f) => f.ranges !== null) }, name, value);
    await this.#modify(patch);
  }

  // ---- events ----------------------------------------------------------------------------------

  on<K extends keyof SubscribableEvents>(event: K, listener: (...args: SubscribableEvents[K]) => void): () => void {
    return subscribe(this.#queue.events, event, listener, this.id);
  }

  watch(options: { signal?: AbortSignal } = {}): AsyncIterableIterator<WatchEvent> {
    return watchJob(this.#queue.events, this.id, (kind) => this.#snapshot(kind), options.signal);
  }

  #snapshot(kind: WatchEvent['kind']): WatchEvent {
    return { kind, state: this.#job().state, progress: this.#progress(), waiting: this.#queue.transferStatus(this.id).waiting };
  }
}
