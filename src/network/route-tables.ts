/**
 * The kernel's routing tables and interface state as text, read into policy/network.ts Routes.
 * Pure: the text comes from /proc/net/route, /proc/net/ipv6_route, /proc/net/igmp and
 * /sys/class/net/<if>/{flags,operstate,carrier}, read by kernel-routes.ts.
 */
import type { Route } from '../policy/network.js';

/** route(7) flags as /proc/net/route and /proc/net/ipv6_route print them (linux/route.h, ipv6_route.h). */
const RTF_UP = 0x0001;
const RTF_GATEWAY = 0x0002;
const RTF_REJECT = 0x0200;
const RTF_ANYCAST = 0x0010_0000;
const RTF_CACHE = 0x0100_0000;
const RTF_LOCAL = 0x8000_0000;

/** IFF_UP in /sys/class/net/<if>/flags: the interface is administratively up. */
const IFF_UP = 0x1;

/**
 * /proc/net/route: the IPv4 main table, one route a line after a header:
 * "Iface Destination Gateway Flags RefCnt Use Metric Mask MTU Window IRTT". Addresses and masks
 * are the 32-bit network-order value printed as a host-order number, so the bytes appear
 * reversed on a little-endian machine ("0100A8C0" is 192.168.0.1); pass os.endianness().
 * Unreachable and prohibit routes (RTF_REJECT) and blackholes (no device: "*") are left out:
 * no packet leaves through them. Broadcast and local routes are not in this file.
 */
export function parseRouteTable(text: string, byteOrder: 'LE' | 'BE' = 'LE'): Route[] {
  const out: Route[] = [];
  for (const line of text.split('\n').slice(1)) {
    const [iface, destination, gateway, flagsHex, , , , mask] = line.trim().split(/\s+/);
    if (iface === undefined || destination === undefined || gateway === undefined || flagsHex === undefined || mask === undefined) continue;
    const flags = hexNumber(flagsHex, 8);
    const dest = ipv4(destination, byteOrder);
    const bits = ipv4Bits(mask, byteOrder);
    const next = ipv4(gateway, byteOrder);
    if (flags === null || dest === null || bits === null || next === null) continue;
    if ((flags & RTF_UP) === 0 || (flags & RTF_REJECT) !== 0 || iface === '*') continue;
    out.push({ family: 4, iface, destination: dest.text, prefix: prefixLength(bits, 32), gateway: (flags & RTF_GATEWAY) !== 0 ? next.text : null });
  }
  return out;
}

/**
 * /proc/net/ipv6_route: every IPv6 table (main and local), one route a line, no header:
 * "dest destPrefix src srcPrefix nextHop metric refCnt use flags iface", hex. Left out: reject
 * routes (unreachable, prohibit, and the kernel's null entries "::/0 lo"), cached clones (kernels
 * before 4.2 listed them), local and anycast routes of this host's own addresses (the IPv4 file
 * shows none either; ::1 is kept, as loopback), and multicast (ff00::/8; no BITS server is there).
 */
export function parseIpv6RouteTable(text: string): Route[] {
  const out: Route[] = [];
  for (const line of text.split('\n')) {
    const [destination, prefixHex, , , nextHop, , , , flagsHex, iface] = line.trim().split(/\s+/);
    if (destination === undefined || prefixHex === undefined || nextHop === undefined || flagsHex === undefined || iface === undefined) continue;
    const flags = hexNumber(flagsHex, 8);
    const prefix = hexNumber(prefixHex, 2);
    const dest = ipv6FromHex(destination);
    const next = ipv6FromHex(nextHop);
    if (flags === null || prefix === null || prefix > 128 || dest === null || next === null) continue;
    if ((flags & RTF_UP) === 0 || (flags & (RTF_REJECT | RTF_CACHE)) !== 0) continue;
    const loopback = dest === '::1' && prefix === 128;
    if ((flags & (RTF_LOCAL | RTF_ANYCAST)) !== 0 && !loopback) continue;
    if (destination.toLowerCase().startsWith('ff') && prefix >= 8) continue;
    out.push({ family: 6, iface, destination: dest, prefix, gateway: (flags & RTF_GATEWAY) !== 0 ? next : null });
  }
  return out;
}

/**
 * /proc/net/igmp: "Idx Device : Count Querier" lines name the interfaces of this network
 * namespace that take IPv4 multicast (those up, usually) with their index; group lines under
 * each start with a tab and are skipped.
 */
export function parseIgmpInterfaces(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n').slice(1)) {
    const m = /^(\d+)\s+(\S+)\s*:/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) out.set(m[2], Number(m[1]));
  }
  return out;
}

