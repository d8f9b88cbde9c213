/**
 * IBackgroundCopyJob2::GetReplyData: the reply of an UPLOAD_REPLY job, in memory, once it is
 * TRANSFERRED (from its temp file) or ACKNOWLEDGED (from the reply file), up to 1 MB.
 */
import { readFile } from 'node:fs/promises';
import { BitsError, notImplemented } from '../shared/errors.js';
import { localFileError } from '../shared/os-errors.js';
import type { JobRecord } from '../job/records.js';
import { LIMITS } from '../job/types.js';

export async function readReplyData(job: JobRecord): Promise<Buffer | null> {
  if (job.type !== 'UPLOAD_REPLY') throw notImplemented(`getReplyData for ${job.type} jobs (upload-reply jobs only)`);
  if (job.state !== 'TRANSFERRED' && job.state !== 'ACKNOWLEDGED') {
    throw new BitsError('BG_E_INVALID_STATE', `The reply is available once the job is TRANSFERRED; it is ${job.state}.`);
  }
  if (job.replyUrl === null) return null;
  if (job.replyBytesTotal > LIMITS.replyData) {
    throw new BitsError('BG_E_TOO_LARGE', `The reply is ${job.replyBytesTotal} bytes, more than the ${LIMITS.replyData}-byte limit of getReplyData; read the reply file after complete().`);
  }
  const path = job.state === 'ACKNOWLEDGED' ? job.replyFileName : job.replyTempName;
  if (!path) return null;
  try {
    return await readFile(path);
  } catch (err) {
    throw localFileError(err, `Cannot read the reply ${path}`);
  }
}
