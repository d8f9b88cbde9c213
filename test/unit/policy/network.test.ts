/**
 * The network's meaning for a job (src/policy/network.ts): addresses, routes that cover them,
 * NetworkManager's state and metered flag, and cost flags against the cost state.
 */
import { describe, expect, it } from 'vitest';
import { COST_STATE, costAllows, costState, NM_METERED, NM_STATE, type NetworkSnapshot, online, parseAddress, reachable, type Route } from '../../../src/policy/network.js';

const route = (iface: string, destination: string, prefix: number, gateway: string | null = null): Route => ({
  family: destination.includes(':') ? 6 : 4,
  iface,
  destination,
  prefix,
  gateway,
});
const lan: Route[] = [route('eth0', '0.0.0.0', 0, '10.0.0.1'), route('eth0', '10.0.0.0', 24), route('eth0', 'fd00::', 64)];
const snap = (routes: readonly Route[], manager: NetworkSnapshot['manager'] = null): NetworkSnapshot => ({ routes, manager, onBattery: null });

describe('parseAddress', () => {
  it('reads IPv4 and IPv6 (compressed, embedded IPv4, zone) and refuses the rest', () => {
    expect(parseAddress('10.0.0.7')).toEqual({ family: 4, value: 0x0a000007n });
    expect(parseAddress('::1')).toEqual({ family: 6, value: 1n });
    expect(parseAddress('fd00::2')).toEqual({ family: 6, value: 0xfd00n << 112n | 2n });
    expect(parseAddress('::ffff:192.0.2.1')).toEqual({ family: 6, value: 0xffffc0000201n });
    expect(parseAddress('fe80::1%eth0')?.family).toBe(6);
    for (const bad of ['256.0.0.1', '1.2.3', 'example.com', '1::2::3', '12345::', '1:2:3:4:5:6:7:8:9', '']) expect(parseAddress(bad), bad).toBeNull();
  });
});

describe('reachable', () => {
  it('loopback always; an address when a route covers it; a name when a default route exists', () => {
    expect(reachable(snap([]), '127.0.0.1')).toBe(true);
    expect(reachable(snap([]), 'localhost')).toBe(true);
    expect(reachable(snap([]), '[::1]')).toBe(true);
    expect(reachable(snap(lan), '10.0.0.9')).toBe(true);
    expect(reachable(snap(lan), '192.0.2.1')).toBe(true);
    expect(reachable(snap(lan), '[fd00::9]')).toBe(true);
    expect(reachable(snap(lan), '[2001:db8::1]')).toBe(false);
    expect(reachable(snap(lan), 'server.example')).toBe(true);
    // Only the LAN's own route: its addresses, not the rest, and not names.
    const lanOnly = lan.slice(1);
    expect(reachable(snap(lanOnly), '10.0.0.9')).toBe(true);
    expect(reachable(snap(lanOnly), '192.0.2.1')).toBe(false);
    expect(reachable(snap(lanOnly), 'server.example')).toBe(false);
    expect(online(snap(lanOnly))).toBe(false);
    expect(online(snap(lan))).toBe(true);
  });

  it('NetworkManager asleep or disconnected: offline whatever the routes say (loopback aside)', () => {
    const nm = (state: number) => ({ state, connectivity: 4, metered: NM_METERED.NO });
    expect(reachable(snap(lan, nm(NM_STATE.DISCONNECTED)), '10.0.0.9')).toBe(false);
    expect(reachable(snap(lan, nm(NM_STATE.ASLEEP)), 'server.example')).toBe(false);
    expect(reachable(snap(lan, nm(NM_STATE.DISCONNECTED)), '127.0.0.1')).toBe(true);
    expect(reachable(snap(lan, nm(NM_STATE.CONNECTED_SITE)), 'server.example')).toBe(true);
  });
});

describe('cost', () => {
  it('metered (YES, GUESS_YES or the config) is USAGE_BASED; anything else UNRESTRICTED', () => {
    const nm = (metered: number) => ({ state: NM_STATE.CONNECTED_GLOBAL, connectivity: 4, metered });
    expect(costState(nm(NM_METERED.YES), 'auto')).toBe(COST_STATE.USAGE_BASED);
    expect(costState(nm(NM_METERED.GUESS_YES), 'auto')).toBe(COST_STATE.USAGE_BASED);
    for (const m of [NM_METERED.UNKNOWN, NM_METERED.NO, NM_METERED.GUESS_NO]) expect(costState(nm(m), 'auto')).toBe(COST_STATE.UNRESTRICTED);
    expect(costState(null, 'auto')).toBe(COST_STATE.UNRESTRICTED);
    expect(costState(nm(NM_METERED.NO), 'yes')).toBe(COST_STATE.USAGE_BASED);
    expect(costState(nm(NM_METERED.YES), 'no')).toBe(COST_STATE.UNRESTRICTED);
  });

  it('STANDARD allows a usage-based network, UNRESTRICTED does not; ALWAYS allows both', () => {
    const STANDARD = 0x80000067;
    const UNRESTRICTED = 0x80000021;
    const ALWAYS = 0x800000ff;
    expect(costAllows(STANDARD, COST_STATE.USAGE_BASED)).toBe(true);
    expect(costAllows(UNRESTRICTED, COST_STATE.USAGE_BASED)).toBe(false);
    expect(costAllows(UNRESTRICTED, COST_STATE.UNRESTRICTED)).toBe(true);
    expect(costAllows(ALWAYS, COST_STATE.USAGE_BASED)).toBe(true);
    expect(costAllows(0, COST_STATE.UNRESTRICTED)).toBe(false);
  });
});
