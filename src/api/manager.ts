/**
 * IBackgroundCopyManager, in process: opens the queue in a data directory (which finishes what a
 * crash cut short), and runs the scheduler until close().
 */
import { join } from 'node:path';
import { homedir } from 'node:os';
import { type Clock, systemClock } from '../shared/clock.js';
import type { CrashSeam } from '../shared/crash-seam.js';
import type { NetworkSource, PolicySource } from '../policy/index.js';
import type { LinkProbe } from '../shared/net-counters.js';
import { BitsError } from '../shared/errors.js';
import { describeHresult } from '../shared/hresult.js';
import { checkHresult, checkJobType, checkNewDisplayName, normalizeJobId } from '../job/validate.js';
import { DEFAULT_QUOTAS, DEFAULTS, type JobType, type Quotas } from '../job/types.js';
import { JobQueue } from '../queue/job-queue.js';
import type { SubscribableEvents } from '../job/events.js';
import type { PendingCancellation } from '../job/types.js';
import { FileEngine } from '../engine/file-engine.js';
import { HttpDownloadEngine } from '../engine/download/index.js';
import { BitsUploadEngine } from '../engine/upload/index.js';
import { UndiciTransport } from '../transport/undici-transport.js';
import type { TransferEngine } from '../engine/types.js';
import { BackgroundCopyJobImpl } from './job.js';
import { subscribe } from './subscribe.js';
import type { BackgroundCopyManagerApi, EnumJobsOptions } from './types.js';

export interface ManagerOptions {
  /** Where the database lives (created 0700). Default: $XDG_DATA_HOME/bitsd or ~/.local/share/bitsd. */
  readonly dataDir?: string;
  readonly clock?: Clock;
  readonly quotas?: Partial<Quotas>;
  readonly concurrency?: {
    /** Background (HIGH/NORMAL/LOW) jobs transferring at once. Default 1, as BITS. */
    readonly background?: number;
    /** FOREGROUND jobs transferring at once. Default: no limit, as BITS. */
    readonly foreground?: number;
  };
  /** Round-robin slice within a priority level. Default 60 s. */
  readonly timeSliceMs?: number;
  /**
   * Transfer engines, tried in order. Default: defaultEngines(). Engines given here replace the
   * defaults.
   */
  readonly engines?: readonly TransferEngine[];
  /** The owner recorded on new jobs. Default "uid:<uid>" of this process. */
  readonly owner?: string;
  /** Final (acknowledged/cancelled) jobs are forgotten this long after they ended. Default 1 day. */
  readonly finalRetentionMs?: number;
  /** Test hook: where crash tests stop the process (src/shared/crash-seam.ts). Default: none. */
  readonly crashSeam?: CrashSeam;
  /** The bandwidth policy in force (the daemon's config file, docs/config.md) and its reloads. Default: nothing limited. */
  readonly policy?: PolicySource;
  /**
   * What the link carries, for yielding to other traffic (the daemon passes procLinkProbe).
   * Default: none, and background transfers do not yield.
   */
  readonly link?: LinkProbe;
  /**
   * The network and power as watchers see them (the daemon passes its NetworkManager, UPower and
   * kernel-route watchers; docs/network.md). Default: none, and no job waits for the network.
   */
  readonly network?: NetworkSource;
  /**
   * Uniform draws in [0, 1) for the 0 to +10% jitter of retry delays (transient errors and
   * Cancel-Session). Default Math.random; tests pass a fixed sequence.
   */
  readonly random?: () => number;
  /**
   * The boot this process runs in (src/shared/boot-id.ts), asked once at open: download progress
   * is recorded with it, and progress from another boot falls back to the bytes an fdatasync
   * covered (docs/download-engine.md, "Durability"). Default: the kernel's
   * /proc/sys/kernel/random/boot_id (a random id per process where procfs is missing).
   */
  readonly bootId?: () => string;
}

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.BITSD_DATA_DIR) return env.BITSD_DATA_DIR;
  const base = env.XDG_DATA_HOME && env.XDG_DATA_HOME.startsWith('/') ? env.XDG_DATA_HOME : join(homedir(), '.local', 'share');
  return join(base, 'bitsd');
}

export function defaultOwner(): string {
  return `uid:${typeof process.getuid === 'function' ? process.getuid() : 0}`;
}

