/**
 * Yielding: how much of the link background transfers may use, from what the link carries. Pure:
 * each sample (the bytes the link carried and the bytes bitsd itself moved over the last
 * interval) goes in, the background limit comes out.
 *
 * The signal is the traffic that is not bitsd's: the link's byte counters less bitsd's own bytes
 * (with an allowance for TCP/IP headers). Traffic clearly not bitsd's (four times the threshold)
 * sends the background limit straight to a floor of 2% of the link's capacity, at least
 * 16 KiB/s (BITS "still moves a small amount"); a smaller excess, once it shows in two samples
 * running (one alone may be bitsd's own bytes counted a moment before the link carried them),
 * quarters it every sample down to that floor. While the link is quiet, the limit grows by
 * half every sample and is lifted once it passes the link's capacity (the fastest total rate seen,
 * slowly forgotten), so an idle link is used in full within a couple of seconds.
 */

export interface YieldOptions {
  /** The limit never goes below this (bytes/s). Default 16 KiB/s. */
  readonly floor?: number;
  /** ... nor below this share of the link's capacity. Default 0.02. */
  readonly floorShare?: number;
  /** Other traffic below this rate (bytes/s) is noise (ARP, DNS, keep-alives). Default 32 KiB/s. */
  readonly noise?: number;
  /** Other traffic above this share of the capacity counts too. Default 0.05. */
  readonly share?: number;
  /** Header bytes on the wire per payload byte bitsd counts. Default 0.06. */
  readonly overhead?: number;
}

export interface YieldSample {
  /** The interval covered (ms). */
  readonly intervalMs: number;
  /** Bytes the link(s) bitsd uses carried in that interval (the busier direction). */
  readonly linkBytes: number;
  /** Payload bytes bitsd's own transfers moved in that interval (all priorities). */
  readonly ownBytes: number;
}

export interface YieldState {
  /** The background limit yielding imposes (bytes/s), or null: none. */
  readonly limit: number | null;
  /** The fastest total rate the link was seen to carry (bytes/s), slowly forgotten. */
  readonly capacity: number;
  /** The other traffic of the last sample (bytes/s). */
  readonly other: number;
}

export const YIELD_START: YieldState = { limit: null, capacity: 0, other: 0 };

/** Per sample, the capacity estimate keeps this much of itself (a link that got slower is noticed within minutes). */
const CAPACITY_KEEP = 0.995;
const BACK_OFF = 0.25;
/** Other traffic this many times the threshold is not our own bytes counted early: act at once. */
const CLEARLY = 4;
const GROW = 1.5;

export function nextYield(state: YieldState, sample: YieldSample, options: YieldOptions = {}): YieldState {
  const minimum = options.floor ?? 16 * 1024;
  const noise = options.noise ?? 32 * 1024;
  const share = options.share ?? 0.05;
  const overhead = options.overhead ?? 0.06;
  if (!(sample.intervalMs > 0)) return state;
  const seconds = sample.intervalMs / 1000;
  const total = Math.max(0, sample.linkBytes) / seconds;
  const own = Math.max(0, sample.ownBytes) / seconds;
  const capacity = Math.max(total, state.capacity * CAPACITY_KEEP);
  const floor = Math.max(minimum, Math.floor(capacity * (options.floorShare ?? 0.02)));
  const other = Math.max(0, total - own * (1 + overhead));
  const threshold = Math.max(noise, capacity * share);
  const busy = other > threshold && (state.other > threshold || other > CLEARLY * threshold);
  if (busy) {
    // Traffic that is clearly someone else's (a download beside ours) gets the link at once.
    if (other > CLEARLY * threshold) return { limit: floor, capacity, other };
    const from = state.limit ?? Math.max(own, floor);
    return { limit: Math.max(floor, Math.floor(from * BACK_OFF)), capacity, other };
  }
  if (state.limit === null) return { limit: null, capacity, other };
  const grown = Math.ceil(state.limit * GROW);
  return { limit: grown >= capacity ? null : grown, capacity, other };
}
