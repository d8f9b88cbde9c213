/**
 * One run of the upload state machine for one file ([MC-BUP] §3.1.5.1): Create-Session, Fragments,
 * (UPLOAD_REPLY: the reply), Close-Session, resuming from the persisted state. The decisions about
 * what an Ack means come from the pure protocol layer (classifyAck and the Ack readers); this file
 * only carries them out.
 */
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { BitsError } from '../../shared/errors.js';
import { acquireFragment, pacedFragmentSize } from './pacing.js';
import { readCreateSessionAck, readFragmentAck, readReceivedRange, resolveReplyUrl } from '../../protocol/ack.js';
import type { PacketType } from '../../protocol/constants.js';
import { classifyAck, type AckOutcome } from '../../protocol/outcomes.js';
import { retryAfterOf } from '../../protocol/retry-after.js';
import { type BitsRequest, closeSessionPacket, createSessionPacket, fragmentPacket, pingPacket } from '../../protocol/packets.js';
import { finalFragment, isFinalRange, planFragment, shrinkFragmentSize } from '../../protocol/ranges.js';
import type { TransferContext } from '../types.js';
import { type AckResponse, PacketChannel, type SendOptions } from './channel.js';
import { ackBitsError, ackReadError, describeError, invalidResponse, outcomeError } from './errors.js';
import { assertUnchanged, type FileIdentity, openFragment, statLocal } from './local-file.js';
import { FAST_FRAGMENT_MS, type ResolvedUploadOptions, SLOW_FRAGMENT_MS } from './options.js';
import { closeRetryDecision } from './close-window.js';
import { fetchReply, replyInfo } from './reply.js';
import { type UploadState, writeUploadState } from './state.js';
import { type JobConnection, targetUrl } from './target.js';

/** Consecutive Acks without the server's offset moving forward before the attempt gives up. */
const MAX_STALLS = 5;

export class UploadSession {
  readonly #ctx: TransferContext;
  readonly #options: ResolvedUploadOptions;
  readonly #job: JobConnection;
  readonly #channel: PacketChannel;
  #state: UploadState;
  /** The last offset reported through ctx.progress (starts at the persisted value). */
  #reported: number;
  /**
   * One read buffer for every fragment of this run (a fresh 16 MiB one per fragment raised peak
   * RSS by ~60 MB on 4 GiB). Safe: one request is outstanding and done before the next is read.
   */
  #scratch: Buffer | null = null;

