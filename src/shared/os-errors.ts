/**
 * Local file failures (Node's errno codes) as the Win32 HRESULTs Windows BITS reports for them,
 * always with context LOCAL_FILE.
 */
import { BitsError } from './errors.js';
import type { HresultCode } from './hresult.js';

const ERRNO_TO_CODE: Readonly<Record<string, HresultCode>> = {
  ENOENT: 'ERROR_PATH_NOT_FOUND',
  ENOTDIR: 'ERROR_DIRECTORY',
  EISDIR: 'ERROR_DIRECTORY',
  EACCES: 'E_ACCESSDENIED',
  EPERM: 'E_ACCESSDENIED',
  ENOSPC: 'ERROR_DISK_FULL',
  EDQUOT: 'ERROR_DISK_FULL',
  EROFS: 'ERROR_WRITE_PROTECT',
  EEXIST: 'ERROR_FILE_EXISTS',
  ENAMETOOLONG: 'ERROR_FILENAME_EXCED_RANGE',
  EMFILE: 'ERROR_TOO_MANY_OPEN_FILES',
  ENFILE: 'ERROR_TOO_MANY_OPEN_FILES',
  EBUSY: 'ERROR_SHARING_VIOLATION',
  ETXTBSY: 'ERROR_SHARING_VIOLATION',
};

/** Disk-full and too-many-files conditions can clear up by themselves: retry them later. */
const TRANSIENT_ERRNOS = new Set(['ENOSPC', 'EDQUOT', 'EMFILE', 'ENFILE', 'EBUSY']);

export function errnoOf(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}

/** Converts a failed fs call into a BitsError with context LOCAL_FILE (already a BitsError: kept). */
export function localFileError(err: unknown, what: string): BitsError {
  if (err instanceof BitsError) return err;
  const errno = errnoOf(err);
  const code = (errno && ERRNO_TO_CODE[errno]) || 'E_FAIL';
  const reason = err instanceof Error ? err.message : String(err);
  return new BitsError(code, `${what}: ${reason}`, {
    context: 'LOCAL_FILE',
    transient: errno !== undefined && TRANSIENT_ERRNOS.has(errno),
    cause: err,
  });
}
