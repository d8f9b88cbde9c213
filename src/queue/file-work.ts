/**
 * Carries out the local-file work a committed Complete (DELIVER) or Cancel (DISCARD) owes
 * (JobRecord.fileIntent), then settles it through the funnel. The same code runs right after the
 * commit and again at start-up for work a crash interrupted: every step is idempotent, and each
 * step's record (a file delivered) is committed before the next step starts.
 *
 * Crash seams (shared/crash-seam.ts) mark each boundary:
 *   complete:committed  the DELIVER intent is committed, nothing moved yet
 *   complete:renamed    one more file is at its local name, not yet recorded
 *   complete:recorded   ... and recorded
 *   complete:cleaned    unfinished temp files deleted, ACKNOWLEDGED not yet committed
 *   cancel:committed    CANCELLED (and any Cancel-Session debt) committed, nothing deleted yet
 *   cancel:deleted      one more temp file deleted
 *   cancel:discarded    every temp file deleted, the intent not yet cleared
 */
import type { BitsError } from '../shared/errors.js';
import type { CrashSeam } from '../shared/crash-seam.js';
import type { JobEvent } from '../job/machine.js';
import type { FileRecord, JobRecord } from '../job/records.js';
import type { FileIdentity } from '../job/types.js';
import { deliverFile, deliverReply, discardFile, identityFor, type OwnedTemp } from './local-files.js';

/** A file's temp file, or an UPLOAD_REPLY job's reply temp file. */
export type TempTarget = { readonly fileIndex: number } | 'reply';

export type FileWorkOutcome =
  /** Nothing was owed (an UPLOAD's Complete, or someone else settled it). */
  | { readonly kind: 'none' }
  | { readonly kind: 'delivered'; readonly partial: boolean }
  /** A rename failed: the job is TRANSFERRED again, with the files delivered so far delivered. */
  | { readonly kind: 'delivery-failed'; readonly error: BitsError }
  | { readonly kind: 'discarded'; readonly allDeleted: boolean };

export interface FileWorkDeps {
  readonly job: (jobId: string) => JobRecord | undefined;
  readonly files: (jobId: string) => FileRecord[];
  readonly settle: (jobId: string, event: JobEvent) => void;
  readonly fileDelivered: (jobId: string, fileIndex: number) => void;
  /** Records which file a temp file is (the engine did not, or the row predates identities). */
  readonly tempIdentified: (jobId: string, target: TempTarget, identity: FileIdentity) => void;
  /** Settles once every write made so far is committed. */
  readonly committed: () => Promise<void>;
  /** Settles once the job's transfer (if any) has stopped touching its files. */
  readonly whenStopped: (jobId: string) => Promise<void>;
  readonly seam: CrashSeam;
}

/** Where the reply of an UPLOAD_REPLY job goes when the caller named no file (our choice). */
export function defaultReplyFileName(uploadLocalName: string): string {
  return `${uploadLocalName}.reply`;
}

export class FileWork {
  readonly #deps: FileWorkDeps;

  constructor(deps: FileWorkDeps) {
    this.#deps = deps;
  }

  /** Does what the job owes now. Callers serialise per job (closer.ts). */
  async run(jobId: string): Promise<FileWorkOutcome> {
    const deps = this.#deps;
    await deps.whenStopped(jobId);
    const job = deps.job(jobId);
    if (job?.fileIntent === 'DELIVER') return this.#deliver(job);
    if (job?.fileIntent === 'DISCARD') return this.#discard(job);
    return { kind: 'none' };
  }

  async #deliver(job: JobRecord): Promise<FileWorkOutcome> {
    const deps = this.#deps;
    deps.seam('complete:committed');
    const files = deps.files(job.id);
    let partial = false;
    try {
      if (job.type === 'DOWNLOAD') {
        for (const file of files) {
          if (file.completed) continue;
          if (!file.transferred) {
            partial = true;
            continue;
          }
          await deliverFile(await this.#identified(job.id, { fileIndex: file.index }, ownedTemp(file)), file.localName);
          deps.seam('complete:renamed');
          deps.fileDelivered(job.id, file.index);
          await deps.committed();
          deps.seam('complete:recorded');
        }
        // Unfinished temp files go only once every finished one is in place: after a failed
        // rename the job stays in the queue, and Cancel (or a later Complete) cleans up.
        for (const file of files) if (!file.transferred) await discardFile(ownedTemp(file));
      } else {
        const target = job.replyFileName ?? (files[0] ? defaultReplyFileName(files[0].localName) : null);
        if (job.replyTempName !== null && target !== null) {
          await deliverReply(await this.#identified(job.id, 'reply', { tempName: job.replyTempName, identity: job.replyTempIdentity }), target);
          deps.seam('complete:renamed');
        }
      }
    } catch (err) {
      deps.settle(job.id, { type: 'COMPLETE_FAILED' });
      await deps.committed();
      return { kind: 'delivery-failed', error: err as BitsError };
    }
    deps.seam('complete:cleaned');
    deps.settle(job.id, { type: 'COMPLETED' });
    await deps.committed();
    return { kind: 'delivered', partial };
  }

  /**
   * A temp file about to be moved, with its identity recorded first: after a crash between the
   * rename and its record, start-up recognises the file at its final name as the one it moved.
   * Without an identity from the engine, a regular file with one link at the name is taken as
   * bitsd's (identityFor); anything else is refused by deliverFile.
   */
  async #identified(jobId: string, target: TempTarget, temp: OwnedTemp): Promise<OwnedTemp> {
    if (temp.identity !== null) return temp;
    const identity = await identityFor(temp);
    if (identity === null) return temp;
    this.#deps.tempIdentified(jobId, target, identity);
    await this.#deps.committed();
    return { ...temp, identity };
  }

  async #discard(job: JobRecord): Promise<FileWorkOutcome> {
    const deps = this.#deps;
    deps.seam('cancel:committed');
    const temps: OwnedTemp[] =
      job.type === 'DOWNLOAD'
        ? deps.files(job.id).filter((f) => !f.completed).map(ownedTemp)
        : job.replyTempName !== null ? [{ tempName: job.replyTempName, identity: job.replyTempIdentity }] : [];
    let allDeleted = true;
    for (const temp of temps) {
      if (!(await discardFile(temp))) allDeleted = false;
      deps.seam('cancel:deleted');
    }
    deps.seam('cancel:discarded');
    deps.settle(job.id, { type: 'FILES_DISCARDED' });
    await deps.committed();
    return { kind: 'discarded', allDeleted };
  }
}

function ownedTemp(file: FileRecord): OwnedTemp {
  return { tempName: file.tempName, identity: file.tempIdentity };
}
