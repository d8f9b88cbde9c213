/**
 * Drives bitsd jobs through the public API (in process, or over IPC: both implement
 * BackgroundCopyManagerApi) and waits for them: create + addFile(s) + resume, then Complete each
 * job as soon as it is TRANSFERRED. A job in ERROR fails the benchmark with its error.
 */
import type { BackgroundCopyJob, BackgroundCopyManagerApi } from '../../../src/api/types.js';
import type { JobType } from '../../../src/job/types.js';

export interface FileSpec {
  readonly remote: string;
  readonly local: string;
}

export interface TransferSpec {
  readonly type: JobType;
  /** One entry per job, each with its files. */
  readonly jobs: readonly (readonly FileSpec[])[];
}

/** Creates, fills and resumes every job, and resolves once all are completed (ACKNOWLEDGED). */
export async function runJobs(mgr: BackgroundCopyManagerApi, spec: TransferSpec): Promise<void> {
  const waiting = new Map<string, BackgroundCopyJob>();
  const completions: Promise<unknown>[] = [];
  let failure: ((err: Error) => void) | null = null;
  let allDone: (() => void) | null = null;
  const early = new Set<string>();
  let created = false;

  const finish = (id: string): void => {
    const job = waiting.get(id);
    if (!job) {
      early.add(id);
      return;
    }
    waiting.delete(id);
    completions.push(job.complete());
    if (created && waiting.size === 0) allDone?.();
  };
  const offTransferred = mgr.on('job:transferred', (e) => finish(e.jobId));
  const offError = mgr.on('job:error', (e) => failure?.(new Error(`job ${e.jobId} failed: ${e.error.code} ${e.error.message}`)));
  try {
    const done = new Promise<void>((resolve, reject) => {
      allDone = resolve;
      failure = reject;
    });
    for (const files of spec.jobs) {
      const job = await mgr.createJob('bench', spec.type);
      if (files.length === 1) {
        const f = files[0] as FileSpec;
        await job.addFile(f.remote, f.local);
      } else {
        await job.addFileSet(files.map((f) => ({ remoteName: f.remote, localName: f.local })));
      }
      waiting.set(job.id, job);
      await job.resume();
      // The transferred event may beat resume()'s answer over IPC.
      if (early.delete(job.id)) finish(job.id);
    }
    created = true;
    if (waiting.size > 0) await done;
    await Promise.all(completions);
  } finally {
    offTransferred();
    offError();
  }
}
