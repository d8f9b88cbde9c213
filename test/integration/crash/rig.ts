/**
 * A crash rig: the real bitsd (dist/) on a temp data directory, a reference BITS server and
 * source files on 127.0.0.1, and the means to kill the daemon dead (SIGKILL, or a crash seam via
 * BITSD_TEST_CRASH_AT) and start it again on the same data directory. After each crash the
 * tests look at what start-up made of it: the job's state in the database, the files on disk,
 * and what the server received.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach } from 'vitest';
import { BitsClient } from '../../../src/ipc/client.js';
import type { BackgroundCopyJob } from '../../../src/api/types.js';
import type { JobState, JobType } from '../../../src/job/types.js';
import { type BitsServer, startBitsServer } from '../../../src/server/index.js';
import type { FaultPlan } from '../../../src/server/faults.js';
import type { ReplyHandler } from '../../../src/server/index.js';
import { JobStore } from '../../../src/store/job-store.js';
import { cleanEnv, type SpawnedDaemon, spawnDaemon } from '../../daemon/spawn.js';

export const FILE_SIZE = 256 * 1024;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

export function bytes(seed: string, size = FILE_SIZE): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update(seed).digest();
  for (let at = 0; at < size; at += block.length) {
    block.copy(out, at);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

export interface RigOptions {
  readonly faults?: FaultPlan;
  readonly replyHandler?: ReplyHandler;
}

export class CrashRig {
  readonly dir: string;
  readonly dataDir: string;
  readonly socket: string;
  /** Download destinations (and their temp files) live here. */
  readonly out: string;
  readonly src: string;
  readonly server: BitsServer;
  daemon: SpawnedDaemon | null = null;
  client: BitsClient | null = null;

  private constructor(dir: string, server: BitsServer) {
    this.dir = dir;
    this.dataDir = join(dir, 'data');
    this.socket = join(dir, 'bitsd.sock');
    this.out = join(dir, 'out');
    this.src = join(dir, 'src');
    this.server = server;
  }

  static async create(options: RigOptions = {}): Promise<CrashRig> {
    const dir = await mkdtemp(join(tmpdir(), 'bitsd-crash-'));
    await mkdir(join(dir, 'out'));
    await mkdir(join(dir, 'src'));
    await mkdir(join(dir, 'root'));
    const server = await startBitsServer({ root: join(dir, 'root'), ...(options.faults ? { faults: options.faults } : {}), ...(options.replyHandler ? { replyHandler: options.replyHandler } : {}) });
    const rig = new CrashRig(dir, server);
    cleanups.push(async () => {
      await rig.client?.close().catch(() => undefined);
      if (rig.daemon && rig.daemon.child.exitCode === null && rig.daemon.child.signalCode === null) await rig.daemon.stop('SIGKILL');
      await server.close();
      await rm(dir, { recursive: true, force: true });
    });
    return rig;
  }

  /** Starts bitsd (optionally armed to crash at a seam) and connects a client. */
  async start(crashAt?: string): Promise<BitsClient> {
    await this.client?.close().catch(() => undefined);
    this.daemon = await spawnDaemon({
      dataDir: this.dataDir,
      socket: this.socket,
      env: cleanEnv(crashAt ? { BITSD_TEST_CRASH_AT: crashAt } : {}),
    });
    this.client = await BitsClient.connect({ socket: this.socket });
    return this.client;
  }

  /** Waits for the daemon to die by SIGKILL (a seam fired, or kill() was called). */
  async died(timeoutMs = 15_000): Promise<void> {
    const daemon = this.daemon;
    if (!daemon) throw new Error('no daemon');
    let timer: NodeJS.Timeout | undefined;
    const exit = await Promise.race([
      daemon.exited,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`bitsd did not die within ${timeoutMs} ms; stderr:\n${daemon.stderr()}`)), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
    if (exit.signal !== 'SIGKILL') throw new Error(`bitsd exited with ${exit.code ?? exit.signal}, not SIGKILL; stderr:\n${daemon.stderr()}`);
    await this.client?.close().catch(() => undefined);
    this.client = null;
  }

  kill(): void {
    this.daemon?.child.kill('SIGKILL');
  }

  /** Writes a source file and returns its file:// URL. */
  async source(name: string, data: Buffer): Promise<string> {
    const path = join(this.src, name);
    await writeFile(path, data);
    return pathToFileURL(path).href;
  }

  /** A download job of `names` (file:// sources), resumed and waited for until TRANSFERRED. */
  async transferredDownload(names: readonly string[]): Promise<{ job: BackgroundCopyJob; contents: Map<string, Buffer> }> {
    const client = this.#client();
    const job = await client.createJob(`download ${names.join(',')}`, 'DOWNLOAD');
    const contents = new Map<string, Buffer>();
    for (const name of names) {
      const data = bytes(`${this.dir}/${name}`);
      contents.set(name, data);
      await job.addFile(await this.source(name, data), join(this.out, name));
    }
    await job.resume();
    await waitForState(job, 'TRANSFERRED');
    return { job, contents };
  }

  /** An upload job (or upload-reply) to the reference server, resumed. */
  async upload(name: string, type: JobType, data = bytes(`${this.dir}/${name}`)): Promise<BackgroundCopyJob> {
    const client = this.#client();
    const job = await client.createJob(`upload ${name}`, type);
    const local = join(this.src, name);
    await writeFile(local, data);
    await job.addFile(`${this.server.url}/up/${name}`, local);
    await job.resume();
    return job;
  }

  /** The job as the database holds it (read beside the running daemon; WAL allows it). */
  stored(jobId: string): { state: JobState; fileIntent: string | null; cancelPending: boolean } | undefined {
    const store = JobStore.open({ dataDir: this.dataDir, now: Date.now() });
    try {
      const job = store.getJob(jobId);
      return job ? { state: job.state, fileIntent: job.fileIntent, cancelPending: job.cancelPending } : undefined;
    } finally {
      store.close();
    }
  }

  /** BIT*.tmp files left in the download directory. */
  async tempFiles(): Promise<string[]> {
    return (await readdir(this.out)).filter((n) => /^BIT[0-9A-F]{8}\.tmp$/.test(n));
  }

  /** Files at their final names in the download directory, with their bytes. */
  async delivered(): Promise<Map<string, Buffer>> {
    const out = new Map<string, Buffer>();
    for (const name of await readdir(this.out)) {
      if (!name.startsWith('BIT')) out.set(name, await readFile(join(this.out, name)));
    }
    return out;
  }

  /** Cancel-Session packets the server received (all sessions). */
  cancelSessions(): number {
    return this.server.packets.filter((p) => p.kind === 'cancel-session').length;
  }

  #client(): BitsClient {
    if (!this.client) throw new Error('start the daemon first');
    return this.client;
  }
}

export async function waitForState(job: BackgroundCopyJob, states: JobState | readonly JobState[], timeoutMs = 15_000): Promise<JobState> {
  const wanted = typeof states === 'string' ? [states] : states;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await job.getState();
    if (wanted.includes(state)) return state;
    if (Date.now() > deadline) throw new Error(`job stayed ${state}, never ${wanted.join('/')}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Polls `check` until it returns a value (not undefined/false) or the time is up. */
export async function eventually<T>(check: () => T | Promise<T>, what: string, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== null && value !== false) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export { randomBytes };
