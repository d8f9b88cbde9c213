/**
 * The job state machine of IBackgroundCopyJob as one pure function (bits-api.md (b)).
 *
 *   (create) ─► SUSPENDED ─resume─► QUEUED ─dispatch─► CONNECTING ─connected─► TRANSFERRING
 *                    ▲                 ▲  ▲                 │                      │
 *                    │ suspend         │  └──preempt/recover┴──────────────────────┤
 *   any non-final ───┘                 │                                           ├─all-transferred─► TRANSFERRED
 *                        retry-due/resume                                          ├─transient─► TRANSIENT_ERROR
 *                         TRANSIENT_ERROR ─no-progress─► ERROR ◄─fatal/max-time────┘
 *                                         ERROR ─resume─► QUEUED
 *   any non-final ─cancel/inactivity─► CANCELLED        complete ─► ACKNOWLEDGED (download: any
 *                                                       non-final; upload: TRANSFERRED only)
 *
 * `transition(job, event, now)` returns the next state and the effects the shell must carry out
 * (abort the running transfer, owe local-file work, notify, arm a retry), or a BitsError with
 * BG_E_INVALID_STATE / BG_E_EMPTY when the call is not allowed. It never does I/O itself.
 */
import { BitsError } from '../shared/errors.js';
import type { FileIntent } from './records.js';
import { type RetryWaitInput, retryWaitMs } from './retry-wait.js';
import { ACTIVE_STATES, isFinal, type JobState, type JobType } from './types.js';

/** What the machine needs to know about a job. */
export interface MachineJob {
  readonly state: JobState;
  readonly type: JobType;
  readonly filesTotal: number;
  /** Files whose bytes are all transferred. */
  readonly filesTransferred: number;
  readonly minimumRetryDelaySec: number;
  readonly noProgressTimeoutSec: number;
  /**
   * When the current run of transient failures began (null: none since the last progress or
   * Resume). The no-progress timeout counts from here; progress clears it.
   */
  readonly noProgressSince: number | null;
  /**
   * Local-file work a committed Complete (DELIVER) or Cancel (DISCARD) still owes. While it is
   * owed, the job takes no other event than the one that settles it: Complete and Cancel never
   * interleave, and nothing restarts a job whose files are being moved.
   */
  readonly fileIntent: FileIntent | null;
  /** Since when a blocker (offline, cost, battery) holds the job in TRANSIENT_ERROR; null: none. */
  readonly blockedSince: number | null;
  /** The HRESULT of the job's error, when it has one. */
  readonly errorHresult: number | null;
}

export interface FailureInfo {
  readonly hresult: number;
  readonly code: string;
  readonly context: string;
  readonly message: string;
  readonly fileIndex: number | null;
}

export type JobEvent =
  | { readonly type: 'RESUME' }
  | { readonly type: 'SUSPEND' }
  | { readonly type: 'CANCEL' }
  /**
   * Complete. An UPLOAD job is ACKNOWLEDGED at once; DOWNLOAD and UPLOAD_REPLY jobs owe DELIVER
   * (renames), settled by COMPLETED or COMPLETE_FAILED.
   */
  | { readonly type: 'COMPLETE' }
  | { readonly type: 'COMPLETED' }
  | { readonly type: 'COMPLETE_FAILED' }
  /** Cancel's DISCARD (temp files deleted) is done. */
  | { readonly type: 'FILES_DISCARDED' }
  | { readonly type: 'MODIFY' }
  | { readonly type: 'DISPATCH' }
  | { readonly type: 'CONNECTED' }
  | { readonly type: 'ALL_TRANSFERRED' }
  /**
   * A transient error. The shell brings what the machine may not read itself: `jitter`, a draw
   * in [0, 1) from its random source, and `retryAfterMs`, the wait a 503 or 429 asked for.
   */
  | ({ readonly type: 'TRANSIENT_FAILURE'; readonly error: FailureInfo } & RetryWaitInput)
  | { readonly type: 'FATAL_FAILURE'; readonly error: FailureInfo }
  | { readonly type: 'PREEMPT' }
  | { readonly type: 'RETRY_DUE' }
  | { readonly type: 'NO_PROGRESS_TIMEOUT' }
  | { readonly type: 'MAX_DOWNLOAD_TIME' }
  | { readonly type: 'INACTIVITY_EXPIRED' }
  | { readonly type: 'RECOVER' }
  /**
   * The network is gone, too expensive for the job's cost flags, or the machine is on battery:
   * the job waits in TRANSIENT_ERROR with the blocker's error, counting no error and arming no
   * retry, until UNBLOCK (docs/network.md).
   */
  | { readonly type: 'BLOCK'; readonly error: FailureInfo }
  /** The blocker is gone: back to QUEUED; the blocked time does not count as no progress. */
  | { readonly type: 'UNBLOCK' };

