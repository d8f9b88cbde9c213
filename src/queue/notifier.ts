/**
 * Tells the world what changed, after it is committed: the internal `change` events that watch()
 * and IPC subscriptions follow, the public events each job's notify flags ask for, the notify
 * command line, and JobModification for progress at most once per minimum notification interval.
 */
import type { Clock } from '../shared/clock.js';
import type { ErrorContext } from '../shared/hresult.js';
import type { JobEventData } from '../job/events.js';
import type { FileRecord, JobRecord } from '../job/records.js';
import { NOTIFY } from '../job/types.js';
import { QueueEmitter } from './events.js';
import { NotifyCommands } from './notify-command.js';

export type NotifyKind = 'transferred' | 'error' | 'modification';

export class Notifier {
  readonly events = new QueueEmitter();
  readonly #clock: Clock;
  readonly #current: (jobId: string) => JobRecord | undefined;
  readonly #commands: NotifyCommands;
  readonly #lastProgressEvent = new Map<string, number>();

  constructor(clock: Clock, current: (jobId: string) => JobRecord | undefined) {
    this.#clock = clock;
    this.#current = current;
    this.#commands = new NotifyCommands({
      clock,
      current,
      onResult: (jobId, exitCode, error) => this.events.safeEmit('notify-command', { jobId, exitCode, error: error?.message ?? null }),
    });
  }

  /** A committed transition: its change event, then the notifications it owes. */
  changed(before: JobRecord, after: JobRecord, notify: readonly NotifyKind[]): void {
    if (after.state === 'ACKNOWLEDGED' || after.state === 'CANCELLED') this.#lastProgressEvent.delete(after.id);
    this.events.safeEmit('change', { ...eventData(after), kind: before.state === after.state ? 'property' : 'state' });
    for (const kind of notify) this.notify(after, kind);
  }

  /** A committed new job: a change (its first state) for watchers of the whole queue (/monitor). */
  created(job: JobRecord): void {
    this.events.safeEmit('change', { ...eventData(job), kind: 'state' });
  }

  /** Committed progress of a job: one read of its row for the event data and notify flags. */
  progress(jobId: string): void {
    const job = this.#current(jobId);
    if (!job) return;
    this.events.safeEmit('change', { ...eventData(job), kind: 'progress' });
    // JobModification for progress is rate limited by MINIMUM_NOTIFICATION_INTERVAL_MS.
    const now = this.#clock.now();
    const last = this.#lastProgressEvent.get(jobId);
    if (last === undefined || now - last >= job.minNotificationIntervalMs) {
      this.#lastProgressEvent.set(jobId, now);
      this.notify(job, 'modification');
    }
  }

  fileTransferred(job: JobRecord, file: FileRecord): void {
    const flags = job.notifyFlags;
    if (flags & NOTIFY.DISABLE || !(flags & NOTIFY.FILE_TRANSFERRED)) return;
    this.events.safeEmit('file:transferred', { ...eventData(job), fileIndex: file.index, remoteName: file.remoteName, localName: file.localName });
  }

  /** Emits a public event if the job's notify flags ask for it. */
  notify(job: JobRecord, kind: NotifyKind): void {
    if (kind !== 'modification') this.#commands.trigger(job, kind);
    const flags = job.notifyFlags;
    if (flags & NOTIFY.DISABLE) return;
    const data = eventData(job);
    if (kind === 'transferred' && flags & NOTIFY.JOB_TRANSFERRED) this.events.safeEmit('job:transferred', data);
    if (kind === 'modification' && flags & NOTIFY.JOB_MODIFICATION) this.events.safeEmit('job:modification', data);
    if (kind === 'error' && flags & NOTIFY.JOB_ERROR) {
      this.events.safeEmit('job:error', {
        ...data,
        error: {
          hresult: job.errorHresult ?? 0,
          code: job.errorCode ?? '',
          context: (job.errorContext ?? 'NONE') as ErrorContext,
          message: job.errorMessage ?? '',
        },
      });
    }
  }

  /** Something went wrong outside any caller's reach (a background step): for the log. */
  reportError(err: unknown): void {
    this.events.safeEmit('listener-error', err);
  }

  stop(): void {
    this.#commands.stop();
  }
}

function eventData(job: JobRecord): JobEventData {
  return { jobId: job.id, displayName: job.displayName, type: job.type, state: job.state };
}
