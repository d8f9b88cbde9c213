/**
 * Settings of the BITS upload engine, with the defaults and the reasons for them.
 */
import type { HttpTransport } from '../../transport/types.js';
import { type Downloader, HttpDownloadEngine } from '../download/index.js';

/** Where the engine reports things worth a line in the daemon log (never credentials). */
export interface UploadLogger {
  warn(message: string, details?: Readonly<Record<string, unknown>>): void;
  debug(message: string, details?: Readonly<Record<string, unknown>>): void;
}

export const silentLogger: UploadLogger = {
  warn: () => undefined,
  debug: () => undefined,
};

export interface UploadEngineOptions {
  /** The HTTP seam: src/transport/undici-transport.ts in the daemon, a scripted fake in tests. */
  readonly transport: HttpTransport;
  /** Bytes of the first Fragment packet. Default 1 MiB (see DEFAULT_FRAGMENT_SIZE). */
  readonly fragmentSize?: number;
  /**
   * Fragments grow (doubling) up to this size while each is acknowledged within
   * FAST_FRAGMENT_MS, and shrink back when one takes longer than SLOW_FRAGMENT_MS. Default 16 MiB
   * when fragmentSize is not given, else fragmentSize (a fixed size).
   */
  readonly maxFragmentSize?: number;
  /** A 413 halves the fragment size down to this floor; a 413 at the floor is fatal. Default 16 KiB. */
  readonly minFragmentSize?: number;
  /** Send a Ping before Create-Session (warms the connection; Basic auth needs no negotiation). Default false. */
  readonly ping?: boolean;
  /** Per request: time for the response headers and between body chunks (transport contract). Default 60 s. */
  readonly requestTimeoutMs?: number;
  /**
   * For the final Fragment of an UPLOAD_REPLY job: the server posts the file to its application
   * before it answers with BITS-Reply-URL, and IIS gives the application 5 minutes. Default 330 s.
   */
  readonly replyAckTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
  /** Immediate resends of one packet after a connection reset or timeout, before giving up transiently. Default 2. */
  readonly packetRetries?: number;
  /** Delay before the first resend (doubling after). Default 250 ms. */
  readonly retryDelayMs?: number;
  /** New sessions allowed per transfer() after BG_E_SESSION_NOT_FOUND before reporting a transient error. Default 3. */
  readonly maxSessionRestarts?: number;
  /** Environment for PRECONFIG proxy settings, passed to the transport. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly logger?: UploadLogger;
  /** Monotonic milliseconds for timing fragments (fragment-size growth). Default performance.now. */
  readonly monotonicNow?: () => number;
  /**
   * Fetches the reply of UPLOAD_REPLY jobs: the HTTP download engine (the daemon passes the one
   * its DOWNLOAD jobs use). Default: a download engine of its own on `transport`, with this
   * engine's request and connect timeouts and `env`.
   */
  readonly downloader?: Downloader;
}

/**
 * 1 MiB. Memory does not depend on it (fragments are streamed from disk); it trades request count
 * against how much one dropped connection costs (at most one fragment is resent). 1 MiB is exactly
 * nginx's default client_max_body_size, far below IIS's 30,000,000-byte default upload limit, makes
 * a 1 GiB upload 1,024 requests, and keeps progress reports (one per acknowledged fragment) at a
 * rate the store can absorb. Servers that want less say 413, and the size halves.
 */
export const DEFAULT_FRAGMENT_SIZE = 1024 * 1024;
export const DEFAULT_MIN_FRAGMENT_SIZE = 16 * 1024;
/**
 * Fast links should not pay a round trip per MiB (stop-and-wait: one fragment, then its Ack), and
 * slow, flaky ones should not lose much to a drop: fragments start at 1 MiB and double while
 * each Ack comes back within FAST_FRAGMENT_MS, up to 16 MiB (half of IIS's default 30 MB request
 * limit), and halve when one takes longer than SLOW_FRAGMENT_MS. On loopback this took a 1 GiB
 * upload from 258 to ~600 MiB/s; on a 1 Mbit/s link fragments stay at 1 MiB (8 s each).
 */
export const DEFAULT_MAX_FRAGMENT_SIZE = 16 * 1024 * 1024;
export const FAST_FRAGMENT_MS = 500;
export const SLOW_FRAGMENT_MS = 4000;

export interface ResolvedUploadOptions {
  readonly transport: HttpTransport;
  readonly fragmentSize: number;
  readonly maxFragmentSize: number;
  readonly minFragmentSize: number;
  readonly ping: boolean;
  readonly requestTimeoutMs: number;
  readonly replyAckTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly packetRetries: number;
  readonly retryDelayMs: number;
  readonly maxSessionRestarts: number;
  readonly env: Readonly<Record<string, string | undefined>> | undefined;
  readonly logger: UploadLogger;
  readonly monotonicNow: () => number;
  readonly downloader: Downloader;
}

function positiveInt(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative integer, got ${String(value)}.`);
  return value;
}

export function resolveOptions(options: UploadEngineOptions): ResolvedUploadOptions {
  const minFragmentSize = Math.max(1, positiveInt(options.minFragmentSize, DEFAULT_MIN_FRAGMENT_SIZE, 'minFragmentSize'));
  const fragmentSize = Math.max(minFragmentSize, positiveInt(options.fragmentSize, DEFAULT_FRAGMENT_SIZE, 'fragmentSize'));
  const maxDefault = options.fragmentSize === undefined ? DEFAULT_MAX_FRAGMENT_SIZE : fragmentSize;
  const maxFragmentSize = Math.max(fragmentSize, positiveInt(options.maxFragmentSize, maxDefault, 'maxFragmentSize'));
  const requestTimeoutMs = positiveInt(options.requestTimeoutMs, 60_000, 'requestTimeoutMs');
  const connectTimeoutMs = positiveInt(options.connectTimeoutMs, 30_000, 'connectTimeoutMs');
  return {
    transport: options.transport,
    fragmentSize,
    maxFragmentSize,
    minFragmentSize,
    ping: options.ping ?? false,
    requestTimeoutMs,
    replyAckTimeoutMs: positiveInt(options.replyAckTimeoutMs, 330_000, 'replyAckTimeoutMs'),
    connectTimeoutMs,
    packetRetries: positiveInt(options.packetRetries, 2, 'packetRetries'),
    retryDelayMs: positiveInt(options.retryDelayMs, 250, 'retryDelayMs'),
    maxSessionRestarts: positiveInt(options.maxSessionRestarts, 3, 'maxSessionRestarts'),
    env: options.env,
    logger: options.logger ?? silentLogger,
    monotonicNow: options.monotonicNow ?? (() => performance.now()),
    downloader:
      options.downloader ??
      new HttpDownloadEngine({
        transport: options.transport,
        timeoutMs: requestTimeoutMs,
        connectTimeoutMs,
        ...(options.env !== undefined ? { env: options.env } : {}),
      }),
  };
}
