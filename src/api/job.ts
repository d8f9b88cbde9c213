/**
 * IBackgroundCopyJob (1-5) and IBackgroundCopyJobHttpOptions (1-3), in process. Every method
 * validates its arguments first, then makes one atomic change through the queue: a call that
 * throws has persisted nothing.
 */
import { constants } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { BitsError, invalidArg, notImplemented } from '../shared/errors.js';
import { describeContext, describeHresult, type ErrorContext } from '../shared/hresult.js';
import { localFileError } from '../shared/os-errors.js';
import * as v from '../job/validate.js';
import { RESTING_STATES, LIMITS, type AuthScheme, type AuthTarget, type Credentials, type FileRange, type JobProgress, type JobPropertyName, type JobState, type JobTimes, type JobType, type Priority, type ProxySettings } from '../job/types.js';
import type { JobQueue } from '../queue/job-queue.js';
import { completeJob, defaultReplyFileName } from '../queue/complete.js';
import { tempNameFor } from '../queue/local-files.js';
import type { BitsEvents } from '../queue/events.js';
import type { JobPatch, JobRecord } from '../store/records.js';
import type { JobEvent } from '../job/machine.js';
import type { ClientCertificate } from '../engine/types.js';
import { BackgroundCopyFileImpl } from './file.js';
import { propertyPatch, readProperty } from './job-properties.js';
import type { BackgroundCopyJob, FileInfo, JobError, NotifyCmdLine, PropertyValue, ReplyProgress, WatchEvent } from './types.js';

