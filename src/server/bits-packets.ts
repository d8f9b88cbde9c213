/**
 * What the upload server does for each BITS packet, as functions from a request to an Ack
 * (fault injection lives one layer up, in bits-upload-server.ts).
 *
 * Choices where the protocol leaves room (docs/bits-server.md has the full list):
 * - Unknown session id → 500 + BG_E_SESSION_NOT_FOUND (0x8020001F), context 0x5: bits4j
 *   documents 500, and a 5xx keeps Close/Cancel clients on their "resend unless
 *   SESSION_NOT_FOUND" rule.
 * - File larger than maxUploadSize → 500 + BG_E_TOO_LARGE (fatal for the client); fragment
 *   larger than maxFragmentSize → 413 + BG_E_HTTP_ERROR_413 (the client should shrink).
 * - A 0-byte file is uploaded as one Fragment with `Content-Range: bytes *\/0` and
 *   Content-Length 0.
 * - A gap → 416 + BG_E_HTTP_ERROR_416 with BITS-Received-Content-Range.
 */
import { rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hresultOf, httpErrorHresult } from '../shared/hresult.js';
import {
  type Ack,
  BITS_PROTOCOL_GUID,
  CONTEXT_SERVER_APPLICATION,
  errorAck,
  pickProtocol,
  successAck,
} from './bits-ack.js';
import type { IncomingRequest } from './http-connection.js';
import { resolveUrlPath, targetPath } from './paths.js';
import { parseFragmentRange } from './ranges.js';
import type { ServerLog } from './server-log.js';
import { placeUpload, sinkFragment, type UploadSession, type UploadSessions, writeFragment } from './upload-sessions.js';

export type ReplyResult =
  | { readonly body: Buffer | string; readonly contentType?: string }
  | { readonly path: string; readonly contentType?: string };

/**
 * The server application of an upload-reply vdir: called once the upload is in place; its
 * result is served at the BITS-Reply-URL of the final fragment's Ack. null/undefined means "no
 * reply for this URL" (a plain upload, no BITS-Reply-URL).
 */
export type ReplyHandler = (uploadedPath: string, requestPath: string) => Promise<ReplyResult | null | undefined>;

export interface UploadServiceOptions {
  readonly root: string;
  readonly sessions: UploadSessions;
  readonly log: ServerLog;
  readonly replyHandler?: ReplyHandler | undefined;
  readonly maxUploadSize?: number | undefined;
  readonly maxFragmentSize?: number | undefined;
  readonly hostId?: string | undefined;
  readonly hostIdFallbackTimeoutSec?: number | undefined;
  readonly allowOverwrite: boolean;
  /** Paths the server keeps for itself (its staging directories): never an upload target. */
  readonly isReserved: (absPath: string) => boolean;
}

export interface PacketContext {
  readonly req: IncomingRequest;
  /** "http://host:port" the client reached us on, for BITS-Reply-URL. */
  readonly origin: string;
  /** Fault injection: read at most this many body bytes. */
  readonly bodyLimit?: number;
}

/** An Ack to send, or nothing because the client went away mid-body. */
export type PacketResult = { readonly kind: 'ack'; readonly ack: Ack } | { readonly kind: 'aborted' };

export const REPLY_PREFIX = '/__bits-reply/';

const INVALID_ARG = hresultOf('E_INVALIDARG');
const SESSION_NOT_FOUND = hresultOf('BG_E_SESSION_NOT_FOUND');

function ack(a: Ack): PacketResult {
  return { kind: 'ack', ack: a };
}

function invalid(detail: string): PacketResult {
  return ack({ ...errorAck(400, INVALID_ARG), body: `${detail}\n` });
}

/** Reads and throws away a request body (error answers keep the connection usable). */
export async function discard(body: AsyncIterable<Buffer>): Promise<number> {
  let n = 0;
  try {
    for await (const chunk of body) n += chunk.length;
  } catch {
    // The client went away; nothing to answer.
  }
  return n;
}

export class UploadService {
  readonly #o: UploadServiceOptions;

  constructor(options: UploadServiceOptions) {
    this.#o = options;
  }

  ping(): PacketResult {
    return ack(successAck(200));
  }

