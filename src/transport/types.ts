/**
 * The HTTP seam. Engines (BITS upload, HTTP download) speak to servers only through these
 * interfaces; src/transport/undici-transport.ts is the one implementation and the only module of
 * bitsd that imports undici. Tests can hand an engine a scripted HttpTransport instead.
 */
import type { Readable } from 'node:stream';
import type { ProxySettings } from '../job/types.js';
import type { ClientCertificate } from '../job/types.js';

export interface ConnectOptions {
  /** "http://host:port" or "https://host:port": one connection pool per origin. */
  readonly origin: string;
  readonly proxy: ProxySettings;
  /** PROXY-target Basic credentials, if the job has them (sent as Proxy-Authorization). */
  readonly proxyAuthorization: string | null;
  /** BG_SSL_* flags: which certificate checks to skip. */
  readonly securityFlags: number;
  readonly clientCertificate: ClientCertificate | null;
  /** Environment used for PRECONFIG proxy settings (HTTP_PROXY, HTTPS_PROXY, NO_PROXY). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Connect timeout (ms). */
  readonly connectTimeoutMs?: number;
}

export interface HttpRequest {
  readonly method: string;
  /** Path and query ("/upload/a.log?x=1") or an absolute URL on the connection's origin. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Request body: bytes, or a stream of exactly `headers['content-length']` bytes. */
  readonly body?: Uint8Array | Readable | null;
  readonly signal?: AbortSignal;
  /** Time allowed for the response headers, and between body chunks (ms). */
  readonly timeoutMs?: number;
}

export interface HttpResponse {
  readonly status: number;
  /** Lower-cased header names; repeated headers joined with ", " (set-cookie excepted). */
  readonly headers: Readonly<Record<string, string>>;
  /** The response body; consume it, or call dump(), before the next request on the connection. */
  readonly body: Readable;
  /** Reads the body as text, failing with BG_E_TOO_LARGE-style errors past `limit` bytes. */
  text(limit?: number): Promise<string>;
  /** Discards the rest of the body so the connection can be reused. */
  dump(): Promise<void>;
}

/** One origin, kept-alive, one request outstanding at a time. */
export interface HttpConnection {
  request(req: HttpRequest): Promise<HttpResponse>;
  /** Closes gracefully after in-flight requests. */
  close(): Promise<void>;
  /** Closes at once, failing in-flight requests. */
  destroy(): Promise<void>;
}

export interface HttpTransport {
  connect(options: ConnectOptions): HttpConnection;
}
