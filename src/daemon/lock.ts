/**
 * One daemon per data directory, decided by the kernel: DataDirLock (src/store/instance-lock.ts)
 * holds a POSIX lock on <dataDir>/bitsd.lock.sqlite for the daemon's whole life. The kernel drops
 * it when the daemon dies, however it dies, and keeps it while the daemon is stopped (SIGSTOP):
 * a stopped daemon still owns its temp files and database, and a second one must not take them.
 *
 * <dataDir>/bitsd.lock (0600, JSON pid, socket, startedAt) is written once the lock is held, only
 * to NAME the holder when a second daemon is refused. It is never used to decide anything: a
 * leftover from a dead daemon is simply overwritten by the next one.
 */
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { BitsError } from '../shared/errors.js';
import { DataDirLock, DataDirLockedError } from '../store/instance-lock.js';

export interface LockHolder {
  readonly pid: number;
  readonly socket: string;
  readonly startedAt: string;
}

export class AlreadyRunningError extends BitsError {
  /** null: the lock is held but its holder has not written its record (yet). */
  readonly holder: LockHolder | null;
  readonly stopped: boolean;
  constructor(dataDir: string, lockFile: string, holder: LockHolder | null, stopped: boolean) {
    super('BG_E_INVALID_STATE', refusal(dataDir, lockFile, holder, stopped));
    this.holder = holder;
    this.stopped = stopped;
  }
}

function refusal(dataDir: string, lockFile: string, holder: LockHolder | null, stopped: boolean): string {
  if (holder === null) {
    return `bitsd is already running for ${dataDir}: another process holds ${lockFile} and has not recorded its pid yet (it may be starting; fuser -v ${lockFile} names it). Stop it first, or use another --data-dir.`;
  }
  const who = `bitsd is already running for ${dataDir} (pid ${holder.pid}, socket ${holder.socket})`;
  if (stopped) {
    return `${who} and is stopped (SIGSTOP); continue it with kill -CONT ${holder.pid}. A stopped bitsd keeps its data directory: to start another, stop it (kill ${holder.pid}; kill -CONT ${holder.pid}) or use another --data-dir.`;
  }
  return `${who}. Stop it first (kill ${holder.pid} or systemctl --user stop bitsd), or use another --data-dir.`;
}

export interface LockOptions {
  readonly dataDir: string;
  /** Where the holder record goes (<dataDir>/bitsd.lock). */
  readonly holderPath: string;
  readonly self: LockHolder;
  /** Only to tell a record of the current holder from a leftover of a dead one. */
  readonly isProcessAlive: (pid: number) => boolean;
  /** Default: the state letter of /proc/<pid>/stat is T (stopped) or t (stopped by a tracer). */
  readonly isProcessStopped?: (pid: number) => Promise<boolean>;
  /** How long a refused daemon waits for a holder that has the lock but not yet its record. */
  readonly recordWaitMs?: number;
  /** Told when the record of a daemon that did not stop cleanly is replaced (null: unreadable). */
  readonly onLeftoverRecord?: (previous: LockHolder | null) => void;
}

export async function isStoppedPerProc(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) S ...": comm may hold spaces and parentheses, so the state follows the last ')'.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'T' || state === 't';
  } catch {
    return false;
  }
}

function parseHolder(text: string): LockHolder | null {
  try {
    const value = JSON.parse(text) as Partial<LockHolder>;
    if (typeof value.pid === 'number' && Number.isSafeInteger(value.pid) && value.pid > 0 && typeof value.socket === 'string') {
      return { pid: value.pid, socket: value.socket, startedAt: typeof value.startedAt === 'string' ? value.startedAt : '' };
    }
  } catch {
    // Garbage names nobody.
  }
  return null;
}

/** The record's holder, null if unreadable, 'none' if there is no record. */
async function readHolder(path: string): Promise<LockHolder | null | 'none'> {
  try {
    return parseHolder(await readFile(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'none';
    return null;
  }
}

export class InstanceLock {
  readonly #lock: DataDirLock;
  readonly #holderPath: string;
  #released = false;

  private constructor(lock: DataDirLock, holderPath: string) {
    this.#lock = lock;
    this.#holderPath = holderPath;
  }

  /** Takes the data directory at once, or throws AlreadyRunningError naming the holder. */
  static async acquire(options: LockOptions): Promise<InstanceLock> {
    let lock: DataDirLock;
    try {
      lock = DataDirLock.acquire(options.dataDir);
    } catch (err) {
      if (!(err instanceof DataDirLockedError)) throw err;
      const holder = await currentHolder(options);
      const stopped = holder !== null && (await (options.isProcessStopped ?? isStoppedPerProc)(holder.pid));
      throw new AlreadyRunningError(options.dataDir, err.path, holder, stopped);
    }
    try {
      const previous = await readHolder(options.holderPath);
      if (previous !== 'none') options.onLeftoverRecord?.(previous);
      // Written aside and renamed, so a refused daemon never reads half a record.
      const temp = `${options.holderPath}.${options.self.pid}.tmp`;
      await writeFile(temp, `${JSON.stringify(options.self)}\n`, { mode: 0o600 });
      await rename(temp, options.holderPath);
    } catch (err) {
      lock.release();
      throw err;
    }
    return new InstanceLock(lock, options.holderPath);
  }

  /** Removes the holder record (ours: nobody else can write it while we hold the lock), then unlocks. */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    try {
      await unlink(this.#holderPath).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
    } finally {
      this.#lock.release();
    }
  }
}

/**
 * The record of the daemon holding the lock. A holder writes it just after taking the lock, so
 * a missing record, or one naming a dead process (a leftover), may mean it is starting: wait a
 * little for its own. Naming only; the refusal stands either way.
 */
async function currentHolder(options: LockOptions): Promise<LockHolder | null> {
  const deadline = Date.now() + (options.recordWaitMs ?? 1000);
  for (;;) {
    const holder = await readHolder(options.holderPath);
    if (holder !== 'none' && holder !== null && holder.pid !== options.self.pid && options.isProcessAlive(holder.pid)) return holder;
    if (Date.now() >= deadline) return null;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
