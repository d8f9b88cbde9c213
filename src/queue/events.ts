/**
 * The typed events of the queue (IBackgroundCopyCallback's calls, as events), and safeEmit: a
 * listener that throws is reported, never allowed to break the scheduler or the caller.
 */
import { EventEmitter } from 'node:events';
import type { ErrorContext } from '../shared/hresult.js';
import type { JobState, JobType } from '../job/types.js';

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

/** Every change, whatever the notify flags: what watch() and IPC subscriptions follow. */
export interface InternalEvents {
  change: [JobEventData & { readonly kind: 'state' | 'progress' | 'property' }];
  /** A notify command line ran (exitCode null: it could not start). */
  'notify-command': [{ readonly jobId: string; readonly exitCode: number | null; readonly error: string | null }];
  /** A listener threw: reported so it can be logged. */
  'listener-error': [unknown];
}

export type AllEvents = BitsEvents & InternalEvents;

export class QueueEmitter extends EventEmitter<AllEvents> {
  constructor() {
    super({ captureRejections: false });
    // Many watchers (one per watch() call, per IPC subscription) are normal.
    this.setMaxListeners(0);
  }

  safeEmit<K extends keyof AllEvents>(event: K, ...args: AllEvents[K]): void {
    for (const listener of this.listeners(event) as Array<(...a: AllEvents[K]) => unknown>) {
      try {
        const result = listener(...args);
        if (result instanceof Promise) result.catch((err: unknown) => this.#report(err));
      } catch (err) {
        this.#report(err);
      }
    }
  }

  #report(err: unknown): void {
    for (const listener of this.listeners('listener-error') as Array<(e: unknown) => void>) {
      try {
        listener(err);
      } catch {
        // A failing error reporter has nowhere left to report to.
      }
    }
  }
}
