/**
 * A token bucket over an injected clock (`now` in ms): the pacing arithmetic of a bandwidth limit,
 * with no timers of its own. Pure: no I/O.
 *
 * take(bytes, now) reserves the bytes at once and answers how long the caller must wait before
 * moving them; the balance may go below zero, so a read larger than the burst is paced, not
 * refused, and callers sharing one bucket are served in the order they asked. The answer is
 * explicit for the two special rates: 'hold' (rate 0: nothing moves until the rate changes; the
 * bytes are not reserved) and always 0 when unlimited (rate null: nothing is counted).
 *
 * The burst is small (default max(16 KiB, 0.1 s of the rate)), so a transfer is paced smoothly
 * instead of in seconds-long gulps.
 */
import { BitsError } from '../shared/errors.js';
import type { Rate } from './rate.js';

/** The smallest burst: one 16 KiB read goes through without waiting. */
export const MIN_BURST = 16 * 1024;
/** The burst is this many seconds of the rate, when that is more than MIN_BURST. */
export const BURST_SECONDS = 0.1;

export type Wait = number | 'hold';

export function defaultBurst(rate: number): number {
  return Math.max(MIN_BURST, rate * BURST_SECONDS);
}

export interface TokenBucketOptions {
  /** Bytes per second; 0 holds; null is unlimited. */
  readonly rate: Rate;
  /** Bytes that may go at once after an idle time. Default defaultBurst(rate). */
  readonly burst?: number;
  /** The clock reading at creation (ms). The bucket starts full. */
  readonly now: number;
}

export class TokenBucket {
  #rate: Rate;
  #burst: number;
  #tokens: number;
  #last: number;

  constructor(options: TokenBucketOptions) {
    this.#rate = checkRate(options.rate);
    this.#burst = burstFor(options.rate, options.burst);
    this.#tokens = this.#burst;
    this.#last = options.now;
  }

  get rate(): Rate {
    return this.#rate;
  }

  get burst(): number {
    return this.#burst;
  }

  /** The balance at `now` (negative while reservations are being paid off); Infinity when unlimited. */
  tokens(now: number): number {
    if (this.#rate === null) return Number.POSITIVE_INFINITY;
    this.#refill(now);
    return this.#tokens;
  }

  /**
   * Reserves `bytes` and returns the ms to wait before moving them: 0 when they are available
   * now, 'hold' at rate 0 (nothing reserved; ask again after the rate changes).
   */
  take(bytes: number, now: number): Wait {
    if (this.#rate === null) return 0;
    if (this.#rate === 0) return 'hold';
    this.#refill(now);
    this.#tokens -= bytes;
    return this.#tokens >= 0 ? 0 : Math.ceil((-this.#tokens * 1000) / this.#rate);
  }

  /**
   * Changes the rate (and burst) from `now` on. Tokens earned so far at the old rate are kept,
   * capped by the new burst; a debt is kept too, so a caller who reserved under the old rate is
   * not forgiven. From unlimited, the bucket starts full.
   */
  reconfigure(rate: Rate, now: number, burst?: number): void {
    checkRate(rate);
    if (this.#rate === null) {
      this.#tokens = Number.POSITIVE_INFINITY;
      this.#last = now;
    } else {
      this.#refill(now);
    }
    this.#rate = rate;
    this.#burst = burstFor(rate, burst);
    this.#tokens = Math.min(this.#tokens, this.#burst);
  }

  #refill(now: number): void {
    // A clock that went back earns nothing (and is not held against the caller either).
    const elapsed = Math.max(0, now - this.#last);
    this.#last = Math.max(this.#last, now);
    if (this.#rate) this.#tokens = Math.min(this.#burst, this.#tokens + (this.#rate * elapsed) / 1000);
  }
}

function checkRate(rate: Rate): Rate {
  if (rate !== null && !(Number.isFinite(rate) && rate >= 0)) throw new BitsError('E_INVALIDARG', `A token bucket rate must be null or a finite number >= 0; got ${rate}.`);
  return rate;
}

function burstFor(rate: Rate, burst: number | undefined): number {
  if (burst !== undefined) {
    if (!(Number.isFinite(burst) && burst > 0)) throw new BitsError('E_INVALIDARG', `A token bucket burst must be a finite number > 0; got ${burst}.`);
    return burst;
  }
  return rate === null || rate === 0 ? MIN_BURST : defaultBurst(rate);
}
