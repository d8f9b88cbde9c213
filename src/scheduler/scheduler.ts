/**
 * Which job runs next, and when to look again.
 *
 * - Priority: FOREGROUND jobs all run at once (up to `maxForeground`); beside them at most
 *   `maxBackground` (default 1) jobs of HIGH, NORMAL or LOW run. A higher background level
 *   preempts a lower one: the lower job goes back to QUEUED, keeping its place in line.
 * - Round robin: a background job that has used its time slice while another job of its level
 *   waits goes back to the end of its level's line.
 * - Timers: one clock timer for the earliest persisted due time (retry delay, Cancel-Session
 *   retry), found with indexed MIN() queries (the 90-day inactivity cancel is the queue's hourly
 *   sweep). No loop scans the jobs; the
 *   scheduler sleeps until that time or until `wake()` (every API call that can free or create
 *   work calls it).
 * - Per running job: its AbortController, its time-slice timer and its MaxDownloadTime timer.
 * - The bandwidth policy can hold a level (a limit of 0): its jobs are not dispatched, and
 *   releaseHeld() sends running ones back to QUEUED, so they wait without errors or retries.
 */
import type { Clock, Timer } from '../shared/clock.js';

/** What the scheduler needs from the queue; the queue applies the transitions. */
export interface SchedulerHost {
  /** Persisted due times. */
  earliestDue(): number | null;
  /** Fires the persisted timers that are due (retries, no-progress expiry, cancels, inactivity). */
  fireDue(now: number): void;
  /** Queued job ids of a level (0 FOREGROUND .. 3 LOW), in line order. */
  queued(priority: number, limit: number): string[];
  /**
   * QUEUED -> CONNECTING and start the job. Returns what the scheduler must track; 'blocked' when
   * the network keeps the job from transferring (it left the line; the next job may go); null
   * when the job could not start (it changed meanwhile).
   */
  dispatch(jobId: string): { priority: number; maxActiveMs: number | null } | 'blocked' | null;
  /** Runs the dispatched job until it stops; must never reject. */
  run(jobId: string, signal: AbortSignal): Promise<void>;
  /** TRANSFERRING -> QUEUED; `toBack` moves it to the end of its level's line (round robin). */
  preempt(jobId: string, toBack: boolean): void;
  /** MaxDownloadTime exceeded. */
  maxTimeExceeded(jobId: string): void;
  /** Whether the bandwidth policy holds this level now (a limit of 0): its jobs wait queued. */
  held(priority: number): boolean;
}

export interface SchedulerOptions {
  readonly maxBackground: number;
  readonly maxForeground: number;
  readonly timeSliceMs: number;
}

interface Running {
  readonly priority: number;
  readonly startedAt: number;
  readonly controller: AbortController;
  readonly done: Promise<void>;
  sliceTimer: Timer | null;
  maxTimer: Timer | null;
}

const FOREGROUND = 0;

export class Scheduler {
  readonly #host: SchedulerHost;
  readonly #clock: Clock;
  readonly #options: SchedulerOptions;
  readonly #running = new Map<string, Running>();
  /** Jobs taken off a slot whose transfer is still winding down: not dispatched again until it has. */
  readonly #stopping = new Map<string, Promise<void>>();
  #timer: Timer | null = null;
  #timerAt: number | null = null;
  /**
   * Persisted timers are fired (a handful of queries) only when something is due: at start
   * (overdue work from before a restart), when the clock timer fires, or when a change made
   * something due at once (a Cancel-Session owed now). Every transition that arms a timer wakes the
   * scheduler, whose pass re-arms the clock timer for the earliest due time.
   */
  #dueCheck = true;
  #scheduled = false;
  #stopped = false;

  constructor(host: SchedulerHost, clock: Clock, options: SchedulerOptions) {
    this.#host = host;
    this.#clock = clock;
    this.#options = options;
  }

