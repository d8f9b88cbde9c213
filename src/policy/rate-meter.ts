/**
 * A job's current transfer rate: the bytes it moved over the last few seconds, in fixed bins so
 * that recording costs an addition and memory stays constant. Pure: instants are parameters.
 */

/** Width of one bin. */
export const RATE_BIN_MS = 250;
/** The rate is measured over this long (or since the first byte, when that is more recent). */
export const RATE_WINDOW_MS = 2000;
const BINS = RATE_WINDOW_MS / RATE_BIN_MS;

export class RateMeter {
  /** Bytes per bin, a ring indexed by (bin number mod BINS). */
  readonly #bins = new Float64Array(BINS);
  /** The bin number each slot of the ring holds now. */
  readonly #binOf = new Float64Array(BINS).fill(Number.NEGATIVE_INFINITY);
  #firstAt: number | null = null;
  #lastAt = Number.NEGATIVE_INFINITY;

  add(bytes: number, now: number): void {
    const bin = Math.floor(now / RATE_BIN_MS);
    const slot = bin % BINS;
    if (this.#binOf[slot] !== bin) {
      this.#binOf[slot] = bin;
      this.#bins[slot] = 0;
    }
    this.#bins[slot] = (this.#bins[slot] as number) + bytes;
    this.#firstAt ??= now;
    this.#lastAt = now;
  }

  /** Bytes per second over the window that ends now; 0 when nothing moved in it. */
  rate(now: number): number {
    const current = Math.floor(now / RATE_BIN_MS);
    let bytes = 0;
    for (let slot = 0; slot < BINS; slot++) {
      const bin = this.#binOf[slot] as number;
      if (bin > current - BINS && bin <= current) bytes += this.#bins[slot] as number;
    }
    if (bytes === 0 || this.#firstAt === null) return 0;
    // The window starts at the oldest bin it covers, or at the first byte if that came later.
    const windowStart = Math.max((current - BINS + 1) * RATE_BIN_MS, Math.floor(this.#firstAt / RATE_BIN_MS) * RATE_BIN_MS);
    const span = Math.max(RATE_BIN_MS, now - windowStart);
    return (bytes * 1000) / span;
  }

  /** Whether nothing moved within the window before `now`. */
  idle(now: number): boolean {
    return now - this.#lastAt >= RATE_WINDOW_MS;
  }
}
