/**
 * The resumable download of a static file (the default, Windows BITS's way): learn the file's
 * size and validators, then fetch it with ranged GETs from the durable offset into the temp file.
 *
 * One request per file where the server allows it (get-answer.ts reads the answers):
 * - A file with nothing stored starts with a GET of its first bytes (`Range: bytes=0-`, or the
 *   first range's). A 206 whose Content-Range gives the complete length tells the size, the
 *   validators and that ranges work; its body goes straight into the temp file. A 200 with a
 *   Content-Length is the whole file, taken only from byte 0 of a whole-file download and when it
 *   declares `Accept-Ranges: bytes` (the rule the HEAD's header decided before); otherwise
 *   BG_E_INSUFFICIENT_RANGE_SUPPORT. An answer without the size (a 206 "bytes a-b/*", a chunked
 *   200, a 416 that is not about an empty file or an impossible range) falls back to a HEAD, which
 *   gives BG_E_MISSING_FILE_SIZE when it has no Content-Length either.
 * - A resume sends its GET from the durable offset with If-Range and the stored validators; the
 *   206 must have the stored size, and validators it repeats must be the stored ones. A 200 there
 *   is the current version from byte 0 (If-Range saw another version, or the server cannot
 *   resume): taken as the new file when it qualifies as a whole-file 200, else the file restarts.
 * - A HEAD remains where no GET is due: a resume that already holds every byte checks the file.
 *
 * Any sign of change (a 206 of another size or with other validators, 412, 416, a 200 with new
 * validators) restarts the file from byte 0 within the same call, at most MAX_RESTARTS times; so
 * does a 200 to a GET that resumes a whole-file download past byte 0 and cannot be taken as the
 * new file (the server, e.g. a new remote name's, cannot resume).
 */
import { BG_LENGTH_TO_EOF } from '../../job/types.js';
import { BitsError } from '../../shared/errors.js';
import type { HttpResponse } from '../../transport/types.js';
import { answerError, checkMaxDownloadSize, type DownloadRun, openTempFile, RemoteChanged, type Tracker, withRestarts, writeRunBody } from './download-run.js';
import { type AskedRange, type GetAnswer, readGetAnswer } from './get-answer.js';
import { locate, planSegments, type Segment, totalLength } from './range-plan.js';
import { fromEngineState, ifRangeValue, modificationTime, readRemoteInfo, sameRemote, type StoredRemote, storedRemote, toEngineState } from './remote-file.js';
import type { FetchResult, RemoteClient } from './remote-client.js';
import type { TempFile } from './temp-file.js';

export { MAX_RESTARTS } from './download-run.js';

function invalidResponse(message: string): BitsError {
  return new BitsError('BG_E_INVALID_SERVER_RESPONSE', message, { context: 'REMOTE_FILE', transient: false });
}

function noRangeSupport(url: string): BitsError {
  return new BitsError('BG_E_INSUFFICIENT_RANGE_SUPPORT', `The server of ${url} does not honour byte ranges (set DYNAMIC_CONTENT for such servers).`, {
    context: 'REMOTE_FILE',
    transient: false,
  });
}

/** What the download knows of the remote file once an answer (a GET's or a HEAD's) told it. */
interface Known {
  /** The URL that answered (after redirects): the file's later GETs go there. */
  readonly url: string;
  readonly remote: StoredRemote;
  /** A 206 came back, or the HEAD declared `Accept-Ranges: bytes`. */
  readonly acceptRanges: boolean;
}

/** Where the download goes on: the open temp file, the plan, and a body not read yet that starts at `position`. */
interface Continuation {
  readonly known: Known;
  readonly segments: readonly Segment[];
  readonly file: TempFile;
  readonly position: number;
  readonly body: { readonly response: HttpResponse; readonly expected: number } | null;
}

/** The bytes of one GET and its Range header. */
interface Ask {
  readonly range: AskedRange;
  readonly header: string;
  /** Bounded by the pacer's request size (its bytes are announced to the pacer). */
  readonly bounded: boolean;
}

/**
 * A GET from `start` within a segment ending at `last` (inclusive; null while the size is
 * unknown). A whole file is asked for to its end and a range to its own end, unless `paced`
 * and the pacer bounds requests (a limit, or yielding: Pacer.requestSize).
 */
function ask(run: DownloadRun, start: number, last: number | null, paced: boolean): Ask {
  const bound = paced ? run.pacer.requestSize() : null;
  if (bound !== null) {
    const end = last === null ? start + bound - 1 : Math.min(last, start + bound - 1);
    return { range: { start, end }, header: `bytes=${start}-${end}`, bounded: true };
  }
  const open = run.target.ranges === null || last === null;
  return { range: { start, end: last }, header: open ? `bytes=${start}-` : `bytes=${start}-${last}`, bounded: false };
}

