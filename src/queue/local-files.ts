/**
 * What Complete and Cancel do to local files. Downloads land in a temp file (BIT*.tmp) in the
 * destination directory; Complete renames finished temp files onto their local names (one
 * rename(2) each: atomic, never a half-written destination) and deletes unfinished ones; Cancel
 * deletes them all.
 */
import { randomBytes } from 'node:crypto';
import { rename, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { errnoOf, localFileError } from '../shared/os-errors.js';
import type { BitsError } from '../shared/errors.js';
import type { FileRecord } from '../job/records.js';

/** BITxxxxxxxx.tmp beside `localName`, as Windows BITS names its temp files. */
export function tempNameFor(localName: string): string {
  return join(dirname(localName), `BIT${randomBytes(4).toString('hex').toUpperCase()}.tmp`);
}

/** Deletes a file; true when it is gone (or never existed). */
export async function removeIfPresent(path: string): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch (err) {
    return errnoOf(err) === 'ENOENT';
  }
}

export interface CompleteOutcome {
  /** Indexes of files now available under their local names. */
  readonly renamed: readonly number[];
  /** True when some file was not transferred and was dropped (BG_S_PARTIAL_COMPLETE). */
  readonly partial: boolean;
  /** The first rename failure; the job must stay TRANSFERRED. */
  readonly failure: BitsError | null;
}

export async function completeDownloadFiles(files: readonly FileRecord[]): Promise<CompleteOutcome> {
  const renamed: number[] = [];
  let partial = false;
  let failure: BitsError | null = null;
  for (const file of files) {
    if (file.completed) {
      renamed.push(file.index);
      continue;
    }
    if (!file.transferred) {
      partial = true;
      continue;
    }
    try {
      await rename(file.tempName, file.localName);
      renamed.push(file.index);
    } catch (err) {
      failure ??= localFileError(err, `Cannot move ${file.tempName} to ${file.localName}`);
    }
  }
  // Unfinished temp files are deleted only once the job is really done; after a failed rename
  // the job stays in the queue and Cancel cleans up.
  if (!failure) {
    for (const file of files) {
      if (!file.transferred) await removeIfPresent(file.tempName);
    }
  }
  return { renamed, partial, failure };
}

/** Deletes every temp file of a cancelled download; false when one could not be deleted. */
export async function deleteTempFiles(paths: readonly string[]): Promise<boolean> {
  let allGone = true;
  for (const path of paths) {
    if (!(await removeIfPresent(path))) allGone = false;
  }
  return allGone;
}

/** Moves a finished reply (upload-reply) into place. */
export async function completeReplyFile(tempName: string, replyFileName: string): Promise<BitsError | null> {
  try {
    await rename(tempName, replyFileName);
    return null;
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') {
      // No reply body was ever written (the server sent an empty reply): create an empty file.
      try {
        await writeFile(replyFileName, new Uint8Array(0));
        return null;
      } catch (inner) {
        return localFileError(inner, `Cannot create the reply file ${replyFileName}`);
      }
    }
    return localFileError(err, `Cannot move the reply to ${replyFileName}`);
  }
}
