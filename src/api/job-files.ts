/**
 * AddFile, AddFileSet and AddFileWithRanges: every name is checked before anything is written,
 * then the files are inserted in the job's MODIFY transaction, where the per-job limits are
 * checked against the rows as stored.
 */
import { BitsError } from '../shared/errors.js';
import * as v from '../job/validate.js';
import type { JobRecord } from '../job/records.js';
import type { FileRange, JobType, Quotas } from '../job/types.js';
import type { TransactionWrites } from '../queue/funnel.js';
import { tempNameFor } from '../queue/local-files.js';
import { checkLocalAccess } from './local-access.js';
import type { FileInfo } from './types.js';

export interface NewFile {
  readonly remoteName: string;
  readonly localName: string;
  readonly ranges: readonly FileRange[] | null;
}

/** Checks every entry (names, the local side) before the job is touched. */
export async function checkNewFiles(type: JobType, entries: readonly FileInfo[], ranges: readonly FileRange[] | null): Promise<NewFile[]> {
  const files: NewFile[] = [];
  for (const entry of entries) {
    const e = (entry ?? {}) as Partial<FileInfo>;
    v.checkRemoteName(e.remoteName, type);
    const localName = v.checkLocalName(e.localName);
    await checkLocalAccess(type, localName);
    files.push({ remoteName: e.remoteName as string, localName, ranges });
  }
  return files;
}

/** Inside the MODIFY transaction: the per-job limits, then the rows. */
export function insertNewFiles(job: JobRecord, tx: TransactionWrites, files: readonly NewFile[], quotas: Quotas): void {
  const count = tx.countFiles(job.id);
  if (job.type !== 'DOWNLOAD' && count + files.length > 1) {
    throw new BitsError('BG_E_TOO_MANY_FILES', `${job.type} jobs hold exactly one file; this job would have ${count + files.length}.`);
  }
  if (count + files.length > quotas.filesPerJob) {
    throw new BitsError('BG_E_TOO_MANY_FILES_IN_JOB', `The job would have ${count + files.length} files; the limit is ${quotas.filesPerJob}.`);
  }
  const existing = count === 0 ? [] : tx.getFiles(job.id).map((f) => f.localName);
  v.checkDistinctLocalNames(existing, files.map((f) => f.localName));
  files.forEach((f, i) => {
    tx.insertFile({
      jobId: job.id,
      index: count + i,
      remoteName: f.remoteName,
      localName: f.localName,
      tempName: tempNameFor(f.localName),
      bytesTotal: -1,
      bytesTransferred: 0,
      syncedBytes: 0,
      bootId: null,
      transferred: false,
      completed: false,
      ranges: f.ranges,
      engineState: {},
      tempIdentity: null,
    });
  });
}
