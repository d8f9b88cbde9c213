/**
 * bitsd's public API: the BITS job manager in process, its error type and vocabulary.
 */
export { BackgroundCopyManager, defaultDataDir, defaultEngines, type ManagerOptions } from './api/manager.js';
export type {
  BackgroundCopyFile,
  BackgroundCopyJob,
  BackgroundCopyManagerApi,
  EnumJobsOptions,
  FileInfo,
  JobError,
  NotifyCmdLine,
  PendingCancellation,
  PropertyValue,
  ReplyProgress,
  WatchEvent,
} from './api/types.js';
export { BitsError } from './shared/errors.js';
export {
  codeOf,
  describeHresult,
  ERROR_CONTEXTS,
  type ErrorContext,
  formatHresult,
  HRESULTS,
  httpErrorHresult,
  type HresultCode,
} from './shared/hresult.js';
export { type Clock, FakeClock, systemClock } from './shared/clock.js';
export {
  AUTH_SCHEMES,
  AUTH_TARGETS,
  BG_LENGTH_TO_EOF,
  BG_SIZE_UNKNOWN,
  DEFAULT_QUOTAS,
  JOB_PROPERTIES,
  JOB_STATES,
  JOB_TYPES,
  NOTIFY,
  PRIORITIES,
  PROXY_USAGES,
  SECURITY,
  type AuthScheme,
  type AuthTarget,
  type Credentials,
  type FileProgress,
  type FileRange,
  type JobProgress,
  type JobPropertyName,
  type JobState,
  type JobTimes,
  type JobType,
  type Priority,
  type ProxySettings,
  type ProxyUsage,
  type Quotas,
} from './job/types.js';
export type { BitsEvents, FileEventData, JobChangeEventData, JobErrorEventData, JobEventData, SubscribableEvents } from './job/events.js';
export type { ClientCertificate } from './job/types.js';
export type { TransferEngine } from './engine/types.js';
export { FileEngine } from './engine/file-engine.js';
export { HttpDownloadEngine, type HttpDownloadEngineOptions } from './engine/download/index.js';
export { UndiciTransport } from './transport/undici-transport.js';
export { BitsUploadEngine, type UploadEngineOptions } from './engine/upload/index.js';
export { BitsClient, type BitsClientOptions, type ServerInfo } from './ipc/client.js';
export type { ConfigFileStatus, PolicyControl, PolicyReport } from './policy/report.js';
export { defaultSocketPath } from './ipc/socket-path.js';
