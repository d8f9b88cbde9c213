/**
 * The IPC method table: every manager, job and file method of the API, with the schema of its
 * parameters (checked before dispatch) and the wire type of its result. Method names are the API's
 * own: `manager.createJob`, `job.setPriority`, `file.getProgress`. Job methods take `job` (the id),
 * file methods `job` and `index`. Pure data: no I/O. docs/ipc.md lists the same table.
 */
import type { FileProgress, FileRange, JobProgress, JobState, JobType, Priority, ProxySettings, TransferStatus, WaitingStatus } from '../job/types.js';
import type { SubscribableEvents } from '../job/events.js';
import type { ClientCertificate } from '../job/types.js';
import type { BackgroundCopyFile, BackgroundCopyJob, JobError, NotifyCmdLine, PendingCancellation, PropertyValue, ReplyProgress, WatchEvent } from '../api/types.js';
import type { PolicyReport } from '../policy/report.js';
import { arrayOf, boolean, integer, nullable, number, object, type ObjectOf, oneOf, optional, scalar, type Shape, string } from './schema.js';

/** The events a subscription can carry: every key of SubscribableEvents (the callback events and job:change). */
export const EVENT_NAMES = ['job:transferred', 'job:error', 'job:modification', 'file:transferred', 'job:change'] as const;
export type EventName = (typeof EVENT_NAMES)[number];
// Fails to compile if SubscribableEvents gains an event this list does not carry.
const everyEvent: Record<keyof SubscribableEvents, true> = { 'job:transferred': true, 'job:error': true, 'job:modification': true, 'file:transferred': true, 'job:change': true };
void everyEvent;

/** Bounds for arrays inside one request; the frame size bounds everything else. */
export const ARRAY_LIMITS = { files: 10_000, ranges: 10_000 } as const;

interface MethodSpec {
  readonly params: Shape;
}

const none = {} as const;
const job = <S extends Shape>(shape: S): { readonly params: S & { readonly job: ReturnType<typeof string> } } => ({ params: { ...shape, job: string() } });
/** A file index is a DWORD (IBackgroundCopyJob files are counted in ULONGs). */
const file = <S extends Shape>(shape: S) => ({ params: { ...shape, job: string(), index: integer(0, 0xffffffff) } });

const fileInfo = object({ remoteName: string(), localName: string() });
const range = object({ initialOffset: number(), length: number() });

export const METHODS = {
  'manager.createJob': { params: { displayName: string(), type: string() } },
  'manager.getJob': { params: { id: string() } },
  'manager.enumJobs': { params: { allUsers: optional(boolean()) } },
  'manager.getErrorDescription': { params: { hresult: number() } },
  'manager.listPendingCancellations': { params: none },

  'job.getType': job(none),
  'job.getState': job(none),
  'job.getProgress': job(none),
  'job.getTimes': job(none),
  'job.getError': job(none),
  'job.getErrorCount': job(none),
  'job.getOwner': job(none),
  'job.addFile': job({ remoteName: string(), localName: string() }),
  'job.addFileSet': job({ files: arrayOf(fileInfo, { min: 0, max: ARRAY_LIMITS.files }) }),
  'job.addFileWithRanges': job({ remoteName: string(), localName: string(), ranges: arrayOf(range, { min: 0, max: ARRAY_LIMITS.ranges }) }),
  'job.enumFiles': job(none),
  'job.replaceRemotePrefix': job({ oldPrefix: string(), newPrefix: string() }),
  'job.resume': job(none),
  'job.suspend': job(none),
  'job.cancel': job(none),
  'job.complete': job(none),
  'job.getDisplayName': job(none),
  'job.setDisplayName': job({ name: string() }),
  'job.getDescription': job(none),
  'job.setDescription': job({ text: string() }),
  'job.getPriority': job(none),
  'job.setPriority': job({ priority: string() }),
  'job.getNotifyFlags': job(none),
  'job.setNotifyFlags': job({ flags: number() }),
  'job.getNotifyCmdLine': job(none),
  'job.setNotifyCmdLine': job({ program: nullable(string()), parameters: nullable(string()) }),
  'job.getMinimumRetryDelay': job(none),
  'job.setMinimumRetryDelay': job({ seconds: number() }),
  'job.getNoProgressTimeout': job(none),
  'job.setNoProgressTimeout': job({ seconds: number() }),
  'job.getMaximumDownloadTime': job(none),
  'job.setMaximumDownloadTime': job({ seconds: number() }),
  'job.getProxySettings': job(none),
  'job.setProxySettings': job({ usage: string(), proxyList: optional(nullable(string())), bypassList: optional(nullable(string())) }),
  'job.setCredentials': job({
    credentials: object({ target: string(), scheme: string(), userName: nullable(string()), password: nullable(string()) }),
  }),
  'job.removeCredentials': job({ target: string(), scheme: string() }),
  'job.getCustomHeaders': job(none),
  'job.setCustomHeaders': job({ headers: nullable(string()) }),
  'job.makeCustomHeadersWriteOnly': job(none),
  'job.getSecurityFlags': job(none),
  'job.setSecurityFlags': job({ flags: number() }),
  'job.getClientCertificate': job(none),
  'job.setClientCertificate': job({ certificate: object({ certFile: string(), keyFile: nullable(string()) }) }),
  'job.removeClientCertificate': job(none),
  'job.getHttpMethod': job(none),
  'job.setHttpMethod': job({ method: string() }),
  'job.getReplyFileName': job(none),
  'job.setReplyFileName': job({ path: nullable(string()) }),
  'job.getReplyProgress': job(none),
  'job.getReplyData': job(none),
  'job.getProperty': job({ name: string() }),
  'job.getTransferStatus': job(none),
  'job.setProperty': job({ name: string(), value: scalar() }),

  'file.getRemoteName': file(none),
  'file.getLocalName': file(none),
  'file.getProgress': file(none),
  'file.getTemporaryName': file(none),
  'file.getFileRanges': file(none),
  'file.setRemoteName': file({ url: string() }),

  /** Streams events (all jobs, or one) as `event` frames until unsubscribed. */
  'events.subscribe': { params: { events: arrayOf(oneOf(EVENT_NAMES), { min: 1, max: EVENT_NAMES.length }), job: optional(string()) } },
  /** Streams a job's watch() snapshots as `event` frames, then an `end` frame. */
  'events.watch': { params: { job: string() } },
  /** Ends a subscription or a watch. */
  'events.unsubscribe': { params: { subscription: integer(1) } },

  /** The bandwidth policy in force now (docs/config.md). Daemon only. */
  'daemon.policy': { params: none },
  /** Re-reads the config files (as SIGHUP does); a bad file is refused and nothing changes. Daemon only. */
  'daemon.reload': { params: none },
} as const satisfies Record<string, MethodSpec>;

