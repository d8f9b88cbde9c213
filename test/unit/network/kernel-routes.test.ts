/**
 * watchKernelRoutes on directories laid out like procfs and sysfs (real files, with text captured
 * from a veth namespace, test/fixtures/proc-net) under a FakeClock: what it reads, how often, and
 * when it calls its listeners.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { watchKernelRoutes, type KernelRoutes } from '../../../src/network/kernel-routes.js';
import { FakeClock } from '../../../src/shared/clock.js';
import { tempDir, waitFor } from '../../helpers/temp.js';

const capture = (name: string): Promise<string> => readFile(new URL(`../../fixtures/proc-net/${name}`, import.meta.url), 'utf8');

interface Roots {
  proc: string;
  sys: string;
  /** Writes /sys/class/net/<iface>/<file>; null removes it (as EINVAL or a missing device reads). */
  setSys(iface: string, file: string, text: string | null): Promise<void>;
  setTables(state: 'netns-up' | 'netns-admin-down'): Promise<void>;
}

/** A procfs and a sysfs of the client namespace (lo and the veth bvc), both up. */
async function fakeRoots(sysNames: readonly string[] = ['lo', 'bvc']): Promise<Roots> {
  const base = await tempDir('bitsd-routes-');
  const proc = join(base, 'proc');
  const sys = join(base, 'sys');
  await mkdir(join(proc, 'net'), { recursive: true });
  await writeFile(join(proc, 'net/dev'), await capture('netns.dev'));
  await writeFile(join(proc, 'net/igmp'), await capture('netns.igmp'));
  const setSys = async (iface: string, file: string, text: string | null): Promise<void> => {
    const path = join(sys, 'class/net', iface, file);
    if (text === null) await rm(path, { force: true });
    else {
      await mkdir(join(sys, 'class/net', iface), { recursive: true });
      await writeFile(path, `${text}\n`);
    }
  };
  const setTables = async (state: 'netns-up' | 'netns-admin-down'): Promise<void> => {
    await writeFile(join(proc, 'net/route'), await capture(`${state}.route`));
    await writeFile(join(proc, 'net/ipv6_route'), await capture(`${state}.ipv6_route`));
  };
  await setTables('netns-up');
  for (const [i, name] of sysNames.entries()) {
    const [operstate, carrier, flags] = (await capture(name === 'lo' ? 'netns.lo-sysfs' : 'netns-up.bvc-sysfs')).trim().split('\n');
    await setSys(name, 'operstate', operstate ?? null);
    await setSys(name, 'carrier', carrier ?? null);
    await setSys(name, 'flags', flags ?? null);
    await setSys(name, 'ifindex', name === 'lo' ? '1' : name === 'bvc' ? '2' : String(10 + i));
  }
  return { proc, sys, setSys, setTables };
}

const watchers: KernelRoutes[] = [];
afterEach(() => {
  for (const w of watchers.splice(0)) w.stop();
});

async function watch(roots: Roots, clock: FakeClock): Promise<{ routes: KernelRoutes; changes: () => number }> {
  const routes = await watchKernelRoutes({ clock, procRoot: roots.proc, sysRoot: roots.sys });
  watchers.push(routes);
  let changes = 0;
  routes.onChange(() => changes++);
  return { routes, changes: () => changes };
}

/** Moves the clock by `ms` and waits (real time) until a read that fell due has finished and re-armed. */
async function tick(clock: FakeClock, ms = 1000): Promise<void> {
  await clock.advance(ms);
  await waitFor(() => clock.pending === 1, 5000, 'the next read to be armed');
}

const summary = (routes: KernelRoutes): string[] => routes.current().map((r) => `${r.iface} ${r.destination}/${r.prefix}${r.gateway === null ? '' : ` via ${r.gateway}`}`);
const UP = ['bvc 0.0.0.0/0 via 10.213.7.1', 'bvc 10.213.7.0/24', 'bvc 10.96.0.1/32 via 10.213.7.1', 'bvc ::/0 via fd13:213:7::1', 'bvc fd13:213:7::/64', 'bvc fe80::/64', 'lo ::1/128'];

