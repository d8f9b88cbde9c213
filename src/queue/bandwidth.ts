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
 *
 * With `yield` on (the default), background transfers also draw from a yield bucket whose limit
 * the YieldMonitor sets from the other traffic on the link (yield-monitor.ts, policy/yield.ts).
 */
import type { Clock, Timer } from '../shared/clock.js';
import type { LimitSource, Priority, WaitingStatus } from '../job/types.js';
import { effectivePolicy, type EffectivePolicy, heldUntil, type LimitKey, type PolicySource, TokenBucket } from '../policy/index.js';
import type { Pacer } from '../engine/types.js';
import type { LinkProbe } from '../shared/net-counters.js';
import { YieldMonitor } from './yield-monitor.js';

/** Background transfers count as running this long after their last read. */
const ACTIVE_MS = 1000;
/** A paced download asks for this many seconds of its pace per request, and at least MIN_REQUEST. */
const REQUEST_SECONDS = 0.25;
const MIN_REQUEST = 256 * 1024;
/** ... and this much while the link's capacity is not known yet. */
const UNKNOWN_LINK_REQUEST = 8 * 1024 * 1024;

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

  /** Drawn by every background transfer: the limit yielding to other traffic imposes. */
  readonly #yieldBucket: TokenBucket;
  readonly #monitor: YieldMonitor | null;
  /** Bytes every transfer moved since the monitor last asked (other traffic is the rest). */
  #ownBytes = 0;
  /** Bytes bounded download requests asked for since the monitor last asked. */
  #requestedBytes = 0;
  #background = { at: Number.NEGATIVE_INFINITY, loopback: false, other: false };
  /** Background acquires waiting now (their transfers run, though they read nothing meanwhile). */
  #backgroundWaiting = 0;

  /** `link`: what the link carries (/proc in the daemon); without it nothing yields. */
  constructor(clock: Clock, policy: PolicySource, link?: LinkProbe) {
    this.#clock = clock;
    this.#policy = policy;
    this.#effective = effectivePolicy(policy.current(), new Date(clock.now()));
    const now = clock.now();
    this.#buckets = new Map(BUCKETS.map((key) => [key, new TokenBucket({ rate: this.#effective.limits[key], now })]));
    this.#yieldBucket = new TokenBucket({ rate: null, now });
    this.#monitor = link
      ? new YieldMonitor({
          clock,
          link,
          takeOwnBytes: () => this.#takeOwnBytes(),
          watching: () => this.#watching(),
          apply: (limit) => this.#applyYield(limit),
        })
      : null;
    this.#unsubscribe = policy.onChange(() => this.#recompute());
    this.#armEdge();
  }

  /** The policy applied now. */
  get effective(): EffectivePolicy {
    return this.#effective;
  }

  /** Whether jobs of this priority are held now (a limit of 0 on their level or on background). */
  held(priority: Priority): boolean {
    return keysFor(priority).some((key) => this.#effective.limits[key] === 0);
  }

  /** The lowest limit on a running job of this priority now, and what sets it; null: none. */
  limitOn(priority: Priority): { bytesPerSecond: number; by: LimitSource } | null {
    let lowest: { bytesPerSecond: number; by: LimitSource } | null = null;
    for (const key of keysFor(priority)) {
      const rate = this.#effective.limits[key];
      if (rate !== null && (lowest === null || rate < lowest.bytesPerSecond)) lowest = { bytesPerSecond: rate, by: key };
    }
    const yielded = priority === 'FOREGROUND' ? null : this.#yieldBucket.rate;
    if (yielded !== null && (lowest === null || yielded < lowest.bytesPerSecond)) lowest = { bytesPerSecond: yielded, by: 'yield' };
    return lowest;
  }

  /** What holds jobs of this priority now (a limit of 0) and until when; null when nothing does. */
  holdOf(priority: Priority): WaitingStatus | null {
    if (!this.held(priority)) return null;
    const hold = heldUntil(this.#policy.current(), keysFor(priority), new Date(this.#clock.now()));
    return hold === null ? null : { reason: 'BANDWIDTH_POLICY', since: null, by: hold.by, until: hold.until };
  }

  /** Calls `listener` after every change of limits (a reload, a schedule edge). */
  onLimitsChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The pacer of a job of this priority whose server is (or is not) on loopback. */
  pacerFor(priority: Priority, loopback = false): Pacer {
    const background = priority !== 'FOREGROUND';
    const buckets = keysFor(priority).map((key) => this.#buckets.get(key) as TokenBucket);
    if (background) buckets.push(this.#yieldBucket);
    return {
      acquire: (bytes, signal) => {
        this.#ownBytes += bytes;
        if (background) this.#backgroundRead(loopback);
        if (buckets.every((b) => b.rate === null)) return undefined;
        const wait = this.#acquire(buckets, bytes, signal);
        if (!background) return wait;
        // A transfer waiting on its limit is still running: the link stays watched meanwhile, or
        // a wait longer than ACTIVE_MS (a large read at the floor) would lift the limit it waits on.
        this.#backgroundWaiting++;
        return wait.finally(() => {
          this.#backgroundWaiting--;
          this.#background.at = this.#clock.now();
        });
      },
      limit: () => lowest(buckets),
      requestSize: () => this.#requestSize(buckets, background),
      requested: (bytes) => {
        this.#requestedBytes += bytes;
      },
    };
  }

  /**
   * A quarter second of the job's pace, at least 256 KiB: the limit, or for a background job
   * that yields, the link's capacity. Null when nothing paces the job.
   */
  #requestSize(buckets: readonly TokenBucket[], background: boolean): number | null {
    const limit = lowest(buckets);
    if (limit !== null) return Math.max(MIN_REQUEST, Math.floor(limit * REQUEST_SECONDS));
    if (!background || !this.#effective.yield || this.#monitor === null) return null;
    const capacity = this.#monitor.state.capacity;
    return capacity > 0 ? Math.max(MIN_REQUEST, Math.floor(capacity * REQUEST_SECONDS)) : UNKNOWN_LINK_REQUEST;
  }

  stop(): void {
    this.#monitor?.stop();
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

  #backgroundRead(loopback: boolean): void {
    // Only yielding needs to know: nothing is tracked per read without it.
    if (this.#monitor === null || !this.#effective.yield) return;
    const now = this.#clock.now();
    if (now - this.#background.at > ACTIVE_MS) this.#background = { at: now, loopback: false, other: false };
    this.#background.at = now;
    if (loopback) this.#background.loopback = true;
    else this.#background.other = true;
    this.#monitor?.poke();
  }

  #watching(): { loopback: boolean; other: boolean } | null {
    if (!this.#effective.yield) return null;
    if (this.#backgroundWaiting === 0 && this.#clock.now() - this.#background.at > ACTIVE_MS) return null;
    return { loopback: this.#background.loopback, other: this.#background.other };
  }

  #takeOwnBytes(): { read: number; requested: number } {
    const taken = { read: this.#ownBytes, requested: this.#requestedBytes };
    this.#ownBytes = 0;
    this.#requestedBytes = 0;
    return taken;
  }

  #applyYield(limit: number | null): void {
    if (this.#yieldBucket.rate === limit) return;
    this.#yieldBucket.reconfigure(limit, this.#clock.now());
    for (const wake of [...this.#changed]) wake();
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
    this.#monitor?.poke();
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
