/**
 * The route table parsers on text captured from the kernel (test/fixtures/proc-net): this
 * machine's tables, and a client namespace joined to a server by a veth pair, with unreachable,
 * prohibit and blackhole routes, while up, after the peer went down (carrier lost) and after the
 * client's end was taken down.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  interfaceUp,
  ipv6FromHex,
  parseIgmpInterfaces,
  parseIpv6RouteTable,
  parseRouteTable,
  routesThrough,
  sysfsMatchesProc,
  type InterfaceFiles,
} from '../../../src/network/route-tables.js';
import { parseNetDev } from '../../../src/shared/net-counters.js';
import { reachable, type Route } from '../../../src/policy/network.js';

const capture = (name: string): string => readFileSync(new URL(`../../fixtures/proc-net/${name}`, import.meta.url), 'utf8');

/** A captured operstate/carrier/flags triple ("(EINVAL)" where the kernel refused the read). */
function sysfs(name: string): InterfaceFiles {
  const [operstate, carrier, flags] = capture(name).split('\n').map((l) => (l === '(EINVAL)' ? null : l));
  return { operstate: operstate ?? null, carrier: carrier ?? null, flags: flags ?? null };
}

const route = (family: 4 | 6, iface: string, destination: string, prefix: number, gateway: string | null = null): Route => ({ family, iface, destination, prefix, gateway });

const NETNS_V4 = [route(4, 'bvc', '0.0.0.0', 0, '10.213.7.1'), route(4, 'bvc', '10.96.0.1', 32, '10.213.7.1'), route(4, 'bvc', '10.213.7.0', 24)];
const NETNS_V6 = [route(6, 'bvc', 'fd13:213:7::', 64), route(6, 'bvc', 'fe80::', 64), route(6, 'bvc', '::', 0, 'fd13:213:7::1'), route(6, 'lo', '::1', 128)];

describe('parseRouteTable (/proc/net/route)', () => {
  it("reads this machine's default route and its /24 (little-endian hex)", () => {
    expect(parseRouteTable(capture('host.route'))).toEqual([route(4, 'eth0', '0.0.0.0', 0, '192.0.2.1'), route(4, 'eth0', '192.0.2.0', 24)]);
  });

  it('reads a namespace: default, host and connected routes; leaves out unreachable, prohibit (RTF_REJECT) and blackhole (no device)', () => {
    const text = capture('netns-up.route');
    expect(text).toMatch(/^\*\t0000620A\t00000000\t0201/m);
    expect(parseRouteTable(text)).toEqual(NETNS_V4);
  });

  it('keeps routes through an interface that lost its carrier (only sysfs tells), and has none after it was taken down', () => {
    expect(parseRouteTable(capture('netns-carrier-down.route'))).toEqual(NETNS_V4);
    expect(parseRouteTable(capture('netns-admin-down.route'))).toEqual([]);
  });

  it('reads big-endian hosts, where the fields are in network order', () => {
    const text = 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\neth0\t00000000\tC0000201\t0003\t0\t0\t0\t00000000\t0\t0\t0\neth0\tC0000200\t00000000\t0001\t0\t0\t0\tFFFFFF00\t0\t0\t0\n';
    expect(parseRouteTable(text, 'BE')).toEqual([route(4, 'eth0', '0.0.0.0', 0, '192.0.2.1'), route(4, 'eth0', '192.0.2.0', 24)]);
  });

  it('skips lines it cannot read and routes that are not up', () => {
    const text = 'Iface\tDestination\n\neth0\tzz\t00000000\t0001\t0\t0\t0\t00FFFFFF\neth0\t000200C0\t00000000\t0000\t0\t0\t0\t00FFFFFF\neth0\t000200C0\n';
    expect(parseRouteTable(text)).toEqual([]);
  });
});

describe('parseIpv6RouteTable (/proc/net/ipv6_route)', () => {
  it("reads this machine's prefix, link-local and default routes and ::1; leaves out local addresses, multicast and the null entries", () => {
    expect(parseIpv6RouteTable(capture('host.ipv6_route'))).toEqual([
      route(6, 'eth0', 'fd00::', 64),
      route(6, 'eth0', 'fe80::', 64),
      route(6, 'eth0', '::', 0, 'fd00::1'),
      route(6, 'lo', '::1', 128),
    ]);
  });

  it('reads a namespace and leaves out an unreachable route (RTF_REJECT)', () => {
    const text = capture('netns-up.ipv6_route');
    expect(text).toMatch(/^fd990000000000000000000000000000 20 .* 00200200 +lo$/m);
    expect(parseIpv6RouteTable(text)).toEqual(NETNS_V6);
    expect(parseIpv6RouteTable(capture('netns-carrier-down.ipv6_route'))).toEqual(NETNS_V6);
  });

  it('keeps only ::1 once the interface is down', () => {
    expect(parseIpv6RouteTable(capture('netns-admin-down.ipv6_route'))).toEqual([route(6, 'lo', '::1', 128)]);
  });

  it('formats addresses as RFC 5952 says', () => {
    expect(ipv6FromHex('20010db8000000000001000000000001')).toBe('2001:db8::1:0:0:1');
    expect(ipv6FromHex('20010db8000000010000000000000001')).toBe('2001:db8:0:1::1');
    expect(ipv6FromHex('20010db8000000010001000100010001')).toBe('2001:db8:0:1:1:1:1:1');
    expect(ipv6FromHex('00000000000000000000000000000000')).toBe('::');
    expect(ipv6FromHex('FE800000000000000000000000000000')).toBe('fe80::');
    expect(ipv6FromHex('fe80')).toBeNull();
  });
});

