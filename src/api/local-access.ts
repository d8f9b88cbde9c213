/**
 * AddFile's and SetReplyFileName's checks of the local side: the directory exists (and is
 * writable for downloads), an upload source is a readable regular file.
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { BitsError, invalidArg } from '../shared/errors.js';
import { localFileError } from '../shared/os-errors.js';
import { LIMITS, type JobType } from '../job/types.js';

/**
 * Download directories that passed the check below within DIR_CHECK_TTL_MS. AddFile comes in
 * bursts (200 files of a job, thousands of jobs into one directory), and checking the same
 * directory again each time cost two thread-pool round trips per call (bench case 5). A directory
 * removed within the window is reported by the transfer instead (ERROR_PATH_NOT_FOUND), as one
 * removed right after AddFile always was. Only successes are remembered.
 */
const DIR_CHECK_TTL_MS = 1000;
const checkedDirs = new Map<string, number>();

/** AddFile's local checks: the directory exists (and is writable for downloads); an upload source is readable. */
export async function checkLocalAccess(type: JobType, localName: string): Promise<void> {
  if (type === 'DOWNLOAD') {
    const dir = dirname(localName);
    // The transfer writes BITxxxxxxxx.tmp beside the file: that path must fit too.
    const tempBytes = Buffer.byteLength(dir) + '/BITxxxxxxxx.tmp'.length;
    if (tempBytes > LIMITS.localPath) {
      throw invalidArg(`The directory ${dir} is too deep for the download's temp file (${tempBytes} bytes, the limit is ${LIMITS.localPath}): use a shorter path.`);
    }
    const checkedAt = checkedDirs.get(dir);
    if (checkedAt !== undefined && performance.now() - checkedAt < DIR_CHECK_TTL_MS) return;
    await checkDirectory(dir);
    try {
      await access(dir, constants.W_OK);
    } catch {
      throw new BitsError('E_ACCESSDENIED', `Cannot write to the directory ${dir}: choose a directory this user can write to, or change its permissions.`);
    }
    if (checkedDirs.size >= 1024) checkedDirs.clear();
    checkedDirs.set(dir, performance.now());
    return;
  }
  try {
    const info = await stat(localName);
    if (!info.isFile()) throw invalidArg(`The upload source ${localName} is not a regular file.`);
    await access(localName, constants.R_OK);
  } catch (err) {
    if (err instanceof BitsError) throw err;
    throw localFileError(err, `Cannot read the upload source ${localName}`);
  }
}

export async function checkDirectory(dir: string): Promise<void> {
  try {
    const info = await stat(dir);
    if (!info.isDirectory()) throw invalidArg(`${dir} is not a directory.`);
  } catch (err) {
    if (err instanceof BitsError) throw err;
    throw invalidArg(`The directory ${dir} does not exist; create it first.`);
  }
}

/** A file bitsd will read later (a client certificate or key) must be readable now. */
export async function checkReadable(path: string): Promise<void> {
  try {
    await access(path, constants.R_OK);
  } catch (err) {
    throw localFileError(err, `Cannot read ${path}`);
  }
}
