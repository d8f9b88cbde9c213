/**
 * The HttpTransport of bitsd, over undici: the only module that imports undici.
 *
 * connect() returns a connection for one origin: an undici Client (keep-alive, pipelining 1, so
 * one request on the wire at a time) when the request goes direct, or a ProxyAgent when a proxy
 * applies (proxy-resolver.ts). Plain http goes through the proxy as a forward request (absolute
 * URI), https through a CONNECT tunnel, as WinHTTP does. The dispatcher is built on the first
 * request, so that a bad proxy setting or an unreadable client certificate surfaces as the request's
 * BitsError (the job's error) instead of an exception from connect().
 *
 * HEAD keeps its connection (undici's default is to close it, in case a broken server sends a
 * body with the HEAD answer): see request() for why that is safe.
 *
 * Response heads are bounded (head-limit.ts): at most MAX_RESPONSE_HEAD_BYTES of status line,
 * headers and 1xx interim responses, as WinHTTP bounds them, however the server spreads them.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { buildConnector, Client, type Dispatcher, ProxyAgent } from 'undici';
import { abortReason, mapTransportError } from './error-mapping.js';
import { HeadLimit, MAX_RESPONSE_HEAD_BYTES } from './head-limit.js';
import { type Env, resolveProxy } from './proxy-resolver.js';
import { wrapResponse } from './response.js';
import { buildTlsPolicy, type PeerVerifier } from './tls-policy.js';
import type { ConnectOptions, HttpConnection, HttpRequest, HttpResponse, HttpTransport } from './types.js';

export interface UndiciTransportOptions {
  /** Extra trusted CA certificates (PEM texts), in addition to Node's roots (e.g. a company CA). */
  readonly ca?: readonly string[];
  /** How long an idle kept-alive socket stays open (ms). Default 4 s (undici's default). */
  readonly keepAliveTimeoutMs?: number;
  /** Default headers/body timeout when a request gives none (ms). Default 120 s. */
  readonly defaultTimeoutMs?: number;
  /** Clock for certificate date checks. Default Date.now. */
  readonly now?: () => number;
}

const DEFAULT_TIMEOUT_MS = 120_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;

type ConnectCallback = Parameters<buildConnector.connector>[1];

/** Runs `verify` on every new TLS socket before undici sends anything on it. */
function verifyingConnector(inner: buildConnector.connector, verify: PeerVerifier): buildConnector.connector {
  return (opts, callback: ConnectCallback) => {
    inner(opts, (...args) => {
      const [err, socket] = args;
      if (err !== null) {
        callback(err, null);
        return;
      }
      if (opts.protocol === 'https:') {
        const problem = verify(socket as TLSSocket, opts.servername ?? opts.hostname);
        if (problem) {
          (socket as Socket).destroy();
          callback(problem, null);
          return;
        }
      }
      callback(null, socket);
    });
  };
}

function originOf(text: string): URL {
  const url = new URL(text);
  return new URL(`${url.protocol}//${url.host}`);
}

class UndiciConnection implements HttpConnection {
  readonly #options: ConnectOptions;
  readonly #transport: Required<Omit<UndiciTransportOptions, 'ca'>> & { ca: readonly string[] };
  readonly #origin: URL;
  readonly #head: HeadLimit;
  #dispatcher: Promise<Dispatcher> | undefined;
  #closed = false;

  constructor(options: ConnectOptions, transport: Required<Omit<UndiciTransportOptions, 'ca'>> & { ca: readonly string[] }) {
    this.#options = options;
    this.#transport = transport;
    this.#origin = originOf(options.origin);
    this.#head = new HeadLimit(this.#origin.origin);
  }

