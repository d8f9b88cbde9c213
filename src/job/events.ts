/**
 * The events of the queue (IBackgroundCopyCallback's calls, as events): their names and data.
 * Types only, so every layer (queue, api, ipc, daemon) can name them without importing the queue.
 */
import type { ErrorContext } from '../shared/hresult.js';
import type { JobState, JobType } from './types.js';

export interface JobEventData {
  readonly jobId: string;
  readonly displayName: string;
  readonly type: JobType;
  readonly state: JobState;
}

export interface JobErrorEventData extends JobEventData {
  readonly error: { readonly hresult: number; readonly code: string; readonly context: ErrorContext; readonly message: string };
}

export interface FileEventData extends JobEventData {
  readonly fileIndex: number;
  readonly remoteName: string;
  readonly localName: string;
}

/** Events a caller can subscribe to; they honour each job's notify flags. */
export interface BitsEvents {
  /** BG_NOTIFY_JOB_TRANSFERRED: every file is transferred (JobTransferred). */
  'job:transferred': [JobEventData];
  /** BG_NOTIFY_JOB_ERROR: the job entered ERROR (JobError). */
  'job:error': [JobErrorEventData];
  /** BG_NOTIFY_JOB_MODIFICATION: state, progress or a property changed (JobModification). */
  'job:modification': [JobEventData];
  /** BG_NOTIFY_FILE_TRANSFERRED: one file is transferred (FileTransferred). */
  'file:transferred': [FileEventData];
}

/** A committed change of a job, and what changed: its state, its progress, or a property. */
export interface JobChangeEventData extends JobEventData {
  readonly kind: 'state' | 'progress' | 'property';
}

/**
 * What on() takes: the callback events above, and bitsd's own `job:change`, sent for every
 * committed change (a new job included) whatever the job's notify flags. It lets a client follow
 * a job that rests, or a whole queue, without polling; BITS has no counterpart.
 */
export interface SubscribableEvents extends BitsEvents {
  'job:change': [JobChangeEventData];
}

/** Every change, whatever the notify flags: what watch() and `job:change` subscriptions follow. */
export interface InternalEvents {
  change: [JobChangeEventData];
  /** A notify command line ran (exitCode null: it could not start). */
  'notify-command': [{ readonly jobId: string; readonly exitCode: number | null; readonly error: string | null }];
  /** A listener threw: reported so it can be logged. */
  'listener-error': [unknown];
}

export type AllEvents = BitsEvents & InternalEvents;