/** One interface's files under /sys/class/net/<if>; null where a file could not be read. */
export interface InterfaceFiles {
  /** `flags`: "0x1003". */
  readonly flags: string | null;
  /** `operstate`: "up", "down", "unknown", "dormant", "lowerlayerdown", "testing", "notpresent". */
  readonly operstate: string | null;
  /** `carrier`: "1" or "0" (EINVAL, so null, while the interface is down). */
  readonly carrier: string | null;
}

/**
 * Whether packets can leave through an interface: administratively up (IFF_UP), its carrier not
 * reported absent, and its operational state "up" or, for interfaces whose driver reports none
 * (loopback, some tunnels), "unknown". The carrier is read beside operstate because operstate
 * follows it only after the kernel's link watcher runs (up to a second later). Dormant (a Wi-Fi
 * link still authenticating) and lowerlayerdown (a VLAN on a down device) count as down.
 */
export function interfaceUp(files: InterfaceFiles): boolean {
  const flags = files.flags === null ? null : hexNumber(files.flags.trim().replace(/^0x/i, ''), 8);
  if (flags === null || (flags & IFF_UP) === 0 || files.carrier?.trim() === '0') return false;
  const operstate = files.operstate?.trim();
  return operstate === 'up' || operstate === 'unknown';
}

/**
 * Whether /sys/class/net shows this process's network namespace. sysfs shows the namespace of
 * whoever mounted it (`ip netns exec` remounts it, `unshare -n` and `nsenter --net` do not),
 * while /proc/net always follows the reader's. They agree when /sys/class/net holds exactly the
 * interfaces /proc/net/dev lists, and each index /proc/net/igmp gives matches sysfs's ifindex.
 */
export function sysfsMatchesProc(procNames: readonly string[], procIndexes: ReadonlyMap<string, number>, sysNames: readonly string[], sysIndexes: ReadonlyMap<string, number>): boolean {
  const proc = new Set(procNames);
  if (proc.size !== new Set(sysNames).size || !sysNames.every((name) => proc.has(name))) return false;
  return [...procIndexes].every(([name, index]) => sysIndexes.get(name) === index);
}

/** The routes through interfaces that are up, sorted and without duplicates (routes that differ only by metric). */
export function routesThrough(routes: readonly Route[], up: (iface: string) => boolean): Route[] {
  const byKey = new Map<string, Route>();
  for (const route of routes) if (up(route.iface)) byKey.set(routeKey(route), route);
  return [...byKey.keys()].sort().map((key) => byKey.get(key) as Route);
}

/** One line that identifies a route; equal sets of keys are equal route sets. */
export function routeKey(route: Route): string {
  return `${route.family} ${route.iface} ${route.destination}/${route.prefix} via ${route.gateway ?? '-'}`;
}

function hexNumber(text: string, maxDigits: number): number | null {
  return new RegExp(`^[0-9a-fA-F]{1,${maxDigits}}$`).test(text) ? parseInt(text, 16) : null;
}

/** The 32 bits of an IPv4 field of /proc/net/route in network order (most significant = first byte). */
function ipv4Bits(field: string, byteOrder: 'LE' | 'BE'): number | null {
  if (!/^[0-9a-fA-F]{8}$/.test(field)) return null;
  const value = parseInt(field, 16);
  if (byteOrder === 'BE') return value >>> 0;
  return (((value & 0xff) << 24) | (((value >>> 8) & 0xff) << 16) | (((value >>> 16) & 0xff) << 8) | (value >>> 24)) >>> 0;
}

function ipv4(field: string, byteOrder: 'LE' | 'BE'): { text: string } | null {
  const bits = ipv4Bits(field, byteOrder);
  if (bits === null) return null;
  return { text: [bits >>> 24, (bits >>> 16) & 0xff, (bits >>> 8) & 0xff, bits & 0xff].join('.') };
}

/** The number of leading one bits of a netmask (the kernel keeps masks contiguous). */
function prefixLength(bits: number, width: number): number {
  let n = 0;
  while (n < width && ((bits >>> (31 - n)) & 1) === 1) n++;
  return n;
}

/** 32 hex digits as an IPv6 address in RFC 5952 form: lower case, the longest run of two or more zero groups as "::". */
export function ipv6FromHex(field: string): string | null {
  if (!/^[0-9a-fA-F]{32}$/.test(field)) return null;
  const groups = Array.from({ length: 8 }, (_, i) => parseInt(field.slice(i * 4, i * 4 + 4), 16).toString(16));
  let best = { at: -1, length: 1 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > best.length) best = { at: i, length: j - i };
    i = j;
  }
  if (best.at < 0) return groups.join(':');
  return `${groups.slice(0, best.at).join(':')}::${groups.slice(best.at + best.length).join(':')}`;
}
