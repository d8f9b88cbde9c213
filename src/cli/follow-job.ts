/**
 * /transfer's wait for the end of its job, on the job's events (no polling): watch() snapshots
 * drive the progress display and the "Waiting: ..." lines until the job reaches TRANSFERRED or
 * ERROR, leaves the queue, or Ctrl-C. A watch also ends when the job rests SUSPENDED (another
 * client suspended it): /transfer does not end then, it waits for the job's next change and
 * watches again. The only timers are one-shot: a held progress line or a slot wait coming due.
 */
import type { BackgroundCopyJob, WatchEvent } from '../api/types.js';
import type { JobType, WaitingStatus } from '../job/types.js';
import type { Changes } from './changes.js';
import { waitingText } from './format.js';
import type { ProgressReporter, ProgressView } from './progress.js';
import { isCode, progressJson, waitingJson } from './snapshot.js';

/** A wait for a transfer slot is told only once it lasts this long (every job is QUEUED for a moment before it starts). */
export const SLOT_NOTE_DELAY_MS = 250;

export type Ending = { kind: 'transferred' | 'error'; view: ProgressView } | { kind: 'interrupted' | 'gone'; view: ProgressView | null };

export interface FollowOptions {
  readonly job: BackgroundCopyJob;
  readonly type: JobType;
  readonly signal: AbortSignal | undefined;
  readonly reporter: ProgressReporter | null;
  /** Subscribes to the job's changes; called the first time the job rests short of its end. */
  readonly changes: () => Changes;
  readonly now?: () => number;
}

export async function followJob(o: FollowOptions): Promise<Ending> {
  const now = o.now ?? Date.now;
  const waiting = new WaitingNotes(o.type, now);
  const due = new DueNotes(waiting, o.reporter);
  let last: ProgressView | null = null;
  let changes: Changes | null = null;
  try {
    for (;;) {
      if (o.signal?.aborted) return { kind: 'interrupted', view: last };
      const seen = changes?.count ?? 0;
      const watch = o.job.watch(o.signal ? { signal: o.signal } : {});
      try {
        for (;;) {
          const next = await nextSnapshot(watch, due);
          if (next.done) break;
          const ev: WatchEvent = next.value;
          const view: ProgressView = { state: ev.state, progress: progressJson(ev.progress) };
          last = view;
          if (view.state === 'TRANSFERRED') return { kind: 'transferred', view };
          if (view.state === 'ERROR') return { kind: 'error', view };
          if (view.state === 'CANCELLED' || view.state === 'ACKNOWLEDGED') return { kind: 'gone', view };
          o.reporter?.update(view);
          // BITS goes on by itself (a retry, the network back): say why it waits, each time that changes.
          const note = waiting.next(ev.waiting);
          if (note !== null) o.reporter?.note(note);
        }
      } catch (err) {
        if (o.signal?.aborted) return { kind: 'interrupted', view: last };
        if (isCode(err, 'BG_E_NOT_FOUND')) return { kind: 'gone', view: last };
        throw err;
      } finally {
        await watch.return?.();
      }
      if (o.signal?.aborted) return { kind: 'interrupted', view: last };
      // The job rests short of its end (SUSPENDED). Listen first, then look again with a new
      // watch, so a change between the two is not lost; after that, each new watch waits for a
      // change the previous one did not see.
      if (changes === null) {
        changes = o.changes();
        continue;
      }
      if (!(await changes.after(seen, o.signal))) return { kind: 'interrupted', view: last };
    }
  } finally {
    changes?.close();
  }
}

/** The next snapshot; the held notes that come due meanwhile are printed on time. */
async function nextSnapshot(watch: AsyncIterator<WatchEvent>, due: DueNotes): Promise<IteratorResult<WatchEvent>> {
  const next = watch.next();
  for (let ms = due.dueIn(); ms !== null; ms = due.dueIn()) {
    if (await settlesWithin(next, ms)) break;
    due.fire();
  }
  return next;
}

/** True if `p` settles (either way) within `ms`; the timer is cleared either way. */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([p.then(() => true, () => true), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** What is held back until it is due: a slot wait's note, and a rate-limited progress line. */
class DueNotes {
  readonly #waiting: WaitingNotes;
  readonly #reporter: ProgressReporter | null;

  constructor(waiting: WaitingNotes, reporter: ProgressReporter | null) {
    this.#waiting = waiting;
    this.#reporter = reporter;
  }

  dueIn(): number | null {
    const times = [this.#waiting.dueIn(), this.#reporter?.dueIn() ?? null].filter((t): t is number => t !== null);
    return times.length === 0 ? null : Math.min(...times);
  }

  fire(): void {
    this.#reporter?.flushDue();
    const note = this.#waiting.releaseDue();
    if (note !== null) this.#reporter?.note(note);
  }
}

/**
 * The "Waiting: ..." lines of /transfer: one when the reason (or its since/until) changes. A wait
 * for a transfer slot is told only once it has lasted SLOT_NOTE_DELAY_MS.
 */
export class WaitingNotes {
  readonly #type: JobType;
  readonly #now: () => number;
  #told: string | null = null;
  #held: { key: string; text: string; at: number } | null = null;

  constructor(type: JobType, now: () => number = Date.now) {
    this.#type = type;
    this.#now = now;
  }

  /** The line to print for this snapshot's wait, or null. */
  next(status: WaitingStatus | null): string | null {
    if (status === null) {
      this.#told = null;
      this.#held = null;
      return null;
    }
    const w = waitingJson(status);
    const key = `${w.reason}|${w.since}|${w.until}`;
    if (key === this.#told) return null;
    const text = `Waiting: ${waitingText(w, this.#type)}`;
    if (w.reason === 'BACKGROUND_SLOT' || w.reason === 'FOREGROUND_SLOT') {
      // The text is the newest (its count of jobs ahead), the time the first sight of this wait.
      this.#held = { key, text, at: this.#held?.key === key ? this.#held.at : this.#now() };
      return this.releaseDue();
    }
    this.#held = null;
    this.#told = key;
    return text;
  }

  /** Milliseconds until a held slot wait is due (0: now), or null when none is held. */
  dueIn(): number | null {
    return this.#held === null ? null : Math.max(0, this.#held.at + SLOT_NOTE_DELAY_MS - this.#now());
  }

  /** The held slot wait's line once it has lasted long enough (then it counts as told), or null. */
  releaseDue(): string | null {
    const held = this.#held;
    if (held === null || this.#now() - held.at < SLOT_NOTE_DELAY_MS) return null;
    this.#held = null;
    this.#told = held.key;
    return held.text;
  }
}
