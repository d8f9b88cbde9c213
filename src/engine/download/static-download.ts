/**
 * The resumable download of a static file (the default, Windows BITS's way): HEAD for the size
 * and validators, then ranged GETs from the durable offset into the temp file.
 *
 * Resume safety: the stored validators (size, Last-Modified, strong ETag) must match the HEAD,
 * and each ranged GET carries If-Range, so a file that changes between HEAD and GET comes back as
 * a 200 with new validators instead of bytes of a different version. Any sign of change (new
 * validators, 412, 416, a Content-Range with another size) restarts the file from byte 0 within
 * the same call, at most MAX_RESTARTS times; so does a 200 to a GET that resumes a whole-file
 * download past byte 0 (the server, e.g. a new remote name's, cannot resume).
 */
import { BitsError } from '../../shared/errors.js';
import type { HttpResponse } from '../../transport/types.js';
import { answerError, checkMaxDownloadSize, type DownloadRun, openTempFile, RemoteChanged, type Tracker, withRestarts, writeRunBody } from './download-run.js';
import { locate, planSegments, type Segment, totalLength } from './range-plan.js';
import {
  fromEngineState,
  ifRangeValue,
  modificationTime,
  parseContentRange,
  type RemoteInfo,
  readRemoteInfo,
  sameRemote,
  type StoredRemote,
  storedRemote,
  toEngineState,
} from './remote-file.js';
import type { RemoteClient } from './remote-client.js';

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

interface Probe {
  readonly url: string;
  readonly info: RemoteInfo;
  readonly remote: StoredRemote;
}

async function probe(run: DownloadRun, client: RemoteClient, tracker: Tracker, url: string): Promise<Probe> {
  const { response, url: answered } = await client.fetch('HEAD', url);
  tracker.connected();
  await response.dump();
  if (response.status < 200 || response.status > 299) throw answerError(run, response);
  tracker.answeredFrom(answered);
  const info = readRemoteInfo(response.headers);
  if (info.size === null) {
    throw new BitsError('BG_E_MISSING_FILE_SIZE', `The server did not return the size of ${answered} (no Content-Length in the HEAD response); set DYNAMIC_CONTENT for dynamic content.`, {
      context: 'REMOTE_FILE',
      transient: false,
    });
  }
  return { url: answered, info, remote: storedRemote(info, info.size) };
}

/**
 * Checks a ranged GET's answer; returns how many body bytes to write, or throws. `resuming`: the
 * GET continues a whole-file download past byte 0, so a 200 for the same file means this server
 * cannot resume (SetRemoteName's "the new server does not support checkpoint resume"): the file
 * restarts from 0 rather than failing.
 */
async function acceptRange(run: DownloadRun, response: HttpResponse, p: Probe, start: number, end: number, wholeOk: boolean, resuming: boolean): Promise<number> {
  const { status, headers } = response;
  if (status === 206) {
    const range = parseContentRange(headers['content-range']);
    if (range === null) {
      await response.dump();
      throw invalidResponse(`206 response without a single-range Content-Range (got "${headers['content-range'] ?? ''}").`);
    }
    if (range.size !== null && range.size !== p.remote.size) {
      await response.dump();
      throw new RemoteChanged();
    }
    if (range.start !== start || range.end > end) {
      await response.dump();
      throw invalidResponse(`Asked for bytes ${start}-${end}, the server sent ${range.start}-${range.end}.`);
    }
    return range.end - range.start + 1;
  }
  if (status === 200) {
    const info = readRemoteInfo(headers);
    // If-Range answers a changed file with 200 and the new version's validators.
    const changed = !sameRemote(p.remote, storedRemote(info, info.size ?? p.remote.size));
    if (!changed && wholeOk) return p.remote.size;
    await response.dump();
    throw changed || resuming ? new RemoteChanged() : noRangeSupport(p.url);
  }
  await response.dump();
  if (status === 412 || status === 416) throw new RemoteChanged();
  throw answerError(run, response);
}

/** Whether a 200 to this ranged GET is as good as a 206: the whole file was asked for from 0. */
function wholeFileOk(p: Probe, start: number, end: number): boolean {
  return p.info.acceptRanges && start === 0 && end === p.remote.size - 1;
}

async function attempt(run: DownloadRun, client: RemoteClient, tracker: Tracker, url: string): Promise<void> {
  const p = await probe(run, client, tracker, url);
  const segments: Segment[] = planSegments(run.target.ranges, p.remote.size);
  const total = totalLength(segments);
  checkMaxDownloadSize(run.job, total);

  const stored = fromEngineState(tracker.state);
  const unchanged = stored !== null && sameRemote(stored, p.remote);
  const wanted = unchanged && tracker.transferred <= total ? tracker.transferred : 0;
  const { file, offset } = await openTempFile(run, tracker, wanted);
  try {
    tracker.setTotal(total);
    const state = toEngineState(p.remote);
    if (offset !== tracker.transferred || !unchanged) tracker.progress(offset, state);

    let position = offset;
    for (let cursor = locate(segments, position); cursor !== null; cursor = locate(segments, position)) {
      const seg = segments[cursor.index];
      if (seg === undefined) break;
      const start = seg.start + cursor.done;
      // Under a pace (a limit, or yielding), ask for a bounded piece at a time (Pacer.requestSize).
      const bound = p.info.acceptRanges ? run.pacer.requestSize() : null;
      const end = bound === null ? seg.start + seg.length - 1 : Math.min(seg.start + seg.length - 1, start + bound - 1);
      const validator = ifRangeValue(p.remote);
      const headers: Record<string, string> = {
        range: run.target.ranges === null && bound === null ? `bytes=${start}-` : `bytes=${start}-${end}`,
        ...(validator !== null ? { 'if-range': validator } : {}),
      };
      if (bound !== null) run.pacer.requested?.(end - start + 1);
      const { response } = await client.fetch('GET', p.url, headers);
      tracker.connected();
      const resuming = run.target.ranges === null && start > 0;
      const expected = await acceptRange(run, response, p, start, end, wholeFileOk(p, start, end), resuming);
      const written = await writeRunBody(run, tracker, { body: response.body, file, position, expected });
      position += written;
    }
    const mtime = modificationTime(p.remote.lastModified);
    if (mtime !== null) await file.setModificationTime(mtime);
    await file.flush();
    tracker.flushed(position);
  } finally {
    await file.close();
  }
}

export async function downloadStatic(run: DownloadRun, client: RemoteClient, tracker: Tracker): Promise<void> {
  // Each attempt starts from the job's URL: a restart forgets where a redirect led.
  await withRestarts(run, tracker, () => attempt(run, client, tracker, run.target.url));
}
