/**
 * IBackgroundCopyJob::Complete and ::Cancel. Each is one transition that records, in the same
 * transaction, everything it owes: the files Complete must move into place (DELIVER), the temp
 * files Cancel must delete (DISCARD), the Cancel-Session an upload owes its server. The work
 * follows the commit (file-work.ts) and is picked up again at start-up if a crash cut it short.
 *
 * Complete and Cancel of one job run one after the other, never interleaved: a Cancel that
 * arrives while Complete moves files waits for it, and then finds the job ACKNOWLEDGED (or
 * TRANSFERRED again if a rename failed). So a job never ends CANCELLED with files it delivered
 * by that Complete, nor ACKNOWLEDGED with files missing.
 */
import type { JobEvent } from '../job/machine.js';
import type { FileRecord, JobPatch, JobRecord } from '../job/records.js';
import type { ApplyOptions } from './funnel.js';
import type { FileWork } from './file-work.js';

export type CompleteResult = 'S_OK' | 'BG_S_PARTIAL_COMPLETE';
export type CancelResult = 'S_OK' | 'BG_S_UNABLE_TO_DELETE_FILES';

export interface CloserDeps {
  readonly apply: (jobId: string, event: JobEvent, options?: ApplyOptions) => void;
  readonly committed: () => Promise<void>;
  readonly work: FileWork;
  /** The Cancel-Session debt to record with CANCELLED, if the upload reached its server. */
  readonly cancelSessionDebt: (job: JobRecord, files: readonly FileRecord[]) => JobPatch | null;
  readonly jobsOwingFileWork: () => string[];
  readonly reportError: (err: unknown) => void;
}

export class JobCloser {
  readonly #deps: CloserDeps;
  /** Per job, the tail of its chain of Complete/Cancel/recovery runs. */
  readonly #chains = new Map<string, Promise<unknown>>();

  constructor(deps: CloserDeps) {
    this.#deps = deps;
  }

  complete(jobId: string): Promise<CompleteResult> {
    return this.#serial(jobId, async () => {
      this.#deps.apply(jobId, { type: 'COMPLETE' });
      await this.#deps.committed();
      const outcome = await this.#deps.work.run(jobId);
      if (outcome.kind === 'delivery-failed') throw outcome.error;
      return outcome.kind === 'delivered' && outcome.partial ? 'BG_S_PARTIAL_COMPLETE' : 'S_OK';
    });
  }

  cancel(jobId: string, event: 'CANCEL' | 'INACTIVITY_EXPIRED' = 'CANCEL'): Promise<CancelResult> {
    return this.#serial(jobId, async () => {
      this.#deps.apply(jobId, { type: event }, { prepare: (job, tx) => this.#deps.cancelSessionDebt(job, tx.getFiles(jobId)) ?? {} });
      await this.#deps.committed();
      const outcome = await this.#deps.work.run(jobId);
      return outcome.kind === 'discarded' && !outcome.allDeleted ? 'BG_S_UNABLE_TO_DELETE_FILES' : 'S_OK';
    });
  }

  /** Start-up: finishes the file work that committed Completes and Cancels still owe. */
  async finishOwedWork(): Promise<void> {
    const runs = this.#deps.jobsOwingFileWork().map((jobId) =>
      this.#serial(jobId, () => this.#deps.work.run(jobId)).catch((err: unknown) => this.#deps.reportError(err)),
    );
    await Promise.all(runs);
  }

  /** Waits for every Complete and Cancel under way (shutdown). */
  async idle(): Promise<void> {
    while (this.#chains.size > 0) await Promise.allSettled([...this.#chains.values()]);
  }

  #serial<T>(jobId: string, run: () => Promise<T>): Promise<T> {
    const previous = this.#chains.get(jobId) ?? Promise.resolve();
    const next = previous.then(run, run);
    const tail = next.catch(() => undefined);
    this.#chains.set(jobId, tail);
    void tail.then(() => {
      if (this.#chains.get(jobId) === tail) this.#chains.delete(jobId);
    });
    return next;
  }
}
