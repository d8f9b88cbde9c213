/**
 * The 'resumable-get' download, for a body a server produces per request and need not describe
 * in a HEAD: the reply of an UPLOAD_REPLY job ([MC-BUP] §3.1.5.1.8 leaves its method to the
 * client). No HEAD: GETs from the durable offset (`Range: bytes=N-`, with If-Range when
 * validators were stored), and the answer says the rest:
 *
 * - 206 from N: the bytes continue; its Content-Range gives the size ("*": unknown).
 * - 200: the whole body (the server cannot resume, or If-Range saw a new version): the file
 *   starts over at byte 0 with this body.
 * - 416 whose unsatisfied range ("bytes *\/N") is the durable size: every byte is already here.
 * - Signs of another version (a 416 or a 206 of another size, other strong validators): the file
 *   starts over (at most MAX_RESTARTS times, as static downloads).
 * - A 206 that does not start at N is a broken server: fatal BG_E_INVALID_SERVER_RESPONSE.
 *
 * Engine state: the validators `{ lastModified, etag }` of the body being fetched.
 */
import { BitsError } from '../../shared/errors.js';
import type { HttpResponse } from '../../transport/types.js';
import type { EngineState } from '../types.js';
import { answerError, checkMaxDownloadSize, type DownloadRun, openTempFile, RemoteChanged, type Tracker, withRestarts, writeRunBody } from './download-run.js';
import { modificationTime, parseContentRange, readRemoteInfo, unsatisfiedRangeSize } from './remote-file.js';
import type { RemoteClient } from './remote-client.js';
import type { TempFile } from './temp-file.js';

interface Validators {
  readonly lastModified: string | null;
  readonly etag: string | null;
}

function storedValidators(state: EngineState): Validators {
  return {
    lastModified: typeof state.lastModified === 'string' ? state.lastModified : null,
    etag: typeof state.etag === 'string' ? state.etag : null,
  };
}

function sameValidators(a: Validators, b: Validators): boolean {
  return a.lastModified === b.lastModified && a.etag === b.etag;
}

/** Whether two sets of validators describe different versions (absent ones say nothing). */
function differ(a: Validators, b: Validators): boolean {
  if (a.etag !== null && b.etag !== null) return a.etag !== b.etag;
  return a.lastModified !== null && b.lastModified !== null && a.lastModified !== b.lastModified;
}

function invalidResponse(message: string): BitsError {
  return new BitsError('BG_E_INVALID_SERVER_RESPONSE', message, { context: 'REMOTE_FILE', transient: false });
}

/** Where a response's body goes: its first byte's offset, its length (or null), the total size (or -1). */
interface Placement {
  readonly start: number;
  readonly expected: number | null;
  readonly total: number;
  readonly validators: Validators;
}

/** Reads the answer to a GET from `offset`; 'complete' when the file already holds every byte. */
async function place(run: DownloadRun, response: HttpResponse, offset: number, tracker: Tracker, stored: Validators): Promise<Placement | 'complete'> {
  const { status, headers } = response;
  const info = readRemoteInfo(headers);
  const own: Validators = { lastModified: info.lastModified, etag: info.etag };
  if (status === 200) return { start: 0, expected: info.size, total: info.size ?? -1, validators: own };
  if (status !== 206) {
    await response.dump();
    if (status !== 416 || offset === 0) throw answerError(run, response);
    if (unsatisfiedRangeSize(headers['content-range']) === offset) return 'complete';
    throw new RemoteChanged();
  }
  const range = parseContentRange(headers['content-range']);
  if (range === null || range.start !== offset) {
    await response.dump();
    throw invalidResponse(`Asked for bytes from ${offset}, the server sent ${range === null ? `"${headers['content-range'] ?? ''}"` : `${range.start}-${range.end}`}.`);
  }
  const total = range.size ?? -1;
  if ((offset > 0 && total >= 0 && tracker.total >= 0 && total !== tracker.total) || differ(stored, own)) {
    await response.dump();
    throw new RemoteChanged();
  }
  // A 206 need not repeat the validators; the stored ones still describe the bytes.
  const validators: Validators = { lastModified: own.lastModified ?? stored.lastModified, etag: own.etag ?? stored.etag };
  return { start: range.start, expected: range.end - range.start + 1, total, validators };
}

async function attempt(run: DownloadRun, client: RemoteClient, tracker: Tracker): Promise<void> {
  const opened = await openTempFile(run, tracker, tracker.transferred);
  const file: TempFile = opened.file;
  try {
    // The durable bytes are gone (a new or shorter temp file): so are their validators.
    if (opened.offset !== tracker.transferred) tracker.progress(opened.offset, {});
    let position = opened.offset;
    for (;;) {
      const stored = storedValidators(tracker.state);
      const validator = stored.etag ?? stored.lastModified;
      const headers: Record<string, string> = position > 0 ? { range: `bytes=${position}-`, ...(validator !== null ? { 'if-range': validator } : {}) } : {};
      const { response, url } = await client.fetch('GET', run.target.url, headers);
      tracker.connected();
      const placed = await place(run, response, position, tracker, stored);
      tracker.answeredFrom(url);
      if (placed === 'complete') break;
      try {
        checkMaxDownloadSize(run.job, placed.total >= 0 ? placed.total : null);
      } catch (err) {
        await response.dump();
        throw err;
      }
      if (placed.start !== position) await file.truncate(placed.start);
      const state: EngineState = { ...placed.validators };
      if (placed.start !== tracker.transferred || !sameValidators(stored, placed.validators)) tracker.progress(placed.start, state);
      if (placed.total >= 0) tracker.setTotal(placed.total);
      const written = await writeRunBody(run, tracker, { body: response.body, file, position: placed.start, expected: placed.expected });
      position = placed.start + written;
      if (placed.total < 0 || position >= placed.total) break;
      // A 206 that stopped short of the end: ask for the rest.
      if (written === 0) throw invalidResponse(`The server sent an empty range at ${position} of ${placed.total} bytes.`);
    }
    const mtime = modificationTime(storedValidators(tracker.state).lastModified);
    if (mtime !== null) await file.setModificationTime(mtime);
    await file.flush();
    tracker.setTotal(position);
    tracker.flushed(position);
  } finally {
    await file.close();
  }
}

export async function downloadResumable(run: DownloadRun, client: RemoteClient, tracker: Tracker): Promise<void> {
  await withRestarts(run, tracker, () => attempt(run, client, tracker));
}
