/**
 * Settings of the BITS upload engine, with the defaults and the reasons for them.
 */
import type { HttpTransport } from '../../transport/types.js';

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
  /** Bytes per Fragment packet. Default 1 MiB (see DEFAULT_FRAGMENT_SIZE). */
  readonly fragmentSize?: number;
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

export interface ResolvedUploadOptions {
  readonly transport: HttpTransport;
  readonly fragmentSize: number;
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
}

function positiveInt(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative integer, got ${String(value)}.`);
  return value;
}

export function resolveOptions(options: UploadEngineOptions): ResolvedUploadOptions {
  const minFragmentSize = Math.max(1, positiveInt(options.minFragmentSize, DEFAULT_MIN_FRAGMENT_SIZE, 'minFragmentSize'));
  const fragmentSize = Math.max(minFragmentSize, positiveInt(options.fragmentSize, DEFAULT_FRAGMENT_SIZE, 'fragmentSize'));
  return {
    transport: options.transport,
    fragmentSize,
    minFragmentSize,
    ping: options.ping ?? false,
    requestTimeoutMs: positiveInt(options.requestTimeoutMs, 60_000, 'requestTimeoutMs'),
    replyAckTimeoutMs: positiveInt(options.replyAckTimeoutMs, 330_000, 'replyAckTimeoutMs'),
    connectTimeoutMs: positiveInt(options.connectTimeoutMs, 30_000, 'connectTimeoutMs'),
    packetRetries: positiveInt(options.packetRetries, 2, 'packetRetries'),
    retryDelayMs: positiveInt(options.retryDelayMs, 250, 'retryDelayMs'),
    maxSessionRestarts: positiveInt(options.maxSessionRestarts, 3, 'maxSessionRestarts'),
    env: options.env,
    logger: options.logger ?? silentLogger,
  };
}
