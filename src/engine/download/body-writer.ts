/**
 * Streams one response body into the temp file with bounded memory: writes trail the socket by at
 * most a few MiB, so a slow disk still slows the socket down (backpressure through the iterator).
 *
 * Two offsets are reported, as the guarantees of docs/download-engine.md ("Durability") need:
 * - written: the end of the bytes whose write() calls returned. They are in the page cache, so a
 *   crash of the process cannot lose them; reported at a bounded rate (every PROGRESS_BYTES or
 *   PROGRESS_INTERVAL_MS, whichever comes first). No fdatasync is needed for this.
 * - synced: the end of the bytes an fdatasync covered, which a crash of the system cannot lose
 *   either; only these are trusted after a reboot. fdatasync runs rarely (every SYNC_BYTES or
 *   SYNC_INTERVAL_MS), in the background while the body keeps arriving, one at a time.
 * The file's last bytes are synced by the caller, once, before the file counts as transferred.
 */
import type { Readable } from 'node:stream';
import type { Clock } from '../../shared/clock.js';
import { BitsError } from '../../shared/errors.js';
import { abortReason } from '../../transport/error-mapping.js';
import type { TempFile } from './temp-file.js';
import type { Pacer } from '../types.js';

export const PROGRESS_BYTES = 8 * 1024 * 1024;
export const PROGRESS_INTERVAL_MS = 1_000;
/**
 * Background fdatasync cadence: the disk's writeback runs beside the socket, so the final
 * fdatasync has little left (curl + fdatasync writes the whole file at the end). Measured on
 * 1 GiB (docs/decisions.md): 8 to 32 MiB alike, 64 MiB ~10% slower, only a final one ~15%
 * slower. A reboot costs each running download at most this much.
 */
export const SYNC_BYTES = 16 * 1024 * 1024;
export const SYNC_INTERVAL_MS = 5_000;

export interface BodyWriteOptions {
  readonly body: Readable;
  readonly file: TempFile;
  /** Temp-file position of the first body byte. */
  readonly position: number;
  /** Temp-file offset already synced when the body starts (at most `position`). */
  readonly synced: number;
  /** Bytes the server promised (Content-Length / range length), or null when unknown. */
  readonly expected: number | null;
  /** Fails with BG_E_MAX_DOWNLOAD_SIZE_LIMIT_REACHED past this temp-file size; null: no limit. */
  readonly maxFileSize: number | null;
  readonly clock: Clock;
  readonly signal: AbortSignal;
  /** Called with the written and the synced temp-file offsets (see above); never after an abort. */
  readonly onProgress: (written: number, synced: number) => void;
  readonly progressBytes?: number;
  readonly progressIntervalMs?: number;
  readonly syncBytes?: number;
  readonly syncIntervalMs?: number;
  /** The bandwidth policy; default none. */
  readonly pacer?: Pacer;
}

/**
 * Writes chunks to the temp file behind the socket: chunks queue while one write is in flight and
 * go out together, so reading continues during the thread-pool round trip (awaiting each 64 KiB
 * chunk's write held downloads to ~250 MiB/s). At most MAX_QUEUED bytes wait; past that the
 * reader waits, which keeps memory bounded and lets a slow disk slow the socket down.
 */
class WriteBehind {
  static readonly MAX_QUEUED = 2 * 1024 * 1024;
  readonly #file: TempFile;
  #queue: Buffer[] = [];
  #queued = 0;
  #at = 0;
  /** The end of the bytes whose write returned: writes go out in order, so this is contiguous. */
  #done: number;
  #inflight: Promise<void> | null = null;
  #failure: unknown = null;
  readonly #onWritten: () => void;

  /** `onWritten` runs after each batch's write returned (so progress moves while the socket stalls). */
  constructor(file: TempFile, position: number, onWritten: () => void) {
    this.#file = file;
    this.#done = position;
    this.#onWritten = onWritten;
  }

  /** Temp-file offset up to which every write has returned. */
  get done(): number {
    return this.#done;
  }