async function get(run: DownloadRun, client: RemoteClient, tracker: Tracker, url: string, a: Ask, validator: string | null): Promise<FetchResult> {
  if (a.bounded && a.range.end !== null) run.pacer.requested?.(a.range.end - a.range.start + 1);
  const result = await client.fetch('GET', url, { range: a.header, ...(validator !== null ? { 'if-range': validator } : {}) });
  tracker.connected();
  return result;
}

/** Discards an answer the download cannot use and returns the error it means. */
async function refusal(run: DownloadRun, response: HttpResponse, answer: GetAnswer): Promise<Error> {
  await response.dump();
  if (answer.kind === 'changed') return new RemoteChanged();
  if (answer.kind === 'invalid') return invalidResponse(answer.message);
  return answerError(run, response);
}

/** Runs `step` while `response`'s body waits; discards the body if the step fails. */
async function beforeBody<T>(response: HttpResponse, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    await response.dump();
    throw err;
  }
}

/** Whether the plan is the whole file from byte 0 (what a 200 delivers). */
function wholeFile(segments: readonly Segment[], size: number): boolean {
  const [first, ...rest] = segments;
  return size === 0 ? segments.length === 0 : first !== undefined && rest.length === 0 && first.start === 0 && first.length === size;
}

/** A file with nothing stored: the opening GET. null: its answer did not give the size (ask HEAD). */
async function openFresh(run: DownloadRun, client: RemoteClient, tracker: Tracker): Promise<Continuation | null> {
  const first = run.target.ranges?.[0];
  const start = first?.initialOffset ?? 0;
  const last = first === undefined || first.length === BG_LENGTH_TO_EOF ? null : first.initialOffset + first.length - 1;
  const request = ask(run, start, last, true);
  const { response, url } = await get(run, client, tracker, run.target.url, request, null);
  const answer = readGetAnswer(response.status, response.headers, request.range, null);
  if (answer.kind === 'unsized') {
    await response.dump();
    return null;
  }
  if (answer.kind === 'unsatisfiable') {
    await response.dump();
    if (answer.size === null) return null;
    // The server's length settles a range beyond the end (BG_E_INVALID_RANGE) and an empty file.
    const segments = planSegments(run.target.ranges, answer.size);
    if (totalLength(segments) > 0) return null;
    tracker.answeredFrom(url);
    const { file } = await openTempFile(run, tracker, 0);
    const known = { url, remote: storedRemote(readRemoteInfo(response.headers), answer.size), acceptRanges: true };
    return { known, segments, file, position: 0, body: null };
  }
  if (answer.kind !== 'part' && answer.kind !== 'whole') throw await refusal(run, response, answer);
  tracker.answeredFrom(url);
  return beforeBody(response, async () => {
    const segments = planSegments(run.target.ranges, answer.remote.size);
    checkMaxDownloadSize(run.job, totalLength(segments));
    let expected = answer.remote.size;
    if (answer.kind === 'part') {
      expected = answer.end - answer.start + 1;
    } else if (!wholeFile(segments, answer.remote.size) || !(answer.acceptRanges || answer.remote.size === 0)) {
      throw noRangeSupport(url);
    }
    const { file } = await openTempFile(run, tracker, 0);
    const known = { url, remote: answer.remote, acceptRanges: answer.kind === 'part' || answer.acceptRanges };
    return { known, segments, file, position: 0, body: { response, expected } };
  });
}

/** A file with durable bytes and stored validators, and bytes still to fetch: a GET with If-Range. */
async function openResume(run: DownloadRun, client: RemoteClient, tracker: Tracker, stored: StoredRemote, segments: readonly Segment[]): Promise<Continuation> {
  const { file, offset } = await openTempFile(run, tracker, tracker.transferred);
  try {
    const cursor = locate(segments, offset);
    const seg = cursor === null ? undefined : segments[cursor.index];
    // The offset is below the total (the caller checked), so a segment is left; if not, start over.
    if (cursor === null || seg === undefined) throw new RemoteChanged();
    const start = seg.start + cursor.done;
    const request = ask(run, start, seg.start + seg.length - 1, true);
    const { response, url } = await get(run, client, tracker, run.target.url, request, ifRangeValue(stored));
    const answer = readGetAnswer(response.status, response.headers, request.range, stored);
    if (answer.kind === 'part') {
      tracker.answeredFrom(url);
      const known = { url, remote: answer.remote, acceptRanges: true };
      return { known, segments, file, position: offset, body: { response, expected: answer.end - answer.start + 1 } };
    }
    if (answer.kind !== 'whole') throw await refusal(run, response, answer);
    // The current version from byte 0: the new whole file, when a 200 may stand for one.
    if (run.target.ranges !== null || !answer.sized || !answer.acceptRanges) {
      await response.dump();
      throw new RemoteChanged();
    }
    tracker.answeredFrom(url);
    return await beforeBody(response, async () => {
      checkMaxDownloadSize(run.job, answer.remote.size);
      await file.truncate(0);
      const known = { url, remote: answer.remote, acceptRanges: true };
      return { known, segments: planSegments(null, answer.remote.size), file, position: 0, body: { response, expected: answer.remote.size } };
    });
  } catch (err) {
    await file.close();
    throw err;
  }
}

