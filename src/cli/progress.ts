/**
 * /transfer's live progress: on a terminal one bar redrawn in place with \r; otherwise plain
 * lines, at most one a second plus one on every state change, so a log file stays readable. A
 * line held back by that limit is due a second after the last one (dueIn, flushDue): /transfer
 * follows events, and the next one may be long in coming.
 */
import type { JobState } from '../job/types.js';
import { formatSize } from './format.js';
import type { ProgressJson } from './snapshot.js';
import type { TextSink } from './types.js';

export interface ProgressView {
  readonly state: JobState;
  readonly progress: ProgressJson;
}

export function percent(p: ProgressJson): number | null {
  if (p.bytesTotal === null) return null;
  if (p.bytesTotal === 0) return p.filesTotal > 0 && p.filesTransferred === p.filesTotal ? 100 : 0;
  return Math.min(100, Math.floor((p.bytesTransferred * 100) / p.bytesTotal));
}

/** "STATE: TRANSFERRING FILES: 0 / 1 BYTES: 512 / 1024 (50%)": the plain progress line. */
export function progressLine(v: ProgressView): string {
  const p = v.progress;
  const pct = percent(p);
  return `STATE: ${v.state} FILES: ${p.filesTransferred} / ${p.filesTotal} BYTES: ${p.bytesTransferred} / ${formatSize(p.bytesTotal)}${pct === null ? '' : ` (${pct}%)`}`;
}

/** "[##########----------]  50% 512 / 1024 bytes TRANSFERRING", sized to the terminal. */
export function progressBar(v: ProgressView, columns: number): string {
  const p = v.progress;
  const pct = percent(p);
  const tail = ` ${pct === null ? ' ---' : `${String(pct).padStart(3)}%`} ${p.bytesTransferred} / ${formatSize(p.bytesTotal)} bytes ${v.state}`;
  // Sized for the longest tail this job can have, so the bar does not jump as the numbers grow.
  const total = formatSize(p.bytesTotal);
  const widest = ` 100% ${total} / ${total} bytes TRANSIENT_ERROR`.length;
  const width = Math.max(10, Math.min(40, columns - widest - 3));
  const filled = pct === null ? 0 : Math.round((pct * width) / 100);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]${tail}`;
}

/** Erases from the cursor to the end of the line (a shorter redraw leaves no debris). */
const ERASE_LINE_END = '\u001b[K';

/** Plain lines of the same state: at most one per this many ms. */
const LINE_INTERVAL_MS = 1000;

export class ProgressReporter {
  readonly #out: TextSink;
  readonly #tty: boolean;
  readonly #columns: number;
  readonly #now: () => number;
  #lastState: JobState | null = null;
  #lastText = '';
  #lastAt = Number.NEGATIVE_INFINITY;
  #barShown = false;
  /** A plain line the limit held back, printed when it is due unless a newer one replaces it. */
  #held: string | null = null;

  constructor(out: TextSink, options: { tty: boolean; columns?: number; now?: () => number }) {
    this.#out = out;
    this.#tty = options.tty;
    this.#columns = options.columns ?? 80;
    this.#now = options.now ?? Date.now;
  }

  update(view: ProgressView): void {
    const now = this.#now();
    const stateChanged = view.state !== this.#lastState;
    this.#lastState = view.state;
    if (this.#tty) {
      const bar = progressBar(view, this.#columns);
      if (bar === this.#lastText) return;
      this.#lastText = bar;
      this.#out.write(`\r${bar}${ERASE_LINE_END}`);
      this.#barShown = true;
      return;
    }
    const line = progressLine(view);
    this.#held = null;
    if (line === this.#lastText) return;
    if (!stateChanged && now - this.#lastAt < LINE_INTERVAL_MS) {
      this.#held = line;
      return;
    }
    this.#print(line, now);
  }

  /** Milliseconds until a held line is due (0: now), or null when none is held. */
  dueIn(): number | null {
    return this.#held === null ? null : Math.max(0, this.#lastAt + LINE_INTERVAL_MS - this.#now());
  }

  /** Prints the held line if it is due. */
  flushDue(): void {
    const now = this.#now();
    if (this.#held === null || now - this.#lastAt < LINE_INTERVAL_MS) return;
    this.#print(this.#held, now);
    this.#held = null;
  }

  #print(line: string, now: number): void {
    this.#lastText = line;
    this.#lastAt = now;
    this.#out.write(`${line}\n`);
  }

  /** A message between progress updates (a transient error): on a terminal it goes below the bar. */
  note(text: string): void {
    this.#endBar();
    this.#out.write(`${text}\n`);
  }

  /** Ends the bar's line before the final messages. */
  finish(last?: ProgressView): void {
    this.#held = null;
    if (last && !this.#tty) {
      // The final line is always printed, even within a second of the previous one.
      const line = progressLine(last);
      if (line !== this.#lastText) this.#out.write(`${line}\n`);
      this.#lastText = line;
    } else if (last) {
      this.update(last);
    }
    this.#endBar();
  }

  #endBar(): void {
    if (!this.#barShown) return;
    this.#out.write('\n');
    this.#barShown = false;
    // The bar's line is finished: the next update draws a fresh one.
    this.#lastText = '';
  }
}
