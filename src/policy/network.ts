/**
 * What bitsd knows of the machine's network and power, and what it means for a job: whether its
 * server can be reached, the cost state of the network (BITS_COST_STATE_*), and whether the job's
 * cost flags allow a transfer. Pure: the snapshot is built by the watchers in src/network (the
 * kernel's routes, NetworkManager and UPower over D-Bus) and passed in.
 */
import { isLoopbackHost } from '../shared/hosts.js';

/** A route of an interface that is up, as the kernel's table has it. */
export interface Route {
  readonly family: 4 | 6;
  readonly iface: string;
  /** The destination network's address ("0.0.0.0" / "::" for a default route). */
  readonly destination: string;
  /** Its prefix length (0 for a default route). */
  readonly prefix: number;
  /** The next hop, or null for a directly connected network. */
  readonly gateway: string | null;
}

/** NetworkManager's global properties (org.freedesktop.NetworkManager), as numbers. */
export interface ManagerView {
  /** NMState: 10 asleep, 20 disconnected, 30 disconnecting, 40 connecting, 50 local, 60 site, 70 global. */
  readonly state: number;
  /** NMConnectivityState: 0 unknown, 1 none, 2 portal, 3 limited, 4 full. */
  readonly connectivity: number;
  /** NMMetered: 0 unknown, 1 yes, 2 no, 3 guess yes, 4 guess no. */
  readonly metered: number;
}

export interface NetworkSnapshot {
  /** Routes through interfaces that are up (IPv4 and IPv6), loopback's included; null when the kernel's view is not known (no procfs). */
  readonly routes: readonly Route[] | null;
  /** NetworkManager's view where it runs; null without it (or without a system bus). */
  readonly manager: ManagerView | null;
  /** UPower's OnBattery; null without UPower. */
  readonly onBattery: boolean | null;
}

/** Where the snapshot comes from (the daemon's watchers); changes are announced. */
export interface NetworkSource {
  current(): NetworkSnapshot;
  /** Calls `listener` after every change of the snapshot; returns the unsubscribe. */
  onChange(listener: () => void): () => void;
  /** Reads the network afresh now (a transfer just failed: the network may have gone). */
  refresh?(): Promise<void>;
}

export const NM_STATE = { ASLEEP: 10, DISCONNECTED: 20, DISCONNECTING: 30, CONNECTING: 40, CONNECTED_LOCAL: 50, CONNECTED_SITE: 60, CONNECTED_GLOBAL: 70 } as const;
export const NM_METERED = { UNKNOWN: 0, YES: 1, NO: 2, GUESS_YES: 3, GUESS_NO: 4 } as const;

/** BITS_COST_STATE_* (bits5_0.h): the cost state of the network a job would use. */
export const COST_STATE = {
  UNRESTRICTED: 0x1,
  CAPPED_USAGE_UNKNOWN: 0x2,
  BELOW_CAP: 0x4,
  NEAR_CAP: 0x8,
  OVERCAP_CHARGED: 0x10,
  OVERCAP_THROTTLED: 0x20,
  USAGE_BASED: 0x40,
  ROAMING: 0x80,
} as const;

/** config `network.metered`: what NetworkManager says, or an override. */
export type MeteredSetting = 'auto' | 'yes' | 'no';

/**
 * The network's cost state. Metered (NM YES or GUESS_YES, as libnm advises, or the config's
 * "yes") is USAGE_BASED; anything else, NetworkManager absent included, is UNRESTRICTED.
 */
export function costState(manager: ManagerView | null, setting: MeteredSetting): number {
  const metered = setting === 'auto' ? manager !== null && (manager.metered === NM_METERED.YES || manager.metered === NM_METERED.GUESS_YES) : setting === 'yes';
  return metered ? COST_STATE.USAGE_BASED : COST_STATE.UNRESTRICTED;
}

/** Whether a job with these cost flags (BITS_JOB_PROPERTY_ID_COST_FLAGS) may transfer in this state. */
export function costAllows(costFlags: number, state: number): boolean {
  return ((costFlags >>> 0) & state) !== 0;
}

