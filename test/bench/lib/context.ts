/**
 * What every case gets: the temp directory, the tools, the running peers, the data files, and
 * how to report a figure.
 */
import type { Peer } from './peers.js';
import type { Summary } from './stats.js';

export interface Tools {
  readonly curl: string;
  readonly aria2c: string;
  readonly nginx: string;
}

export interface BenchContext {
  readonly tmp: string;
  readonly tools: Tools;
  /** nginx's root: big files and the small-file set. */
  readonly www: string;
  readonly nginx: Peer;
  /** bits-server's root: uploads land here and are deleted after each run. */
  readonly bitsRoot: string;
  readonly bits: Peer;
  /** Repetitions of the big (1 GiB) cases and of the small ones. */
  readonly bigReps: number;
  readonly smallReps: number;
  /** Jobs in the queue-scale case (100,000 unless --scale N). */
  readonly scaleJobs: number;
  log(message: string): void;
}

/** One line of the results table. */
export interface Row {
  readonly id: string;
  readonly what: string;
  /** bitsd's figure: a summary of runs, or one measured value. */
  readonly bitsd: Summary | number;
  readonly unit: string;
  readonly peer?: { readonly name: string; readonly value: Summary | number };
  /** bitsd / peer (higher is better for bitsd), or the figure compared to the target. */
  readonly ratio?: number;
  readonly target: string;
  /** null: reported only, no target. */
  readonly met: boolean | null;
  readonly note?: string;
}
