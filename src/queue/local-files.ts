/**
 * What Complete and Cancel do to local files, one file at a time, each step idempotent so that
 * start-up can run it again after a crash. Downloads land in a temp file (BIT*.tmp) beside the
 * destination; Complete renames it onto its local name (one rename(2): atomic, never a
 * half-written destination), Cancel deletes it.
 *
 * bitsd moves or deletes only the file it created: the name must still hold a regular file
 * with the identity recorded at creation (device and inode). A symlink, directory or another
 * file planted at the name is never followed, moved or deleted.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { BitsError } from '../shared/errors.js';
import { occupantOf, type Occupant } from '../shared/file-identity.js';
import { errnoOf, localFileError } from '../shared/os-errors.js';
import type { FileIdentity } from '../job/types.js';

/** BITxxxxxxxx.tmp beside `localName`, as Windows BITS names its temp files. */
export function tempNameFor(localName: string): string {
  return join(dirname(localName), `BIT${randomBytes(4).toString('hex').toUpperCase()}.tmp`);
}

export interface OwnedTemp {
  readonly tempName: string;
  /** Recorded when bitsd created the file; null for rows from before identities were kept. */
  readonly identity: FileIdentity | null;
}

/**
 * Whether the occupant of a temp name is the file bitsd created. Without a recorded identity
 * (rows from before bitsd kept them) a regular file with a single link is taken as ours.
 */
function isOurs(occupant: Occupant, identity: FileIdentity | null): boolean {
  if (occupant.kind !== 'file') return false;
  return identity === null ? occupant.links === 1 : occupant.identity === identity;
}

/** The identity of an unrecorded temp file that may be bitsd's (see isOurs), or null. */
export async function identityFor(temp: OwnedTemp): Promise<FileIdentity | null> {
  const occupant = await occupantOf(temp.tempName).catch(() => ({ kind: 'other' }) as const);
  return occupant.kind === 'file' && isOurs(occupant, null) ? occupant.identity : null;
}

function takenOver(path: string, what: string): BitsError {
  return new BitsError(
    'BG_E_LOCAL_FILE_CHANGED',
    `${path} is no longer the temporary file bitsd created (${what}); bitsd did not move or follow it. Remove it and cancel the job, or resume it to download the file again.`,
    { context: 'LOCAL_FILE', details: { path } },
  );
}

/**
 * Moves a finished temp file onto `localName`. Already done (the temp file is gone and the
 * local name holds the file bitsd created) counts as done: that is where a crash between the
 * rename and its record leaves it.
 */
export async function deliverFile(temp: OwnedTemp, localName: string): Promise<void> {
  let occupant: Occupant;
  try {
    occupant = await occupantOf(temp.tempName);
  } catch (err) {
    throw localFileError(err, `Cannot check the temp file ${temp.tempName}`);
  }
  if (occupant.kind === 'absent') {
    const there = await occupantOf(localName).catch(() => ({ kind: 'absent' }) as const);
    if (temp.identity !== null && there.kind === 'file' && there.identity === temp.identity) return;
    throw new BitsError('ERROR_PATH_NOT_FOUND', `Cannot move ${temp.tempName} to ${localName}: the temp file is gone. Resume the job to download the file again, or cancel it.`, {
      context: 'LOCAL_FILE',
      details: { path: temp.tempName },
    });
  }
  if (!isOurs(occupant, temp.identity)) throw takenOver(temp.tempName, occupant.kind === 'file' ? 'another file is at its name' : 'a symlink or special file is at its name');
  try {
    await rename(temp.tempName, localName);
  } catch (err) {
    throw localFileError(err, `Cannot move ${temp.tempName} to ${localName}`);
  }
}

/**
 * Deletes a temp file bitsd created; true when the name is free of it. A name that holds
 * something else (a symlink, a directory, another file) is left alone and reported as not
 * deleted, so Cancel answers BG_S_UNABLE_TO_DELETE_FILES and the caller knows to look.
 */
export async function discardFile(temp: OwnedTemp): Promise<boolean> {
  try {
    const occupant = await occupantOf(temp.tempName);
    if (occupant.kind === 'absent') return true;
    if (!isOurs(occupant, temp.identity)) return false;
    await unlink(temp.tempName);
    return true;
  } catch (err) {
    return errnoOf(err) === 'ENOENT';
  }
}

/**
 * Moves a finished reply (upload-reply) into place. No reply body ever written (the server sent
 * an empty reply) gives an empty file.
 */
export async function deliverReply(temp: OwnedTemp, replyFileName: string): Promise<void> {
  const occupant = await occupantOf(temp.tempName).catch((err: unknown) => {
    throw localFileError(err, `Cannot check the reply's temp file ${temp.tempName}`);
  });
  if (occupant.kind !== 'absent') return deliverFile(temp, replyFileName);
  const there = await occupantOf(replyFileName).catch(() => ({ kind: 'absent' }) as const);
  // Delivered before a crash: the reply file is the temp file bitsd created.
  if (temp.identity !== null && there.kind === 'file' && there.identity === temp.identity) return undefined;
  try {
    // Truncate, never follow: a symlink planted at the reply's name is refused (ELOOP).
    const handle = await open(replyFileName, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o644);
    await handle.close();
  } catch (err) {
    throw localFileError(err, `Cannot create the reply file ${replyFileName}`);
  }
  return undefined;
}
