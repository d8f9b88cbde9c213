/**
 * At open and then every hour: forgets final jobs past their retention, and cancels jobs with no
 * progress or change for 90 days (BITS_MC_JOB_SCAVENGED). An hourly scan rather than a timer on
 * an index: such an index is rewritten by almost every write (migration 0002), and an hour late
 * is nothing against 90 days.
 */
import type { Clock, Timer } from '../shared/clock.js';

const SWEEP_INTERVAL_MS = 3600_000;

export interface SweeperDeps {
  readonly clock: Clock;
  readonly finalRetentionMs: number;
  readonly inactivityTimeoutMs: number;
  readonly purgeFinalJobs: (endedBefore: number) => void;
  readonly inactiveJobs: (modifiedAtOrBefore: number) => string[];
  readonly expire: (jobId: string) => void;
}

export class Sweeper {
  readonly #deps: SweeperDeps;
  #timer: Timer | null = null;

  constructor(deps: SweeperDeps) {
    this.#deps = deps;
  }

  start(): void {
    const { clock, finalRetentionMs, inactivityTimeoutMs } = this.#deps;
    const now = clock.now();
    this.#deps.purgeFinalJobs(now - finalRetentionMs);
    for (const id of this.#deps.inactiveJobs(now - inactivityTimeoutMs)) this.#deps.expire(id);
    this.#timer = clock.at(now + SWEEP_INTERVAL_MS, () => this.start());
  }

  stop(): void {
    this.#timer?.cancel();
  }
}
