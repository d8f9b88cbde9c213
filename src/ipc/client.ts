/**
 * BitsClient: the BackgroundCopyManager API over a running bitsd. Connect once, then use it
 * exactly like the in-process manager:
 *
 *   const bits = await BitsClient.connect({ socket });   // default: defaultSocketPath()
 *   const job = await bits.createJob('nightly', 'DOWNLOAD');
 *   await job.addFile('https://example.com/a.iso', '/data/a.iso');
 *   await job.resume();
 *   for await (const ev of job.watch()) console.log(ev.state, ev.progress.bytesTransferred);
 *   await bits.close();                                   // closes the connection, not the daemon
 *
 * Errors are BitsErrors rebuilt from the daemon's answer (same code, HRESULT and context as in
 * process). When bitsd is not running, connect() fails with BG_E_CONNECT_FAILURE and a message
 * saying how to start it.
 */
import type { SubscribableEvents } from '../job/events.js';
import type { JobType } from '../job/types.js';
import type { BackgroundCopyManagerApi, EnumJobsOptions, PendingCancellation } from '../api/types.js';
import type { PolicyControl, PolicyReport } from '../policy/report.js';
import { DEFAULT_TIMEOUT_MS, IpcConnection, type ServerInfo } from './client-connection.js';
import { EventRouter } from './client-events.js';
import { RemoteFile, RemoteJob } from './client-job.js';
import { defaultSocketPath } from './socket-path.js';

export { RemoteFile, RemoteJob };
export type { ServerInfo };

export interface BitsClientOptions {
  /** The daemon's socket. Default: defaultSocketPath() ($BITSD_SOCKET, $XDG_RUNTIME_DIR/bitsd/bitsd.sock, ...). */
  readonly socket?: string;
  /**
   * How long to wait for the connection and hello, and for each answer (ms, default 10 000; 0: no
   * limit for answers). A call that times out may still take effect in the daemon.
   */
  readonly timeoutMs?: number;
}

export class BitsClient implements BackgroundCopyManagerApi, PolicyControl {
  readonly #conn: IpcConnection;
  readonly #events: EventRouter;

  private constructor(conn: IpcConnection) {
    this.#conn = conn;
    this.#events = new EventRouter(conn);
  }

  static async connect(options: BitsClientOptions = {}): Promise<BitsClient> {
    const conn = await IpcConnection.open({ socket: options.socket ?? defaultSocketPath(), timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS });
    return new BitsClient(conn);
  }

  /** The daemon answering on this connection: socket, IPC version, "bitsd x.y.z", pid. */
  get server(): ServerInfo {
    return this.#conn.info;
  }

  /** True once close() was called or the daemon dropped the connection. */
  get closed(): boolean {
    return this.#conn.closed;
  }

  /** Called once when the connection ends (close(), daemon stopped, connection lost). */
  onDisconnect(listener: (reason: Error) => void): () => void {
    return this.#conn.onClose(listener);
  }

  async createJob(displayName: string, type: JobType): Promise<RemoteJob> {
    const { id } = await this.#conn.call('manager.createJob', { displayName, type });
    return this.#job(id);
  }

  async getJob(id: string): Promise<RemoteJob> {
    const found = await this.#conn.call('manager.getJob', { id });
    return this.#job(found.id);
  }

  async enumJobs(options: EnumJobsOptions = {}): Promise<RemoteJob[]> {
    const ids = await this.#conn.call('manager.enumJobs', options.allUsers === undefined ? {} : { allUsers: options.allUsers });
    return ids.map((id) => this.#job(id));
  }

  getErrorDescription(hresult: number): Promise<string> {
    return this.#conn.call('manager.getErrorDescription', { hresult });
  }

  listPendingCancellations(): Promise<PendingCancellation[]> {
    return this.#conn.call('manager.listPendingCancellations', {});
  }

  on<K extends keyof SubscribableEvents>(event: K, listener: (...args: SubscribableEvents[K]) => void): () => void {
    return this.#events.add(event, null, listener);
  }

  /** The daemon's bandwidth policy in force now (docs/config.md). Not part of the BITS API. */
  getPolicy(): Promise<PolicyReport> {
    return this.#conn.call('daemon.policy', {});
  }

  /**
   * Makes the daemon re-read its config files, as SIGHUP does, and returns the policy then in
   * force. A bad file is refused with its E_INVALIDARG (naming the file and key), and the policy
   * in force stays.
   */
  reloadPolicy(): Promise<PolicyReport> {
    return this.#conn.call('daemon.reload', {});
  }

  /** Closes this connection (pending calls fail, watches end); the daemon keeps running. */
  close(): Promise<void> {
    return this.#conn.close();
  }

  #job(id: string): RemoteJob {
    return new RemoteJob(this.#conn, this.#events, id);
  }
}
