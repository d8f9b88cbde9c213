/**
 * Each running job's current rate, for /info: the bytes its pacer is asked for, counted in a
 * RateMeter (policy/rate-meter.ts). A meter is dropped once its job has been idle for a window,
 * so only the jobs transferring lately are kept.
 */
import type { Clock } from '../shared/clock.js';
import { RateMeter } from '../policy/index.js';
import type { Pacer } from '../engine/types.js';

export class TransferRates {
  readonly #clock: Clock;
  readonly #meters = new Map<string, RateMeter>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** `pacer`, counting what passes through it as `jobId`'s. */
  track(jobId: string, pacer: Pacer): Pacer {
    this.#prune();
    let meter = this.#meters.get(jobId);
    if (meter === undefined) {
      meter = new RateMeter();
      this.#meters.set(jobId, meter);
    }
    const counted = meter;
    return {
      ...pacer,
      acquire: (bytes, signal) => {
        counted.add(bytes, this.#clock.now());
        return pacer.acquire(bytes, signal);
      },
    };
  }

  /** Bytes per second over the last RATE_WINDOW_MS; 0 for a job not transferring. */
  rate(jobId: string): number {
    return this.#meters.get(jobId)?.rate(this.#clock.now()) ?? 0;
  }

  #prune(): void {
    const now = this.#clock.now();
    for (const [id, meter] of this.#meters) if (meter.idle(now)) this.#meters.delete(id);
  }
}
