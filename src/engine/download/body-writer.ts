/**
 * Streams one response body into the temp file with bounded memory: writes trail the socket by at
 * most a few MiB, so a slow disk still slows the socket down (backpressure through the iterator).
 *
 * Progress is reported only after fdatasync, at a bounded rate (every PROGRESS_BYTES or
 * PROGRESS_INTERVAL_MS, whichever comes first), so the runner never records bytes that a crash
 * could lose.
 */
import type { Readable } from 'node:stream';
import type { Clock } from '../../shared/clock.js';
import { BitsError } from '../../shared/errors.js';
import { abortReason } from '../../transport/error-mapping.js';
import type { TempFile } from './temp-file.js';
import type { Pacer } from '../types.js';

export const PROGRESS_BYTES = 8 * 1024 * 1024;
export const PROGRESS_INTERVAL_MS = 1_000;

export interface BodyWriteOptions {
  readonly body: Readable;
  readonly file: TempFile;
  /** Temp-file position of the first body byte. */
  readonly position: number;
  /** Bytes the server promised (Content-Length / range length), or null when unknown. */
  readonly expected: number | null;
  /** Fails with BG_E_MAX_DOWNLOAD_SIZE_LIMIT_REACHED past this temp-file size; null: no limit. */
  readonly maxFileSize: number | null;
  readonly clock: Clock;
  readonly signal: AbortSignal;
  /** Called with the temp-file size after each flush. */
  readonly onDurable: (fileSize: number) => void;
  readonly progressBytes?: number;
  readonly progressIntervalMs?: number;
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
  #inflight: Promise<void> | null = null;
  #failure: unknown = null;

  constructor(file: TempFile) {
    this.#file = file;
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
        this.#queue = [];
        this.#queued = 0;
        // One writev for the whole batch: no concatenated copy to allocate and collect.
        await this.#file.writev(batch, at);
      }
    } catch (err) {
      this.#failure = err;
    } finally {
      this.#inflight = null;
    }
  }
}

/**
 * Returns the number of body bytes written (all flushed). Progress is reported after an
 * fdatasync that started once every byte up to the reported offset was written; that flush runs
 * while the body keeps arriving (one flush at a time), so the disk and the network work together.
 */
export async function writeBody(o: BodyWriteOptions): Promise<number> {
  const everyBytes = o.progressBytes ?? PROGRESS_BYTES;
  const everyMs = o.progressIntervalMs ?? PROGRESS_INTERVAL_MS;
  const writer = new WriteBehind(o.file);
  let written = 0;
  let reported = 0;
  let lastReport = o.clock.now();
  let flushing: Promise<void> | null = null;
  let flushFailure: unknown = null;
  /** Starts a flush covering the first `upTo` body bytes, unless one is already running. */
  const startFlush = (upTo: number): void => {
    if (flushing) return;
    flushing = (async () => {
      try {
        await writer.drained();
        await o.file.flush();
        if (upTo > reported && !o.signal.aborted) {
          reported = upTo;
          o.onDurable(o.position + upTo);
        }
      } catch (err) {
        flushFailure ??= err;
      } finally {
        flushing = null;
      }
    })();
  };
  const settleFlush = async (): Promise<void> => {
    while (flushing) await flushing;
    if (flushFailure) throw flushFailure;
  };
  try {
    for await (const chunk of o.body) {
      if (o.signal.aborted) throw abortReason(o.signal);
      if (flushFailure) throw flushFailure;
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
      const now = o.clock.now();
      if (written - reported >= everyBytes || now - lastReport >= everyMs) {
        lastReport = now;
        startFlush(written);
      }
    }
  } catch (err) {
    // Stop the socket feeding a body we no longer read; a no-op when it already failed.
    o.body.destroy();
    if (!o.signal.aborted && err instanceof BitsError && err.context !== 'LOCAL_FILE') {
      // The network failed, the disk did not: keep what arrived, so the retry resumes after it.
      try {
        await settleFlush();
        await writer.drained();
        await o.file.flush();
        if (written > reported) {
          reported = written;
          o.onDurable(o.position + written);
        }
      } catch {
        // The retry restarts from the last reported offset instead, which is still correct.
      }
    } else {
      // Let queued writes and a running flush finish before the caller closes the file.
      await settleFlush().catch(() => undefined);
      await writer.drained().catch(() => undefined);
    }
    throw err;
  }
  await settleFlush();
  if (o.signal.aborted) throw abortReason(o.signal);
  await writer.drained();
  await o.file.flush();
  if (o.expected !== null && written < o.expected) {
    throw new BitsError('ERROR_WINHTTP_CONNECTION_ERROR', `The connection closed after ${written} of ${o.expected} bytes.`, {
      context: 'GENERAL_TRANSPORT',
      transient: true,
    });
  }
  if (written > reported) o.onDurable(o.position + written);
  return written;
}