/** The engines bitsd ships, sharing one HTTP transport. */
export function defaultEngines(): TransferEngine[] {
  const transport = new UndiciTransport();
  const download = new HttpDownloadEngine({ transport });
  // Upload-reply replies are fetched by the same download engine (one GET path).
  return [new FileEngine(), download, new BitsUploadEngine({ transport, downloader: download })];
}

export class BackgroundCopyManager implements BackgroundCopyManagerApi {
  readonly #queue: JobQueue;
  readonly #owner: string;
  #closed = false;

  private constructor(queue: JobQueue, owner: string) {
    this.#queue = queue;
    this.#owner = owner;
  }

  static async open(options: ManagerOptions = {}): Promise<BackgroundCopyManager> {
    const clock = options.clock ?? systemClock;
    const queue = await JobQueue.open({
      dataDir: options.dataDir ?? defaultDataDir(),
      clock,
      engines: options.engines ?? defaultEngines(),
      quotas: { ...DEFAULT_QUOTAS, ...options.quotas },
      maxBackground: positive(options.concurrency?.background ?? 1, 'concurrency.background'),
      maxForeground: positive(options.concurrency?.foreground ?? Number.POSITIVE_INFINITY, 'concurrency.foreground'),
      timeSliceMs: positive(options.timeSliceMs ?? 60_000, 'timeSliceMs'),
      inactivityTimeoutMs: DEFAULTS.inactivityTimeoutSec * 1000,
      finalRetentionMs: options.finalRetentionMs ?? 24 * 3600 * 1000,
      ...(options.crashSeam ? { crashSeam: options.crashSeam } : {}),
      ...(options.policy ? { policy: options.policy } : {}),
      ...(options.link ? { link: options.link } : {}),
      ...(options.network ? { network: options.network } : {}),
      random: options.random ?? Math.random,
      ...(options.bootId ? { bootId: options.bootId } : {}),
    });
    return new BackgroundCopyManager(queue, options.owner ?? defaultOwner());
  }

  /** The queue behind this manager, for the daemon and IPC server (not part of the BITS API). */
  get queue(): JobQueue {
    return this.#queue;
  }

  async createJob(displayName: string, type: JobType): Promise<BackgroundCopyJobImpl> {
    this.#open();
    const name = checkNewDisplayName(displayName);
    const jobType = checkJobType(type);
    const job = this.#queue.createJob(name, jobType, this.#owner);
    await this.#queue.committed();
    return new BackgroundCopyJobImpl(this.#queue, job.id, jobType);
  }

  /** BG_E_NOT_FOUND for unknown ids and for jobs that left the queue (acknowledged or cancelled). */
  async getJob(id: string): Promise<BackgroundCopyJobImpl> {
    this.#open();
    const jobId = normalizeJobId(id);
    const job = this.#queue.reads.getJob(jobId);
    if (!job || job.state === 'ACKNOWLEDGED' || job.state === 'CANCELLED') {
      throw new BitsError('BG_E_NOT_FOUND', `No job ${jobId} in the queue.`);
    }
    return new BackgroundCopyJobImpl(this.#queue, jobId);
  }

  /**
   * The caller's jobs (all users' with allUsers), oldest first, never final ones. In process, the
   * caller is this process's user, who owns the data directory, so allUsers needs no privilege.
   */
  async enumJobs(options: EnumJobsOptions = {}): Promise<BackgroundCopyJobImpl[]> {
    this.#open();
    // Ids only: the job objects read their rows when asked (a full read of 100,000 rows took ~9 s).
    const ids = this.#queue.reads.listLiveJobIds(options.allUsers ? undefined : this.#owner);
    return ids.map((id) => new BackgroundCopyJobImpl(this.#queue, id));
  }

  async getErrorDescription(hresult: number): Promise<string> {
    return describeHresult(checkHresult(hresult));
  }

  /** Upload jobs cancelled while their Cancel-Session has not reached the server yet. */
  async listPendingCancellations(): Promise<PendingCancellation[]> {
    this.#open();
    return this.#queue.pendingCancellations();
  }

  on<K extends keyof SubscribableEvents>(event: K, listener: (...args: SubscribableEvents[K]) => void): () => void {
    return subscribe(this.#queue.events, event, listener, null);
  }

  /** Stops every transfer (progress already made is kept), then closes the database. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue.close();
  }

  #open(): void {
    if (this.#closed) throw new BitsError('BG_E_INVALID_STATE', 'The manager is closed.');
  }
}

function positive(value: number, what: string): number {
  if (!(value >= 1)) throw new BitsError('E_INVALIDARG', `${what} must be at least 1; got ${value}.`);
  return value;
}