describe('interface state (/sys/class/net/<if>)', () => {
  it('up: a veth with its carrier, and loopback (operstate unknown)', () => {
    expect(interfaceUp(sysfs('netns-up.bvc-sysfs'))).toBe(true);
    expect(interfaceUp(sysfs('netns.lo-sysfs'))).toBe(true);
  });

  it('down: the carrier lost (before and after operstate follows), and the interface taken down', () => {
    expect(sysfs('netns-carrier-down-early.bvc-sysfs').operstate).toBe('up');
    expect(interfaceUp(sysfs('netns-carrier-down-early.bvc-sysfs'))).toBe(false);
    expect(interfaceUp(sysfs('netns-carrier-down.bvc-sysfs'))).toBe(false);
    expect(interfaceUp(sysfs('netns-admin-down.bvc-sysfs'))).toBe(false);
  });

  it.each([
    [{ flags: '0x1002', operstate: 'up', carrier: '1' }, false],
    [{ flags: '0x1003', operstate: 'dormant', carrier: '1' }, false],
    [{ flags: '0x1003', operstate: 'lowerlayerdown', carrier: '1' }, false],
    [{ flags: '0x1091', operstate: 'unknown', carrier: null }, true],
    [{ flags: '0x1091', operstate: 'unknown', carrier: '0' }, false],
    [{ flags: null, operstate: 'up', carrier: '1' }, false],
    [{ flags: '0x1003', operstate: null, carrier: '1' }, false],
  ] as Array<[InterfaceFiles, boolean]>)('%o is up: %s', (files, up) => {
    expect(interfaceUp(files)).toBe(up);
  });
});

describe('whether sysfs shows our namespace', () => {
  const names = (dev: string): string[] => parseNetDev(capture(dev)).map((i) => i.name);

  it('reads interface indexes from /proc/net/igmp', () => {
    expect(parseIgmpInterfaces(capture('netns.igmp'))).toEqual(new Map([['lo', 1], ['bvc', 2]]));
  });

  it("agrees when the names and indexes match, not when sysfs is the host's (nsenter --net)", () => {
    const procIndexes = parseIgmpInterfaces(capture('netns.igmp'));
    expect(sysfsMatchesProc(names('netns.dev'), procIndexes, ['bvc', 'lo'], new Map([['lo', 1], ['bvc', 2]]))).toBe(true);
    expect(sysfsMatchesProc(names('netns.dev'), procIndexes, names('host.dev'), parseIgmpInterfaces(capture('host.igmp')))).toBe(false);
    // Same names, another namespace's devices.
    expect(sysfsMatchesProc(names('netns.dev'), procIndexes, ['bvc', 'lo'], new Map([['lo', 1], ['bvc', 7]]))).toBe(false);
    expect(sysfsMatchesProc(names('netns.dev'), procIndexes, ['lo'], new Map([['lo', 1]]))).toBe(false);
  });
});

describe('routesThrough', () => {
  it('keeps the routes of interfaces that are up, sorted, without metric-only duplicates', () => {
    const all = [...NETNS_V4, route(4, 'bvc', '10.213.7.0', 24), ...parseIpv6RouteTable(capture('host.ipv6_route'))];
    const routes = routesThrough(all, (iface) => iface !== 'eth0');
    expect(routes.map((r) => `${r.iface} ${r.destination}/${r.prefix}`)).toEqual(['bvc 0.0.0.0/0', 'bvc 10.213.7.0/24', 'bvc 10.96.0.1/32', 'lo ::1/128']);
  });

  it('the server is reachable while its interface is up, not after the carrier went', () => {
    const snapshot = (routes: Route[]) => ({ routes, manager: null, onBattery: null });
    const all = [...parseRouteTable(capture('netns-carrier-down.route')), ...parseIpv6RouteTable(capture('netns-carrier-down.ipv6_route'))];
    const up = routesThrough(all, () => true);
    expect(reachable(snapshot(up), '10.213.7.1')).toBe(true);
    expect(reachable(snapshot(up), '[fd13:213:7::1]')).toBe(true);
    expect(reachable(snapshot(up), 'example.com')).toBe(true);
    const carrierLost = routesThrough(all, (iface) => (iface === 'bvc' ? interfaceUp(sysfs('netns-carrier-down.bvc-sysfs')) : true));
    expect(carrierLost).toEqual([route(6, 'lo', '::1', 128)]);
    expect(reachable(snapshot(carrierLost), '10.213.7.1')).toBe(false);
    expect(reachable(snapshot(carrierLost), 'fd13:213:7::1')).toBe(false);
    expect(reachable(snapshot(carrierLost), 'example.com')).toBe(false);
  });
});
