/**
 * Time, injected. Every timestamp bitsd writes and every timer it arms goes through a Clock, so
 * tests can run a 14-day no-progress timeout or a 90-day expiry in milliseconds (FakeClock).
 */

export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `fn` once `now() >= at`. Timers far in the future are fine (no 24.8-day limit). */
  at(at: number, fn: () => void): Timer;
}

/** setTimeout accepts at most 2^31-1 ms; longer waits are chained. */
const MAX_TIMEOUT = 0x7fffffff;

export const systemClock: Clock = {
  now: () => Date.now(),
  at(at, fn) {
    let handle: NodeJS.Timeout | undefined;
    let cancelled = false;
    const arm = (): void => {
      if (cancelled) return;
      const delay = at - Date.now();
      if (delay <= 0) {
        fn();
        return;
      }
      handle = setTimeout(arm, Math.min(delay, MAX_TIMEOUT));
      // A timer must never keep the process alive on its own: the daemon stays up through its socket.
      handle.unref();
    };
    handle = setTimeout(arm, Math.max(0, Math.min(at - Date.now(), MAX_TIMEOUT)));
    handle.unref();
    return {
      cancel() {
        cancelled = true;
        if (handle) clearTimeout(handle);
      },
    };
  },
};

interface FakeTimer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * A clock that only moves when told to. `advance(ms)` moves time forward step by step, firing due
 * timers in order and letting promise chains they start settle before the next one fires.
 */
export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: FakeTimer[] = [];

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  at(at: number, fn: () => void): Timer {
    const timer: FakeTimer = { at, seq: this.#seq++, fn, cancelled: false };
    this.#timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }

  /** Number of armed, uncancelled timers (for leak checks in tests). */
  get pending(): number {
    return this.#timers.filter((t) => !t.cancelled).length;
  }

  /** The earliest armed timer's due time, if any. */
  nextDue(): number | undefined {
    const live = this.#timers.filter((t) => !t.cancelled);
    if (live.length === 0) return undefined;
    return Math.min(...live.map((t) => t.at));
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way, in order. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    for (;;) {
      await settle();
      const next = this.#takeDue(target);
      if (!next) break;
      this.#now = Math.max(this.#now, next.at);
      next.fn();
    }
    this.#now = target;
    await settle();
  }

  /** Sets the time without firing anything (a wall-clock jump). */
  set(now: number): void {
    this.#now = now;
  }

  #takeDue(limit: number): FakeTimer | undefined {
    this.#timers = this.#timers.filter((t) => !t.cancelled);
    let best: FakeTimer | undefined;
    for (const t of this.#timers) {
      if (t.at > limit) continue;
      if (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    }
    if (best) best.cancelled = true;
    return best;
  }
}

/** Lets pending promise callbacks and I/O callbacks run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