/**
 * Whether a server can be reached: a loopback host always; otherwise not while NetworkManager
 * says the machine is asleep or disconnected; an address when a route of an interface that is up
 * covers it; a name when a default route exists (its address is not known before a lookup).
 */
export function reachable(snapshot: NetworkSnapshot, host: string): boolean {
  if (isLoopbackHost(host)) return true;
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (snapshot.manager !== null && snapshot.manager.state <= NM_STATE.DISCONNECTED) return false;
  const routes = snapshot.routes;
  if (routes === null) return true;
  const address = parseAddress(bare);
  if (address === null) return routes.some((r) => r.prefix === 0 && r.iface !== 'lo');
  return routes.some((r) => r.family === address.family && covers(r, address.value));
}

/** Whether the machine has a way out at all (a default route off loopback, and NM not disconnected). */
export function online(snapshot: NetworkSnapshot): boolean {
  return reachable(snapshot, 'bitsd.invalid');
}

function covers(route: Route, address: bigint): boolean {
  const destination = parseAddress(route.destination);
  if (destination === null || destination.family !== route.family) return false;
  const bits = route.family === 4 ? 32 : 128;
  const prefix = Math.min(Math.max(route.prefix, 0), bits);
  const shift = BigInt(bits - prefix);
  return destination.value >> shift === address >> shift;
}

/** An IPv4 or IPv6 address as a number, or null when `text` is not one. */
export function parseAddress(text: string): { family: 4 | 6; value: bigint } | null {
  const v4 = parseV4(text);
  if (v4 !== null) return { family: 4, value: v4 };
  const v6 = parseV6(text);
  return v6 === null ? null : { family: 6, value: v6 };
}

function parseV4(text: string): bigint | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let value = 0n;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return null;
    value = (value << 8n) | BigInt(part);
  }
  return value;
}

function parseV6(text: string): bigint | null {
  const zoneless = text.split('%')[0] ?? '';
  if (!/^[0-9a-fA-F:.]+$/.test(zoneless) || !zoneless.includes(':')) return null;
  const halves = zoneless.split('::');
  if (halves.length > 2) return null;
  const groups = (half: string): number[] | null => {
    if (half === '') return [];
    const out: number[] = [];
    const parts = half.split(':');
    for (const [i, part] of parts.entries()) {
      // An embedded IPv4 address ends the text: ::ffff:192.0.2.1.
      if (i === parts.length - 1 && part.includes('.')) {
        const v4 = parseV4(part);
        if (v4 === null) return null;
        out.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
      } else if (/^[0-9a-fA-F]{1,4}$/.test(part)) out.push(parseInt(part, 16));
      else return null;
    }
    return out;
  };
  const head = groups(halves[0] ?? '');
  const tail = halves.length === 2 ? groups(halves[1] ?? '') : [];
  if (head === null || tail === null) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  let value = 0n;
  for (const g of [...head, ...new Array<number>(missing).fill(0), ...tail]) value = (value << 16n) | BigInt(g);
  return value;
}

/** Why a job may not transfer now (docs/network.md). */
export type BlockReason = 'OFFLINE' | 'COST_POLICY' | 'BATTERY';

export interface GateSettings {
  readonly metered: MeteredSetting;
  readonly pauseOnBattery: boolean;
}

/**
 * What keeps a job from transferring now, first match wins: its server unreachable (OFFLINE),
 * the network's cost outside its cost flags (COST_POLICY; loopback costs nothing), or, when the
 * config says so, a background job on battery (BATTERY). `host` is null for a job that uses no
 * network (file://). Without a snapshot (nothing watches the network) only the config's
 * `metered` override can block.
 */
export function blockerFor(
  job: { readonly host: string | null; readonly foreground: boolean; readonly costFlags: number },
  snapshot: NetworkSnapshot | null,
  settings: GateSettings,
): BlockReason | null {
  if (job.host !== null) {
    if (snapshot !== null && !reachable(snapshot, job.host)) return 'OFFLINE';
    if (!isLoopbackHost(job.host) && !costAllows(job.costFlags, costState(snapshot?.manager ?? null, settings.metered))) return 'COST_POLICY';
  }
  if (settings.pauseOnBattery && !job.foreground && snapshot?.onBattery === true) return 'BATTERY';
  return null;
}
