/**
 * One daemon per data directory: <dataDir>/bitsd.lock, created exclusively (O_EXCL), holding the
 * owner's pid and socket as JSON. A lock whose holder is gone (pid dead), or whose holder does
 * not answer hello on its socket within the startup grace, is stale and taken over; a holder that
 * is alive and answers means bitsd is already running.
 *
 * Why pid AND hello: a pid alone can be reused after a crash or reboot, and a socket alone does
 * not identify the data directory. Residual race: two daemons taking over the same stale lock at
 * the same instant can both succeed; each then fails to bind the shared socket, except when they
 * were given different sockets.
 */
import { readFile, unlink, writeFile } from 'node:fs/promises';
import { BitsError } from '../shared/errors.js';
import type { ServerInfo } from '../ipc/client-connection.js';

export interface LockHolder {
  readonly pid: number;
  readonly socket: string;
  readonly startedAt: string;
}

export class AlreadyRunningError extends BitsError {
  readonly holder: LockHolder;
  constructor(dataDir: string, holder: LockHolder) {
    super(
      'BG_E_INVALID_STATE',
      `bitsd is already running for ${dataDir} (pid ${holder.pid}, socket ${holder.socket}). Stop it first (kill ${holder.pid} or systemctl --user stop bitsd), or use another --data-dir.`,
    );
    this.holder = holder;
  }
}

export interface LockDeps {
  readonly path: string;
  readonly dataDir: string;
  readonly self: LockHolder;
  readonly isProcessAlive: (pid: number) => boolean;
  readonly probe: (socket: string) => Promise<ServerInfo | null>;
  /** How long a live holder may take to start answering (it may be starting up). */
  readonly startupGraceMs?: number;
  /** Told when a stale lock is taken over, and why. */
  readonly onStale?: (holder: LockHolder | null, reason: string) => void;
}

function parseHolder(text: string): LockHolder | null {
  try {
    const value = JSON.parse(text) as Partial<LockHolder>;
    if (typeof value.pid === 'number' && Number.isSafeInteger(value.pid) && value.pid > 0 && typeof value.socket === 'string') {
      return { pid: value.pid, socket: value.socket, startedAt: typeof value.startedAt === 'string' ? value.startedAt : '' };
    }
  } catch {
    // An unreadable lock file is handled as a stale one below.
  }
  return null;
}

export class InstanceLock {
  readonly #path: string;
  readonly #self: LockHolder;
  #released = false;

  private constructor(path: string, self: LockHolder) {
    this.#path = path;
    this.#self = self;
  }

  static async acquire(deps: LockDeps): Promise<InstanceLock> {
    const grace = deps.startupGraceMs ?? 3000;
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await writeFile(deps.path, `${JSON.stringify(deps.self)}\n`, { flag: 'wx', mode: 0o600 });
        return new InstanceLock(deps.path, deps.self);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = await readHolder(deps.path);
      if (holder === 'gone') continue; // released meanwhile: try again
      const reason = await staleReason(holder, deps, grace);
      if (reason === null) throw new AlreadyRunningError(deps.dataDir, holder as LockHolder);
      deps.onStale?.(holder, reason);
      await unlink(deps.path).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
    }
    throw new BitsError('BG_E_INVALID_STATE', `Could not take the lock ${deps.path}: other daemons keep starting for the same data directory.`);
  }

  /** Removes the lock file if it is still ours. */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    const holder = await readHolder(this.#path);
    if (holder !== 'gone' && holder?.pid === this.#self.pid) await unlink(this.#path).catch(() => undefined);
  }
}

async function readHolder(path: string): Promise<LockHolder | null | 'gone'> {
  try {
    return parseHolder(await readFile(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw err;
  }
}

/** null: the holder is alive and answering (bitsd is running); otherwise why the lock is stale. */
async function staleReason(holder: LockHolder | null, deps: LockDeps, graceMs: number): Promise<string | null> {
  if (holder === null) {
    // A lock being written this very moment reads empty: give its writer a moment.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const again = await readHolder(deps.path);
    if (again === 'gone' || again === null) return 'the lock file is unreadable';
    return staleReason(again, deps, graceMs);
  }
  if (holder.pid === deps.self.pid) return 'the lock names this very process';
  if (!deps.isProcessAlive(holder.pid)) return `process ${holder.pid} is gone`;
  const deadline = Date.now() + graceMs;
  for (;;) {
    const info = await deps.probe(holder.socket);
    if (info && info.pid === holder.pid) return null;
    if (!deps.isProcessAlive(holder.pid)) return `process ${holder.pid} is gone`;
    if (Date.now() >= deadline) return `process ${holder.pid} is alive but no bitsd answers on ${holder.socket} (pid reused?)`;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
