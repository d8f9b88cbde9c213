/**
 * The local upload file: identity (size + mtime, the BITS consistency rule, bits-protocol.md §5)
 * and fragment bodies streamed from disk, so memory stays bounded whatever the file size.
 */
import { type FileHandle, open, stat } from 'node:fs/promises';
import { type Readable, Transform } from 'node:stream';
import { type BitsError, isBitsError } from '../../shared/errors.js';
import { type ByteRange, rangeLength } from '../../protocol/ranges.js';
import { localFileChanged, localFileError } from './errors.js';

export interface FileIdentity {
  readonly size: number;
  readonly mtimeMs: number;
}

export function sameIdentity(a: FileIdentity, b: FileIdentity): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs;
}

/** Stats the file; fs failures become fatal LOCAL_FILE BitsErrors. */
export async function statLocal(path: string): Promise<FileIdentity> {
  try {
    const st = await stat(path);
    if (!st.isFile()) throw Object.assign(new Error(`${path} is not a regular file`), { code: 'EISDIR' });
    return { size: st.size, mtimeMs: st.mtimeMs };
  } catch (err) {
    throw localFileError(err, path);
  }
}

/** Throws BG_E_LOCAL_FILE_CHANGED unless the file still has the recorded identity. */
export function assertUnchanged(path: string, recorded: FileIdentity, now: FileIdentity): void {
  if (!sameIdentity(recorded, now)) {
    throw localFileChanged(path, { recordedSize: recorded.size, size: now.size, recordedMtimeMs: recorded.mtimeMs, mtimeMs: now.mtimeMs });
  }
}

export interface FragmentBody {
  readonly body: Readable | Uint8Array;
  /** A read error of the body stream, as a LOCAL_FILE BitsError (the request fails with it). */
  localError(): BitsError | null;
  /** Closes the file whether or not the body was consumed. */
  dispose(): void;
}

const EMPTY = new Uint8Array(0);

/**
 * Fragments up to this size are read into one buffer and sent as bytes: streaming them from a
 * ReadStream (64 KiB reads through the thread pool, each awaited by the socket write) held
 * uploads to ~170 MiB/s on loopback, a third of what the same bytes from memory reach. Memory
 * stays bounded by this constant per running upload; larger fragments are streamed.
 */
export const BUFFERED_FRAGMENT_MAX = 16 * 1024 * 1024;

async function readFragment(handle: FileHandle, path: string, start: number, length: number, buffer: Buffer): Promise<FragmentBody> {
  try {
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await handle.read(buffer, filled, length - filled, start + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    // Truncated since the fstat: the same failure a short streamed body gives.
    if (filled < length) throw localFileChanged(path, { expectedBytes: length, readBytes: filled });
    return { body: buffer, localError: () => null, dispose: () => undefined };
  } catch (err) {
    throw isBitsError(err) ? err : localFileError(err, path);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/**
 * Opens the file for one fragment: checks, on the open descriptor, that the file is the one the
 * session started with (a replaced file is caught even if the path was reused), then reads (or,
 * past BUFFERED_FRAGMENT_MAX, streams) exactly the range's bytes.
 */
export async function openFragment(
  path: string,
  range: ByteRange,
  recorded: FileIdentity,
  /** A buffer of exactly `size` bytes to read a buffered fragment into (may be reused by the caller). */
  bufferFor: (size: number) => Buffer = (size) => Buffer.allocUnsafe(size),
): Promise<FragmentBody> {
  if (rangeLength(range) === 0) {
    assertUnchanged(path, recorded, await statLocal(path));
    return { body: EMPTY, localError: () => null, dispose: () => undefined };
  }
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    throw localFileError(err, path);
  }
  try {
    const st = await handle.stat();
    assertUnchanged(path, recorded, { size: st.size, mtimeMs: st.mtimeMs });
  } catch (err) {
    await handle.close().catch(() => undefined);
    throw isBitsError(err) ? err : localFileError(err, path);
  }
  const expected = rangeLength(range);
  if (expected <= BUFFERED_FRAGMENT_MAX) return readFragment(handle, path, range.first, expected, bufferFor(expected));
  const stream = handle.createReadStream({ start: range.first, end: range.last, autoClose: true });
  let failure: BitsError | null = null;
  let seen = 0;
  // Counts the bytes on their way to the transport. A file truncated since the fstat above yields
  // fewer bytes than Content-Length announced and the server would wait for the rest: fail the
  // body instead, so the request ends at once with a local-file error.
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      callback(null, chunk);
    },
    flush(callback) {
      if (seen === expected) return callback();
      failure ??= localFileChanged(path, { expectedBytes: expected, readBytes: seen });
      callback(failure);
    },
  });
  stream.on('error', (err) => {
    failure ??= localFileError(err, path);
    counter.destroy(failure);
  });
  // The failure travels through localError(); without a listener, an 'error' emitted after the
  // transport stopped reading would crash the process.
  counter.on('error', () => undefined);
  stream.pipe(counter);
  return {
    body: counter,
    localError: () => failure,
    dispose: () => {
      // Destroying the file stream closes the descriptor (autoClose), consumed or not.
      stream.destroy();
      counter.destroy();
    },
  };
}
