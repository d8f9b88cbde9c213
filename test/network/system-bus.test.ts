/**
 * The NetworkManager and UPower watchers (src/network/system-bus.ts) against a real dbus-daemon
 * on a private socket, with fake services in their own processes (test/fixtures/fake-bus.ts).
 * Needs dbus-daemon (Debian: dbus-daemon) and the compiled tree (`npm run build`).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { watchNetworkManager, watchUPower } from '../../src/network/system-bus.js';
import type { BusWatch, WatchLog } from '../../src/network/system-bus.js';
import { NM_METERED, NM_STATE } from '../../src/policy/network.js';
import { FakeClock } from '../../src/shared/clock.js';
import { findDbusDaemon, startFakeNetworkManager, startFakeUPower, startPrivateBus } from '../fixtures/fake-bus.js';
import { tempDir, waitFor } from '../helpers/temp.js';

const hasDaemon = findDbusDaemon() !== null;
if (!hasDaemon) console.warn('skipping the D-Bus watcher tests: dbus-daemon is not installed (apt-get install dbus-daemon)');

const EXIT_CHILD = fileURLToPath(new URL('../../dist/test/fixtures/watch-exit-child.js', import.meta.url));
const GLOBAL = { state: NM_STATE.CONNECTED_GLOBAL, connectivity: 4, metered: NM_METERED.YES };

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});
/** Registers `stop` to run after the test (last registered, first stopped). */
function later<T extends { stop(): Promise<void> }>(thing: T): T {
  cleanups.push(() => thing.stop());
  return thing;
}

function logCollector(): { log: WatchLog; lines: { level: string; message: string }[] } {
  const lines: { level: string; message: string }[] = [];
  return { lines, log: (level, message) => lines.push({ level, message }) };
}

function countChanges(watch: BusWatch<unknown>): { count: number } {
  const counter = { count: 0 };
  watch.onChange(() => counter.count++);
  return counter;
}

