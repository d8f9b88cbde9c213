/**
 * The download's temp file (BIT*.tmp beside the destination): created by bitsd itself or not used
 * at all, cut back to the last recorded offset, written at explicit positions, flushed with
 * fdatasync now and then in the background and once more before the file counts as transferred
 * (body-writer.ts), closed exactly once.
 *
 * The name is in a directory others may write to, so it can be taken over between runs (a
 * symlink to a file elsewhere, another file, a FIFO). bitsd therefore creates the file with
 * O_CREAT|O_EXCL|O_NOFOLLOW, records its identity (device and inode) before writing a byte, and
 * on a resume reopens it with O_NOFOLLOW only if it is still that file. Anything else at the name
 * is refused with the fatal BG_E_LOCAL_FILE_CHANGED and left as it is: never followed, written,
 * truncated or deleted. A temp file that is gone is created anew: its bytes download again.
 *
 * With no identity recorded (rows from before identities were recorded, or a crash between the
 * creation and the commit of its identity) a file at the name is adopted only if it could be
 * nobody's but this process's: a regular file with one link, owned by this process's uid.
 *
 * Local failures become BitsErrors with context LOCAL_FILE. A full disk (ENOSPC, EDQUOT) is
 * transient: space can be freed without touching the job, and the job's retry delay and
 * no-progress timeout bound the waiting (BITS likewise keeps such a job in TRANSIENT_ERROR).
 * Access, missing-directory, read-only and name errors are fatal: they need the owner to act.
 */
import type { BigIntStats } from 'node:fs';
import { constants, type promises as fsPromises } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import type { FileIdentity } from '../../job/types.js';
import { BitsError } from '../../shared/errors.js';
import { describeStats, identityOf } from '../../shared/file-identity.js';
import type { HresultCode } from '../../shared/hresult.js';
import { errnoOf } from '../../shared/os-errors.js';

interface LocalErrorRule {
  readonly code: HresultCode;
  readonly transient: boolean;
}

const LOCAL_ERRORS: Readonly<Record<string, LocalErrorRule>> = {
  ENOSPC: { code: 'ERROR_DISK_FULL', transient: true },
  EDQUOT: { code: 'ERROR_DISK_FULL', transient: true },
  EMFILE: { code: 'ERROR_TOO_MANY_OPEN_FILES', transient: true },
  ENFILE: { code: 'ERROR_TOO_MANY_OPEN_FILES', transient: true },
  EBUSY: { code: 'ERROR_SHARING_VIOLATION', transient: true },
  EACCES: { code: 'E_ACCESSDENIED', transient: false },
  EPERM: { code: 'E_ACCESSDENIED', transient: false },
  ENOENT: { code: 'ERROR_PATH_NOT_FOUND', transient: false },
  ENOTDIR: { code: 'ERROR_PATH_NOT_FOUND', transient: false },
  EROFS: { code: 'ERROR_WRITE_PROTECT', transient: false },
  EISDIR: { code: 'ERROR_DIRECTORY', transient: false },
  ENAMETOOLONG: { code: 'ERROR_FILENAME_EXCED_RANGE', transient: false },
  EIO: { code: 'E_FAIL', transient: true },
};

export function localFileError(err: unknown, path: string, action: string): BitsError {
  if (err instanceof BitsError) return err;
  const code = errnoOf(err);
  const rule = code !== undefined ? LOCAL_ERRORS[code] : undefined;
  const message = `Cannot ${action} the temporary file ${path}: ${err instanceof Error ? err.message : String(err)}`;
  return new BitsError(rule?.code ?? 'E_FAIL', message, {
    context: 'LOCAL_FILE',
    transient: rule?.transient ?? false,
    cause: err,
    details: { errno: code, path },
  });
}

/** The fatal error for a temp-file name that no longer holds (or never held) bitsd's file. */
export function tempFileTakenOver(path: string, found: string): BitsError {
  return new BitsError(
    'BG_E_LOCAL_FILE_CHANGED',
    `The temporary file ${path} is not the file bitsd created: ${found} is at its name. bitsd did not follow, write or remove it. ` +
      'Find out who put it there and remove it; then resume the job (this file downloads again from the start) or cancel it.',
    { context: 'LOCAL_FILE', transient: false, details: { path, found } },
  );
}

