/**
 * The programmatic API's shapes, shared by the in-process BackgroundCopyManager and (over IPC)
 * BitsClient, so that every caller sees one API.
 */
import type { ErrorContext } from '../shared/hresult.js';
import type {
  Credentials,
  FileProgress,
  FileRange,
  JobProgress,
  JobPropertyName,
  JobState,
  JobTimes,
  JobType,
  Priority,
  ProxySettings,
  TransferStatus,
  WaitingStatus,
  AuthScheme,
  AuthTarget,
} from '../job/types.js';
import type { SubscribableEvents } from '../job/events.js';
import type { ClientCertificate } from '../job/types.js';
import type { PendingCancellation } from '../job/types.js';

export type { PendingCancellation };

export interface JobError {
  readonly hresult: number;
  readonly code: string;
  readonly context: ErrorContext;
  /** The failing file, or null when the error is not about one file. */
  readonly file: { readonly remoteName: string; readonly localName: string } | null;
  readonly description: string;
  readonly contextDescription: string;
  /** "http", "https", "file", or null when no file was involved. */
  readonly protocol: string | null;
  /** What bitsd knows about this occurrence (more precise than the generic description). */
  readonly message: string;
}

export interface ReplyProgress {
  /** BG_SIZE_UNKNOWN until the reply download starts. */
  readonly bytesTotal: number;
  readonly bytesTransferred: number;
}

export interface WatchEvent {
  readonly kind: 'state' | 'progress' | 'property';
  readonly state: JobState;
  readonly progress: JobProgress;
  /** Why the job is not moving (bitsd's own), or null while it transfers or once it is final. */
  readonly waiting: WaitingStatus | null;
}

export interface FileInfo {
  readonly remoteName: string;
  readonly localName: string;
}

export interface NotifyCmdLine {
  readonly program: string | null;
  readonly parameters: string | null;
}

export type PropertyValue = number | boolean | string | null;

export interface BackgroundCopyFile {
  readonly index: number;
  getRemoteName(): Promise<string>;
  getLocalName(): Promise<string>;
  getProgress(): Promise<FileProgress>;
  getTemporaryName(): Promise<string>;
  getFileRanges(): Promise<FileRange[]>;
  setRemoteName(url: string): Promise<void>;
}

export interface BackgroundCopyJob {
  readonly id: string;
  getType(): Promise<JobType>;
  getState(): Promise<JobState>;
  getProgress(): Promise<JobProgress>;
  getTimes(): Promise<JobTimes>;
  getError(): Promise<JobError>;
  getErrorCount(): Promise<number>;
  getOwner(): Promise<string>;
  addFile(remoteName: string, localName: string): Promise<void>;
  addFileSet(files: readonly FileInfo[]): Promise<void>;
  addFileWithRanges(remoteName: string, localName: string, ranges: readonly FileRange[]): Promise<void>;
  enumFiles(): Promise<BackgroundCopyFile[]>;
  replaceRemotePrefix(oldPrefix: string, newPrefix: string): Promise<'S_OK' | 'S_FALSE'>;
  resume(): Promise<void>;
  suspend(): Promise<void>;
  cancel(): Promise<'S_OK' | 'BG_S_UNABLE_TO_DELETE_FILES'>;
  complete(): Promise<'S_OK' | 'BG_S_PARTIAL_COMPLETE'>;
  getDisplayName(): Promise<string>;
  setDisplayName(name: string): Promise<void>;
  getDescription(): Promise<string>;
  setDescription(text: string): Promise<void>;
  getPriority(): Promise<Priority>;
  setPriority(priority: Priority): Promise<void>;
  getNotifyFlags(): Promise<number>;
  setNotifyFlags(flags: number): Promise<void>;
  getNotifyCmdLine(): Promise<NotifyCmdLine>;
  setNotifyCmdLine(program: string | null, parameters: string | null): Promise<void>;
  getMinimumRetryDelay(): Promise<number>;
  setMinimumRetryDelay(seconds: number): Promise<void>;
  getNoProgressTimeout(): Promise<number>;
  setNoProgressTimeout(seconds: number): Promise<void>;
  getMaximumDownloadTime(): Promise<number>;
  setMaximumDownloadTime(seconds: number): Promise<void>;
  getProxySettings(): Promise<ProxySettings>;
  setProxySettings(usage: ProxySettings['usage'], proxyList?: string | null, bypassList?: string | null): Promise<void>;
  setCredentials(credentials: Credentials): Promise<void>;
  removeCredentials(target: AuthTarget, scheme: AuthScheme): Promise<void>;
  getCustomHeaders(): Promise<string | null>;
  setCustomHeaders(headers: string | null): Promise<void>;
  makeCustomHeadersWriteOnly(): Promise<void>;
  getSecurityFlags(): Promise<number>;
  setSecurityFlags(flags: number): Promise<void>;
  getClientCertificate(): Promise<ClientCertificate | null>;
  setClientCertificate(certificate: ClientCertificate): Promise<void>;
  removeClientCertificate(): Promise<void>;
  getHttpMethod(): Promise<string>;
  setHttpMethod(method: string): Promise<void>;
  getReplyFileName(): Promise<string | null>;
  setReplyFileName(path: string | null): Promise<void>;
  getReplyProgress(): Promise<ReplyProgress>;
  getReplyData(): Promise<Buffer | null>;
  getProperty(name: JobPropertyName): Promise<PropertyValue>;
  /** bitsd's own: the job's current rate and the limit slowing it, or what holds it (/info). */
  getTransferStatus(): Promise<TransferStatus>;
  setProperty(name: JobPropertyName, value: PropertyValue): Promise<void>;
  watch(options?: { signal?: AbortSignal }): AsyncIterableIterator<WatchEvent>;
  on<K extends keyof SubscribableEvents>(event: K, listener: (...args: SubscribableEvents[K]) => void): () => void;
}

export interface EnumJobsOptions {
  /** BG_JOB_ENUM_ALL_USERS. */
  readonly allUsers?: boolean;
}

export interface BackgroundCopyManagerApi {
  createJob(displayName: string, type: JobType): Promise<BackgroundCopyJob>;
  getJob(id: string): Promise<BackgroundCopyJob>;
  enumJobs(options?: EnumJobsOptions): Promise<BackgroundCopyJob[]>;
  getErrorDescription(hresult: number): Promise<string>;
  /** Upload jobs cancelled whose Cancel-Session has not reached the server yet. */
  listPendingCancellations(): Promise<PendingCancellation[]>;
  close(): Promise<void>;
  on<K extends keyof SubscribableEvents>(event: K, listener: (...args: SubscribableEvents[K]) => void): () => void;
}
