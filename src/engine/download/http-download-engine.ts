/**
 * The HTTP(S) download engine: TransferEngine for DOWNLOAD jobs over http and https.
 *
 * It writes the file's bytes into `file.tempName` and reports progress (written and synced
 * offsets, body-writer.ts); it never renames
 * the temp file into place (the runner does that on Complete). See docs/download-engine.md for
 * the behaviour and its choices.
 */
import type { JobType } from '../../job/types.js';
import { BitsError } from '../../shared/errors.js';
import type { Env } from '../../transport/proxy-resolver.js';
import type { HttpTransport } from '../../transport/types.js';
import { type ProgressSink, type TransferContext, type TransferEngine, UNPACED } from '../types.js';
import { type DownloadRun, type DownloadTarget, Tracker } from './download-run.js';
import { downloadDynamic } from './dynamic-download.js';
import { RemoteClient } from './remote-client.js';
import { downloadResumable } from './resumable-get.js';
import { downloadStatic } from './static-download.js';

export interface HttpDownloadEngineOptions {
  readonly transport: HttpTransport;
  /** Time allowed for response headers and between body chunks (ms). Default 60 s. */
  readonly timeoutMs?: number;
  /** TCP/TLS connect timeout (ms). Default 30 s. */
  readonly connectTimeoutMs?: number;
  /** Environment for PRECONFIG proxy settings. Default: process.env (read by the transport). */
  readonly env?: Env;
  /** Progress of the written offset at least every this many bytes. Default 8 MiB (body-writer.ts). */
  readonly progressBytes?: number;
  /** ... or every this many ms. Default 1 s. */
  readonly progressIntervalMs?: number;
  /** A background fdatasync (the synced offset) every this many bytes. Default 16 MiB. */
  readonly syncBytes?: number;
  /** ... or every this many ms. Default 5 s. */
  readonly syncIntervalMs?: number;
}

export interface DownloadRequest {
  readonly ctx: Pick<TransferContext, 'job' | 'signal' | 'clock' | 'pacer'>;
  readonly target: DownloadTarget;
  readonly sink: ProgressSink;
  /**
   * 'job' (default): as the job's settings say (custom verb, DYNAMIC_CONTENT, else a static file:
   * ranged GETs whose first answer gives the size, static-download.ts). 'resumable-get': no HEAD,
   * GETs resumed with Range from the durable offset (resumable-get.ts), for the reply of an
   * UPLOAD_REPLY job.
   */
  readonly mode?: 'job' | 'resumable-get';
  /** The job's headers for a request to a URL (see RemoteClientOptions.headersFor). */
  readonly headersFor?: (url: URL) => Readonly<Record<string, string>>;
}

/** What an engine that downloads as part of a larger exchange needs (the upload-reply reply). */
export interface Downloader {
  download(request: DownloadRequest): Promise<void>;
}

/** Keeps a transient failure of a custom-verb job from being retried: BITS makes those fatal. */
function fatal(err: unknown): unknown {
  if (!(err instanceof BitsError) || !err.transient) return err;
  return new BitsError(err.code, err.message, {
    context: err.context,
    transient: false,
    cause: err,
    ...(err.details !== undefined ? { details: err.details } : {}),
  });
}

export class HttpDownloadEngine implements TransferEngine, Downloader {
  readonly name = 'http-download';
  readonly #options: HttpDownloadEngineOptions;

  constructor(options: HttpDownloadEngineOptions) {
    this.#options = options;
  }

  handles(jobType: JobType, remote: URL): boolean {
    return jobType === 'DOWNLOAD' && (remote.protocol === 'http:' || remote.protocol === 'https:');
  }

  transfer(ctx: TransferContext): Promise<void> {
    const { file } = ctx;
    return this.download({
      ctx,
      target: {
        url: file.remoteName,
        tempName: file.tempName,
        bytesTotal: file.bytesTotal,
        bytesTransferred: file.bytesTransferred,
        syncedBytes: file.syncedBytes,
        ranges: file.ranges,
        engineState: file.engineState,
        tempIdentity: file.tempIdentity,
      },
      sink: ctx.sink,
    });
  }

  /**
   * Downloads one URL into one temp file. Exposed for engines that download as part of a larger
   * exchange (the reply of an UPLOAD_REPLY job), with their own target and sink.
   */
  async download(request: DownloadRequest): Promise<void> {
    const o = this.#options;
    const { job, signal, clock } = request.ctx;
    const run: DownloadRun = {
      job,
      target: request.target,
      sink: request.sink,
      signal,
      clock,
      transport: o.transport,
      timeoutMs: o.timeoutMs ?? 60_000,
      connectTimeoutMs: o.connectTimeoutMs ?? 30_000,
      env: o.env,
      progressBytes: o.progressBytes,
      progressIntervalMs: o.progressIntervalMs,
      syncBytes: o.syncBytes,
      syncIntervalMs: o.syncIntervalMs,
      pacer: request.ctx.pacer ?? UNPACED,
    };
    const client = new RemoteClient({
      transport: o.transport,
      job,
      origin: new URL(request.target.url).origin,
      signal,
      timeoutMs: run.timeoutMs,
      connectTimeoutMs: run.connectTimeoutMs,
      env: o.env,
      headersFor: request.headersFor,
    });
    const tracker = new Tracker(run);
    const verb = job.httpMethod?.toUpperCase();
    let completed = false;
    try {
      if (request.mode === 'resumable-get') {
        await downloadResumable(run, client, tracker);
      } else if (verb !== undefined && verb !== 'GET') {
        await downloadDynamic(run, client, tracker, job.httpMethod ?? verb).catch((err: unknown) => {
          throw fatal(err);
        });
      } else if (job.dynamicContent) {
        await downloadDynamic(run, client, tracker, 'GET');
      } else {
        await downloadStatic(run, client, tracker);
      }
      completed = true;
    } finally {
      if (completed) await client.close();
      else await client.destroy();
    }
  }
}
