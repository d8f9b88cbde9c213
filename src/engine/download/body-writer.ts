/**
 * Streams one response body into the temp file with bounded memory: each chunk is written before
 * the next is read, so a slow disk slows the socket down (backpressure through the async iterator).
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
}

/** Returns the number of body bytes written (all flushed). */
export async function writeBody(o: BodyWriteOptions): Promise<number> {
  const everyBytes = o.progressBytes ?? PROGRESS_BYTES;
  const everyMs = o.progressIntervalMs ?? PROGRESS_INTERVAL_MS;
  let written = 0;
  let reported = 0;
  let lastReport = o.clock.now();
  try {
    for await (const chunk of o.body) {
      if (o.signal.aborted) throw abortReason(o.signal);
      const data = chunk as Buffer;
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
      await o.file.write(data, o.position + written);
      written += data.length;
      const now = o.clock.now();
      if (written - reported >= everyBytes || now - lastReport >= everyMs) {
        await o.file.flush();
        reported = written;
        lastReport = now;
        o.onDurable(o.position + written);
      }
    }
  } catch (err) {
    // Stop the socket feeding a body we no longer read; a no-op when it already failed.
    o.body.destroy();
    if (!o.signal.aborted && err instanceof BitsError && err.context !== 'LOCAL_FILE' && written > reported) {
      // The network failed, the disk did not: keep what arrived, so the retry resumes after it.
      try {
        await o.file.flush();
        o.onDurable(o.position + written);
      } catch {
        // The retry restarts from the last reported offset instead, which is still correct.
      }
    }
    throw err;
  }
  if (o.signal.aborted) throw abortReason(o.signal);
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