/** Creates the file; no symlink is followed and nothing that exists is opened. */
const CREATE = constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
/** Reopens it: a symlink fails (ELOOP), and a FIFO swapped in after the lstat cannot block the open. */
const REOPEN = constants.O_RDWR | constants.O_NOFOLLOW | constants.O_NONBLOCK;

export interface TempFileSpec {
  readonly path: string;
  /** The durable bytes recorded: the file is cut back to this (0 to start over). */
  readonly offset: number;
  /** The identity recorded when bitsd created the file; null when none was recorded. */
  readonly identity: FileIdentity | null;
  /**
   * Called with the identity of a file this open created (or adopted), before the file is
   * returned and so before any byte is written: the caller records it (ProgressSink.tempCreated).
   */
  readonly onCreated: (identity: FileIdentity) => void;
  /** Permission bits of a new file (before the umask). Default 0644. */
  readonly mode?: number;
}

interface Opened {
  readonly handle: fsPromises.FileHandle;
  readonly stats: BigIntStats;
  readonly created: boolean;
}

async function closeQuietly(handle: fsPromises.FileHandle): Promise<void> {
  await handle.close().catch(() => undefined);
}

/** Creates the file with O_EXCL; null when the name is taken. */
async function create(path: string, mode: number): Promise<Opened | null> {
  let handle: fsPromises.FileHandle;
  try {
    handle = await open(path, CREATE, mode);
  } catch (err) {
    if (errnoOf(err) === 'EEXIST') return null;
    throw localFileError(err, path, 'create');
  }
  try {
    return { handle, stats: await handle.stat({ bigint: true }), created: true };
  } catch (err) {
    await closeQuietly(handle);
    throw localFileError(err, path, 'open');
  }
}

/** Opens the regular file at `path` without following a symlink; null when nothing is there. */
async function reopen(path: string): Promise<Opened | null> {
  let handle: fsPromises.FileHandle;
  try {
    // lstat first, so a device or FIFO planted at the name is never even opened.
    const seen = await lstat(path, { bigint: true });
    if (!seen.isFile()) throw tempFileTakenOver(path, describeStats(seen));
    handle = await open(path, REOPEN);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return null;
    if (errnoOf(err) === 'ELOOP') throw tempFileTakenOver(path, 'a symbolic link');
    throw localFileError(err, path, 'open');
  }
  try {
    const stats = await handle.stat({ bigint: true });
    if (!stats.isFile()) throw tempFileTakenOver(path, describeStats(stats));
    return { handle, stats, created: false };
  } catch (err) {
    await closeQuietly(handle);
    throw localFileError(err, path, 'open');
  }
}

function ownUid(stats: BigIntStats): boolean {
  return stats.uid === BigInt(typeof process.getuid === 'function' ? process.getuid() : 0);
}

/** A file at the name with no identity on record: only one that can be nobody else's is adopted. */
function adoptable(stats: BigIntStats): boolean {
  return stats.nlink === 1n && ownUid(stats);
}

async function claim(spec: TempFileSpec): Promise<Opened> {
  const { path } = spec;
  const mode = spec.mode ?? 0o644;
  if (spec.identity === null) {
    const made = await create(path, mode);
    if (made) return made;
    const found = await reopen(path);
    if (found === null) {
      // Gone again between the two calls: one more exclusive create decides.
      const again = await create(path, mode);
      if (again === null) throw tempFileTakenOver(path, 'a file that keeps reappearing');
      return again;
    }
    if (!adoptable(found.stats)) {
      await closeQuietly(found.handle);
      throw tempFileTakenOver(path, `${describeStats(found.stats)}, for which bitsd has no record`);
    }
    return found;
  }
  const found = await reopen(path);
  if (found === null) {
    // The durable bytes are gone: a new file, downloaded from the start.
    const made = await create(path, mode);
    if (made === null) throw tempFileTakenOver(path, 'a file that appeared while bitsd re-created it');
    return made;
  }
  // The owner check covers what device:inode cannot: a file another user created after deleting
  // bitsd's, which the file system may have given the freed inode number.
  if (identityOf(found.stats) !== spec.identity) {
    await closeQuietly(found.handle);
    throw tempFileTakenOver(path, `${describeStats(found.stats)} instead of the one bitsd created (${spec.identity})`);
  }
  if (!ownUid(found.stats)) {
    await closeQuietly(found.handle);
    throw tempFileTakenOver(path, `${describeStats(found.stats)}: bitsd's inode, now another user's file`);
  }
  return found;
}