export type MethodName = keyof typeof METHODS;
export type ParamsOf<M extends MethodName> = ObjectOf<(typeof METHODS)[M]['params']>;

export function isMethodName(name: string): name is MethodName {
  return Object.hasOwn(METHODS, name);
}

/** JobTimes on the wire: milliseconds since the epoch. */
export interface WireJobTimes {
  readonly creationTime: number;
  readonly modificationTime: number;
  readonly transferCompletionTime: number | null;
}

export interface Subscribed {
  readonly subscription: number;
}

type JobResults = {
  getType: JobType;
  getState: JobState;
  getProgress: JobProgress;
  getTimes: WireJobTimes;
  getError: JobError;
  getErrorCount: number;
  getOwner: string;
  addFile: null;
  addFileSet: null;
  addFileWithRanges: null;
  /** File indexes. */
  enumFiles: number[];
  replaceRemotePrefix: 'S_OK' | 'S_FALSE';
  resume: null;
  suspend: null;
  cancel: 'S_OK' | 'BG_S_UNABLE_TO_DELETE_FILES';
  complete: 'S_OK' | 'BG_S_PARTIAL_COMPLETE';
  getDisplayName: string;
  setDisplayName: null;
  getDescription: string;
  setDescription: null;
  getPriority: Priority;
  setPriority: null;
  getNotifyFlags: number;
  setNotifyFlags: null;
  getNotifyCmdLine: NotifyCmdLine;
  setNotifyCmdLine: null;
  getMinimumRetryDelay: number;
  setMinimumRetryDelay: null;
  getNoProgressTimeout: number;
  setNoProgressTimeout: null;
  getMaximumDownloadTime: number;
  setMaximumDownloadTime: null;
  getProxySettings: ProxySettings;
  setProxySettings: null;
  setCredentials: null;
  removeCredentials: null;
  getCustomHeaders: string | null;
  setCustomHeaders: null;
  makeCustomHeadersWriteOnly: null;
  getSecurityFlags: number;
  setSecurityFlags: null;
  getClientCertificate: ClientCertificate | null;
  setClientCertificate: null;
  removeClientCertificate: null;
  getHttpMethod: string;
  setHttpMethod: null;
  getReplyFileName: string | null;
  setReplyFileName: null;
  getReplyProgress: ReplyProgress;
  /** Base64, or null. */
  getReplyData: string | null;
  getProperty: PropertyValue;
  /** `waiting.since` and `waiting.until` as ISO 8601. */
  getTransferStatus: Omit<TransferStatus, 'waiting'> & { waiting: (Omit<WaitingStatus, 'since' | 'until'> & { since: string | null; until: string | null }) | null };
  setProperty: null;
};

type FileResults = {
  getRemoteName: string;
  getLocalName: string;
  getProgress: FileProgress;
  getTemporaryName: string;
  getFileRanges: FileRange[];
  setRemoteName: null;
};

/** The wire type of every method's result (void methods answer null). */
export type MethodResults = {
  'manager.createJob': { id: string };
  'manager.getJob': { id: string };
  /** Job ids, oldest first. */
  'manager.enumJobs': string[];
  'manager.getErrorDescription': string;
  'manager.listPendingCancellations': PendingCancellation[];
  'events.subscribe': Subscribed;
  'events.watch': Subscribed;
  'events.unsubscribe': null;
  'daemon.policy': PolicyReport;
  'daemon.reload': PolicyReport;
} & { [K in keyof JobResults as `job.${K}`]: JobResults[K] } & { [K in keyof FileResults as `file.${K}`]: FileResults[K] };

// Fails to compile if a method has no result type, a result type has no method, or the API gains
// a job or file method the table does not carry.
type Missing =
  | Exclude<MethodName, keyof MethodResults>
  | Exclude<keyof MethodResults, MethodName>
  | Exclude<Exclude<keyof BackgroundCopyJob, 'id' | 'watch' | 'on'>, keyof JobResults>
  | Exclude<Exclude<keyof BackgroundCopyFile, 'index'>, keyof FileResults>;
const noneMissing: [Missing] extends [never] ? true : Missing = true;
void noneMissing;

/** The data of a watch event on the wire. */
export type WireWatchEvent = WatchEvent;