  async createSession(ctx: PacketContext): Promise<PacketResult> {
    const { req } = ctx;
    const mapped = resolveUrlPath(this.#o.root, req.target);
    if (!mapped.ok) return invalid(`bad upload path: ${mapped.reason}`);
    if (this.#o.isReserved(mapped.absPath)) return invalid('bad upload path: reserved');
    const protocol = pickProtocol(req.headers.get('bits-supported-protocols'));
    if (protocol === undefined) return invalid(`BITS-Supported-Protocols must list ${BITS_PROTOCOL_GUID}`);
    const existing = await stat(mapped.absPath).catch(() => undefined);
    if (existing?.isDirectory()) return ack(errorAck(409, hresultOf('ERROR_DIRECTORY')));
    if (existing !== undefined && !this.#o.allowOverwrite) return ack(errorAck(409, hresultOf('ERROR_FILE_EXISTS')));
    const session = await this.#o.sessions.create(mapped.urlPath, mapped.relPath, mapped.absPath);
    this.#o.log.stats.sessionsCreated += 1;
    const headers: Record<string, string> = {
      'BITS-Protocol': protocol,
      'BITS-Session-Id': session.id,
      'Accept-Encoding': 'Identity',
    };
    if (this.#o.hostId !== undefined) {
      headers['BITS-Host-Id'] = this.#o.hostId;
      if (this.#o.hostIdFallbackTimeoutSec !== undefined) {
        headers['BITS-Host-Id-Fallback-Timeout'] = String(this.#o.hostIdFallbackTimeoutSec);
      }
    }
    return ack(successAck(201, headers));
  }

  /** The session a packet names, or the error Ack to send. */
  #lookup(req: IncomingRequest): UploadSession | PacketResult {
    const id = req.headers.get('bits-session-id');
    if (id === undefined) return invalid('BITS-Session-Id is required');
    const session = this.#o.sessions.get(id);
    if (session === undefined) return ack(errorAck(500, SESSION_NOT_FOUND, undefined, { 'BITS-Session-Id': id }));
    return session;
  }

  async fragment(ctx: PacketContext): Promise<PacketResult> {
    const { req } = ctx;
    const found = this.#lookup(req);
    if (!('id' in found)) return found;
    const session = found;
    const encoding = req.headers.get('content-encoding');
    if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return invalid('only Identity encoding is accepted');
    if (targetPath(req.target) !== session.urlPath) return invalid('the session belongs to another URL');
    const rangeText = req.headers.get('content-range');
    const range = rangeText === undefined ? undefined : parseFragmentRange(rangeText);
    if (range === undefined) return invalid('Content-Range must be "bytes first-last/total"');
    // Content-Length is required, except for the empty-file form: with nothing to frame, a
    // client library that leaves out "Content-Length: 0" (undici does for extension methods)
    // still means the same request.
    const contentLength = req.head.contentLength ?? (range.kind === 'empty' ? 0 : undefined);
    if (contentLength === undefined) return ack({ ...errorAck(411, INVALID_ARG), body: 'Content-Length is required\n' });
    const length = range.kind === 'empty' ? 0 : range.last - range.first + 1;
    const total = range.kind === 'empty' ? 0 : range.total;
    if (contentLength !== length) return invalid('Content-Length does not match Content-Range');
    const max = this.#o.maxUploadSize;
    if (max !== undefined && total > max) return ack(errorAck(500, hresultOf('BG_E_TOO_LARGE'), undefined, this.#sessionHeader(session)));
    const maxFragment = this.#o.maxFragmentSize;
    if (maxFragment !== undefined && length > maxFragment) {
      return ack(errorAck(413, httpErrorHresult(413), undefined, this.#sessionHeader(session)));
    }
    if (session.total !== undefined && session.total !== total) return invalid(`total ${total} differs from the session's ${session.total}`);

    return this.#o.sessions.withLock(session, async () => {
      if (session.completed) {
        // A retry of the final fragment whose Ack was lost: the file is already in place.
        await discard(req.body);
        return this.#received(ctx, session);
      }
      session.total = total;
      if (range.kind === 'range' && range.first > session.received) {
        return ack(
          errorAck(416, httpErrorHresult(416), undefined, {
            ...this.#sessionHeader(session),
            'BITS-Received-Content-Range': String(session.received),
          }),
        );
      }
      if (range.kind === 'range' && range.last >= session.received) {
        const result = isSinkUpload(session)
          ? await sinkFragment(req.body, range.first, session.received, ctx.bodyLimit)
          : await writeFragment(session.tempPath, req.body, range.first, session.received, ctx.bodyLimit);
        session.received += result.written;
        this.#o.log.stats.bytesStored += result.written;
        if (result.aborted) return { kind: 'aborted' };
        if (ctx.bodyLimit !== undefined && ctx.bodyLimit < length) return { kind: 'aborted' };
      } else {
        await discard(req.body);
      }
      if (session.received === total) await this.#complete(session);
      return this.#received(ctx, session);
    });
  }

  #sessionHeader(session: UploadSession): Record<string, string> {
    return { 'BITS-Session-Id': session.id };
  }

  /** The 200 Ack of a fragment: the next offset wanted, plus the reply URL once complete. */
  async #received(ctx: PacketContext, session: UploadSession): Promise<PacketResult> {
    const headers: Record<string, string> = {
      ...this.#sessionHeader(session),
      'BITS-Received-Content-Range': String(session.received),
    };
    if (session.completed && this.#o.replyHandler !== undefined) {
      if (session.reply === undefined) {
        try {
          session.reply = await this.#makeReply(session);
        } catch (err) {
          // The server application failed: context 0x7; a retried final fragment asks it again.
          const text = err instanceof Error ? err.message : String(err);
          return ack({ ...errorAck(500, hresultOf('E_FAIL'), CONTEXT_SERVER_APPLICATION, headers), body: `${text}\n` });
        }
      }
      if (session.reply !== undefined) headers['BITS-Reply-URL'] = `${ctx.origin}${REPLY_PREFIX}${session.replyToken}`;
    }
    return ack(successAck(200, headers));
  }

  async #complete(session: UploadSession): Promise<void> {
    // A sink upload leaves nothing behind: its (empty) staging file goes now.
    if (isSinkUpload(session)) await rm(session.tempPath, { force: true });
    else await placeUpload(session.tempPath, session.targetPath);
    session.completed = true;
    this.#o.log.stats.sessionsCompleted += 1;
    this.#o.log.stats.completedUploads.push(session.relPath);
  }

  async #makeReply(session: UploadSession): Promise<UploadSession['reply']> {
    const handler = this.#o.replyHandler;
    if (handler === undefined) return undefined;
    const result = await handler(session.targetPath, decodeURIComponent(session.urlPath));
    if (result === null || result === undefined) return undefined;
    const contentType = result.contentType ?? 'application/octet-stream';
    if ('path' in result) return { path: result.path, owned: false, contentType };
    const path = join(this.#o.sessions.stagingDir, `${session.replyToken}.reply`);
    await writeFile(path, result.body);
    return { path, owned: true, contentType };
  }

  /** Close-Session: frees the session; before the last byte this deletes the partial upload. */
  async closeSession(ctx: PacketContext): Promise<PacketResult> {
    const found = this.#lookup(ctx.req);
    if (!('id' in found)) return found;
    await this.#o.sessions.withLock(found, () => this.#o.sessions.remove(found));
    this.#o.log.stats.sessionsClosed += 1;
    return ack(successAck(200, this.#sessionHeader(found)));
  }

  /** Cancel-Session: like Close; a completed upload stays in place, its reply is dropped. */
  async cancelSession(ctx: PacketContext): Promise<PacketResult> {
    const found = this.#lookup(ctx.req);
    if (!('id' in found)) return found;
    await this.#o.sessions.withLock(found, () => this.#o.sessions.remove(found));
    this.#o.log.stats.sessionsCancelled += 1;
    return ack(successAck(200, this.#sessionHeader(found)));
  }

  /** Deletes staged files of sessions still open (server shutdown). */
  async shutdown(): Promise<void> {
    await this.#o.sessions.removeAll();
  }
}

/** BITS uploads to /__sink/<anything> are acknowledged in full but never stored (benchmarks). */
export const BITS_SINK_PREFIX = '/__sink/';

function isSinkUpload(session: UploadSession): boolean {
  return session.urlPath.startsWith(BITS_SINK_PREFIX);
}