  async write(data: Buffer, position: number): Promise<void> {
    if (this.#failure) throw this.#failure;
    if (this.#queued === 0) this.#at = position;
    this.#queue.push(data);
    this.#queued += data.length;
    this.#inflight ??= this.#drain();
    if (this.#queued >= WriteBehind.MAX_QUEUED) await this.#inflight;
    if (this.#failure) throw this.#failure;
  }

  /** Resolves once everything queued so far is written (rejects with the first write error). */
  async drained(): Promise<void> {
    while (this.#inflight) await this.#inflight;
    if (this.#failure) throw this.#failure;
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queued > 0 && !this.#failure) {
        const batch = this.#queue;
        const at = this.#at;
        const length = this.#queued;
        this.#queue = [];
        this.#queued = 0;
        // One writev for the whole batch: no concatenated copy to allocate and collect.
        await this.#file.writev(batch, at);
        this.#done = at + length;
        this.#onWritten();
      }
    } catch (err) {
      this.#failure = err;
    } finally {
      this.#inflight = null;
    }
  }
}

/**
 * Background fdatasync, one at a time. A flush covers the bytes whose writes returned before it
 * started (those are in the page cache it writes back); writes that go on meanwhile are left for
 * the next one.
 */
class Syncer {
  readonly #file: TempFile;
  #synced: number;
  #running: Promise<void> | null = null;
  #failure: unknown = null;

  constructor(file: TempFile, synced: number) {
    this.#file = file;
    this.#synced = synced;
  }

  get synced(): number {
    return this.#synced;
  }

  get running(): boolean {
    return this.#running !== null;
  }

  /** Starts a flush covering [0, upTo) unless one runs; `then` runs after it succeeded. */
  start(upTo: number, then: () => void): void {
    if (this.#running) return;
    this.#running = (async () => {
      try {
        await this.#file.flush();
        if (upTo > this.#synced) this.#synced = upTo;
        then();
      } catch (err) {
        this.#failure ??= err;
      } finally {
        this.#running = null;
      }
    })();
  }

  /** Throws the first failure of a background flush. */
  check(): void {
    if (this.#failure) throw this.#failure;
  }

  /** Waits for the running flush; rethrows a failure. */
  async settle(): Promise<void> {
    while (this.#running) await this.#running;
    this.check();
  }

  /** A flush of everything written so far, waited for (after the last writes returned). */
  async flushNow(upTo: number): Promise<void> {
    await this.settle();
    await this.#file.flush();
    if (upTo > this.#synced) this.#synced = upTo;
  }
}

/**
 * Returns the number of body bytes written (every write returned; the last ones not yet synced).
 * A network failure keeps what arrived: it is written, flushed and reported before the error
 * goes up, so the retry (even after a reboot) resumes after it.
 */
export async function writeBody(o: BodyWriteOptions): Promise<number> {
  const everyBytes = o.progressBytes ?? PROGRESS_BYTES;
  const everyMs = o.progressIntervalMs ?? PROGRESS_INTERVAL_MS;
  const syncBytes = o.syncBytes ?? SYNC_BYTES;
  const syncMs = o.syncIntervalMs ?? SYNC_INTERVAL_MS;
  const syncer = new Syncer(o.file, Math.min(o.synced, o.position));
  let written = 0;
  let reported = { written: o.position, synced: syncer.synced };
  const started = o.clock.now();
  let lastReport = started;
  let lastSync = started;
  /** Reports the offsets if either moved (the tracker would drop a repeat anyway). */
  const report = (): void => {
    if (o.signal.aborted) return;
    const now = { written: writer.done, synced: Math.min(syncer.synced, writer.done) };
    if (now.written === reported.written && now.synced === reported.synced) return;
    reported = now;
    o.onProgress(now.written, now.synced);
  };
  /** After each chunk read and each batch written: a background flush, a report, when due. */
  const tick = (): void => {
    if (o.signal.aborted) return;
    const now = o.clock.now();
    if (!syncer.running && (writer.done - syncer.synced >= syncBytes || now - lastSync >= syncMs)) {
      lastSync = now;
      syncer.start(writer.done, report);
    }
    if (writer.done - reported.written >= everyBytes || now - lastReport >= everyMs) {
      lastReport = now;
      report();
    }
  };
  const writer = new WriteBehind(o.file, o.position, tick);
  try {
    for await (const chunk of o.body) {
      if (o.signal.aborted) throw abortReason(o.signal);
      syncer.check();
      const data = chunk as Buffer;
      // Paced by reading: while this waits nothing reads the socket, so TCP's window closes.
      const wait = o.pacer?.acquire(data.length, o.signal);
      if (wait) await wait;
      if (o.expected !== null && written + data.length > o.expected) {
        throw new BitsError('BG_E_INVALID_SERVER_RESPONSE', `The server sent more than the ${o.expected} bytes it announced.`, {
          context: 'REMOTE_FILE',
          transient: true,
        });
      }
      if (o.maxFileSize !== null && o.position + written + data.length > o.maxFileSize) {
        throw new BitsError('BG_E_MAX_DOWNLOAD_SIZE_LIMIT_REACHED', `The download exceeds the job's maximum download size of ${o.maxFileSize} bytes.`, {
          context: 'REMOTE_FILE',
          transient: false,
          details: { maxDownloadSize: o.maxFileSize },
        });
      }
      await writer.write(data, o.position + written);
      written += data.length;
      tick();
    }
  } catch (err) {
    // Stop the socket feeding a body we no longer read; a no-op when it already failed.
    o.body.destroy();
    if (!o.signal.aborted && err instanceof BitsError && err.context !== 'LOCAL_FILE') {
      // The network failed, the disk did not: keep what arrived, synced, so the retry resumes
      // after it even if the system goes down while the job waits.
      try {
        await writer.drained();
        report();
        await syncer.flushNow(writer.done);
        report();
      } catch {
        // The retry restarts from the last reported offsets instead, which are still correct.
      }
    } else {
      // Let queued writes and a running flush finish before the caller closes the file.
      await syncer.settle().catch(() => undefined);
      await writer.drained().catch(() => undefined);
    }
    throw err;
  }
  await writer.drained();
  await syncer.settle();
  if (o.signal.aborted) throw abortReason(o.signal);
  report();
  if (o.expected !== null && written < o.expected) {
    // As for a failure mid-body: what arrived is kept, synced.
    await syncer.flushNow(writer.done).then(report, () => undefined);
    throw new BitsError('ERROR_WINHTTP_CONNECTION_ERROR', `The connection closed after ${written} of ${o.expected} bytes.`, {
      context: 'GENERAL_TRANSPORT',
      transient: true,
    });
  }
  return written;
}
