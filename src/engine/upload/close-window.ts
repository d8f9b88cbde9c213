/**
 * The retry window of Close-Session (pure). Close-Session follows the Cancel-Session rule of
 * IBackgroundCopyJob::Cancel: a 5xx (or a network failure) is resent once per minimum retry
 * delay until it is acknowledged or min(24 h, no-progress timeout) has passed, counted from the
 * first failed Close-Session of the session (persisted as engineState.closeFailingSince).
 *
 * The two bounds end differently at their boundary, because two different timers enforce them:
 * - 24 h: an attempt may fall exactly at the 24 h mark, as for Cancel-Session
 *   (src/queue/remote-cancels.ts: give up when the next attempt would be past the deadline).
 * - no-progress timeout: the queue's own timer turns a TRANSIENT_ERROR job into ERROR at the
 *   deadline instead of retrying it (src/job/machine.ts planTransientFailure), so the last
 *   attempt is the one before it; the engine stops there, before the queue would report an error
 *   for a file the server already holds.
 *
 * The next attempt comes after the retry delay or the server's Retry-After, whichever is longer,
 * plus 0 to +10% jitter drawn by the queue (src/job/retry-wait.ts). The engine does not know the
 * draw, so the no-progress bound is judged on the longest wait jitter can give: an attempt that
 * jitter could push onto the deadline is not made. The 24 h bound, like Cancel-Session's, is
 * judged on the wait without jitter.
 */
import { maxRetryWaitMs, minimumWaitMs } from '../../job/retry-wait.js';
import { DEFAULTS } from '../../job/types.js';

/** 24 h: how long BITS keeps resending Cancel-Session, and so Close-Session. */
export const CLOSE_RETRY_WINDOW_MS = DEFAULTS.cancelRetryWindowSec * 1000;

export interface CloseFailure {
  /** Clock time of the first failed Close-Session of this session, or null if this is it. */
  readonly failingSince: number | null;
  /** Clock time of this failure. */
  readonly now: number;
  readonly minimumRetryDelaySec: number;
  readonly noProgressTimeoutSec: number;
  /** The wait the server's Retry-After asked for (503, 429), if any. */
  readonly retryAfterMs?: number | undefined;
}

export type CloseRetryDecision =
  /** Resend after the job's retry delay; `failingSince` is the window's start to persist. */
  | { readonly retry: true; readonly failingSince: number; readonly windowEnd: number }
  /** The next attempt would fall outside the window: stop resending. */
  | { readonly retry: false; readonly failingSince: number; readonly windowEnd: number; readonly bound: '24h' | 'no-progress' };

export function closeRetryDecision(f: CloseFailure): CloseRetryDecision {
  const failingSince = f.failingSince ?? f.now;
  const delayMs = f.minimumRetryDelaySec * 1000;
  const earliest = f.now + minimumWaitMs(delayMs, f.retryAfterMs);
  const latest = f.now + maxRetryWaitMs(delayMs, f.retryAfterMs);
  const capEnd = failingSince + CLOSE_RETRY_WINDOW_MS;
  const noProgressEnd = failingSince + f.noProgressTimeoutSec * 1000;
  const windowEnd = Math.min(capEnd, noProgressEnd);
  if (latest >= noProgressEnd) return { retry: false, failingSince, windowEnd, bound: 'no-progress' };
  if (earliest > capEnd) return { retry: false, failingSince, windowEnd, bound: '24h' };
  return { retry: true, failingSince, windowEnd };
}
