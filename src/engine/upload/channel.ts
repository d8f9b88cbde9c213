/**
 * One kept-alive HTTP connection for an upload session, one request outstanding at a time, with a
 * timeout on every request and a few immediate resends of a packet whose connection failed.
 *
 * Why one connection per session: some servers (the SimpleBITSServer family) keep sessions per TCP
 * connection, so every packet of a session goes over the same connection while it stays up.
 * After any failure the connection is dropped (its state is unknown) and the resend opens a new one.
 */
import pRetry, { AbortError } from 'p-retry';
import type { Readable } from 'node:stream';
import type { ConnectOptions, HttpConnection, HttpResponse, HttpTransport } from '../../transport/types.js';
import type { BitsError } from '../../shared/errors.js';
import type { BitsRequest } from '../../protocol/packets.js';
import { abortedError, describeError, transportError } from './errors.js';
import type { UploadLogger } from './options.js';

export interface AckResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
}

/** A request body made fresh for every attempt (a stream can be read once). */
export interface BodySource {
  readonly body: Readable | Uint8Array;
  localError(): BitsError | null;
  dispose(): void;
}

export interface ChannelOptions {
  readonly transport: HttpTransport;
  /** ConnectOptions for an origin (proxy, certificates, proxy credentials of the job). */
  readonly connectOptions: (origin: string) => ConnectOptions;
  readonly signal: AbortSignal;
  readonly retries: number;
  readonly retryDelayMs: number;
  readonly logger: UploadLogger;
}

export interface SendOptions {
  readonly timeoutMs: number;
  readonly body?: () => Promise<BodySource>;
}

export class PacketChannel {
  readonly #options: ChannelOptions;
  #connection: HttpConnection | null = null;
  #origin: string | null = null;

  constructor(options: ChannelOptions) {
    this.#options = options;
  }

  /**
   * Sends one packet to `url` and returns its Ack's status and headers (the body is discarded).
   * Connection failures are resent up to `retries` times, then thrown as a transient BitsError.
   * Local file errors and fatal transport errors (certificates) are thrown at once.
   */
  async send(url: URL, request: BitsRequest, options: SendOptions): Promise<AckResponse> {
    const { signal, retries, retryDelayMs, logger } = this.#options;
    if (signal.aborted) throw abortedError(signal);
    try {
      return await pRetry(() => this.#attempt(url, request, options), {
        retries,
        minTimeout: retryDelayMs,
        factor: 2,
        signal,
        unref: true,
        onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
          logger.debug(`${request.packetType} attempt ${attemptNumber} failed`, { error: describeError(error), retriesLeft });
        },
      });
    } catch (err) {
      if (signal.aborted) throw abortedError(signal);
      throw err;
    }
  }

  async #attempt(url: URL, request: BitsRequest, options: SendOptions): Promise<AckResponse> {
    const { signal } = this.#options;
    let source: BodySource | null = null;
    try {
      // A local file error is not the network's fault: no resend.
      source = options.body ? await options.body() : null;
    } catch (err) {
      throw new AbortError(err instanceof Error ? err : new Error(String(err)));
    }
    try {
      const connection = this.#connectionFor(url.origin);
      const response = await connection.request({
        method: request.method,
        path: `${url.pathname}${url.search}`,
        headers: request.headers,
        body: source?.body ?? null,
        signal,
        timeoutMs: options.timeoutMs,
      });
      const ack = { status: response.status, headers: response.headers };
      await this.#finish(response);
      return ack;
    } catch (err) {
      await this.discard();
      const local = source?.localError() ?? null;
      if (local) throw new AbortError(local);
      if (signal.aborted) throw new AbortError(abortedError(signal));
      const mapped = transportError(err);
      if (!mapped.transient) throw new AbortError(mapped);
      throw mapped;
    } finally {
      source?.dispose();
    }
  }

  #connectionFor(origin: string): HttpConnection {
    if (this.#connection && this.#origin === origin) return this.#connection;
    if (this.#connection) void this.#connection.close().catch(() => undefined);
    this.#connection = this.#options.transport.connect(this.#options.connectOptions(origin));
    this.#origin = origin;
    return this.#connection;
  }

  /**
   * Makes the connection ready for the next request. A framed body (Content-Length or chunked) is
   * drained; an unframed one runs until the server closes the connection, and small BITS servers
   * send exactly that (a 500 without Content-Length on a connection they keep open): draining it
   * would hang, so the connection is dropped instead.
   */
  async #finish(response: HttpResponse): Promise<void> {
    const h = response.headers;
    const bodiless = response.status < 200 || response.status === 204 || response.status === 304;
    const framed = h['content-length'] !== undefined || h['transfer-encoding'] !== undefined;
    const closing = /(?:^|,)\s*close\s*(?:,|$)/i.test(h['connection'] ?? '');
    if (!bodiless && !framed) {
      response.body.destroy();
      await this.discard();
      return;
    }
    try {
      await response.dump();
    } catch {
      await this.discard();
      return;
    }
    if (closing) await this.discard();
  }

  /** Drops the connection at once (after a failure, or when its framing is unknown). */
  async discard(): Promise<void> {
    const connection = this.#connection;
    this.#connection = null;
    this.#origin = null;
    if (connection) await connection.destroy().catch(() => undefined);
  }

  /** Closes the connection gracefully at the end of a transfer. */
  async close(): Promise<void> {
    const connection = this.#connection;
    this.#connection = null;
    this.#origin = null;
    if (connection) await connection.close().catch(() => undefined);
  }
}
