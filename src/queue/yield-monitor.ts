/**
 * Watches the link while background transfers run and tells the limiter how much of it they may
 * use (the pure rule is src/policy/yield.ts). Every SAMPLE_MS it reads the interface counters
 * (passed in: /proc/net/dev in the daemon) and the bytes bitsd itself moved: what its transfers
 * read, plus what waits unread in its sockets (the kernel accepts far more than bitsd reads while
 * paced: tcp_rmem grows to tens of MB), and feeds both to nextYield(). It samples only while a background job transfers and yield is on; with nothing to
 * watch it reads nothing.
 *
 * Which interfaces: loopback when the transfers' servers are on loopback, every other interface
 * otherwise (both when both). bitsd does not look up the route to each server: on a machine with
 * two active links, traffic on the one bitsd does not use also makes it yield.
 */
import type { Clock, Timer } from '../shared/clock.js';
import type { LinkProbe } from '../shared/net-counters.js';
import { nextYield, YIELD_START, type YieldState } from '../policy/index.js';

const SAMPLE_MS = 100;
/**
 * Samples judged together: a paced download's bytes arrive in bursts (a request's worth at link
 * speed, then read slowly), so one sample's excess says little; half a second's worth says a lot.
 */
const WINDOW_SAMPLES = 5;


export interface YieldMonitorDeps {
  readonly clock: Clock;
  /** The interfaces' counters, and bitsd's own socket queues (bytes that crossed the link unread). */
  readonly link: LinkProbe;
  /**
   * Bytes bitsd's transfers read since the last call (all priorities), and what its bounded
   * download requests asked for (bytes that arrive at link speed, then are read slowly).
   */
  readonly takeOwnBytes: () => { read: number; requested: number };
  /** Whether to watch now: a background job transfers and the policy says yield. */
  readonly watching: () => { readonly loopback: boolean; readonly other: boolean } | null;
  /** The background limit yielding imposes now (bytes/s), or null. */
  readonly apply: (limit: number | null) => void;
}

export class YieldMonitor {
  readonly #deps: YieldMonitorDeps;
  #state: YieldState = YIELD_START;
  #last: { at: number; bytes: Map<string, number>; queued: number } | null = null;
  #window: Array<{ intervalMs: number; linkBytes: number; ownBytes: number; requested: number }> = [];
  #timer: Timer | null = null;
  #stopped = false;

  constructor(deps: YieldMonitorDeps) {
    this.#deps = deps;
  }

  get state(): YieldState {
    return this.#state;
  }

  /** Something changed (a transfer started or stopped, a reload): sample if there is reason to. */
  poke(): void {
    if (this.#timer !== null || this.#stopped) return;
    if (this.#deps.watching() === null) {
      this.#reset();
      return;
    }
    this.#timer = this.#deps.clock.at(this.#deps.clock.now() + SAMPLE_MS, () => {
      this.#timer = null;
      void this.#sample().finally(() => this.poke());
    });
  }

  stop(): void {
    this.#stopped = true;
    this.#timer?.cancel();
    this.#timer = null;
  }

  async #sample(): Promise<void> {
    const watch = this.#deps.watching();
    const counters = watch === null ? null : await this.#deps.link.interfaces();
    const queues = watch === null ? null : await this.#deps.link.ownQueues();
    const { read, requested } = this.#deps.takeOwnBytes();
    if (watch === null || counters === null || this.#stopped) {
      this.#reset();
      return;
    }
    const now = this.#deps.clock.now();
    const bytes = new Map<string, number>();
    for (const c of counters) {
      const loopback = c.name === 'lo';
      if ((loopback && watch.loopback) || (!loopback && watch.other)) bytes.set(c.name, Math.max(c.rx, c.tx));
    }
    // Received but unread bytes crossed the link as ours; written but unsent ones did not yet.
    const queued = queues === null ? 0 : queues.rx - queues.tx;
    const last = this.#last;
    this.#last = { at: now, bytes, queued };
    if (last === null) return;
    const own = Math.max(0, read + queued - last.queued);
    let linkBytes = 0;
    for (const [name, value] of bytes) {
      const before = last.bytes.get(name);
      // A counter that went back (an interface reset) says nothing about this interval.
      if (before !== undefined && value >= before) linkBytes += value - before;
    }
    this.#window.push({ intervalMs: now - last.at, linkBytes, ownBytes: own, requested });
    if (this.#window.length > WINDOW_SAMPLES) this.#window.shift();
    // A part-filled window (just started watching) is one burst, not a judgement.
    if (this.#window.length < WINDOW_SAMPLES) return;
    const sum = this.#window.reduce(
      (a, w) => ({ intervalMs: a.intervalMs + w.intervalMs, linkBytes: a.linkBytes + w.linkBytes, ownBytes: a.ownBytes + w.ownBytes, requested: a.requested + w.requested }),
      { intervalMs: 0, linkBytes: 0, ownBytes: 0, requested: 0 },
    );
    // Over the window, bitsd's traffic is what it read or what it asked for, whichever is more.
    this.#state = nextYield(this.#state, { intervalMs: sum.intervalMs, linkBytes: sum.linkBytes, ownBytes: Math.max(sum.ownBytes, sum.requested) });
    this.#deps.apply(this.#state.limit);
  }

  #reset(): void {
    this.#last = null;
    this.#window = [];
    if (this.#state.limit !== null) this.#deps.apply(null);
    // The capacity learnt is kept: the link did not change because bitsd stopped watching it.
    this.#state = { ...this.#state, limit: null, other: 0 };
  }
}