interface NewFile {
  readonly remoteName: string;
  readonly localName: string;
  readonly ranges: readonly FileRange[] | null;
}

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

  async #modify(patch: JobPatch, prepare?: (job: JobRecord) => void): Promise<void> {
    this.#queue.modify(this.id, patch, prepare);
    await this.#queue.store.committed();
  }

  async #apply(event: JobEvent, extra?: { patch?: JobPatch }): Promise<void> {
    this.#queue.apply(this.id, event, extra);
    await this.#queue.store.committed();
  }

  #jobType(): JobType {
    this.#type ??= this.#queue.openStore.getJobType(this.id);
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
    const found = this.#queue.openStore.getJobWithAggregate(this.id);
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
    if ((job.state !== 'ERROR' && job.state !== 'TRANSIENT_ERROR') || job.errorHresult === null) {
      throw new BitsError('BG_E_ERROR_INFORMATION_UNAVAILABLE', `The job is ${job.state}: error information exists only in ERROR or TRANSIENT_ERROR.`);
    }
    const file = job.errorFileIndex === null ? undefined : this.#queue.openStore.getFiles(this.id).find((f) => f.index === job.errorFileIndex);
    const context = (job.errorContext ?? 'UNKNOWN') as ErrorContext;
    let protocol: string | null = null;
    if (file) {
      try {
        protocol = new URL(file.remoteName).protocol.slice(0, -1);
      } catch {
        protocol = null;
      }
    }
    return {
      hresult: job.errorHresult,
      code: job.errorCode ?? '',
      context,
      file: file ? { remoteName: file.remoteName, localName: file.localName } : null,
      description: describeHresult(job.errorHresult),
      contextDescription: describeContext(context),
      protocol,
      message: job.errorMessage ?? '',
    };
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
    const type = this.#jobType();
    const files: NewFile[] = [];
    for (const entry of entries) {
      const e = (entry ?? {}) as Partial<FileInfo>;
      v.checkRemoteName(e.remoteName, type);
      const localName = v.checkLocalName(e.localName);
      await checkLocalAccess(type, localName);
      files.push({ remoteName: e.remoteName as string, localName, ranges });
    }
    const { quotas } = this.#queue;
    await this.#modify({}, (current) => {
      const count = this.#queue.openStore.countFiles(this.id);
      if (current.type !== 'DOWNLOAD' && count + files.length > 1) {
        throw new BitsError('BG_E_TOO_MANY_FILES', `${current.type} jobs hold exactly one file; this job would have ${count + files.length}.`);
      }
      if (count + files.length > quotas.filesPerJob) {
        throw new BitsError('BG_E_TOO_MANY_FILES_IN_JOB', `The job would have ${count + files.length} files; the limit is ${quotas.filesPerJob}.`);
      }
      const existing = count === 0 ? [] : this.#queue.openStore.getFiles(this.id).map((f) => f.localName);
      v.checkDistinctLocalNames(existing, files.map((f) => f.localName));
      files.forEach((f, i) => {
        this.#queue.openStore.insertFile({
          jobId: this.id,
          index: count + i,
          remoteName: f.remoteName,
          localName: f.localName,
          tempName: tempNameFor(f.localName),
          bytesTotal: -1,
          bytesTransferred: 0,
          transferred: false,
          completed: false,
          ranges: f.ranges,
          engineState: {},
        });
      });
    });
  }

  async enumFiles(): Promise<BackgroundCopyFileImpl[]> {
    this.#job();
    return this.#queue.openStore.getFiles(this.id).map((f) => new BackgroundCopyFileImpl(this.#queue, this.id, f.index));
  }

  async replaceRemotePrefix(oldPrefix: string, newPrefix: string): Promise<'S_OK' | 'S_FALSE'> {
    const job = this.#job();
    if (job.type !== 'DOWNLOAD') throw notImplemented(`replaceRemotePrefix for ${job.type} jobs (download jobs only)`);
    if (typeof oldPrefix !== 'string' || oldPrefix === '' || typeof newPrefix !== 'string' || newPrefix === '') {
      throw invalidArg('Both prefixes must be non-empty strings.');
    }
    const changes = this.#queue.store
      .getFiles(this.id)
      .filter((f) => f.remoteName.startsWith(oldPrefix))
      .map((f) => {
        const remoteName = newPrefix + f.remoteName.slice(oldPrefix.length);
        v.checkRemoteName(remoteName, job.type);
        return { index: f.index, remoteName };
      });
    await this.#modify({}, () => {
      for (const c of changes) this.#queue.openStore.updateFile(this.id, c.index, { remoteName: c.remoteName });
    });
    return changes.length > 0 ? 'S_OK' : 'S_FALSE';
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  async resume(): Promise<void> {
    const patch: Partial<JobRecord> = { everResumed: true };
    const job = this.#jobType() === 'UPLOAD_REPLY' ? this.#job() : null;
    if (job !== null && job.replyFileName === null) {
      const upload = this.#queue.openStore.getFiles(this.id)[0];
      if (upload) (patch as { replyFileName: string }).replyFileName = defaultReplyFileName(upload.localName);
    }
    await this.#apply({ type: 'RESUME' }, { patch });
  }

  async suspend(): Promise<void> {
    await this.#apply({ type: 'SUSPEND' });
  }

  async cancel(): Promise<'S_OK' | 'BG_S_UNABLE_TO_DELETE_FILES'> {
    const result = await this.#queue.cancelJob(this.id);
    await this.#queue.store.committed();
    return result;
  }

  async complete(): Promise<'S_OK' | 'BG_S_PARTIAL_COMPLETE'> {
    const result = await completeJob(this.#queue, this.id);
    await this.#queue.store.committed();
    return result;
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
    this.#queue.scheduler.wake();
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
    await this.#modify({}, () => this.#queue.openStore.setCredential(this.id, c));
  }

  async removeCredentials(target: AuthTarget, scheme: AuthScheme): Promise<void> {
    const t = v.checkAuthTarget(target);
    const s = v.checkAuthScheme(scheme);
    await this.#modify({}, () => this.#queue.openStore.removeCredential(this.id, t, s));
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
    for (const path of [certFile, keyFile]) {
      if (path) await access(path, constants.R_OK).catch((err: unknown) => { throw localFileError(err, `Cannot read ${path}`); });
    }
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
      if (this.#queue.store.getFiles(this.id).some((f) => f.ranges !== null)) {
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
    const job = this.#job();
    if (job.type !== 'UPLOAD_REPLY') throw notImplemented(`getReplyData for ${job.type} jobs (upload-reply jobs only)`);
    if (job.state !== 'TRANSFERRED' && job.state !== 'ACKNOWLEDGED') {
      throw new BitsError('BG_E_INVALID_STATE', `The reply is available once the job is TRANSFERRED; it is ${job.state}.`);
    }
    if (job.replyUrl === null) return null;
    if (job.replyBytesTotal > LIMITS.replyData) {
      throw new BitsError('BG_E_TOO_LARGE', `The reply is ${job.replyBytesTotal} bytes, more than the ${LIMITS.replyData}-byte limit of getReplyData; read the reply file after complete().`);
    }
    const path = job.state === 'ACKNOWLEDGED' ? job.replyFileName : job.replyTempName;
    if (!path) return null;
    try {
      return await readFile(path);
    } catch (err) {
      throw localFileError(err, `Cannot read the reply ${path}`);
    }
  }

  // ---- Job5 properties -------------------------------------------------------------------------

  async getProperty(name: JobPropertyName): Promise<PropertyValue> {
    return readProperty(this.#job(), name);
  }

  async setProperty(name: JobPropertyName, value: PropertyValue): Promise<void> {
    const job = this.#job();
    const files = this.#queue.openStore.getFiles(this.id);
    const patch = propertyPatch(job, { count: files.length, ranged: files.some((f) => f.ranges !== null) }, name, value);
    await this.#modify(patch);
  }

  // ---- events ----------------------------------------------------------------------------------

  on<K extends keyof BitsEvents>(event: K, listener: (...args: BitsEvents[K]) => void): () => void {
    const filtered = ((...args: BitsEvents[K]) => {
      if (args[0].jobId === this.id) listener(...args);
    }) as never;
    this.#queue.events.on(event, filtered);
    return () => {
      this.#queue.events.off(event, filtered);
    };
  }

  async *watch(options: { signal?: AbortSignal } = {}): AsyncIterableIterator<WatchEvent> {
    const { signal } = options;
    signal?.throwIfAborted();
    let pending: WatchEvent['kind'] | null = null;
    let wake: (() => void) | null = null;
    const onChange = (data: { jobId: string; kind: WatchEvent['kind'] }): void => {
      if (data.jobId !== this.id) return;
      // Coalesce: a state change outranks progress, which outranks a property change.
      if (pending !== 'state') pending = data.kind === 'state' || pending === null ? data.kind : pending;
      wake?.();
    };
    const onAbort = (): void => wake?.();
    this.#queue.events.on('change', onChange);
    signal?.addEventListener('abort', onAbort);
    try {
      let snapshot = this.#snapshot('state');
      yield snapshot;
      while (!RESTING_STATES.has(snapshot.state) && !signal?.aborted) {
        if (pending === null) await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
        if (signal?.aborted || pending === null) continue;
        const kind: WatchEvent['kind'] = pending;
        pending = null;
        snapshot = this.#snapshot(kind);
        yield snapshot;
      }
    } finally {
      this.#queue.events.off('change', onChange);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  #snapshot(kind: WatchEvent['kind']): WatchEvent {
    return { kind, state: this.#job().state, progress: this.#progress() };
  }
}

/**
 * Download directories that passed the check below within DIR_CHECK_TTL_MS. AddFile comes in
 * bursts (200 files of a job, thousands of jobs into one directory), and checking the same
 * directory again each time cost two thread-pool round trips per call (bench case 5). A directory
 * removed within the window is reported by the transfer instead (ERROR_PATH_NOT_FOUND), as one
 * removed right after AddFile always was. Only successes are remembered.
 */
const DIR_CHECK_TTL_MS = 1000;
const checkedDirs = new Map<string, number>();

/** AddFile's local checks: the directory exists (and is writable for downloads); an upload source is readable. */
async function checkLocalAccess(type: JobType, localName: string): Promise<void> {
  if (type === 'DOWNLOAD') {
    const dir = dirname(localName);
    // The transfer writes BITxxxxxxxx.tmp beside the file: that path must fit too.
    const tempBytes = Buffer.byteLength(dir) + '/BITxxxxxxxx.tmp'.length;
    if (tempBytes > LIMITS.localPath) {
      throw invalidArg(`The directory ${dir} is too deep for the download's temp file (${tempBytes} bytes, the limit is ${LIMITS.localPath}): use a shorter path.`);
    }
    const checkedAt = checkedDirs.get(dir);
    if (checkedAt !== undefined && performance.now() - checkedAt < DIR_CHECK_TTL_MS) return;
    await checkDirectory(dir);
    try {
      await access(dir, constants.W_OK);
    } catch {
      throw new BitsError('E_ACCESSDENIED', `Cannot write to the directory ${dir}: choose a directory this user can write to, or change its permissions.`);
    }
    if (checkedDirs.size >= 1024) checkedDirs.clear();
    checkedDirs.set(dir, performance.now());
    return;
  }
  try {
    const info = await stat(localName);
    if (!info.isFile()) throw invalidArg(`The upload source ${localName} is not a regular file.`);
    await access(localName, constants.R_OK);
  } catch (err) {
    if (err instanceof BitsError) throw err;
    throw localFileError(err, `Cannot read the upload source ${localName}`);
  }
}

async function checkDirectory(dir: string): Promise<void> {
  try {
    const info = await stat(dir);
    if (!info.isDirectory()) throw invalidArg(`${dir} is not a directory.`);
  } catch (err) {
    if (err instanceof BitsError) throw err;
    throw invalidArg(`The directory ${dir} does not exist; create it first.`);
  }
}