  constructor(ctx: TransferContext, options: ResolvedUploadOptions, job: JobConnection, state: UploadState) {
    this.#ctx = ctx;
    this.#options = options;
    this.#job = job;
    this.#state = state;
    this.#reported = ctx.file.bytesTransferred;
    this.#channel = new PacketChannel({
      transport: options.transport,
      connectOptions: job.connectOptions,
      signal: ctx.signal,
      retries: options.packetRetries,
      retryDelayMs: options.retryDelayMs,
      logger: options.logger,
    });
  }

  async run(): Promise<void> {
    try {
      if (this.#state.phase === 'uploading') await this.#upload();
      if (this.#state.phase === 'reply') await this.#reply();
      if (this.#state.phase === 'closing') await this.#close();
    } finally {
      await this.#channel.close();
    }
  }

  // ---- uploading -------------------------------------------------------------------------------

  async #upload(): Promise<void> {
    const path = this.#ctx.file.localName;
    const now = await statLocal(path);
    const recorded: FileIdentity =
      this.#state.fileSize !== null && this.#state.fileMtimeMs !== null ? { size: this.#state.fileSize, mtimeMs: this.#state.fileMtimeMs } : now;
    // Between attempts too: a file edited while the job waited for its retry is a different file.
    assertUnchanged(path, recorded, now);
    let offset = this.#state.sessionId === null ? 0 : Math.min(Math.max(0, this.#ctx.file.bytesTransferred), recorded.size);
    for (let restarts = 0; ; restarts++) {
      if (this.#state.sessionId === null) {
        if (this.#options.ping && (await this.#ping()) === 'restart') throw this.#sessionLost();
        await this.#createSession(recorded);
        offset = 0;
      }
      if ((await this.#sendFragments(offset, recorded)) === 'done') return;
      if (restarts >= this.#options.maxSessionRestarts) throw this.#sessionLost();
      this.#options.logger.warn('The server lost the upload session; starting a new one from byte 0.', { job: this.#ctx.job.id });
      this.#state = { ...this.#state, sessionId: null };
      offset = 0;
    }
  }

  #sessionLost(): BitsError {
    return new BitsError('BG_E_SESSION_NOT_FOUND', 'The server keeps losing the upload session; trying again later.', {
      context: 'REMOTE_FILE',
      transient: true,
    });
  }

  async #ping(): Promise<'ok' | 'restart'> {
    const outcome = await this.#exchange('Ping', pingPacket(this.#job.headers(true)));
    if (outcome.action === 'success') {
      this.#ctx.sink.connected();
      return 'ok';
    }
    if (outcome.action === 'restart-session') return 'restart';
    throw this.#failure(outcome);
  }

  async #createSession(identity: FileIdentity): Promise<void> {
    const target = this.#target();
    const response = await this.#send(target, createSessionPacket(this.#job.headers(true)));
    const outcome = classifyAck('Create-Session', response.status, response.headers);
    if (outcome.action !== 'success') {
      // SESSION_NOT_FOUND in answer to creating one is a server fault that may pass.
      throw outcome.action === 'restart-session' && outcome.error ? ackBitsError(outcome.error, true) : this.#failure(outcome);
    }
    const ack = readCreateSessionAck(response.headers);
    if (!ack.ok) throw ackReadError(ack, 'Create-Session');
    this.#ctx.sink.connected();
    const movedHost = ack.hostId !== null && ack.hostId !== this.#state.hostId;
    this.#state = {
      ...this.#state,
      phase: 'uploading',
      sessionId: ack.sessionId,
      fileSize: identity.size,
      fileMtimeMs: identity.mtimeMs,
      hostId: ack.hostId ?? this.#state.hostId,
      hostIdFallbackSec: ack.hostId !== null ? ack.hostIdFallbackTimeoutSec : this.#state.hostIdFallbackSec,
      hostIdFailingSince: null,
      reply: null,
      closeFailingSince: null,
    };
    if (this.#ctx.file.bytesTotal !== identity.size) this.#ctx.sink.setTotal(identity.size);
    // The session id is persisted at once: a restart continues this session instead of leaking it.
    if (this.#reported !== 0) this.#progress(0);
    else this.#ctx.sink.saveState(writeUploadState(this.#state));
    // [MC-BUP] §3.1.5.2.2: a new Host-Id SHOULD be validated with a Ping before fragments go there.
    if (movedHost && (await this.#ping()) === 'restart') throw this.#sessionLost();
  }

  /** Sends fragments from `offset` until the server holds the whole file: 'done', or 'restart'. */
  async #sendFragments(start: number, identity: FileIdentity): Promise<'done' | 'restart'> {
    const total = identity.size;
    const wantsReply = this.#ctx.job.type === 'UPLOAD_REPLY';
    const sessionId = this.#state.sessionId;
    if (sessionId === null) throw new Error('sendFragments without a session');
    let offset = start;
    // A 413 persisted the size the server accepts: never grow past it.
    let ceiling = this.#state.fragmentSize ?? this.#options.maxFragmentSize;
    let fragmentSize = Math.min(this.#options.fragmentSize, ceiling);
    let resentFinal = false;
    let stalls = 0;
    for (;;) {
      let range = planFragment(offset, total, pacedFragmentSize(fragmentSize, this.#ctx, this.#options.minFragmentSize));
      if (range === null) {
        if (!wantsReply) return this.#uploaded(total, null);
        // The server holds every byte (a 416 or an overlapping resend said so) but the final
        // fragment's Ack, which carries BITS-Reply-URL, never reached us: send the last fragment
        // again; the server keeps what it holds and acknowledges the whole file once more.
        if (resentFinal) throw invalidResponse('The server acknowledged the whole file without a BITS-Reply-URL.');
        resentFinal = true;
        range = finalFragment(total, fragmentSize);
      }
      await acquireFragment(this.#ctx, range);
      const final = isFinalRange(range, total);
      const packet = fragmentPacket({ sessionId, range, total, fileName: basename(this.#ctx.file.localName) }, this.#job.headers(true));
      const fragmentRange = range;
      const sentAt = this.#options.monotonicNow();
      const response = await this.#send(this.#target(), packet, {
        timeoutMs: final && wantsReply ? this.#options.replyAckTimeoutMs : this.#options.requestTimeoutMs,
        body: () => openFragment(this.#ctx.file.localName, fragmentRange, identity, (size) => this.#buffer(size)),
      });
      const outcome = classifyAck('Fragment', response.status, response.headers);
      const before = offset;
      switch (outcome.action) {
        case 'success': {
          const ack = readFragmentAck(response.headers, total);
          if (!ack.ok) throw ackReadError(ack, 'Fragment');
          this.#ctx.sink.connected();
          offset = ack.offset;
          // The Ack of the fragment holding the last byte ends the upload (and carries the reply URL).
          if (final && offset === total) return this.#uploaded(total, wantsReply ? ack.replyUrl : null);
          this.#progress(offset);
          fragmentSize = this.#adapt(fragmentSize, ceiling, this.#options.monotonicNow() - sentAt);
          break;
        }
        case 'resume-from-range': {
          // 416: not a failure. The server says where it wants the next byte; that is the truth.
          const received = readReceivedRange(response.headers, total);
          if (!received.ok) throw ackReadError(received, 'Fragment');
          offset = received.offset;
          this.#progress(offset);
          break;
        }
        case 'shrink-fragment': {
          const smaller = shrinkFragmentSize(fragmentSize, this.#options.minFragmentSize);
          if (smaller === null) throw this.#failure(outcome);
          this.#options.logger.debug('413 on a fragment; shrinking it.', { from: fragmentSize, to: smaller });
          fragmentSize = smaller;
          ceiling = smaller;
          this.#state = { ...this.#state, fragmentSize };
          this.#ctx.sink.saveState(writeUploadState(this.#state));
          continue;
        }
        case 'restart-session':
          return 'restart';
        default:
          throw this.#failure(outcome);
      }
      stalls = offset > before ? 0 : stalls + 1;
      if (stalls > MAX_STALLS) {
        throw new BitsError('BG_E_INVALID_SERVER_RESPONSE', `The server acknowledged ${stalls} fragments without accepting new bytes (offset ${offset}).`, {
          context: 'REMOTE_FILE',
          transient: true,
        });
      }
    }
  }

  #buffer(size: number): Buffer {
    if (!this.#scratch || this.#scratch.length < size) this.#scratch = Buffer.allocUnsafe(size);
    return this.#scratch.subarray(0, size);
  }

  /** Doubles a fragment acknowledged quickly (up to `ceiling`), halves a slow one (down to the initial size). */
  #adapt(size: number, ceiling: number, elapsedMs: number): number {
    if (elapsedMs < FAST_FRAGMENT_MS) return Math.min(size * 2, ceiling);
    if (elapsedMs > SLOW_FRAGMENT_MS) return Math.max(Math.floor(size / 2), Math.min(this.#options.fragmentSize, ceiling));
    return size;
  }

  /** Every byte is on the server: move to the reply (UPLOAD_REPLY) or Close-Session, durably. */
  #uploaded(total: number, replyUrl: string | null): 'done' {
    if (this.#ctx.job.type !== 'UPLOAD_REPLY') {
      this.#state = { ...this.#state, phase: 'closing' };
      this.#progress(total);
      return 'done';
    }
    // [MC-BUP] §3.1.5.2.4: an upload-reply final Ack without BITS-Reply-URL MUST be reported.
    if (replyUrl === null) throw invalidResponse('The Ack of the final fragment of an upload-reply job has no BITS-Reply-URL.');
    const resolved = resolveReplyUrl(replyUrl, this.#job.remote);
    if (!resolved.ok) throw ackReadError(resolved, 'Fragment');
    const dir = dirname(this.#ctx.job.replyFileName || this.#ctx.file.localName);
    const tempName = join(dir, `BIT${randomBytes(4).toString('hex').toUpperCase()}.tmp`);
    this.#state = { ...this.#state, phase: 'reply', reply: { url: resolved.url.href, tempName, bytesTotal: -1, bytesReceived: 0, bytesSynced: 0, tempIdentity: null, download: {} } };
    this.#progress(total);
    return 'done';
  }

  // ---- reply and close -------------------------------------------------------------------------

  async #reply(): Promise<void> {
    const reply = this.#state.reply;
    if (reply === null) throw new Error('reply phase without reply state');
    const done = await fetchReply(this.#ctx, reply, {
      downloader: this.#options.downloader,
      // Custom headers and credentials go only to the upload's own server (or its Host-Id
      // delegate); a reply elsewhere gets neither.
      headersFor: (url) => this.#job.headers(url.origin === this.#job.remote.origin || url.origin === this.#target().origin),
      update: (next) => {
        this.#state = { ...this.#state, reply: next };
        this.#ctx.sink.saveState(writeUploadState(this.#state));
        this.#ctx.sink.replyProgress(replyInfo(next));
      },
    });
    this.#state = { ...this.#state, phase: 'closing', reply: done };
    this.#ctx.sink.saveState(writeUploadState(this.#state));
  }

  /**
   * Close-Session. The server committed the file when the last fragment arrived (and, for
   * upload-reply, produced the reply); closing only frees its session. So: 2xx done;
   * SESSION_NOT_FOUND done; any other answer but a 5xx or a 429 (1xx-4xx, a non-Ack) is logged
   * and counted as done, since resending cannot change it and failing the job would misreport an
   * upload the server already holds. A 5xx, a 429 or a network failure is resent later
   * (transient, the phase stays 'closing', not before a Retry-After) within the Cancel-Session
   * window, min(24 h, no-progress timeout) from the first failure (close-window.ts); when the
   * window closes the upload counts as done for the same reason as a 4xx.
   */
  async #close(): Promise<void> {
    const sessionId = this.#state.sessionId;
    if (sessionId !== null) await this.#sendClose(sessionId);
    this.#state = { ...this.#state, phase: 'closed' };
    this.#ctx.sink.saveState(writeUploadState(this.#state));
  }

  /** Resolves when the session counts as closed; throws a transient error to be resent later. */
  async #sendClose(sessionId: string): Promise<void> {
    let outcome: AckOutcome;
    try {
      outcome = await this.#exchange('Close-Session', closeSessionPacket(sessionId, this.#job.headers(true)));
    } catch (err) {
      // A connection that kept failing (after the in-exchange resends) counts like a 5xx.
      if (!(err instanceof BitsError) || !err.transient || this.#ctx.signal.aborted) throw err;
      this.#closeFailed(err);
      return;
    }
    if (outcome.action === 'success') return;
    if (outcome.action === 'transient') {
      this.#closeFailed(this.#failure(outcome));
      return;
    }
    this.#options.logger.warn('Close-Session was not acknowledged; the upload is complete on the server, so it counts as done.', {
      job: this.#ctx.job.id,
      row: outcome.row,
      error: outcome.error?.message,
    });
  }

  /**
   * A failed Close-Session: throws `error` (transient: the runner retries after the job's retry
   * delay) while the next attempt still falls inside the window, with the window's start
   * persisted; returns when it would not, and the upload then counts as done.
   */
  #closeFailed(error: BitsError): void {
    const decision = closeRetryDecision({
      failingSince: this.#state.closeFailingSince,
      now: this.#ctx.clock.now(),
      minimumRetryDelaySec: this.#ctx.job.minimumRetryDelaySec,
      noProgressTimeoutSec: this.#ctx.job.noProgressTimeoutSec,
      retryAfterMs: retryAfterOf(error.details),
    });
    if (decision.retry) {
      if (this.#state.closeFailingSince === null) {
        this.#state = { ...this.#state, closeFailingSince: decision.failingSince };
        this.#ctx.sink.saveState(writeUploadState(this.#state));
      }
      throw error;
    }
    this.#options.logger.warn('Close-Session was not acknowledged within its retry window; the upload is complete on the server, so it counts as done.', {
      job: this.#ctx.job.id,
      bound: decision.bound,
      failingSince: decision.failingSince,
      error: describeError(error),
    });
  }

  // ---- plumbing --------------------------------------------------------------------------------

  #target(): URL {
    return targetUrl(this.#job.remote, this.#state.hostId);
  }

  #progress(offset: number): void {
    this.#reported = offset;
    this.#ctx.sink.progress(offset, writeUploadState(this.#state));
  }

  #failure(outcome: AckOutcome): BitsError {
    return outcomeError(outcome, this.#ctx.clock.now());
  }

  async #exchange(packetType: PacketType, packet: BitsRequest): Promise<AckOutcome> {
    const response = await this.#send(this.#target(), packet);
    return classifyAck(packetType, response.status, response.headers);
  }

  /**
   * Sends through the channel, applying the BITS-Host-Id fallback rule: connection failures to the
   * Host-Id server start a timer (persisted, so it spans attempts and restarts); once it exceeds
   * BITS-Host-Id-Fallback-Timeout, packets go to the original host again. A success resets it.
   */
  async #send(target: URL, packet: BitsRequest, options: Partial<SendOptions> = {}): Promise<AckResponse> {
    const send = { timeoutMs: options.timeoutMs ?? this.#options.requestTimeoutMs, ...(options.body ? { body: options.body } : {}) };
    try {
      const response = await this.#channel.send(target, packet, send);
      if (this.#state.hostIdFailingSince !== null) {
        this.#state = { ...this.#state, hostIdFailingSince: null };
        this.#ctx.sink.saveState(writeUploadState(this.#state));
      }
      return response;
    } catch (err) {
      const { hostId, hostIdFallbackSec, hostIdFailingSince } = this.#state;
      const network = err instanceof BitsError && err.transient && err.context === 'GENERAL_TRANSPORT';
      if (!network || hostId === null || this.#ctx.signal.aborted) throw err;
      const now = this.#ctx.clock.now();
      if (hostIdFailingSince === null) {
        this.#state = { ...this.#state, hostIdFailingSince: now };
        this.#ctx.sink.saveState(writeUploadState(this.#state));
        throw err;
      }
      if (hostIdFallbackSec === null || now - hostIdFailingSince < hostIdFallbackSec * 1000) throw err;
      this.#options.logger.warn('BITS-Host-Id server unreachable past its fallback timeout; using the original host.', {
        hostId,
        error: describeError(err),
      });
      this.#state = { ...this.#state, hostId: null, hostIdFallbackSec: null, hostIdFailingSince: null };
      this.#ctx.sink.saveState(writeUploadState(this.#state));
      return this.#channel.send(targetUrl(this.#job.remote, null), packet, send);
    }
  }
}