/** HEAD for the size and validators; the file resumes at its durable offset if they still match. */
async function openByHead(run: DownloadRun, client: RemoteClient, tracker: Tracker): Promise<Continuation> {
  const { response, url } = await client.fetch('HEAD', run.target.url);
  tracker.connected();
  await response.dump();
  if (response.status < 200 || response.status > 299) throw answerError(run, response);
  tracker.answeredFrom(url);
  const info = readRemoteInfo(response.headers);
  if (info.size === null) {
    throw new BitsError('BG_E_MISSING_FILE_SIZE', `The server did not return the size of ${url} (no Content-Length in the GET or HEAD response); set DYNAMIC_CONTENT for dynamic content.`, {
      context: 'REMOTE_FILE',
      transient: false,
    });
  }
  const remote = storedRemote(info, info.size);
  const segments = planSegments(run.target.ranges, remote.size);
  const total = totalLength(segments);
  checkMaxDownloadSize(run.job, total);
  const stored = fromEngineState(tracker.state);
  const unchanged = stored !== null && sameRemote(stored, remote);
  const { file, offset } = await openTempFile(run, tracker, unchanged && tracker.transferred <= total ? tracker.transferred : 0);
  return { known: { url, remote, acceptRanges: info.acceptRanges }, segments, file, position: offset, body: null };
}

/** Checks the answer to one of the file's later GETs; returns how many body bytes to write, or throws. */
async function acceptRange(run: DownloadRun, response: HttpResponse, k: Known, range: AskedRange, resuming: boolean): Promise<number> {
  const answer = readGetAnswer(response.status, response.headers, range, k.remote);
  if (answer.kind === 'part') return answer.end - answer.start + 1;
  if (answer.kind !== 'whole') throw await refusal(run, response, answer);
  // If-Range answers a changed file with 200 and the new version's validators.
  const changed = !sameRemote(k.remote, answer.remote);
  if (!changed && k.acceptRanges && range.start === 0 && range.end === k.remote.size - 1) return k.remote.size;
  await response.dump();
  // A 200 to a GET that resumes past byte 0: this server cannot resume; the file starts over.
  throw changed || resuming ? new RemoteChanged() : noRangeSupport(k.url);
}

function sameState(a: StoredRemote | null, b: StoredRemote): boolean {
  return a !== null && a.size === b.size && a.lastModified === b.lastModified && a.etag === b.etag;
}

/** Writes the waiting body, then GETs the rest of the plan from the file's known URL. */
async function fetchRest(run: DownloadRun, client: RemoteClient, tracker: Tracker, c: Continuation): Promise<void> {
  const { known: k, segments, file } = c;
  let unread = c.body?.response ?? null;
  try {
    tracker.setTotal(totalLength(segments));
    if (c.position !== tracker.transferred || !sameState(fromEngineState(tracker.state), k.remote)) tracker.progress(c.position, toEngineState(k.remote));
    let position = c.position;
    if (c.body !== null) {
      unread = null;
      position += await writeRunBody(run, tracker, { body: c.body.response.body, file, position, expected: c.body.expected });
    }
    for (let cursor = locate(segments, position); cursor !== null; cursor = locate(segments, position)) {
      const seg = segments[cursor.index];
      if (seg === undefined) break;
      const start = seg.start + cursor.done;
      const request = ask(run, start, seg.start + seg.length - 1, k.acceptRanges);
      const { response } = await get(run, client, tracker, k.url, request, ifRangeValue(k.remote));
      const expected = await acceptRange(run, response, k, request.range, run.target.ranges === null && start > 0);
      position += await writeRunBody(run, tracker, { body: response.body, file, position, expected });
    }
    const mtime = modificationTime(k.remote.lastModified);
    if (mtime !== null) await file.setModificationTime(mtime);
    await file.flush();
    tracker.flushed(position);
  } catch (err) {
    await unread?.dump();
    throw err;
  } finally {
    await file.close();
  }
}

async function attempt(run: DownloadRun, client: RemoteClient, tracker: Tracker): Promise<void> {
  const stored = fromEngineState(tracker.state);
  let opened: Continuation | null = null;
  if (stored === null || tracker.transferred === 0) {
    opened = await openFresh(run, client, tracker);
  } else {
    const segments = planSegments(run.target.ranges, stored.size);
    const total = totalLength(segments);
    if (tracker.transferred < total) {
      checkMaxDownloadSize(run.job, total);
      opened = await openResume(run, client, tracker, stored, segments);
    }
  }
  await fetchRest(run, client, tracker, opened ?? (await openByHead(run, client, tracker)));
}

export async function downloadStatic(run: DownloadRun, client: RemoteClient, tracker: Tracker): Promise<void> {
  // Each attempt starts from the job's URL: a restart forgets where a redirect led.
  await withRestarts(run, tracker, () => attempt(run, client, tracker));
}
