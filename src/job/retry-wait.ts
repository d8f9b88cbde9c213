/**
 * How long a job, a Close-Session or a Cancel-Session waits before its next attempt (pure).
 *
 * The wait is at least the minimum retry delay (a minimum, as BITS documents it) and at least the
 * server's Retry-After, when a 503 or a 429 gave one (src/protocol/retry-after.ts). On top comes
 * 0 to +10% jitter, so that thousands of clients behind one failing server, which failed in the
 * same second, do not come back in the same second. Jitter only adds: no client returns earlier
 * than the delay or the Retry-After says.
 *
 * The randomness comes in as a draw in [0, 1) from the shell's `random()` (Math.random by
 * default, a fixed sequence in tests): nothing here reads a random source or a clock.
 */

/** The most jitter adds, as a fraction of the wait. */
export const RETRY_JITTER = 0.1;

export interface RetryWaitInput {
  /** Milliseconds the server's Retry-After asked for, if it gave one. */
  readonly retryAfterMs?: number | undefined;
  /** A uniform draw in [0, 1): the wait grows by this fraction of RETRY_JITTER. */
  readonly jitter: number;
}

/** The un-jittered wait: the larger of the retry delay and the Retry-After. */
export function minimumWaitMs(delayMs: number, retryAfterMs: number | undefined): number {
  return Math.max(delayMs, retryAfterMs ?? 0);
}

/**
 * The wait before the next attempt: minimumWaitMs plus floor(jitter × 10%) of it. A draw outside
 * [0, 1] (or NaN) is clamped, so a broken random source can neither shorten nor blow up the wait.
 */
export function retryWaitMs(delayMs: number, input: RetryWaitInput): number {
  const base = minimumWaitMs(delayMs, input.retryAfterMs);
  const draw = Number.isFinite(input.jitter) ? Math.min(Math.max(input.jitter, 0), 1) : 0;
  return base + Math.floor(base * RETRY_JITTER * draw);
}

/** The longest wait jitter can give for this minimum (for bounds that must hold whatever the draw). */
export function maxRetryWaitMs(delayMs: number, retryAfterMs: number | undefined): number {
  return retryWaitMs(delayMs, { retryAfterMs, jitter: 1 });
}
