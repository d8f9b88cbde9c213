/**
 * BitsUploadEngine: the TransferEngine for UPLOAD and UPLOAD_REPLY jobs over http(s), speaking
 * the BITS Upload Protocol through an injected HttpTransport. See docs/upload-engine.md.
 */
import type { JobType } from '../../job/types.js';
import { cancelSessionPacket } from '../../protocol/packets.js';
import { classifyAck } from '../../protocol/outcomes.js';
import { retryAfterFor } from '../../protocol/retry-after.js';
import type { CancelContext, RemoteCancelOutcome, TransferContext, TransferEngine, TransferFile } from '../types.js';
import { describeError } from './errors.js';
import { type ResolvedUploadOptions, resolveOptions, type UploadEngineOptions } from './options.js';
import { UploadSession } from './session.js';
import { readUploadState, sessionOpen } from './state.js';
import { jobConnection, parseRemote, targetUrl } from './target.js';

export class BitsUploadEngine implements TransferEngine {
  readonly name = 'bits-upload';
  readonly #options: ResolvedUploadOptions;

  constructor(options: UploadEngineOptions) {
    this.#options = resolveOptions(options);
  }

  handles(jobType: JobType, remote: URL): boolean {
    return (jobType === 'UPLOAD' || jobType === 'UPLOAD_REPLY') && (remote.protocol === 'http:' || remote.protocol === 'https:');
  }

  async transfer(ctx: TransferContext): Promise<void> {
    const state = readUploadState(ctx.file.engineState);
    if (state.phase === 'closed') return;
    const remote = parseRemote(ctx.file.remoteName);
    const job = jobConnection(ctx.job, remote, this.#options);
    await new UploadSession(ctx, this.#options, job, state).run();
  }

  needsRemoteCancel(file: TransferFile): boolean {
    return sessionOpen(readUploadState(file.engineState));
  }

  /**
   * Cancel-Session for the stored session, on a fresh connection. Ack for Cancel-Session: 5xx (and
   * 429, a bitsd decision) is resent later, not before its Retry-After, unless the server no longer
   * knows the session; other 1xx-4xx are never resent. Anything that is not one of those or a
   * network failure therefore ends the retries.
   */
  async cancelRemote(ctx: CancelContext): Promise<RemoteCancelOutcome> {
    const state = readUploadState(ctx.file.engineState);
    if (!sessionOpen(state) || state.sessionId === null) return { done: true };
    let remote: URL;
    try {
      remote = parseRemote(ctx.file.remoteName);
    } catch {
      // No URL to send to: there is nothing a retry could do either.
      return { done: true };
    }
    if (ctx.signal.aborted) return { done: false, error: 'Cancel-Session was interrupted.' };
    const job = jobConnection(ctx.job, remote, this.#options);
    const target = targetUrl(remote, state.hostId);
    const packet = cancelSessionPacket(state.sessionId, job.headers(true));
    const connection = this.#options.transport.connect(job.connectOptions(target.origin));
    try {
      const response = await connection.request({
        method: packet.method,
        path: `${target.pathname}${target.search}`,
        headers: packet.headers,
        body: null,
        signal: ctx.signal,
        timeoutMs: this.#options.requestTimeoutMs,
      });
      response.body.destroy();
      const outcome = classifyAck('Cancel-Session', response.status, response.headers);
      if (outcome.action === 'transient') {
        const retryAfterMs = retryAfterFor(response.status, response.headers['retry-after'], ctx.clock.now());
        return { done: false, error: outcome.error?.message ?? `HTTP ${response.status}`, ...(retryAfterMs !== null ? { retryAfterMs } : {}) };
      }
      if (outcome.action !== 'success') {
        this.#options.logger.warn('Cancel-Session was not acknowledged; not resending it.', { job: ctx.job.id, row: outcome.row, error: outcome.error?.message });
      }
      return { done: true };
    } catch (err) {
      return { done: false, error: describeError(err) };
    } finally {
      // A fresh connection per Cancel-Session, gone afterwards: the body is not needed.
      await connection.destroy().catch(() => undefined);
    }
  }
}
