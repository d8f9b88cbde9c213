/**
 * Runs one dispatched job: its files strictly in order, each through the engine that handles its
 * URL scheme and the job type, reporting through a RunnerHost that persists and transitions (a ProgressSink per file).
 * The runner holds no state of its own between runs: everything it needs to resume is in the
 * store (offsets, engine state), so a restart or a retry starts here again.
 */
import type { Clock } from '../shared/clock.js';
import { BitsError } from '../shared/errors.js';
import type { Pacer, ProgressSink, TransferEngine, TransferFile, TransferJob } from './types.js';

export interface RunnerHost {
  /** The job's settings and its files not yet transferred, or null if it is gone. */
  load(jobId: string): { job: TransferJob; files: TransferFile[] } | null;
  /**
   * Where the engine reports on one file of the running job. The sink drops every report once
   * `signal` aborted: a late report must not revive a suspended, cancelled or completed job.
   */
  sink(jobId: string, file: TransferFile, signal: AbortSignal): ProgressSink;
  /** How fast the job may move bytes (the bandwidth policy for its priority). */
  pacer(jobId: string): Pacer;
  fileTransferred(jobId: string, fileIndex: number): void;
  allTransferred(jobId: string): void;
  /** The run failed; the host records it (and may first look at the network: hence a promise). */
  failed(jobId: string, error: BitsError, fileIndex: number | null): void | Promise<void>;
}

export function pickEngine(engines: readonly TransferEngine[], job: TransferJob, remote: string): TransferEngine | undefined {
  let url: URL;
  try {
    url = new URL(remote);
  } catch {
    return undefined;
  }
  return engines.find((e) => e.handles(job.type, url));
}

export async function runJob(
  host: RunnerHost,
  engines: readonly TransferEngine[],
  clock: Clock,
  jobId: string,
  signal: AbortSignal,
): Promise<void> {
  let current: number | null = null;
  try {
    // Files added while the job runs are picked up by loading again until nothing is left.
    for (;;) {
      const loaded = host.load(jobId);
      if (!loaded) return;
      if (loaded.files.length === 0) break;
      for (const file of loaded.files) {
        if (signal.aborted) return;
        current = file.index;
        await transferFile(host, engines, clock, jobId, loaded.job, file, signal);
        if (signal.aborted) return;
        host.fileTransferred(jobId, file.index);
      }
    }
    if (signal.aborted) return;
    host.allTransferred(jobId);
  } catch (err) {
    if (signal.aborted) return;
    const error =
      err instanceof BitsError
        ? err
        : new BitsError('E_FAIL', `Unexpected failure in the transfer engine: ${err instanceof Error ? err.message : String(err)}`, {
            context: 'GENERAL_QUEUE_MANAGER',
            cause: err,
          });
    await host.failed(jobId, error, current);
  }
}

async function transferFile(
  host: RunnerHost,
  engines: readonly TransferEngine[],
  clock: Clock,
  jobId: string,
  job: TransferJob,
  file: TransferFile,
  signal: AbortSignal,
): Promise<void> {
  const engine = pickEngine(engines, job, file.remoteName);
  if (!engine) {
    throw new BitsError('BG_E_PROTOCOL_NOT_AVAILABLE', `No transfer engine handles ${job.type} jobs for ${file.remoteName}.`, {
      context: 'GENERAL_QUEUE_MANAGER',
    });
  }
  await engine.transfer({ job, file, signal, clock, sink: host.sink(jobId, file, signal), pacer: host.pacer(jobId) });
}
