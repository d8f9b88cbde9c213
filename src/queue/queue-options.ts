/**
 * What JobQueue.open needs (job-queue.ts): the composition root's inputs, each passed on to the
 * room that uses it (wiring.ts).
 */
import type { Clock } from '../shared/clock.js';
import type { CrashSeam } from '../shared/crash-seam.js';
import type { NetworkSource, PolicySource } from '../policy/index.js';
import type { LinkProbe } from '../shared/net-counters.js';
import type { Quotas } from '../job/types.js';
import type { TransferEngine } from '../engine/types.js';

export interface JobQueueOptions {
  readonly dataDir: string;
  readonly clock: Clock;
  readonly engines: readonly TransferEngine[];
  readonly quotas: Quotas;
  readonly maxBackground: number;
  readonly maxForeground: number;
  readonly timeSliceMs: number;
  readonly inactivityTimeoutMs: number;
  /** Final jobs are forgotten this long after they ended. */
  readonly finalRetentionMs: number;
  /** Test hook: where a crash test stops the process (shared/crash-seam.ts). */
  readonly crashSeam?: CrashSeam;
  /** The bandwidth policy (the daemon's config file); default: nothing limited. */
  readonly policy?: PolicySource;
  /** What the link carries, for yielding to other traffic; default: none (nothing yields). */
  readonly link?: LinkProbe;
  /** The network and power as the daemon's watchers see them; default: none (nothing goes offline). */
  readonly network?: NetworkSource;
  /** Uniform draws in [0, 1) for the jitter of retry delays (src/job/retry-wait.ts). */
  readonly random: () => number;
  /**
   * The boot this process runs in, asked once at open (src/shared/boot-id.ts); progress recorded
   * in another boot falls back to its synced offset at start-up (docs/download-engine.md,
   * "Durability"). Default systemBootId.
   */
  readonly bootId?: () => string;
}
