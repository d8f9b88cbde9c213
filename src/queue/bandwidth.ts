/**
 * The bandwidth limiter: the policy in force (src/policy) applied to running transfers. One token
 * bucket per limit the policy names: FOREGROUND, HIGH, NORMAL and LOW each, and one for all
 * background transfers together, which every HIGH, NORMAL and LOW job also draws from. Engines
 * see it as a Pacer per job (engine/types.ts).
 *
 * The limits follow the policy: they are recomputed when the configuration is replaced (a
 * reload) and at the schedule's next edge. A waiting transfer re-reads its buckets at least every
 * WAIT_SLICE_MS, so a change reaches it within that; a limit of 0 holds it until a change. When
 * nothing limits a job, its pacer answers synchronously and costs nothing.
 */
import type { Clock, Timer } from '../shared/clock.js';
import type { Priority } from '../job/types.js';
import { effectivePolicy, type EffectivePolicy, type LimitKey, type PolicySource, TokenBucket } from '../policy/index.js';
import type { Pacer } from '../engine/types.js';

/** A waiting transfer looks at its buckets again at least this often. */
export const WAIT_SLICE_MS = 250;

const BUCKETS: readonly LimitKey[] = ['foreground', 'high', 'normal', 'low', 'background'];

export class BandwidthLimiter {
  readonly #clock: Clock;
  readonly #policy: PolicySource;
  readonly #buckets: ReadonlyMap<LimitKey, TokenBucket>;
  #effective: EffectivePolicy;
  #edge: Timer | null = null;
  /** Waiters to wake at the next change of limits. */
  readonly #changed = new Set<() => void>();
  readonly #unsubscribe: () => void;
  readonly #listeners = new Set<() => void>();
  /** Bytes reserved per bucket since start: a reservation's place in line (see #ticketWaitMs). */
  readonly #reservedTotal = new Map<TokenBucket, number>();

  constructor(clock: Clock, policy: PolicySource) {
    this.#clock = clock;
    this.#policy = policy;
    this.#effective = effectivePolicy(policy.current(), new Date(clock.now()));
    const now = clock.now();
    this.#buckets = new Map(BUCKETS.map((key) => [key, new TokenBucket({ rate: this.#effective.limits[key], now })]));
    this.#unsubscribe = policy.onChange(() => this.#recompute());
    this.#armEdge();
  }

  /** The policy applied now (for /policy and /info). */
  get effective(): EffectivePolicy {
    return this.#effective;
  }

  /** Whether jobs of this priority are held now (a limit of 0 on their level or on background). */
  held(priority: Priority): boolean {
    return keysFor(priority).some((key) => this.#effective.limits[key] === 0);
  }

  /** Calls `listener` after every change of limits (a reload, a schedule edge). */
  onLimitsChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The pacer of a job of this priority. */
  pacerFor(priority: Priority): Pacer {
    const buckets = keysFor(priority).map((key) => this.#buckets.get(key) as TokenBucket);
    return {
      acquire: (bytes, signal) => (buckets.every((b) => b.rate === null) ? undefined : this.#acquire(buckets, bytes, signal)),
      limit: () => lowest(buckets),
    };
  }

  stop(): void {
    this.#edge?.cancel();
    this.#unsubscribe();
    for (const wake of this.#changed) wake();
  }

  async #acquire(buckets: readonly TokenBucket[], bytes: number, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    // Reserve in every bucket that can give now; a held bucket (rate 0) reserves nothing and is
    // asked again once the limits change. A reservation waits for its own place in line (its
    // ticket), not for reservations made after it: jobs sharing a bucket take turns.
    const tickets = new Map<TokenBucket, number>();
    for (;;) {
      const now = this.#clock.now();
      let waitMs = 0;
      let held = false;
      for (const bucket of buckets) {
        if (bucket.rate === 0) {
          held = true;
          continue;
        }
        if (!tickets.has(bucket)) {
          if (bucket.take(bytes, now) === 'hold') {
            held = true;
            continue;
          }
          tickets.set(bucket, this.#reserve(bucket, bytes));
        }
        waitMs = Math.max(waitMs, this.#ticketWaitMs(bucket, tickets.get(bucket) as number, now));
      }
      if (!held && waitMs === 0) return;
      await this.#sleep(held ? Number.POSITIVE_INFINITY : Math.min(waitMs, WAIT_SLICE_MS), signal);
    }
  }

  /** Counts a reservation; returns its ticket (the bucket's reserved total including it). */
  #reserve(bucket: TokenBucket, bytes: number): number {
    const total = (this.#reservedTotal.get(bucket) ?? 0) + bytes;
    this.#reservedTotal.set(bucket, total);
    return total;
  }

  /**
   * How long until the reservation with this ticket is paid: the bucket's debt less what was
   * reserved after it (0 when paid, or when the bucket is unlimited now).
   */
  #ticketWaitMs(bucket: TokenBucket, ticket: number, now: number): number {
    const rate = bucket.rate;
    if (rate === null || rate === 0) return 0;
    const later = (this.#reservedTotal.get(bucket) ?? 0) - ticket;
    const mine = -bucket.tokens(now) - later;
    return mine <= 0 ? 0 : Math.ceil((mine * 1000) / rate);
  }

  /** Sleeps `ms` (Infinity: until the limits change), waking early on a change or an abort. */
  #sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      let timer: Timer | null = null;
      const done = (): void => {
        timer?.cancel();
        this.#changed.delete(wake);
        signal.removeEventListener('abort', onAbort);
      };
      const wake = (): void => {
        done();
        resolve();
      };
      const onAbort = (): void => {
        done();
        reject(signal.reason);
      };
      if (Number.isFinite(ms)) timer = this.#clock.at(this.#clock.now() + ms, wake);
      this.#changed.add(wake);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  #recompute(): void {
    const now = this.#clock.now();
    this.#effective = effectivePolicy(this.#policy.current(), new Date(now));
    for (const key of BUCKETS) {
      const bucket = this.#buckets.get(key) as TokenBucket;
      const rate = this.#effective.limits[key];
      if (bucket.rate !== rate) bucket.reconfigure(rate, now);
    }
    for (const wake of [...this.#changed]) wake();
    this.#armEdge();
    for (const listener of [...this.#listeners]) listener();
  }

  #armEdge(): void {
    this.#edge?.cancel();
    const next = this.#effective.nextChangeAt;
    this.#edge = next === null ? null : this.#clock.at(next.getTime(), () => this.#recompute());
  }
}


/** The limits a job of this priority draws from. */
function keysFor(priority: Priority): readonly LimitKey[] {
  if (priority === 'FOREGROUND') return ['foreground'];
  return [priority === 'HIGH' ? 'high' : priority === 'NORMAL' ? 'normal' : 'low', 'background'];
}

function lowest(buckets: readonly TokenBucket[]): number | null {
  let limit: number | null = null;
  for (const b of buckets) if (b.rate !== null) limit = limit === null ? b.rate : Math.min(limit, b.rate);
  return limit;
}
