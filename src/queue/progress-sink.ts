/**
 * The ProgressSink the queue hands an engine for one file of one running job. Every report is
 * one named write through the funnel (file row and job modification time together), dropped
 * once the run's signal aborted, so a late report cannot revive a stopped job. The sink keeps
 * what it already reported (the file's size, whether the job is connected), so a report costs
 * no read of the row it is about to write.
 */
import type { FileIdentity } from '../job/types.js';
import type { FileProgressPatch } from '../job/records.js';
import type { EngineState, ProgressSink, ReplyInfo, TransferFile } from '../engine/types.js';

/** The funnel's writes a sink needs. */
export interface ProgressWrites {
  /** CONNECTING -> TRANSFERRING (a refusal, e.g. the job moved on, is not an error). */
  connected(jobId: string): void;
  recordFileProgress(jobId: string, fileIndex: number, patch: FileProgressPatch): void;
  recordEngineState(jobId: string, fileIndex: number, engineState: EngineState): void;
  recordTempIdentity(jobId: string, fileIndex: number, identity: FileIdentity): void;
  recordReplyProgress(jobId: string, reply: ReplyInfo): void;
  recordReplyTempIdentity(jobId: string, identity: FileIdentity): void;
}

export class FileProgressSink implements ProgressSink {
  readonly #writes: ProgressWrites;
  readonly #jobId: string;
  readonly #fileIndex: number;
  readonly #signal: AbortSignal;
  #bytesTotal: number;
  #connected = false;

  constructor(writes: ProgressWrites, jobId: string, file: TransferFile, signal: AbortSignal) {
    this.#writes = writes;
    this.#jobId = jobId;
    this.#fileIndex = file.index;
    this.#bytesTotal = file.bytesTotal;
    this.#signal = signal;
  }

  connected(): void {
    if (this.#connected || this.#signal.aborted) return;
    this.#connected = true;
    this.#writes.connected(this.#jobId);
  }

  setTotal(bytesTotal: number): void {
    if (this.#signal.aborted || bytesTotal === this.#bytesTotal) return;
    // A known size that changes means the remote file changed: its progress starts over.
    const patch = this.#bytesTotal >= 0 ? { bytesTotal, bytesTransferred: 0, syncedBytes: 0 } : { bytesTotal };
    this.#bytesTotal = bytesTotal;
    this.#writes.recordFileProgress(this.#jobId, this.#fileIndex, patch);
  }

  progress(bytesTransferred: number, engineState?: EngineState, syncedBytes = bytesTransferred): void {
    if (this.#signal.aborted) return;
    this.connected();
    // Never more synced than transferred: a smaller offset (a restart) takes the synced one with it.
    const offsets = { bytesTransferred, syncedBytes: Math.min(syncedBytes, bytesTransferred) };
    this.#writes.recordFileProgress(this.#jobId, this.#fileIndex, engineState === undefined ? offsets : { ...offsets, engineState });
  }

  saveState(engineState: EngineState): void {
    if (!this.#signal.aborted) this.#writes.recordEngineState(this.#jobId, this.#fileIndex, engineState);
  }

  setRemoteName(url: string): void {
    if (!this.#signal.aborted) this.#writes.recordFileProgress(this.#jobId, this.#fileIndex, { remoteName: url });
  }

  /** Recorded even after an abort: it is a fact about a file that exists, not a change of state. */
  tempCreated(identity: FileIdentity): void {
    this.#writes.recordTempIdentity(this.#jobId, this.#fileIndex, identity);
  }

  replyProgress(reply: ReplyInfo): void {
    if (!this.#signal.aborted) this.#writes.recordReplyProgress(this.#jobId, reply);
    // The reply's temp file exists whatever happened to the run: Cancel must know it is ours.
    else if (reply.tempIdentity !== null) this.#writes.recordReplyTempIdentity(this.#jobId, reply.tempIdentity);
  }
}