describe('watchKernelRoutes', () => {
  it('reads the routes of interfaces that are up at once, then once per interval, and calls listeners only when the set changes', async () => {
    const roots = await fakeRoots();
    const clock = new FakeClock();
    const { routes, changes } = await watch(roots, clock);
    expect(routes.linkState).toBe('sysfs');
    expect(summary(routes)).toEqual(UP);
    const first = routes.current();

    await tick(clock);
    expect(changes()).toBe(0);
    expect(routes.current()).toBe(first);

    // The peer goes away: the routes stay in /proc, the carrier goes. Not read before the interval is up.
    await roots.setSys('bvc', 'carrier', '0');
    await clock.advance(999);
    expect(changes()).toBe(0);
    await tick(clock, 1);
    expect(changes()).toBe(1);
    expect(summary(routes)).toEqual(['lo ::1/128']);
    await tick(clock);
    expect(changes()).toBe(1);

    await roots.setSys('bvc', 'carrier', '1');
    await tick(clock);
    expect(changes()).toBe(2);
    expect(summary(routes)).toEqual(UP);

    // Taken down: operstate "down", carrier unreadable, and the kernel drops the routes.
    await roots.setSys('bvc', 'operstate', 'down');
    await roots.setSys('bvc', 'carrier', null);
    await roots.setSys('bvc', 'flags', '0x1002');
    await roots.setTables('netns-admin-down');
    await tick(clock);
    expect(changes()).toBe(3);
    expect(summary(routes)).toEqual(['lo ::1/128']);
  });

  it('counts an interface down when IFF_UP is clear, whatever operstate says', async () => {
    const roots = await fakeRoots();
    const clock = new FakeClock();
    const { routes } = await watch(roots, clock);
    await roots.setSys('bvc', 'flags', '0x1002');
    await tick(clock);
    expect(summary(routes)).toEqual(['lo ::1/128']);
  });

  it("trusts the routes alone when sysfs shows another namespace's interfaces", async () => {
    const roots = await fakeRoots(['lo', 'eth0', 'ifb0', 'ifb1']);
    const clock = new FakeClock();
    const { routes, changes } = await watch(roots, clock);
    expect(routes.linkState).toBe('routes');
    expect(summary(routes)).toEqual(UP);
    // The host's lo going down says nothing of ours.
    await roots.setSys('lo', 'operstate', 'down');
    await tick(clock);
    expect(changes()).toBe(0);
    await roots.setTables('netns-admin-down');
    await tick(clock);
    expect(changes()).toBe(1);
    expect(summary(routes)).toEqual(['lo ::1/128']);
  });

  it("does not take bonding's bonding_masters file for an interface", async () => {
    const roots = await fakeRoots();
    await writeFile(join(roots.sys, 'class/net/bonding_masters'), '\n');
    const { routes } = await watch(roots, new FakeClock());
    expect(routes.linkState).toBe('sysfs');
  });

  it('takes sysfs for another namespace when the names match but an index does not', async () => {
    const roots = await fakeRoots();
    await roots.setSys('bvc', 'ifindex', '5');
    const { routes } = await watch(roots, new FakeClock());
    expect(routes.linkState).toBe('routes');
  });

  it('trusts the routes of an interface sysfs does not have (gone since the routes were read)', async () => {
    const roots = await fakeRoots();
    const clock = new FakeClock();
    const { routes, changes } = await watch(roots, clock);
    await rm(join(roots.sys, 'class/net/bvc'), { recursive: true });
    await tick(clock);
    expect(changes()).toBe(0);
    expect(summary(routes)).toEqual(UP);
  });

  it('stop() clears its timer; no read or call after it', async () => {
    const roots = await fakeRoots();
    const clock = new FakeClock();
    const { routes, changes } = await watch(roots, clock);
    expect(clock.pending).toBe(1);
    routes.stop();
    expect(clock.pending).toBe(0);
    await roots.setTables('netns-admin-down');
    await clock.advance(5000);
    expect(changes()).toBe(0);
    expect(summary(routes)).toEqual(UP);
  });

  it('an unsubscribed listener is not called', async () => {
    const roots = await fakeRoots();
    const clock = new FakeClock();
    const { routes, changes } = await watch(roots, clock);
    let other = 0;
    const off = routes.onChange(() => other++);
    off();
    await roots.setTables('netns-admin-down');
    await tick(clock);
    expect([changes(), other]).toEqual([1, 0]);
  });

  it('works without IPv6 (no ipv6_route), keeps the last set while a read fails, and fails at the start without /proc/net/route', async () => {
    const roots = await fakeRoots();
    await rm(join(roots.proc, 'net/ipv6_route'));
    const clock = new FakeClock();
    const { routes, changes } = await watch(roots, clock);
    expect(summary(routes)).toEqual(['bvc 0.0.0.0/0 via 10.213.7.1', 'bvc 10.213.7.0/24', 'bvc 10.96.0.1/32 via 10.213.7.1']);
    await rm(join(roots.proc, 'net/route'));
    await tick(clock);
    expect(changes()).toBe(0);
    expect(routes.current()).toHaveLength(3);
    await expect(watchKernelRoutes({ clock, procRoot: roots.proc, sysRoot: roots.sys })).rejects.toMatchObject({ code: 'ERROR_FILE_NOT_FOUND' });
  });

  it('refuses to poll more often than once a second', async () => {
    const roots = await fakeRoots();
    const clock = new FakeClock();
    await expect(watchKernelRoutes({ clock, intervalMs: 999, procRoot: roots.proc, sysRoot: roots.sys })).rejects.toMatchObject({ code: 'E_INVALIDARG' });
    const slow = await watchKernelRoutes({ clock, intervalMs: 5000, procRoot: roots.proc, sysRoot: roots.sys });
    watchers.push(slow);
    expect(clock.nextDue()).toBe(clock.now() + 5000);
  });
});
