/**
 * Turns a transition's effects into the columns that record them. Pure: given the job as stored,
 * the machine's answer and `now`, it returns the patch to write in the same transaction, so a
 * state and its timers, error object and timestamps can never disagree on disk.
 */
import type { Effect } from '../job/machine.js';
import { ACTIVE_STATES, FINAL_STATES, type JobState } from '../job/types.js';
import type { JobPatch, JobRecord } from '../job/records.js';

export interface TransitionPatchInput {
  readonly job: JobRecord;
  readonly next: JobState;
  readonly effects: readonly Effect[];
  readonly now: number;
  /** queue_seq to use when the job (re-)enters QUEUED; undefined keeps its place. */
  readonly queueSeq: number | undefined;
  /**
   * When a job leaving CONNECTING/TRANSFERRING stopped being active: `now`, except at recovery
   * after a crash, where it was last seen alive at its last recorded change.
   */
  readonly activeUntil?: number;
}

export function transitionPatch({ job, next, effects, now, queueSeq, activeUntil = now }: TransitionPatchInput): JobPatch {
  const patch: { -readonly [K in keyof JobPatch]: JobPatch[K] } = { modifiedAt: now };
  if (next !== job.state) patch.state = next;

  for (const effect of effects) {
    switch (effect.type) {
      case 'set-error':
        patch.errorHresult = effect.error.hresult;
        patch.errorCode = effect.error.code;
        patch.errorContext = effect.error.context;
        patch.errorMessage = effect.error.message;
        patch.errorFileIndex = effect.error.fileIndex;
        if (effect.count) patch.errorCount = job.errorCount + 1;
        break;
      case 'clear-error':
        patch.errorHresult = null;
        patch.errorCode = null;
        patch.errorContext = null;
        patch.errorMessage = null;
        patch.errorFileIndex = null;
        break;
      case 'arm-retry':
        patch.retryAt = effect.retryAt;
        patch.retryDeadline = effect.deadline;
        // The no-progress window starts at the first failure of a run of failures.
        if (job.noProgressSince === null) patch.noProgressSince = now;
        break;
      case 'disarm-retry':
        patch.retryAt = null;
        patch.retryDeadline = null;
        break;
      case 'reset-no-progress':
        // A fresh start: the next failure opens a new no-progress window.
        patch.noProgressSince = null;
        break;
      case 'reset-active-time':
        patch.activeMs = 0;
        break;
      case 'set-transfer-completion-time':
        patch.transferredAt = now;
        break;
      case 'owe-file-work':
        patch.fileIntent = effect.intent;
        break;
      case 'clear-file-work':
        patch.fileIntent = null;
        break;
      case 'block':
        if (job.blockedSince === null) patch.blockedSince = now;
        break;
      case 'unblock':
        // Time spent blocked (offline, too expensive, on battery) is not time without progress.
        if (job.noProgressSince !== null && job.blockedSince !== null) patch.noProgressSince = job.noProgressSince + Math.max(0, now - job.blockedSince);
        break;
      case 'abort-transfer':
      case 'wake-scheduler':
      case 'notify':
        break; // carried out by the shell after commit
    }
  }

  // Leaving TRANSIENT_ERROR ends any block (Unblock, Resume, Suspend, Cancel).
  if (job.blockedSince !== null && next !== 'TRANSIENT_ERROR') patch.blockedSince = null;
  const wasActive = ACTIVE_STATES.has(job.state);
  const isActive = ACTIVE_STATES.has(next);
  if (!wasActive && isActive) patch.activeSince = now;
  if (wasActive && !isActive) {
    const base = patch.activeMs ?? job.activeMs;
    patch.activeMs = base + Math.max(0, activeUntil - (job.activeSince ?? activeUntil));
    patch.activeSince = null;
  }
  if (next === 'QUEUED' && job.state !== 'QUEUED' && queueSeq !== undefined) patch.queueSeq = queueSeq;
  if (FINAL_STATES.has(next) && !FINAL_STATES.has(job.state)) patch.finalAt = now;
  return patch;
}
