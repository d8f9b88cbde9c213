/**
 * IBackgroundCopyJob::Complete. Downloads: finished temp files are renamed onto their local names,
 * unfinished ones deleted (BG_S_PARTIAL_COMPLETE); a failed rename leaves the job TRANSFERRED
 * and throws, so Complete or Cancel can be called again. Uploads: the server committed the file
 * at the last fragment, so Complete needs no network; upload-reply moves the reply into place.
 */
import { dirname, basename, join } from 'node:path';
import { completeDownloadFiles, completeReplyFile } from './local-files.js';
import type { JobQueue } from './job-queue.js';
import type { JobRecord } from '../job/records.js';

export type CompleteResult = 'S_OK' | 'BG_S_PARTIAL_COMPLETE';

/** Where the reply of an UPLOAD_REPLY job goes when the caller named no file (our choice). */
export function defaultReplyFileName(uploadLocalName: string): string {
  return join(dirname(uploadLocalName), `${basename(uploadLocalName)}.reply`);
}

export function completeJob(queue: JobQueue, id: string): Promise<CompleteResult> {
  return queue.whileCompleting(id, () => completeFiles(queue, id));
}

async function completeFiles(queue: JobQueue, id: string): Promise<CompleteResult> {
  const { before } = queue.apply(id, { type: 'COMPLETE' });
  await queue.scheduler.whenStopped(id);
  const files = queue.store.getFiles(id);

  if (before.type === 'DOWNLOAD') {
    const outcome = await completeDownloadFiles(files);
    queue.store.transaction(() => {
      for (const index of outcome.renamed) queue.store.updateFile(id, index, { completed: true });
    });
    if (outcome.failure) {
      queue.apply(id, { type: 'COMPLETE_FAILED' });
      throw outcome.failure;
    }
    queue.apply(id, { type: 'COMPLETED' });
    return outcome.partial ? 'BG_S_PARTIAL_COMPLETE' : 'S_OK';
  }

  if (before.type === 'UPLOAD_REPLY') {
    const failure = await moveReply(before, files[0]?.localName);
    if (failure) {
      queue.apply(id, { type: 'COMPLETE_FAILED' });
      throw failure;
    }
  }
  queue.apply(id, { type: 'COMPLETED' });
  return 'S_OK';
}

async function moveReply(job: JobRecord, uploadLocalName: string | undefined) {
  if (!job.replyTempName) return null;
  const target = job.replyFileName ?? (uploadLocalName ? defaultReplyFileName(uploadLocalName) : null);
  if (!target) return null;
  return completeReplyFile(job.replyTempName, target);
}
