/**
 * The daemon's view of the network and power (policy/network.ts's NetworkSource): the kernel's
 * routes (kernel-routes.ts), NetworkManager's state and metered flag and UPower's OnBattery
 * (system-bus.ts), together in one snapshot that changes when any of them does. Whatever is
 * missing is left out of the snapshot (null), said once in the log, and never stops the daemon.
 */
import type { Clock } from '../shared/clock.js';
import type { ManagerView, NetworkSnapshot, NetworkSource } from '../policy/network.js';
import { type KernelRoutes, watchKernelRoutes } from './kernel-routes.js';
import { type BusWatch, watchNetworkManager, watchUPower, type WatchLog } from './system-bus.js';

export interface NetworkMonitorOptions {
  readonly clock: Clock;
  readonly log: WatchLog;
  /** Where DBUS_SYSTEM_BUS_ADDRESS is read (default process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Where procfs and sysfs are (tests). */
  readonly procRoot?: string;
  readonly sysRoot?: string;
}

export interface NetworkMonitor extends NetworkSource {
  stop(): Promise<void>;
}

export async function startNetworkMonitor(options: NetworkMonitorOptions): Promise<NetworkMonitor> {
  let routes: KernelRoutes | null = null;
  try {
    routes = await watchKernelRoutes({
      clock: options.clock,
      ...(options.procRoot ? { procRoot: options.procRoot } : {}),
      ...(options.sysRoot ? { sysRoot: options.sysRoot } : {}),
    });
  } catch (err) {
    options.log('warn', "cannot read the kernel's routes; jobs will not wait for the network", { error: (err as Error).message });
  }
  const busOptions = { log: options.log, clock: options.clock, ...(options.env ? { env: options.env } : {}) };
  const [manager, power] = await Promise.all([watchNetworkManager(busOptions), watchUPower(busOptions)]);
  return new Monitor(routes, manager, power);
}

class Monitor implements NetworkMonitor {
  readonly #routes: KernelRoutes | null;
  readonly #manager: BusWatch<ManagerView | null>;
  readonly #power: BusWatch<boolean | null>;
  readonly #listeners = new Set<() => void>();
  readonly #unsubscribe: Array<() => void>;
  #snapshot: NetworkSnapshot;

  constructor(routes: KernelRoutes | null, manager: BusWatch<ManagerView | null>, power: BusWatch<boolean | null>) {
    this.#routes = routes;
    this.#manager = manager;
    this.#power = power;
    this.#snapshot = this.#read();
    const changed = (): void => this.#changed();
    this.#unsubscribe = [manager.onChange(changed), power.onChange(changed), ...(routes ? [routes.onChange(changed)] : [])];
  }

  current(): NetworkSnapshot {
    return this.#snapshot;
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  async refresh(): Promise<void> {
    this.#routes?.refresh();
  }

  async stop(): Promise<void> {
    for (const off of this.#unsubscribe.splice(0)) off();
    this.#listeners.clear();
    this.#routes?.stop();
    await Promise.all([this.#manager.stop(), this.#power.stop()]);
  }

  #read(): NetworkSnapshot {
    return { routes: this.#routes?.current() ?? null, manager: this.#manager.current(), onBattery: this.#power.current() };
  }

  #changed(): void {
    this.#snapshot = this.#read();
    for (const listener of [...this.#listeners]) listener();
  }
}
