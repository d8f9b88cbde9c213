/**
 * The DYNAMIC_CONTENT download (and the custom-verb download of HttpOptions2::SetHttpMethod): one
 * plain request, no HEAD, no Range; the server need not send a size. Any interruption restarts
 * the file from byte 0, so each call starts over. MAX_DOWNLOAD_SIZE caps what is accepted.
 */
import { answerError, checkMaxDownloadSize, type DownloadRun, openTempFile, type Tracker, writeRunBody } from './download-run.js';
import { modificationTime, readRemoteInfo } from './remote-file.js';
import type { RemoteClient } from './remote-client.js';
import type { TempFile } from './temp-file.js';

export async function downloadDynamic(run: DownloadRun, client: RemoteClient, tracker: Tracker, method: string): Promise<void> {
  const { response, url } = await client.fetch(method, run.target.url);
  tracker.connected();
  if (response.status < 200 || response.status > 299) {
    await response.dump();
    throw answerError(run, response);
  }
  tracker.answeredFrom(url);
  const info = readRemoteInfo(response.headers);
  try {
    checkMaxDownloadSize(run.job, info.size);
  } catch (err) {
    await response.dump();
    throw err;
  }
  let file: TempFile;
  try {
    ({ file } = await openTempFile(run, tracker, 0));
  } catch (err) {
    await response.dump();
    throw err;
  }
  try {
    if (tracker.transferred !== 0 || Object.keys(tracker.state).length > 0) tracker.progress(0, {});
    if (info.size !== null) tracker.setTotal(info.size);
    const written = await writeRunBody(run, tracker, { body: response.body, file, position: 0, expected: info.size });
    const mtime = modificationTime(info.lastModified);
    if (mtime !== null) await file.setModificationTime(mtime);
    await file.flush();
    tracker.setTotal(written);
    tracker.flushed(written);
  } finally {
    await file.close();
  }
}