  async #build(): Promise<Dispatcher> {
    const o = this.#options;
    const env: Env = o.env ?? process.env;
    const decision = resolveProxy(this.#origin, o.proxy, env);
    const connectTimeout = o.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const tlsPolicy =
      this.#origin.protocol === 'https:'
        ? await buildTlsPolicy({
            securityFlags: o.securityFlags,
            clientCertificate: o.clientCertificate,
            extraCa: this.#transport.ca,
            now: this.#transport.now,
          })
        : undefined;
    const tlsOptions = { ...(tlsPolicy?.options ?? {}), timeout: connectTimeout };
    const verify = tlsPolicy?.verify ?? null;
    // maxHeaderSize is explicit: undici's default follows Node's --max-http-header-size.
    const clientOptions = { pipelining: 1, keepAliveTimeout: this.#transport.keepAliveTimeoutMs, maxHeaderSize: MAX_RESPONSE_HEAD_BYTES };

    if (decision.kind === 'direct') {
      const connector = buildConnector(tlsOptions);
      return new Client(this.#origin, {
        ...clientOptions,
        connect: this.#head.wrap(verify ? verifyingConnector(connector, verify) : connector),
      });
    }
    return new ProxyAgent({
      uri: decision.uri,
      ...(o.proxyAuthorization !== null ? { token: o.proxyAuthorization } : {}),
      // Forward requests for http, CONNECT tunnels for https (WinHTTP's behaviour).
      proxyTunnel: false,
      proxyTls: { timeout: connectTimeout },
      requestTls: tlsOptions,
      factory: (origin: string | URL, opts: object): Dispatcher => {
        // The tunnel connector ProxyAgent hands its clients does the TLS handshake with the origin;
        // wrap it so the job's partial certificate checks run on that socket too.
        const connect = (opts as { connect?: unknown }).connect;
        const checked =
          verify && typeof connect === 'function' ? verifyingConnector(connect as buildConnector.connector, verify) : connect;
        const wrapped = typeof checked === 'function' ? this.#head.wrap(checked as buildConnector.connector) : checked;
        return new Client(origin, { ...(opts as Client.Options), ...clientOptions, ...(wrapped ? { connect: wrapped as buildConnector.connector } : {}) });
      },
    });
  }

  #path(path: string): string {
    if (path.startsWith('/')) return path;
    const url = new URL(path);
    if (url.origin !== this.#origin.origin) {
      throw new TypeError(`Request URL ${url.origin} is not on this connection's origin ${this.#origin.origin}.`);
    }
    return `${url.pathname}${url.search}`;
  }

  async request(req: HttpRequest): Promise<HttpResponse> {
    if (this.#closed) throw new TypeError('The connection is closed.');
    const signal = req.signal;
    if (signal?.aborted) throw abortReason(signal);
    const timeout = req.timeoutMs ?? this.#transport.defaultTimeoutMs;
    try {
      this.#dispatcher ??= this.#build();
      const dispatcher = await this.#dispatcher;
      const options: Dispatcher.RequestOptions = {
        origin: this.#origin.origin,
        path: this.#path(req.path),
        method: req.method as Dispatcher.HttpMethod,
        headers: { ...req.headers },
        body: req.body ?? null,
        // undici drops the connection after a body sent with a method it does not know to carry
        // one (BITS_POST), and after every HEAD (in case a broken server sends a body with it),
        // unless told not to: every upload fragment, and every download file (HEAD, then GET),
        // then paid a new TCP connection (bench cases 1 and 3). A server that does send a body
        // after HEAD makes the next response unparsable: that request fails and is retried on a
        // new connection, it cannot be taken for file bytes.
        ...(req.body != null || req.method === 'HEAD' ? { reset: false } : {}),
        headersTimeout: timeout,
        bodyTimeout: timeout,
        ...(signal ? { signal } : {}),
      };
      // The callback form: undici calls it while parsing the chunk that ends the head, so the head
      // limit stops counting before any body byte of that chunk (a promise would settle later).
      this.#head.start();
      const data = await new Promise<Dispatcher.ResponseData>((resolve, reject) => {
        dispatcher.request(options, (err, result) => {
          this.#head.end();
          if (err) reject(err);
          else resolve(result);
        });
      });
      return wrapResponse(data, signal);
    } catch (err) {
      this.#head.end();
      // A failed build (bad proxy, unreadable certificate) is retried on the next request.
      if (this.#dispatcher && !(await this.#dispatcher.then(() => true, () => false))) this.#dispatcher = undefined;
      throw mapTransportError(err, signal);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    const d = await this.#settled();
    if (d && !d.closed && !d.destroyed) await d.close();
  }

  async destroy(): Promise<void> {
    this.#closed = true;
    const d = await this.#settled();
    if (d && !d.destroyed) await d.destroy();
  }

  async #settled(): Promise<(Dispatcher & { closed?: boolean; destroyed?: boolean }) | undefined> {
    if (!this.#dispatcher) return undefined;
    return this.#dispatcher.then(
      (d) => d,
      () => undefined,
    );
  }
}

export class UndiciTransport implements HttpTransport {
  readonly #options: Required<Omit<UndiciTransportOptions, 'ca'>> & { ca: readonly string[] };

  constructor(options: UndiciTransportOptions = {}) {
    this.#options = {
      ca: options.ca ?? [],
      keepAliveTimeoutMs: options.keepAliveTimeoutMs ?? 4_000,
      defaultTimeoutMs: options.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS,
      now: options.now ?? Date.now,
    };
  }

  connect(options: ConnectOptions): HttpConnection {
    return new UndiciConnection(options, this.#options);
  }
}
