/**
 * The daemon: owns the instance lock, the socket, the manager and the IPC server, and starts and
 * stops them in order. It never touches `process` (the bin does: argv, signals, exit), so tests
 * can run it in process.
 *
 *   start: config files → data dir (0700) → lock → socket dir checks → stale socket → manager
 *          (crash recovery) → IPC listen → socket 0600 → "ready"
 *   stop:  stop accepting → let running requests answer (briefly) → drop connections →
 *          manager.close() (aborts transfers, progress already durable) → remove socket → unlock
 */
import { mkdir, unlink } from 'node:fs/promises';
import { BackgroundCopyManager, type ManagerOptions } from '../api/manager.js';
import { BitsError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { PolicyReport } from '../policy/report.js';
import { IpcServer, type IpcLimits } from '../ipc/server.js';
import { probeDaemon } from '../ipc/probe.js';
import { type NetworkMonitor, startNetworkMonitor } from '../network/monitor.js';
import { systemClock } from '../shared/clock.js';
import type { DaemonConfig } from './config.js';
import { DaemonPolicy } from './daemon-policy.js';
import { logQueueEvents } from './event-log.js';
import { InstanceLock } from './lock.js';
import { clearStaleSocket, prepareSocketDir, secureSocket } from './socket-dir.js';

export interface DaemonDeps {
  readonly config: DaemonConfig;
  readonly logger: Logger;
  readonly pid: number;
  readonly uid: number;
  /** "0.1.0": sent in hello and logged. */
  readonly version: string;
  /** Only to name the daemon holding the lock in a refusal (see lock.ts). */
  readonly isProcessAlive: (pid: number) => boolean;
  /** Default: /proc/<pid>/stat says T. Fake pids in tests need their own. */
  readonly isProcessStopped?: (pid: number) => Promise<boolean>;
  /**
   * Default: BackgroundCopyManager.open({ dataDir, ...fromConfig }) with the default engines.
   * `fromConfig` carries the config file's policy and concurrency; pass it on.
   */
  readonly openManager?: (dataDir: string, fromConfig: ConfigManagerOptions) => Promise<BackgroundCopyManager>;
  readonly ipcLimits?: Partial<IpcLimits>;
}

/** What the config file gives the manager. */
export type ConfigManagerOptions = Required<Pick<ManagerOptions, 'policy' | 'concurrency' | 'network'>>;

type DaemonState = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

export class Daemon {
  readonly #deps: DaemonDeps;
  readonly #log: Logger;
  #state: DaemonState = 'new';
  #lock: InstanceLock | null = null;
  #manager: BackgroundCopyManager | null = null;
  #ipc: IpcServer | null = null;
  #boundSocket = false;
  #unlog: (() => void) | null = null;
  #policy: DaemonPolicy | null = null;
  #network: NetworkMonitor | null = null;
  #starting: Promise<void> | null = null;
  #stopping: Promise<void> | null = null;

  constructor(deps: DaemonDeps) {
    this.#deps = deps;
    this.#log = deps.logger;
  }

  get state(): DaemonState {
    return this.#state;
  }

  start(): Promise<void> {
    if (this.#state !== 'new') return Promise.reject(new Error(`Daemon.start() called in state ${this.#state}`));
    this.#state = 'starting';
    this.#starting = this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    const { config, pid, uid, version } = this.#deps;
    this.#log.info('starting', { version, pid, dataDir: config.dataDir, socket: config.socketPath });
    try {
      // First: a bad config file stops bitsd before it takes or changes anything.
      const policy = await DaemonPolicy.load(config.configFiles, this.#log);
      this.#policy = policy;
      await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
      this.#lock = await InstanceLock.acquire({
        dataDir: config.dataDir,
        holderPath: config.lockHolderPath,
        self: { pid, socket: config.socketPath, startedAt: new Date().toISOString() },
        isProcessAlive: this.#deps.isProcessAlive,
        ...(this.#deps.isProcessStopped ? { isProcessStopped: this.#deps.isProcessStopped } : {}),
        onLeftoverRecord: (previous) =>
          this.#log.warn('replaced the lock holder record of a daemon that did not stop cleanly', { record: config.lockHolderPath, previousPid: previous?.pid }),
      });
      const dir = await prepareSocketDir(config.socketDir, { uid, owned: config.ownsSocketDir });
      if (dir.created) this.#log.info('created the socket directory', { dir: config.socketDir, mode: '0700' });
      if (dir.tightened) this.#log.warn('tightened the socket directory to 0700', { dir: config.socketDir });
      if ((await clearStaleSocket(config.socketPath, (p) => probeDaemon(p, 1000))) === 'removed') {
        this.#log.warn('removed a stale socket left by a daemon that did not stop cleanly', { socket: config.socketPath });
      }
      // The network and power as the kernel, NetworkManager and UPower tell them (docs/network.md).
      const network = await startNetworkMonitor({ clock: systemClock, log: (level, message, fields) => this.#log[level](message, fields) });
      this.#network = network;
      const fromConfig: ConfigManagerOptions = { policy: policy.source, concurrency: { background: policy.config.concurrency.background }, network };
      const manager = await (this.#deps.openManager ?? ((dataDir, options) => BackgroundCopyManager.open({ dataDir, ...options })))(config.dataDir, fromConfig);
      this.#manager = manager;
      this.#unlog = logQueueEvents(manager.queue.events, this.#log);
      const ipc = new IpcServer({
        manager,
        logger: this.#log,
        serverName: `bitsd ${version}`,
        pid,
        daemon: { policy: () => policy.report(), reload: () => this.reload('daemon.reload') },
        ...(this.#deps.ipcLimits ? { limits: this.#deps.ipcLimits } : {}),
      });
      this.#ipc = ipc;
      await ipc.listen(config.socketPath);
      this.#boundSocket = true;
      await secureSocket(config.socketPath);
    } catch (err) {
      await this.#teardown();
      this.#state = 'stopped';
      throw err;
    }
    if (this.#stopping) return; // stopped while starting: no "ready"
    this.#state = 'running';
    this.#log.info('ready', { socket: config.socketPath, dataDir: config.dataDir, pid, version });
  }

  /**
   * Re-reads the config files (SIGHUP, daemon.reload). A bad file is refused with its BitsError
   * and the policy in force stays; see DaemonPolicy.
   */
  reload(reason = 'requested'): Promise<PolicyReport> {
    const policy = this.#policy;
    if (this.#state !== 'running' || policy === null) {
      return Promise.reject(new BitsError('BG_E_INVALID_STATE', `bitsd is ${this.#state}; the config can be reloaded only while it runs.`));
    }
    return policy.reload(reason);
  }

  /** The policy in force now, as daemon.policy reports it; null before start. */
  policyReport(): PolicyReport | null {
    return this.#policy?.report() ?? null;
  }

  /** Graceful stop; idempotent (a second call returns the same promise). */
  stop(reason = 'requested'): Promise<void> {
    if (!this.#stopping) {
      this.#stopping = (async () => {
        // A signal during start: let start finish (or fail) first, so nothing it opens is left behind.
        await this.#starting?.catch(() => undefined);
        this.#state = 'stopping';
        this.#log.info('stopping', { reason });
        await this.#teardown();
        this.#state = 'stopped';
        this.#log.info('stopped');
      })();
    }
    return this.#stopping;
  }

  /** Releases whatever start() acquired, in reverse order; each step runs even if one fails. */
  async #teardown(): Promise<void> {
    const step = async (what: string, work: () => Promise<void>): Promise<void> => {
      try {
        await work();
      } catch (err) {
        this.#log.error(`shutdown: ${what} failed`, { error: err });
      }
    };
    const ipc = this.#ipc;
    const manager = this.#manager;
    const lock = this.#lock;
    this.#ipc = null;
    this.#manager = null;
    this.#lock = null;
    if (ipc) await step('closing the IPC server', () => ipc.close(300));
    if (manager) await step('closing the manager', () => manager.close());
    const network = this.#network;
    this.#network = null;
    if (network) await step('stopping the network watchers', () => network.stop());
    this.#unlog?.();
    this.#unlog = null;
    if (this.#boundSocket) {
      this.#boundSocket = false;
      await step('removing the socket', () =>
        unlink(this.#deps.config.socketPath).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'ENOENT') throw err;
        }),
      );
    }
    if (lock) await step('releasing the lock', () => lock.release());
  }
}
