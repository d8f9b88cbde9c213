/**
 * The kernel's view of the network without NetworkManager: the IPv4 and IPv6 routes of the
 * interfaces that are up, read from /proc/net/route and /proc/net/ipv6_route once a second, with
 * each routed interface's state from /sys/class/net. Listeners hear of a change of the set of
 * routes, and of nothing else.
 *
 * /proc/net follows the network namespace of the reading process; /sys/class/net shows the one
 * of whoever mounted sysfs, which is another namespace after `unshare -n` or `nsenter --net`
 * (`ip netns exec` and containers remount it). Which case holds is decided once, at the start
 * (a process's namespaces do not change under Node). When sysfs shows another namespace, the
 * routes alone tell: an interface taken down loses its routes, but a lost carrier does not show.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { join } from 'node:path';
import type { Route } from '../policy/network.js';
import type { Clock, Timer } from '../shared/clock.js';
import { BitsError, invalidArg } from '../shared/errors.js';
import { parseNetDev } from '../shared/net-counters.js';
import { interfaceUp, parseIgmpInterfaces, parseIpv6RouteTable, parseRouteTable, routeKey, routesThrough, sysfsMatchesProc } from './route-tables.js';

export { parseIpv6RouteTable, parseRouteTable } from './route-tables.js';

export interface KernelRoutes {
  /** Routes of interfaces that are up, sorted; the same array until the set changes. */
  current(): readonly Route[];
  /** Calls `listener` after each change of the set of routes; returns the unsubscribe. */
  onChange(listener: () => void): () => void;
  /** Stops polling (clears the timer); current() keeps the last set. */
  stop(): void;
  /**
   * Reads the routes now, between polls (a transfer just failed: the network may have gone);
   * at most every REFRESH_MIN_MS, so many failures at once cost one read.
   */
  refresh(): void;
  /** Where interface state comes from: sysfs, or the routes alone when sysfs shows another namespace. */
  readonly linkState: 'sysfs' | 'routes';
}

export interface KernelRoutesOptions {
  readonly clock: Clock;
  /** Time between the end of one read and the start of the next; at least (and by default) 1000. */
  readonly intervalMs?: number;
  /** Where procfs is mounted (tests point it at a directory of captured files). */
  readonly procRoot?: string;
  /** Where sysfs is mounted. */
  readonly sysRoot?: string;
}

export const MIN_INTERVAL_MS = 1000;
export const REFRESH_MIN_MS = 100;

/**
 * Reads the routes once (it fails when /proc/net/route cannot be read: no Linux procfs), then
 * polls. A later failed read keeps the last set and is tried again at the next interval.
 */
export async function watchKernelRoutes(options: KernelRoutesOptions): Promise<KernelRoutes> {
  const intervalMs = options.intervalMs ?? MIN_INTERVAL_MS;
  if (!Number.isFinite(intervalMs) || intervalMs < MIN_INTERVAL_MS) {
    throw invalidArg(`intervalMs must be at least ${MIN_INTERVAL_MS} (the kernel's routes are read at most once a second), not ${intervalMs}.`);
  }
  const procRoot = options.procRoot ?? '/proc';
  const sysRoot = options.sysRoot ?? '/sys';
  // An interface that appears between the two listings makes them differ once: look twice.
  const sysfs = sysfsIsOurs(procRoot, sysRoot) || sysfsIsOurs(procRoot, sysRoot);
  const reader = new TableReader(procRoot, sysfs ? sysRoot : null);
  let first: Route[];
  try {
    first = reader.read();
  } catch (error) {
    throw new BitsError('ERROR_FILE_NOT_FOUND', `Cannot read the kernel's routes from ${join(procRoot, 'net/route')}: ${(error as Error).message}`, { cause: error });
  }
  return new RoutePoller(options.clock, intervalMs, reader, first, sysfs ? 'sysfs' : 'routes');
}

/**
 * The reads are synchronous: procfs and sysfs files are made in memory by the kernel when read,
 * never wait for a disk, and are a few hundred bytes here. One poll (2 tables, 2 interfaces: 8
 * files) then costs about 0.07 ms of CPU, against 0.8 ms through fs/promises, whose open, stat,
 * read and close each go through the thread pool.
 */
class TableReader {
  readonly #procRoot: string;
  /** null: sysfs shows another network namespace; trust the routes. */
  readonly #sysRoot: string | null;
  readonly #byteOrder = endianness();

  constructor(procRoot: string, sysRoot: string | null) {
    this.#procRoot = procRoot;
    this.#sysRoot = sysRoot;
  }

