/**
 * The download's temp file (BIT*.tmp beside the destination): opened without truncation, cut back
 * to the last durable offset, written at explicit positions, flushed with fdatasync before progress
 * is reported, closed exactly once.
 *
 * Local failures become BitsErrors with context LOCAL_FILE. A full disk (ENOSPC, EDQUOT) is
 * transient: space can be freed without touching the job, and the job's retry delay and
 * no-progress timeout bound the waiting (BITS likewise keeps such a job in TRANSIENT_ERROR).
 * Access, missing-directory, read-only and name errors are fatal: they need the owner to act.
 */
import { constants, type promises as fsPromises } from 'node:fs';
import { open } from 'node:fs/promises';
import { BitsError } from '../../shared/errors.js';
import type { HresultCode } from '../../shared/hresult.js';

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
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  const rule = typeof code === 'string' ? LOCAL_ERRORS[code] : undefined;
  const message = `Cannot ${action} the temporary file ${path}: ${err instanceof Error ? err.message : String(err)}`;
  return new BitsError(rule?.code ?? 'E_FAIL', message, {
    context: 'LOCAL_FILE',
    transient: rule?.transient ?? false,
    cause: err,
    details: { errno: code, path },
  });
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
   * Opens (creating if missing) the temp file and cuts it back to `offset`, the last durable
   * position: bytes past it were never reported and may be garbage from an interrupted write.
   * Returns the offset the download can resume from: 0 when the file is shorter than `offset`
   * (the durable bytes are gone). Special files (e.g. /dev/full) are used as they are.
   */
  static async open(path: string, offset: number): Promise<{ file: TempFile; offset: number }> {
    let handle: fsPromises.FileHandle;
    try {
      handle = await open(path, constants.O_RDWR | constants.O_CREAT, 0o644);
    } catch (err) {
      throw localFileError(err, path, 'open');
    }
    const file = new TempFile(path, handle);
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) return { file, offset: 0 };
      const resume = stat.size >= offset ? offset : 0;
      if (stat.size !== resume) await handle.truncate(resume);
      return { file, offset: resume };
    } catch (err) {
      await file.close();
      throw localFileError(err, path, 'truncate');
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

  /** Makes everything written so far durable (data, and the size when it changed). */
  async flush(): Promise<void> {
    try {
      await this.#handle.datasync();
    } catch (err) {
      throw localFileError(err, this.path, 'flush');
    }
  }

  /** Cuts the file to `length` (a restart from zero). */
  async truncate(length: number): Promise<void> {
    try {
      const stat = await this.#handle.stat();
      if (stat.isFile()) await this.#handle.truncate(length);
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
      // Nothing useful to do: the data that matters was flushed before progress was reported.
    }
  }
}
