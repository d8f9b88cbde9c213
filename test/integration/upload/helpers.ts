/**
 * Shared set-up for the API-level upload tests: a reference BITS server on 127.0.0.1 (port 0), a
 * manager driven by a FakeClock (retry delays and Cancel-Session windows in milliseconds) with the
 * real BITS upload engine over undici, and helpers to wait for job states in real time (the HTTP
 * exchanges themselves run on real time).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { BackgroundCopyManager, BitsUploadEngine, FakeClock, UndiciTransport } from '../../../src/index.js';
import type { BackgroundCopyJob, JobState, JobType, UploadEngineOptions } from '../../../src/index.js';
import { type BitsServer, type BitsServerOptions, startBitsServer } from '../../../src/server/index.js';
import type { PacketLogEntry } from '../../../src/server/server-log.js';
import type { UploadLogger } from '../../../src/engine/upload/options.js';

export const KIB = 1024;
export const MIB = 1024 * 1024;
export const SEC = 1000;
export const FRAGMENT = 64 * KIB;

export interface Warning {
  readonly message: string;
  readonly details: Readonly<Record<string, unknown>> | undefined;
}

export interface HarnessOptions {
  readonly server?: Omit<BitsServerOptions, 'root'>;
  readonly engine?: Omit<UploadEngineOptions, 'transport' | 'logger'>;
  /** Draws for retry jitter (default always 0: retries fall exactly at the retry delay). */
  readonly random?: () => number;
}

export interface Harness {
  readonly dir: string;
  readonly dataDir: string;
  /** Local files to upload live here. */
  readonly client: string;
  readonly server: BitsServer;
  readonly clock: FakeClock;
  mgr: BackgroundCopyManager;
  /** Warnings the upload engine logged. */
  readonly warnings: Warning[];
  /** Closes the manager and opens a new one on the same data directory and clock. */
  reopen(): Promise<BackgroundCopyManager>;
  /** Writes `data` as a local file and creates a started job uploading it to `/up/<name>`. */
  startUpload(name: string, data: Buffer, options?: UploadJobOptions): Promise<BackgroundCopyJob>;
  /** Path of the uploaded file on the server. */
  stored(name: string): string;
}

export interface UploadJobOptions {
  readonly type?: JobType;
  readonly retryDelaySec?: number;
  readonly noProgressTimeoutSec?: number;
  /** Configure the job before Resume. */
  readonly before?: (job: BackgroundCopyJob) => Promise<void>;
}

const open: Array<{ close(): Promise<void> }> = [];

afterEach(async () => {
  // Managers first (they stop transfers), then servers, then the directories.
  while (open.length > 0) {
    const item = open.pop();
    await item?.close();
  }
});

function makeEngine(options: HarnessOptions['engine'], warnings: Warning[]): BitsUploadEngine {
  const logger: UploadLogger = {
    warn: (message, details) => warnings.push({ message, details }),
    debug: () => undefined,
  };
  return new BitsUploadEngine({
    transport: new UndiciTransport({ keepAliveTimeoutMs: 1000 }),
    fragmentSize: FRAGMENT,
    retryDelayMs: 10,
    ...options,
    logger,
  });
}

export async function harness(options: HarnessOptions = {}): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'bitsd-upload-api-'));
  open.push({ close: () => rm(dir, { recursive: true, force: true }) });
  const client = join(dir, 'client');
  await mkdir(client);
  const dataDir = join(dir, 'data');
  const server = await startBitsServer({ root: join(dir, 'server'), ...options.server });
  open.push(server);
  const clock = new FakeClock();
  const warnings: Warning[] = [];
  const openManager = async (): Promise<BackgroundCopyManager> => {
    const mgr = await BackgroundCopyManager.open({ dataDir, clock, engines: [makeEngine(options.engine, warnings)], random: options.random ?? (() => 0) });
    open.push(mgr);
    return mgr;
  };
  const h: Harness = {
    dir,
    dataDir,
    client,
    server,
    clock,
    warnings,
    mgr: await openManager(),
    async reopen() {
      await h.mgr.close();
      h.mgr = await openManager();
      return h.mgr;
    },
    async startUpload(name, data, jobOptions = {}) {
      const local = join(client, name);
      await writeFile(local, data);
      const job = await h.mgr.createJob(`upload ${name}`, jobOptions.type ?? 'UPLOAD');
      await job.addFile(`${server.url}/up/${name}`, local);
      await job.setMinimumRetryDelay(jobOptions.retryDelaySec ?? 60);
      if (jobOptions.noProgressTimeoutSec !== undefined) await job.setNoProgressTimeout(jobOptions.noProgressTimeoutSec);
      await jobOptions.before?.(job);
      await job.resume();
      return job;
    },
    stored: (name) => join(server.root, 'up', name),
  };
  return h;
}

/** Waits (real time) until the job is in one of `states`; the timeout message names where it is. */
export async function waitState(job: BackgroundCopyJob, states: JobState | readonly JobState[], timeoutMs = 15_000): Promise<JobState> {
  const wanted: readonly JobState[] = typeof states === 'string' ? [states] : states;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await job.getState();
    if (wanted.includes(state)) return state;
    if (Date.now() > deadline) {
      let error = '';
      if (state === 'ERROR' || state === 'TRANSIENT_ERROR') error = ` (${(await job.getError()).message})`;
      throw new Error(`job stayed ${state}${error}, waiting for ${wanted.join('/')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Random content: every fragment differs, so a misplaced fragment cannot go unnoticed. */
export function content(size: number): Buffer {
  return randomBytes(size);
}

export function digest(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Byte-identical check by digest (deep equality on MiB buffers is slow in vitest). */
export async function digestOf(path: string): Promise<string> {
  return digest(await readFile(path));
}

export function packetsOf(server: BitsServer, kind: PacketLogEntry['kind'], from = 0): PacketLogEntry[] {
  return server.packets.slice(from).filter((p) => p.kind === kind);
}

/** Body bytes the client sent in fragments (Content-Length as sent, or the range length). */
export function fragmentBytes(server: BitsServer, from = 0): number {
  return packetsOf(server, 'fragment', from).reduce((sum, p) => sum + (p.contentLength ?? 0), 0);
}

/** Advances the fake clock by `ms`, then waits (real time) for `check`. */
export async function advanceAndWait<T>(clock: FakeClock, ms: number, check: () => T | Promise<T>, what: string, timeoutMs = 10_000): Promise<NonNullable<T>> {
  await clock.advance(ms);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