  read(): Route[] {
    const v4 = readFileSync(join(this.#procRoot, 'net/route'), 'utf8');
    // Absent when IPv6 is disabled on the kernel's command line.
    const v6 = readOrNull(join(this.#procRoot, 'net/ipv6_route')) ?? '';
    const routes = [...parseRouteTable(v4, this.#byteOrder), ...parseIpv6RouteTable(v6)];
    const down = new Set<string>();
    if (this.#sysRoot !== null) {
      for (const iface of new Set(routes.map((r) => r.iface))) {
        if (readInterfaceUp(this.#sysRoot, iface) === false) down.add(iface);
      }
    }
    return routesThrough(routes, (iface) => !down.has(iface));
  }
}

/**
 * Whether an interface is up, reading no more files than needed (operstate is "down" whenever
 * the interface is administratively down, so flags and carrier are read only when it is not);
 * null when sysfs has no such interface (removed since the routes were read): the routes are
 * trusted then.
 */
function readInterfaceUp(sysRoot: string, iface: string): boolean | null {
  const dir = join(sysRoot, 'class/net', iface);
  const operstate = readOrNull(join(dir, 'operstate'));
  if (operstate === null) return null;
  const state = operstate.trim();
  if (state !== 'up' && state !== 'unknown') return false;
  return interfaceUp({ flags: readOrNull(join(dir, 'flags')), operstate, carrier: readOrNull(join(dir, 'carrier')) });
}

/** A file's text, or null when it cannot be read (missing, or EINVAL: a down interface's carrier). */
function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** Whether /sys/class/net shows this process's network namespace (see sysfsMatchesProc). */
function sysfsIsOurs(procRoot: string, sysRoot: string): boolean {
  try {
    const dev = readFileSync(join(procRoot, 'net/dev'), 'utf8');
    // Interfaces are links to their devices; bonding's driver adds a file (bonding_masters).
    const sysNames = readdirSync(join(sysRoot, 'class/net'), { withFileTypes: true })
      .filter((e) => e.isSymbolicLink() || e.isDirectory())
      .map((e) => e.name);
    const procIndexes = parseIgmpInterfaces(readOrNull(join(procRoot, 'net/igmp')) ?? '');
    const sysIndexes = new Map<string, number>();
    for (const name of procIndexes.keys()) {
      const text = readOrNull(join(sysRoot, 'class/net', name, 'ifindex'));
      if (text !== null) sysIndexes.set(name, Number(text.trim()));
    }
    return sysfsMatchesProc(
      parseNetDev(dev).map((i) => i.name),
      procIndexes,
      sysNames,
      sysIndexes,
    );
  } catch {
    return false;
  }
}

class RoutePoller implements KernelRoutes {
  readonly linkState: 'sysfs' | 'routes';
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #reader: TableReader;
  readonly #listeners = new Set<() => void>();
  #routes: readonly Route[];
  #key: string;
  #timer: Timer | null = null;
  #stopped = false;
  #readAt: number;

  constructor(clock: Clock, intervalMs: number, reader: TableReader, first: Route[], linkState: 'sysfs' | 'routes') {
    this.#clock = clock;
    this.#intervalMs = intervalMs;
    this.#reader = reader;
    this.#routes = first;
    this.#key = first.map(routeKey).join('\n');
    this.linkState = linkState;
    this.#readAt = clock.now();
    this.#arm();
  }

  refresh(): void {
    if (this.#stopped || this.#clock.now() - this.#readAt < REFRESH_MIN_MS) return;
    this.#read();
  }

  current(): readonly Route[] {
    return this.#routes;
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  stop(): void {
    this.#stopped = true;
    this.#timer?.cancel();
    this.#timer = null;
  }

  /** The next read starts an interval after the last one. */
  #arm(): void {
    if (this.#stopped) return;
    this.#timer = this.#clock.at(this.#clock.now() + this.#intervalMs, () => this.#poll());
  }

  #poll(): void {
    this.#timer = null;
    this.#read();
    this.#arm();
  }

  #read(): void {
    this.#readAt = this.#clock.now();
    let routes: Route[] | null = null;
    try {
      routes = this.#reader.read();
    } catch {
      // procfs reads do not fail on a running Linux; if one does, keep the last set until the next read.
    }
    if (routes === null) return;
    const key = routes.map(routeKey).join('\n');
    if (key === this.#key) return;
    this.#routes = routes;
    this.#key = key;
    this.#notify();
  }

  /**
   * Tells every listener. One that throws does not stop the others or the polling; its error is
   * rethrown from a microtask, where it surfaces as the bug it is.
   */
  #notify(): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener();
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
