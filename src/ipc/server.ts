/**
 * The IPC server: binds a Unix socket and gives every connection its own ServerConnection over
 * one BackgroundCopyManager. It does not decide where the socket lives or whether an old one is
 * stale (the daemon does that); it refuses connections beyond its limit with an error frame.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { BackgroundCopyManager } from '../api/manager.js';
import { BitsError } from '../shared/errors.js';
import { type Logger, silentLogger } from '../shared/logger.js';
import { encodeFrame, MAX_FRAME_BYTES } from './protocol.js';
import type { DaemonHooks } from './dispatch.js';
import { type IpcLimits, ServerConnection } from './server-connection.js';

export type { DaemonHooks, IpcLimits };

export const DEFAULT_LIMITS: IpcLimits = {
  maxFrameBytes: MAX_FRAME_BYTES,
  maxConnections: 512,
  maxInFlight: 32,
  maxStreams: 64,
  maxOutputBytes: 16 * 1024 * 1024,
  helloTimeoutMs: 5000,
};

/** The kernel caps it at net.core.somaxconn. */
const LISTEN_BACKLOG = 4096;

export interface IpcServerOptions {
  readonly manager: BackgroundCopyManager;
  readonly logger?: Logger;
  /** Sent in hello: "bitsd 0.1.0". */
  readonly serverName: string;
  /** Sent in hello: the daemon's pid (clients and a second daemon print it). */
  readonly pid: number;
  readonly limits?: Partial<IpcLimits>;
  /** The daemon's config hooks (daemon.policy, daemon.reload); without them those methods say E_NOTIMPL. */
  readonly daemon?: DaemonHooks;
}

export class IpcServer {
  readonly #options: IpcServerOptions;
  readonly #limits: IpcLimits;
  readonly #log: Logger;
  readonly #connections = new Set<ServerConnection>();
  #server: Server | null = null;
  #serverClosed: Promise<void> | null = null;
  #nextConnection = 1;

  constructor(options: IpcServerOptions) {
    this.#options = options;
    this.#limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.#log = options.logger ?? silentLogger;
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Binds `path` (which must not exist). Resolves once listening. */
  async listen(path: string): Promise<void> {
    if (this.#server) throw new BitsError('BG_E_INVALID_STATE', 'The IPC server is already listening.');
    const server = createServer({ allowHalfOpen: false, pauseOnConnect: false }, (socket) => this.#accept(socket));
    server.on('error', (err) => this.#log.error('IPC server error', { error: err }));
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      server.once('error', onError);
      // A deep backlog: a burst of clients connecting at once (or dropping at once) queues in the
      // kernel instead of being refused with EAGAIN while the event loop is busy.
      server.listen({ path, exclusive: true, backlog: LISTEN_BACKLOG }, () => {
        server.off('error', onError);
        resolve();
      });
    });
    this.#server = server;
  }

  /** Stops accepting connections; existing ones keep being served. */
  stopAccepting(): void {
    const server = this.#server;
    if (!server || this.#serverClosed) return;
    // The callback runs once every connection has ended too; close() waits for it.
    this.#serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /**
   * Stops accepting, gives requests already running up to graceMs to answer, then drops every
   * connection (their streams end with the socket).
   */
  async close(graceMs = 500): Promise<void> {
    if (!this.#server) return;
    this.stopAccepting();
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && [...this.#connections].some((c) => !c.idle)) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    for (const c of this.#connections) c.destroy();
    await this.#serverClosed;
    this.#server = null;
  }

  #accept(socket: Socket): void {
    if (this.#connections.size >= this.#limits.maxConnections) {
      this.#log.warn('refusing a connection: too many clients', { limit: this.#limits.maxConnections });
      const error = new BitsError('E_OUTOFMEMORY', `bitsd already serves ${this.#connections.size} connections (the limit); try again later.`);
      socket.on('error', () => undefined);
      socket.end(encodeFrame({ type: 'hello', ok: false, error: error.toJSON() }));
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    const id = this.#nextConnection++;
    const connection: ServerConnection = new ServerConnection(socket, {
      id,
      manager: this.#options.manager,
      daemon: this.#options.daemon ?? null,
      logger: this.#log,
      limits: this.#limits,
      hello: { server: this.#options.serverName, pid: this.#options.pid },
      onClose: () => {
        this.#connections.delete(connection);
        this.#log.debug('client disconnected', { conn: id });
      },
    });
    this.#connections.add(connection);
    this.#log.debug('client connected', { conn: id });
  }
}