  /**
   * Looks for work soon. Coalesced on the next macrotask: a caller creating and resuming jobs in a
   * loop of awaited calls (which settle in microtasks) gets one pass for the whole burst, not two
   * passes of a dozen queries per job.
   */
  wake(): void {
    if (this.#scheduled || this.#stopped) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      if (!this.#stopped) this.#pass();
    });
  }

  isRunning(jobId: string): boolean {
    return this.#running.has(jobId);
  }

  /** Resolves once the job's transfer (if any) has stopped. */
  async whenStopped(jobId: string): Promise<void> {
    await (this.#running.get(jobId)?.done ?? this.#stopping.get(jobId));
  }

  get runningCount(): number {
    return this.#running.size;
  }

  /** Stops the job's transfer (suspend, cancel, complete, preemption). */
  abort(jobId: string): void {
    this.#running.get(jobId)?.controller.abort();
  }

  /** Stops taking work, aborts every transfer and waits for them to settle. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#timer?.cancel();
    this.#timer = null;
    const pending = [...this.#running.values()];
    for (const r of pending) r.controller.abort();
    await Promise.all(pending.map((r) => r.done));
    // Transfers taken off their slot earlier settle on their own; give them the same chance.
    while (this.#stopping.size > 0) await new Promise((resolve) => setImmediate(resolve));
  }

  #pass(): void {
    const now = this.#clock.now();
    const due = this.#dueCheck ? now : this.#host.earliestDue();
    if (due !== null && due <= now) {
      this.#dueCheck = false;
      this.#host.fireDue(now);
    }
    this.#dispatchForeground();
    this.#dispatchBackground();
    this.#armTimer();
  }

  /**
   * The policy changed: jobs of a level it now holds (a limit of 0) go back to QUEUED, keeping
   * their place, and wait there without an error until the limit lifts.
   */
  releaseHeld(): void {
    for (const [id, r] of [...this.#running]) {
      if (!this.#host.held(r.priority)) continue;
      this.#host.preempt(id, false);
      this.abort(id);
      this.#forget(id, true);
    }
    this.wake();
  }

  #dispatchForeground(): void {
    if (this.#host.held(FOREGROUND)) return;
    let running = this.#countAt((p) => p === FOREGROUND);
    while (running < this.#options.maxForeground) {
      const ids = this.#host.queued(FOREGROUND, Math.min(64, this.#options.maxForeground - running));
      if (ids.length === 0) return;
      let started = 0;
      let blocked = 0;
      for (const id of ids) {
        const outcome = this.#start(id);
        if (outcome === 'started') started++;
        else if (outcome === 'blocked') blocked++;
      }
      if (started === 0 && blocked === 0) return;
      running += started;
    }
  }

  #dispatchBackground(): void {
    for (let guard = 0; guard < 1000; guard++) {
      const next = this.#nextBackgroundCandidate();
      if (!next) return;
      const running = this.#countAt((p) => p !== FOREGROUND);
      if (running < this.#options.maxBackground) {
        // A blocked job left the line: look at the next one.
        if (this.#start(next.id) === 'failed') return;
        continue;
      }
      // No free slot: preempt the lowest-priority background job if the candidate outranks it.
      const victim = this.#lowestBackground();
      if (!victim || victim.priority <= next.priority) return;
      this.#host.preempt(victim.id, false);
      this.abort(victim.id);
      this.#forget(victim.id, true);
    }
  }

  #nextBackgroundCandidate(): { id: string; priority: number } | undefined {
    for (let priority = 1; priority <= 3; priority++) {
      if (this.#host.held(priority)) continue;
      const [id] = this.#host.queued(priority, 1);
      if (id !== undefined) return { id, priority };
    }
    return undefined;
  }

  #lowestBackground(): { id: string; priority: number } | undefined {
    let lowest: { id: string; priority: number; startedAt: number } | undefined;
    for (const [id, r] of this.#running) {
      if (r.priority === FOREGROUND) continue;
      if (!lowest || r.priority > lowest.priority || (r.priority === lowest.priority && r.startedAt > lowest.startedAt)) {
        lowest = { id, priority: r.priority, startedAt: r.startedAt };
      }
    }
    return lowest;
  }

  #countAt(match: (priority: number) => boolean): number {
    let n = 0;
    for (const r of this.#running.values()) if (match(r.priority)) n++;
    return n;
  }

  #start(jobId: string): 'started' | 'blocked' | 'failed' {
    if (this.#running.has(jobId) || this.#stopping.has(jobId)) return 'failed';
    const started = this.#host.dispatch(jobId);
    if (started === 'blocked') return 'blocked';
    if (!started) return 'failed';
    const controller = new AbortController();
    const now = this.#clock.now();
    const entry: Running = {
      priority: started.priority,
      startedAt: now,
      controller,
      done: Promise.resolve(),
      sliceTimer: null,
      maxTimer: null,
    };
    if (started.priority !== FOREGROUND) entry.sliceTimer = this.#armSlice(jobId, started.priority);
    if (started.maxActiveMs !== null) {
      entry.maxTimer = this.#clock.at(now + Math.max(0, started.maxActiveMs), () => {
        if (this.#running.get(jobId) === entry) this.#host.maxTimeExceeded(jobId);
      });
    }
    this.#running.set(jobId, entry);
    (entry as { done: Promise<void> }).done = this.#host.run(jobId, controller.signal).finally(() => {
      if (this.#running.get(jobId) === entry) this.#forget(jobId);
      else this.#stopping.delete(jobId);
      this.wake();
    });
    return 'started';
  }

  #armSlice(jobId: string, priority: number): Timer {
    return this.#clock.at(this.#clock.now() + this.#options.timeSliceMs, () => {
      const entry = this.#running.get(jobId);
      if (!entry) return;
      if (this.#host.queued(priority, 1).length > 0) {
        this.#host.preempt(jobId, true);
        this.abort(jobId);
        this.#forget(jobId, true);
        this.wake();
      } else {
        entry.sliceTimer = this.#armSlice(jobId, priority);
      }
    });
  }

  /** Frees the job's slot; if its transfer is still running it is remembered as stopping. */
  #forget(jobId: string, stillRunning = false): void {
    const entry = this.#running.get(jobId);
    if (!entry) return;
    entry.sliceTimer?.cancel();
    entry.maxTimer?.cancel();
    this.#running.delete(jobId);
    if (stillRunning) this.#stopping.set(jobId, entry.done);
  }

  #armTimer(): void {
    const due = this.#host.earliestDue();
    if (due === this.#timerAt && this.#timer) return;
    this.#timer?.cancel();
    this.#timer = null;
    this.#timerAt = due;
    if (due === null) return;
    this.#timer = this.#clock.at(due, () => {
      this.#timer = null;
      this.#timerAt = null;
      this.#dueCheck = true;
      this.wake();
    });
  }
}
