/**
 * Requests of one download transfer: one kept-alive connection per origin, redirects followed by
 * hand under the job's redirect policy (redirect-policy.ts), and the job's secrets for its own
 * origin only. The custom headers (which often carry API keys) and answers to 401 challenges with
 * the job's SERVER credentials go to the origin (scheme, host, port) of the file's remote name and
 * never to a host a redirect points to, as curl treats its own custom headers and credentials.
 */
import type { Credentials } from '../../job/types.js';
import type { Env } from '../../transport/proxy-resolver.js';
import type { HttpConnection, HttpResponse, HttpTransport } from '../../transport/types.js';
import type { TransferJob } from '../types.js';
import { basicAuthorization } from '../../protocol/auth.js';
import { parseCustomHeaders } from '../../protocol/headers.js';
import { answerChallenge, type AuthState, authorizationFor } from './http-auth.js';
import { followRedirect, isRedirect } from './redirect-policy.js';

/** Sent unless the job's custom headers set their own User-Agent. */
export const USER_AGENT = 'Microsoft BITS/7.8 bitsd/0.1';

/** PROXY-target Basic credentials as a Proxy-Authorization value, or null. */
export function proxyAuthorization(credentials: readonly Credentials[]): string | null {
  return basicAuthorization(credentials, 'PROXY');
}

export interface RemoteClientOptions {
  readonly transport: HttpTransport;
  readonly job: TransferJob;
  /** The remote name's origin: the only one that gets the custom headers and credentials. */
  readonly origin: string;
  readonly signal: AbortSignal;
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly env: Env | undefined;
  /**
   * The job's headers for a request to `url`; default: its custom headers, to `origin` only. The
   * reply of an upload-reply job sends them, and credentials, only to the upload's own server.
   */
  readonly headersFor?: ((url: URL) => Readonly<Record<string, string>>) | undefined;
}

export interface FetchResult {
  readonly response: HttpResponse;
  /** The URL that answered (after redirects). */
  readonly url: string;
}

export class RemoteClient {
  readonly #o: RemoteClientOptions;
  readonly #connections = new Map<string, HttpConnection>();
  readonly #auth = new Map<string, AuthState>();
  readonly #custom: Readonly<Record<string, string>>;

  constructor(options: RemoteClientOptions) {
    this.#o = options;
    // Lines that could break framing or override connection headers are dropped, as for uploads.
    this.#custom = parseCustomHeaders(options.job.customHeaders).headers;
  }

  /** Sends `method` to `url`, following redirects; returns the first non-redirect response. */
  async fetch(method: string, url: string, headers: Readonly<Record<string, string>> = {}): Promise<FetchResult> {
    let current = new URL(url);
    let verb = method;
    for (let hops = 0; ; hops++) {
      const response = await this.#send(verb, current, headers);
      if (!isRedirect(response.status)) return { response, url: current.href };
      const location = response.headers.location;
      await response.dump();
      current = followRedirect({ status: response.status, location, from: current, hops, securityFlags: this.#o.job.securityFlags });
      // 303 turns a GET into a GET of the new resource; HEAD stays HEAD.
      if (response.status === 303 && verb !== 'HEAD') verb = 'GET';
    }
  }

  #connection(origin: string): HttpConnection {
    let conn = this.#connections.get(origin);
    if (!conn) {
      const job = this.#o.job;
      conn = this.#o.transport.connect({
        origin,
        proxy: job.proxy,
        proxyAuthorization: proxyAuthorization(job.credentials),
        securityFlags: job.securityFlags,
        clientCertificate: job.clientCertificate,
        connectTimeoutMs: this.#o.connectTimeoutMs,
        ...(this.#o.env !== undefined ? { env: this.#o.env } : {}),
      });
      this.#connections.set(origin, conn);
    }
    return conn;
  }

  async #send(method: string, url: URL, extra: Readonly<Record<string, string>>): Promise<HttpResponse> {
    const conn = this.#connection(url.origin);
    const path = `${url.pathname}${url.search}`;
    // With headersFor (an upload-reply's reply) the caller decides, and its headers already carry
    // the credentials where they belong: no 401 is answered.
    const trusted = this.#o.headersFor === undefined && url.origin === this.#o.origin;
    const job = this.#o.headersFor ? this.#o.headersFor(url) : trusted ? this.#custom : {};
    const headers: Record<string, string> = { 'user-agent': USER_AGENT, ...job, ...extra };
    const known = this.#auth.get(url.origin);
    if (known) headers.authorization = authorizationFor(known, method, path);
    const send = (): Promise<HttpResponse> =>
      conn.request({ method, path, headers, signal: this.#o.signal, timeoutMs: this.#o.timeoutMs });
    const first = await send();
    if (first.status !== 401 || !trusted) return first;
    const answer = answerChallenge(first.headers['www-authenticate'], this.#o.job.credentials);
    if (!answer) return first;
    // One answer per request: a second 401 means the credentials were rejected (fatal 0x80190191).
    await first.dump();
    this.#auth.set(url.origin, answer);
    headers.authorization = authorizationFor(answer, method, path);
    return send();
  }

  /** Graceful close of every connection (after a completed transfer). */
  async close(): Promise<void> {
    await Promise.all([...this.#connections.values()].map((c) => c.close().catch(() => undefined)));
    this.#connections.clear();
  }

  /** Immediate close (error or abort): nothing more is read from any server. */
  async destroy(): Promise<void> {
    await Promise.all([...this.#connections.values()].map((c) => c.destroy().catch(() => undefined)));
    this.#connections.clear();
  }
}