export type Effect =
  /** Stop the job's running transfer (its AbortSignal). */
  | { readonly type: 'abort-transfer' }
  /** Record that the job owes this local-file work; the shell does it after the commit. */
  | { readonly type: 'owe-file-work'; readonly intent: FileIntent }
  /** The owed local-file work is done. */
  | { readonly type: 'clear-file-work' }
  /** Tell the scheduler to look for work. */
  | { readonly type: 'wake-scheduler' }
  /** Record this error object on the job; `count` adds one to the error count. */
  | { readonly type: 'set-error'; readonly error: FailureInfo; readonly count: boolean }
  /** Drop the error object (it exists only while ERROR/TRANSIENT_ERROR). */
  | { readonly type: 'clear-error' }
  /** TRANSIENT_ERROR: come back at `retryAt`, give up at `deadline` (no-progress timeout). */
  | { readonly type: 'arm-retry'; readonly retryAt: number; readonly deadline: number }
  | { readonly type: 'disarm-retry' }
  /** Close the no-progress window (Resume): the next failure starts a new one. */
  | { readonly type: 'reset-no-progress' }
  /** Restart the MaxDownloadTime counter (Resume). */
  | { readonly type: 'reset-active-time' }
  | { readonly type: 'set-transfer-completion-time' }
  /** Record that a blocker holds the job (from now, unless it was already blocked). */
  | { readonly type: 'block' }
  /** The block ends: move the no-progress window past the blocked time. */
  | { readonly type: 'unblock' }
  | { readonly type: 'notify'; readonly kind: 'transferred' | 'error' | 'modification' };

export type TransitionResult =
  | { readonly ok: true; readonly state: JobState; readonly effects: readonly Effect[] }
  | { readonly ok: false; readonly error: BitsError };

const MODIFIED: Effect = { type: 'notify', kind: 'modification' };

function ok(state: JobState, ...effects: Effect[]): TransitionResult {
  return { ok: true, state, effects };
}

function refuse(job: MachineJob, event: JobEvent): TransitionResult {
  const what = event.type.toLowerCase().replaceAll('_', ' ');
  const hint = isFinal(job.state)
    ? ' The job is final (acknowledged or cancelled) and read-only now.'
    : '';
  return {
    ok: false,
    error: new BitsError('BG_E_INVALID_STATE', `Cannot ${what} a job in state ${job.state}.${hint}`),
  };
}

/**
 * Entering TRANSIENT_ERROR, or straight to ERROR when the no-progress rules say so. The retry
 * comes after the retry delay or the server's Retry-After, whichever is longer, plus jitter
 * (retry-wait.ts), but never after the no-progress deadline: a wait that would end later ends
 * there, and the deadline's timer takes the job to ERROR (NO_PROGRESS_TIMEOUT) instead of
 * retrying it.
 */
