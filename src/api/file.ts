/**
 * IBackgroundCopyFile (1-3): one file of a job, read live from the queue.
 */
import { BitsError, notImplemented } from '../shared/errors.js';
import { checkRemoteName } from '../job/validate.js';
import type { FileProgress, FileRange } from '../job/types.js';
import type { JobQueue } from '../queue/job-queue.js';
import type { FileRecord } from '../job/records.js';
import type { BackgroundCopyFile } from './types.js';

export class BackgroundCopyFileImpl implements BackgroundCopyFile {
  readonly index: number;
  readonly #queue: JobQueue;
  readonly #jobId: string;

  constructor(queue: JobQueue, jobId: string, index: number) {
    this.#queue = queue;
    this.#jobId = jobId;
    this.index = index;
  }

  #file(): FileRecord {
    const file = this.#queue.reads.getFiles(this.#jobId).find((f) => f.index === this.index);
    if (!file) throw new BitsError('BG_E_NOT_FOUND', `Job ${this.#jobId} has no file ${this.index}.`);
    return file;
  }

  async getRemoteName(): Promise<string> {
    return this.#file().remoteName;
  }

  async getLocalName(): Promise<string> {
    return this.#file().localName;
  }

  async getProgress(): Promise<FileProgress> {
    const f = this.#file();
    return { bytesTotal: f.bytesTotal, bytesTransferred: f.bytesTransferred, completed: f.completed };
  }

  /** IBackgroundCopyFile3::GetTemporaryName: the BIT*.tmp file in the destination directory. */
  async getTemporaryName(): Promise<string> {
    return this.#file().tempName;
  }

  async getFileRanges(): Promise<FileRange[]> {
    return [...(this.#file().ranges ?? [])];
  }

  /** Takes effect when the job next runs; the engine restarts the file if the new URL's size or date differ. */
  async setRemoteName(url: string): Promise<void> {
    const job = this.#queue.record(this.#jobId);
    if (job.type !== 'DOWNLOAD') throw notImplemented(`setRemoteName for ${job.type} jobs (download jobs only)`);
    checkRemoteName(url, job.type);
    this.#file();
    this.#queue.modify(this.#jobId, {}, (_job, tx) => tx.setRemoteName(this.#jobId, this.index, url));
    await this.#queue.committed();
  }
}