describe.skipIf(!hasDaemon)('NetworkManager and UPower on a private bus', () => {
  it("reads State, Connectivity and Metered, and sees Metered and State flip within 2 s (and only real changes)", async () => {
    const bus = later(await startPrivateBus(await tempDir()));
    const nm = later(await startFakeNetworkManager(bus.address, GLOBAL));
    const { log, lines } = logCollector();
    const watch = later(await watchNetworkManager({ address: bus.address, log }));
    expect(watch.current()).toEqual(GLOBAL);
    expect(lines).toEqual([{ level: 'debug', message: 'NetworkManager found on the system bus' }]);
    const changes = countChanges(watch);

    await nm.set({ metered: NM_METERED.NO });
    await waitFor(() => watch.current()?.metered === NM_METERED.NO, 2_000, 'Metered NO');
    await nm.set({ state: NM_STATE.DISCONNECTED });
    await waitFor(() => watch.current()?.state === NM_STATE.DISCONNECTED, 2_000, 'State DISCONNECTED');
    expect(watch.current()).toEqual({ state: NM_STATE.DISCONNECTED, connectivity: 4, metered: NM_METERED.NO });
    expect(changes.count).toBe(2);

    // The same value again is no change; a later real one shows the signal in between was seen.
    await nm.set({ metered: NM_METERED.NO });
    await nm.set({ state: NM_STATE.CONNECTED_SITE });
    await waitFor(() => watch.current()?.state === NM_STATE.CONNECTED_SITE, 2_000, 'State SITE');
    expect(changes.count).toBe(3);

    // A property announced as invalidated is read again with GetAll.
    await nm.invalidate({ connectivity: 1, metered: NM_METERED.GUESS_YES });
    await waitFor(() => watch.current()?.metered === NM_METERED.GUESS_YES, 2_000, 'invalidated Metered read again');
    expect(watch.current()).toEqual({ state: NM_STATE.CONNECTED_SITE, connectivity: 1, metered: NM_METERED.GUESS_YES });
    expect(changes.count).toBe(4);
  });

  it('NetworkManager stopping gives null, said once at debug; starting again, and again, is picked up', async () => {
    const bus = later(await startPrivateBus(await tempDir()));
    const nm = await startFakeNetworkManager(bus.address, GLOBAL);
    const { log, lines } = logCollector();
    const watch = later(await watchNetworkManager({ address: bus.address, log }));
    expect(watch.current()).toEqual(GLOBAL);

    await nm.stop();
    await waitFor(() => watch.current() === null, 2_000, 'null once NetworkManager left');
    const second = { state: NM_STATE.CONNECTED_LOCAL, connectivity: 3, metered: NM_METERED.GUESS_NO };
    const nm2 = await startFakeNetworkManager(bus.address, second);
    await waitFor(() => watch.current()?.state === NM_STATE.CONNECTED_LOCAL, 2_000, 'the new NetworkManager');
    expect(watch.current()).toEqual(second);
    // Signals follow the new owner.
    await nm2.set({ metered: NM_METERED.YES });
    await waitFor(() => watch.current()?.metered === NM_METERED.YES, 2_000, 'Metered from the new owner');
    await nm2.stop();
    await waitFor(() => watch.current() === null, 2_000, 'null again');
    const nm3 = later(await startFakeNetworkManager(bus.address, GLOBAL));
    await waitFor(() => watch.current()?.state === NM_STATE.CONNECTED_GLOBAL, 2_000, 'the third NetworkManager');
    expect(nm3.uniqueName).not.toBe(nm.uniqueName);
    expect(lines.map((l) => `${l.level} ${l.message}`)).toEqual([
      'debug NetworkManager found on the system bus',
      "debug no NetworkManager on the system bus; using the kernel's view",
      'debug NetworkManager found on the system bus',
      "debug no NetworkManager on the system bus; using the kernel's view",
      'debug NetworkManager found on the system bus',
    ]);
  });

  it('NetworkManager absent at start: null and one debug line, then picked up when it starts', async () => {
    const bus = later(await startPrivateBus(await tempDir()));
    const { log, lines } = logCollector();
    const watch = later(await watchNetworkManager({ address: bus.address, log }));
    expect(watch.current()).toBeNull();
    expect(lines).toEqual([{ level: 'debug', message: "no NetworkManager on the system bus; using the kernel's view" }]);
    later(await startFakeNetworkManager(bus.address, GLOBAL));
    await waitFor(() => watch.current() !== null, 2_000, 'NetworkManager started later');
    expect(watch.current()).toEqual(GLOBAL);
  });

  it("UPower's OnBattery: null without UPower, then its value and flips, null again when it stops", async () => {
    const bus = later(await startPrivateBus(await tempDir()));
    const { log, lines } = logCollector();
    const watch = later(await watchUPower({ address: bus.address, log }));
    expect(watch.current()).toBeNull();
    expect(lines).toHaveLength(1);
    expect(lines[0]?.message).toMatch(/^no UPower on the system bus/);
    const upower = await startFakeUPower(bus.address, { onBattery: true });
    await waitFor(() => watch.current() === true, 2_000, 'OnBattery true');
    await upower.set(false);
    await waitFor(() => watch.current() === false, 2_000, 'OnBattery false');
    await upower.set(true);
    await waitFor(() => watch.current() === true, 2_000, 'OnBattery true again');
    await upower.stop();
    await waitFor(() => watch.current() === null, 2_000, 'null without UPower');
  });

  it('DBUS_SYSTEM_BUS_ADDRESS is honoured, and the addresses of a list are tried in order', async () => {
    const dir = await tempDir();
    const bus = later(await startPrivateBus(dir));
    later(await startFakeNetworkManager(bus.address, GLOBAL));
    const env = { DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${join(dir, 'none.sock')};tcp:host=localhost,port=1;${bus.address}` };
    const watch = later(await watchNetworkManager({ env }));
    expect(watch.current()).toEqual(GLOBAL);
  });

  it('no bus at all: null, one debug line, no throw; retries back off from 1 s to 30 s; stop() leaves no timer', async () => {
    const clock = new FakeClock();
    const { log, lines } = logCollector();
    const missing = `unix:path=${join(await tempDir(), 'no-such-dir', 'bus.sock')}`;
    const watch = await watchNetworkManager({ address: missing, log, clock });
    expect(watch.current()).toBeNull();
    expect(lines).toHaveLength(1);
    expect(lines[0]?.level).toBe('debug');
    expect(lines[0]?.message).toBe(`no system bus at ${missing}, so no NetworkManager; using the kernel's view`);
    const delays: number[] = [];
    for (let attempt = 0; attempt < 7; attempt++) {
      const due = clock.nextDue() as number;
      delays.push(due - clock.now());
      await clock.advance(due - clock.now());
      // The attempt fails on a real socket: wait for it to arm the next retry.
      await waitFor(() => clock.nextDue() !== undefined, 2_000, 'the next retry');
    }
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
    expect(lines).toHaveLength(1);
    await watch.stop();
    expect(clock.pending).toBe(0);
  });

  it('the bus going away gives null; the watcher reconnects 1 s later when it is back', async () => {
    const clock = new FakeClock();
    const dir = await tempDir();
    const bus = await startPrivateBus(dir);
    const nm = await startFakeNetworkManager(bus.address, GLOBAL);
    const { log, lines } = logCollector();
    const watch = later(await watchNetworkManager({ address: bus.address, log, clock }));
    expect(watch.current()).toEqual(GLOBAL);

    await bus.stop();
    await nm.stop();
    await waitFor(() => watch.current() === null, 2_000, 'null without the bus');
    expect(lines.at(-1)?.message).toMatch(/^lost the system bus \(the D-Bus connection closed\), so no NetworkManager; using the kernel's view; reconnecting$/);
    expect((clock.nextDue() as number) - clock.now()).toBe(1_000);

    const bus2 = later(await startPrivateBus(dir));
    const metered = { ...GLOBAL, metered: NM_METERED.NO };
    later(await startFakeNetworkManager(bus2.address, metered));
    await clock.advance(1_000);
    await waitFor(() => watch.current() !== null, 2_000, 'reconnected');
    expect(watch.current()).toEqual(metered);
  });

  it('stop() closes every socket: a process that watched both exits by itself', async () => {
    const bus = later(await startPrivateBus(await tempDir()));
    later(await startFakeNetworkManager(bus.address, GLOBAL));
    later(await startFakeUPower(bus.address, { onBattery: false }));
    const child = spawn(process.execPath, [EXIT_CHILD, bus.address], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const code = await exit;
    clearTimeout(timer);
    expect(err).toBe('');
    expect(code).toBe(0);
    const seen = JSON.parse(out) as { before: number; watching: number; after: number; nm: unknown; upower: unknown };
    expect(seen).toEqual({ before: seen.before, watching: seen.before + 2, after: seen.before, nm: GLOBAL, upower: false });
  });
});