export function planTransientFailure(job: MachineJob, now: number, wait: RetryWaitInput): { retryAt: number; deadline: number } | null {
  const timeoutMs = job.noProgressTimeoutSec * 1000;
  const delayMs = job.minimumRetryDelaySec * 1000;
  // NoProgressTimeout 0 means "never retry"; a retry delay longer than the timeout can never retry.
  if (job.noProgressTimeoutSec === 0 || delayMs > timeoutMs) return null;
  const deadline = (job.noProgressSince ?? now) + timeoutMs;
  if (now >= deadline) return null;
  return { retryAt: Math.min(now + retryWaitMs(delayMs, wait), deadline), deadline };
}

function toError(error: FailureInfo, count: boolean): TransitionResult {
  return ok(
    'ERROR',
    { type: 'abort-transfer' },
    { type: 'disarm-retry' },
    { type: 'set-error', error, count },
    { type: 'wake-scheduler' },
    { type: 'notify', kind: 'error' },
  );
}

export function transition(job: MachineJob, event: JobEvent, now: number): TransitionResult {
  const { state } = job;
  const final = isFinal(state);
  const active = ACTIVE_STATES.has(state);
  if (job.fileIntent !== null) return settleFileWork(job, event);

  switch (event.type) {
    case 'MODIFY':
      // Setters and AddFile: allowed in every non-final state.
      return final ? refuse(job, event) : ok(state, MODIFIED);

    case 'RESUME': {
      if (final) return refuse(job, event);
      if (job.filesTotal === 0) {
        return { ok: false, error: new BitsError('BG_E_EMPTY', 'Cannot resume a job that has no files: add a file first.') };
      }
      if (active || state === 'QUEUED') return ok(state);
      // Decision (bits-api.md (b) leaves it open): Resume on a TRANSFERRED job with nothing new to
      // transfer succeeds and changes nothing. Wine answers BG_E_EMPTY there; Windows documents neither.
      if (state === 'TRANSFERRED' && job.filesTransferred >= job.filesTotal) return ok(state);
      return ok(
        'QUEUED',
        { type: 'disarm-retry' },
        { type: 'clear-error' },
        { type: 'reset-no-progress' },
        { type: 'reset-active-time' },
        { type: 'wake-scheduler' },
        MODIFIED,
      );
    }

    case 'SUSPEND':
      if (final) return refuse(job, event);
      if (state === 'SUSPENDED') return ok(state);
      return ok('SUSPENDED', { type: 'abort-transfer' }, { type: 'disarm-retry' }, { type: 'wake-scheduler' }, MODIFIED);

    case 'CANCEL':
    case 'INACTIVITY_EXPIRED':
      if (final) return refuse(job, event);
      return ok(
        'CANCELLED',
        { type: 'abort-transfer' },
        { type: 'disarm-retry' },
        { type: 'owe-file-work', intent: 'DISCARD' },
        { type: 'wake-scheduler' },
        MODIFIED,
      );

    case 'COMPLETE':
      if (final) return refuse(job, event);
      // Uploads are committed on the server at the last fragment: Complete only acknowledges that.
      if (job.type !== 'DOWNLOAD' && state !== 'TRANSFERRED') {
        return { ok: false, error: new BitsError('BG_E_INVALID_STATE', `Cannot complete an ${job.type} job in state ${state}: upload jobs can be completed only once TRANSFERRED.`) };
      }
      if (job.type === 'UPLOAD') return ok('ACKNOWLEDGED', { type: 'disarm-retry' }, { type: 'wake-scheduler' }, MODIFIED);
      return ok(state, { type: 'abort-transfer' }, { type: 'disarm-retry' }, { type: 'owe-file-work', intent: 'DELIVER' });

    case 'COMPLETED':
    case 'COMPLETE_FAILED':
    case 'FILES_DISCARDED':
      // Only owed work settles (settleFileWork): without any, there is nothing to settle.
      return refuse(job, event);

    case 'DISPATCH':
      if (state !== 'QUEUED') return refuse(job, event);
      return ok('CONNECTING', { type: 'clear-error' }, MODIFIED);

    case 'CONNECTED':
      if (state !== 'CONNECTING') return refuse(job, event);
      return ok('TRANSFERRING', MODIFIED);

    case 'ALL_TRANSFERRED':
      if (!active) return refuse(job, event);
      return ok('TRANSFERRED', { type: 'set-transfer-completion-time' }, { type: 'wake-scheduler' }, { type: 'notify', kind: 'transferred' });

    case 'PREEMPT':
    case 'RECOVER':
      if (!active) return refuse(job, event);
      return ok('QUEUED', { type: 'abort-transfer' }, { type: 'wake-scheduler' }, MODIFIED);

    case 'TRANSIENT_FAILURE': {
      if (!active && state !== 'QUEUED') return refuse(job, event);
      const plan = planTransientFailure(job, now, event);
      if (!plan) return toError(event.error, active);
      return ok(
        'TRANSIENT_ERROR',
        { type: 'abort-transfer' },
        { type: 'set-error', error: event.error, count: active },
        { type: 'arm-retry', retryAt: plan.retryAt, deadline: plan.deadline },
        { type: 'wake-scheduler' },
        MODIFIED,
      );
    }

    case 'FATAL_FAILURE':
      if (!active && state !== 'QUEUED') return refuse(job, event);
      return toError(event.error, active);

    case 'RETRY_DUE':
      if (state !== 'TRANSIENT_ERROR') return refuse(job, event);
      return ok('QUEUED', { type: 'disarm-retry' }, { type: 'wake-scheduler' }, MODIFIED);

    case 'NO_PROGRESS_TIMEOUT':
      if (state !== 'TRANSIENT_ERROR') return refuse(job, event);
      return ok('ERROR', { type: 'disarm-retry' }, { type: 'notify', kind: 'error' });

    case 'BLOCK': {
      const blockable = active || state === 'QUEUED' || state === 'TRANSIENT_ERROR';
      if (!blockable) return refuse(job, event);
      // Already held by the same blocker: nothing changes.
      if (job.blockedSince !== null && job.errorHresult === event.error.hresult) return ok(state);
      return ok(
        'TRANSIENT_ERROR',
        { type: 'abort-transfer' },
        { type: 'disarm-retry' },
        { type: 'set-error', error: event.error, count: false },
        { type: 'block' },
        { type: 'wake-scheduler' },
        MODIFIED,
      );
    }

    case 'UNBLOCK':
      if (state !== 'TRANSIENT_ERROR' || job.blockedSince === null) return refuse(job, event);
      return ok('QUEUED', { type: 'clear-error' }, { type: 'unblock' }, { type: 'wake-scheduler' }, MODIFIED);

    case 'MAX_DOWNLOAD_TIME':
      if (!active) return refuse(job, event);
      return toError({
        hresult: 0x80200054,
        code: 'BG_E_MAXDOWNLOAD_TIMEOUT',
        context: 'GENERAL_QUEUE_MANAGER',
        message: 'The job was not completed within its maximum download time.',
        fileIndex: null,
      }, false);
  }
}

/** The events a job that owes local-file work takes: only the one that settles that work. */
function settleFileWork(job: MachineJob, event: JobEvent): TransitionResult {
  if (job.fileIntent === 'DELIVER') {
    if (event.type === 'COMPLETED') return ok('ACKNOWLEDGED', { type: 'clear-file-work' }, { type: 'wake-scheduler' }, MODIFIED);
    // A rename failed: the job stays (or becomes) TRANSFERRED so Complete or Cancel can be called again.
    if (event.type === 'COMPLETE_FAILED') return ok('TRANSFERRED', { type: 'clear-file-work' }, { type: 'wake-scheduler' }, MODIFIED);
    const what = event.type.toLowerCase().replaceAll('_', ' ');
    return {
      ok: false,
      error: new BitsError('BG_E_INVALID_STATE', `Cannot ${what} the job now: Complete is moving its files into place. Try again once it has finished.`),
    };
  }
  if (event.type === 'FILES_DISCARDED') return ok(job.state, { type: 'clear-file-work' });
  return refuse(job, event);
}