/** fdatasync calls made through TempFile in this process (benchmarks report them per GiB). */
let flushes = 0;

export function tempFileFlushes(): number {
  return flushes;
}

export class TempFile {
  readonly path: string;
  readonly #handle: fsPromises.FileHandle;
  #closed = false;

  private constructor(path: string, handle: fsPromises.FileHandle) {
    this.path = path;
    this.#handle = handle;
  }

  /**
   * Opens the temp file as described above and cuts it back to `offset`, the last recorded
   * position (after a reboot, the last synced one): bytes past it were never recorded, or not
   * trusted, and may be garbage from an interrupted write or a lost page cache.
   * Returns the offset the download can resume from: 0 when the file was created now or is
   * shorter than `offset` (the durable bytes are gone).
   */
  static async open(spec: TempFileSpec): Promise<{ file: TempFile; offset: number }> {
    const opened = await claim(spec);
    const file = new TempFile(spec.path, opened.handle);
    try {
      // Reported even when equal to the recorded one: a new file can get a freed inode number back.
      if (opened.created || spec.identity === null) spec.onCreated(identityOf(opened.stats));
    } catch (err) {
      await file.close();
      throw err;
    }
    if (opened.created) return { file, offset: 0 };
    try {
      const size = Number(opened.stats.size);
      const resume = size >= spec.offset ? spec.offset : 0;
      if (size !== resume) await opened.handle.truncate(resume);
      return { file, offset: resume };
    } catch (err) {
      await file.close();
      throw localFileError(err, spec.path, 'truncate');
    }
  }

  /** Writes all of `data` at `position`. */
  async write(data: Uint8Array, position: number): Promise<void> {
    try {
      let done = 0;
      while (done < data.length) {
        const { bytesWritten } = await this.#handle.write(data, done, data.length - done, position + done);
        done += bytesWritten;
      }
    } catch (err) {
      throw localFileError(err, this.path, 'write');
    }
  }

  /** Writes the buffers back to back at `position` in one call (no concatenation copy). */
  async writev(buffers: readonly Buffer[], position: number): Promise<void> {
    try {
      let pending = [...buffers];
      let at = position;
      while (pending.length > 0) {
        const { bytesWritten } = await this.#handle.writev(pending, at);
        at += bytesWritten;
        // A short write: drop what went out and continue with the rest.
        let skip = bytesWritten;
        while (skip > 0 && pending.length > 0) {
          const first = pending[0] as Buffer;
          if (first.length <= skip) {
            skip -= first.length;
            pending.shift();
          } else {
            pending[0] = first.subarray(skip);
            skip = 0;
          }
        }
        if (bytesWritten === 0 && pending.length > 0) throw new Error('writev wrote nothing');
      }
    } catch (err) {
      throw localFileError(err, this.path, 'write');
    }
  }

  /**
   * Makes everything written so far durable (data, and the size when it changed): every write
   * that returned before the call. Writes may go on meanwhile; they are not covered.
   */
  async flush(): Promise<void> {
    flushes++;
    try {
      await this.#handle.datasync();
    } catch (err) {
      throw localFileError(err, this.path, 'flush');
    }
  }

  /** Cuts the file to `length` (a restart from zero). */
  async truncate(length: number): Promise<void> {
    try {
      await this.#handle.truncate(length);
    } catch (err) {
      throw localFileError(err, this.path, 'truncate');
    }
  }

  /** Applies the server's modification time (BITS copies it to the local file). */
  async setModificationTime(mtime: Date): Promise<void> {
    try {
      await this.#handle.utimes(mtime, mtime);
    } catch (err) {
      throw localFileError(err, this.path, 'set the time of');
    }
  }

  /** Idempotent; never throws (called on error paths). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#handle.close();
    } catch {
      // Nothing useful to do: the bytes recorded are in the page cache (or on disk) already.
    }
  }
}
