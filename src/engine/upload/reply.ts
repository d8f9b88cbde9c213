/**
 * UPLOAD_REPLY: the reply (BITS-Reply-URL) is fetched by the download engine, so every HTTP
 * download bitsd makes has one GET path, one redirect policy (the job's security flags; DISALLOW
 * fails with BG_E_HTTP_ERROR_<status>), one Content-Range parser and one temp-file discipline (a
 * file bitsd creates with O_EXCL and never follows through a symlink). It runs in the engine's
 * 'resumable-get' mode: no HEAD, GETs resumed with Range from the flushed length ([MC-BUP]
 * §3.1.5.1.8 leaves the method to the client).
 *
 * This file maps the download's reports onto the reply: progress, size, the temp file's identity,
 * the final URL (ALLOW_REPORT) and the download's validators go into the upload's reply state,
 * which `update` persists (engine state) and reports (sink.replyProgress: GetReplyProgress and the
 * job's reply columns, whose temp identity Complete and Cancel check).
 */
import type { FileIdentity } from '../../job/types.js';
import type { Downloader } from '../download/index.js';
import type { EngineState, ProgressSink, ReplyInfo, TransferContext, TransferJob } from '../types.js';
import type { ReplyState } from './state.js';

export interface ReplyFetch {
  readonly downloader: Downloader;
  /** Job headers for a request to `url` (credentials only for the upload's own server). */
  readonly headersFor: (url: URL) => Record<string, string>;
  /** Persists the reply state and reports it (GetReplyProgress). */
  readonly update: (reply: ReplyState) => void;
}

/**
 * The reply is not the job's download: the download-only settings (custom verb, DYNAMIC_CONTENT,
 * MAX_DOWNLOAD_SIZE) do not apply to it.
 */
function replyJob(job: TransferJob): TransferJob {
  return { ...job, httpMethod: null, dynamicContent: false, maxDownloadSize: null };
}

/** The reply state as the queue records it (ProgressSink.replyProgress). */
export function replyInfo(reply: ReplyState): ReplyInfo {
  return {
    url: reply.url,
    tempName: reply.tempName,
    bytesTotal: reply.bytesTotal,
    bytesTransferred: reply.bytesReceived,
    syncedBytes: reply.bytesSynced,
    tempIdentity: reply.tempIdentity,
  };
}

/**
 * Where the reply resumes: the engine state's offsets, cut back to what the queue recorded for the
 * same reply (TransferFile.reply), which start-up cut back to the synced bytes after a reboot.
 */
export function resumePoint(state: ReplyState, recorded: ReplyInfo | undefined): ReplyState {
  if (recorded === undefined || recorded.tempName !== state.tempName || recorded.bytesTransferred >= state.bytesReceived) return state;
  const bytesReceived = Math.max(0, recorded.bytesTransferred);
  return { ...state, bytesReceived, bytesSynced: Math.min(state.bytesSynced, bytesReceived) };
}

/** Downloads the reply from where `initial` left off; resolves with the finished reply state. */
export async function fetchReply(ctx: TransferContext, initial: ReplyState, fetch: ReplyFetch): Promise<ReplyState> {
  let reply = resumePoint(initial, ctx.file.reply);
  const set = (next: Partial<ReplyState>): void => {
    reply = { ...reply, ...next };
    fetch.update(reply);
  };
  const sink: ProgressSink = {
    connected: () => ctx.sink.connected(),
    // As for a file: a known size that changes means another reply, whose bytes start over.
    setTotal: (bytesTotal) => set(reply.bytesTotal >= 0 && bytesTotal !== reply.bytesTotal ? { bytesTotal, bytesReceived: 0, bytesSynced: 0 } : { bytesTotal }),
    progress: (bytesReceived: number, download?: EngineState, bytesSynced = bytesReceived) => {
      const offsets = { bytesReceived, bytesSynced: Math.min(bytesSynced, bytesReceived) };
      set(download === undefined ? offsets : { ...offsets, download });
    },
    saveState: (download) => set({ download }),
    setRemoteName: (url) => set({ url }),
    tempCreated: (tempIdentity: FileIdentity) => set({ tempIdentity }),
    replyProgress: () => undefined,
  };
  await fetch.downloader.download({
    ctx: { job: replyJob(ctx.job), signal: ctx.signal, clock: ctx.clock },
    target: {
      url: reply.url,
      tempName: reply.tempName,
      bytesTotal: reply.bytesTotal,
      bytesTransferred: reply.bytesReceived,
      syncedBytes: reply.bytesSynced,
      ranges: null,
      engineState: reply.download,
      tempIdentity: reply.tempIdentity,
      // The reply is the server application's answer to this job's owner: for the owner's eyes.
      tempMode: 0o600,
    },
    sink,
    mode: 'resumable-get',
    headersFor: fetch.headersFor,
  });
  return reply;
}
