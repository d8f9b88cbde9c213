/**
 * An exclusive lock on a data directory that the kernel keeps for exactly as long as its holder
 * process exists: <dataDir>/bitsd.lock.sqlite, a database that is never written, held open in an
 * EXCLUSIVE transaction that is never committed.
 *
 * Why SQLite: it takes POSIX advisory locks (fcntl F_SETLK) on the file. The kernel drops them
 * when the process dies (kill -9, crash, OOM), and keeps them while it is stopped (SIGSTOP, a
 * debugger, a frozen cgroup). No pid to test, no probe, no grace period: whether the lock is
 * free is the kernel's answer. SQLite also tracks locks per inode within a process, so a second
 * connection in the same process is refused too (plain fcntl locks would let it through), and it
 * defers closing its own descriptors so that closing one connection does not drop the locks of
 * another.
 *
 * Two rules keep it sound:
 * - Nothing in this process may open and close the lock file outside SQLite: closing ANY
 *   descriptor of a file drops all of the process's POSIX locks on it. Hence the 0600 mode is set
 *   by creating the file O_EXCL (only when it does not exist, so nobody here holds it) or by path.
 * - The file is never deleted (a daemon that deleted it could be running beside one that locked
 *   a new file of the same name), and it must be on a local file system (POSIX locks over NFS
 *   depend on the server).
 */
import { chmodSync, closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { BitsError } from '../shared/errors.js';

export const INSTANCE_LOCK_FILE = 'bitsd.lock.sqlite';

/** The lock is held by another process, or by another holder in this one. */
export class DataDirLockedError extends BitsError {
  readonly path: string;
  constructor(path: string) {
    super(
      'ERROR_SHARING_VIOLATION',
      `The data directory lock ${path} is held by another process (see it with: fuser -v ${path}). Stop that process, or use another data directory.`,
      { context: 'GENERAL_QUEUE_MANAGER' },
    );
    this.path = path;
  }
}

function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED' || (typeof code === 'string' && code.startsWith('SQLITE_BUSY_'));
}

export class DataDirLock {
  readonly path: string;
  #db: Database.Database | null;

  private constructor(path: string, db: Database.Database) {
    this.path = path;
    this.#db = db;
  }

  /**
   * Takes the lock of `dataDir` (which must exist) at once, or throws DataDirLockedError; never
   * waits. Other failures (permissions, a directory in the way) are thrown as BitsError too.
   */
  static acquire(dataDir: string): DataDirLock {
    const path = join(dataDir, INSTANCE_LOCK_FILE);
    createPrivate(path);
    let db: Database.Database;
    try {
      // timeout 0: a held lock is an answer, not something to wait for.
      db = new Database(path, { timeout: 0 });
    } catch (err) {
      throw new BitsError('E_ACCESSDENIED', `Could not open the data directory lock ${path}: ${(err as Error).message}. Check that it is a file you can write.`, {
        context: 'GENERAL_QUEUE_MANAGER',
        cause: err,
      });
    }
    try {
      // DELETE, not WAL: WAL locks live in a -shm file and allow readers beside a writer.
      db.pragma('journal_mode = DELETE');
      db.pragma('locking_mode = EXCLUSIVE');
      db.exec('BEGIN EXCLUSIVE');
    } catch (err) {
      db.close();
      if (isBusy(err)) throw new DataDirLockedError(path);
      // It is never written, so anything else in it is damage: nothing of value is lost by removing it.
      throw new BitsError('E_FAIL', `Could not take the data directory lock ${path}: ${(err as Error).message}. If no bitsd runs for this directory, delete that file and start again.`, {
        context: 'GENERAL_QUEUE_MANAGER',
        cause: err,
      });
    }
    return new DataDirLock(path, db);
  }

  get held(): boolean {
    return this.#db !== null;
  }

  /** Gives the lock up (closing rolls back the empty transaction); idempotent. */
  release(): void {
    const db = this.#db;
    this.#db = null;
    db?.close();
  }
}

/** Creates the lock file 0600 if it does not exist; tightens an existing one by path. */
function createPrivate(path: string): void {
  try {
    closeSync(openSync(path, 'wx', 0o600));
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new BitsError('E_ACCESSDENIED', `Could not create the data directory lock ${path}: ${(err as Error).message}.`, { context: 'GENERAL_QUEUE_MANAGER', cause: err });
    }
  }
  try {
    chmodSync(path, 0o600);
  } catch {
    // Not ours to chmod (another owner): SQLite's open below says what is wrong, if anything.
  }
}
