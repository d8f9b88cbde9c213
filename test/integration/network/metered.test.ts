/**
 * Cost and power through a real daemon: bitsd in a client network namespace follows a fake
 * NetworkManager and a fake UPower on a private dbus-daemon (test/fixtures/fake-bus.ts), the
 * reference server runs in the server namespace. A job whose transfer policy is Unrestricted
 * waits while the network is metered and moves within 2 s of Metered becoming NO; one with
 * Standard moves either way. With power.pauseOnBattery, background jobs wait on battery. The
 * policies are set and read with bitsadmin; /geterror and /info say why a job waits. Root and
 * dbus-daemon only.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NM_METERED, NM_STATE } from '../../../src/policy/network.js';
import { runBitsadmin } from '../../daemon/spawn.js';
import { findDbusDaemon, startFakeNetworkManager, startFakeUPower, startPrivateBus } from '../../fixtures/fake-bus.js';
import { createNetPair, netnsUnavailable } from '../../helpers/netns.js';
import { tempDir } from '../../helpers/temp.js';
import { startNetDaemon, startNetServer, within } from './harness.js';

const why = netnsUnavailable() ?? (findDbusDaemon() === null ? 'needs dbus-daemon' : null);
if (why) console.warn(`metered.test.ts skipped: ${why}`);

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => undefined);
  cleanup = [];
});

async function setup(config: unknown, metered: number, onBattery: boolean) {
  const dir = await tempDir('bitsd-metered-');
  const root = join(dir, 'root');
  await mkdir(root);
  await writeFile(join(root, 'a.bin'), randomBytes(1024 * 1024));
  const bus = await startPrivateBus(dir);
  cleanup.push(() => bus.stop());
  const nm = await startFakeNetworkManager(bus.address, { state: NM_STATE.CONNECTED_GLOBAL, connectivity: 4, metered });
  cleanup.push(() => nm.stop());
  const upower = await startFakeUPower(bus.address, { onBattery });
  cleanup.push(() => upower.stop());
  const pair = await createNetPair();
  cleanup.push(() => pair.destroy());
  const { url } = await startNetServer(pair, root);
  const { daemon, client, socket, env } = await startNetDaemon(pair, dir, config, { DBUS_SYSTEM_BUS_ADDRESS: bus.address });
  cleanup.push(async () => void (await daemon.stop()));
  cleanup.push(() => client.close());
  const bitsadmin = async (...args: string[]) => {
    const r = await runBitsadmin(['--socket', socket, ...args], { env });
    expect(r.code, r.stderr).toBe(0);
    return r.stdout;
  };
  const download = async (name: string, policy?: string): Promise<string> => {
    const id = (await bitsadmin('/rawreturn', '/create', name)).trim();
    await bitsadmin('/addfile', id, `${url}/a.bin`, join(dir, `${name}.bin`));
    if (policy) await bitsadmin('/settransferpolicy', id, policy);
    await bitsadmin('/resume', id);
    return id;
  };
  return { dir, nm, upower, client, bitsadmin, download, socket, env };
}

describe.skipIf(why !== null)('cost and power from NetworkManager and UPower', () => {
  it('Unrestricted waits on a metered network and moves within 2 s of Metered NO; Standard moves either way', async () => {
    const s = await setup({ bandwidth: { yield: false } }, NM_METERED.YES, false);
    const strict = await s.download('strict', 'Unrestricted');
    const standard = await s.download('standard', 'Standard');
    expect(await s.bitsadmin('/gettransferpolicy', strict)).toBe('0x00000001 Unrestricted\n');
    expect(JSON.parse(await s.bitsadmin('--json', '/gettransferpolicy', standard))).toEqual({ transferPolicy: { flags: 0x80000067, hex: '0x80000067', names: 'Standard' } });
    const state = async (id: string): Promise<string> => (await s.bitsadmin('/rawreturn', '/getstate', id)).trim();
    await within('the Standard job transferred on a metered network', 10_000, async () => (await state(standard)) === 'TRANSFERRED');
    await within('the Unrestricted job blocked', 5000, async () => (await state(strict)) === 'TRANSIENT_ERROR');
    expect(await s.bitsadmin('/geterror', strict)).toMatch(/ERROR CODE:\s+0x80200059 - /);
    expect(await s.bitsadmin('/info', strict)).toMatch(/\nWAITING: the network is too expensive for the transfer policy since .* \(BG_E_BLOCKED_BY_COST_TRANSFER_POLICY: The network is metered/);
    const info = JSON.parse(await s.bitsadmin('--json', '/info', strict)) as { transfer: { waiting: { reason: string } }; errorCount: number };
    expect(info.transfer.waiting.reason).toBe('COST_POLICY');
    expect(info.errorCount).toBe(0);
    await s.nm.set({ metered: NM_METERED.NO });
    const took = await within('the Unrestricted job moving after Metered NO', 2000, async () => ['CONNECTING', 'TRANSFERRING', 'TRANSFERRED'].includes(await state(strict)));
    expect(took).toBeLessThan(2000);
    await within('the Unrestricted job transferred', 10_000, async () => (await state(strict)) === 'TRANSFERRED');
  }, 60_000);

  it('a bad policy name is refused with the names allowed and changes nothing', async () => {
    const s = await setup({ bandwidth: { yield: false } }, NM_METERED.NO, false);
    const id = (await s.bitsadmin('/rawreturn', '/create', 'bad')).trim();
    const r = await runBitsadmin(['--socket', s.socket, '/settransferpolicy', id, 'Cheap'], { env: s.env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown name "Cheap"; use a hex DWORD (0x80000067) or names from Always, NotRoaming');
    expect(await s.bitsadmin('/gettransferpolicy', id)).toBe('0x8000007F NotRoaming\n');
    await s.bitsadmin('/settransferpolicy', id, 'BelowCap,NearCap');
    expect(await s.bitsadmin('/gettransferpolicy', id)).toBe('0x0000000C NearCap,BelowCap\n');
  }, 60_000);

  it('power.pauseOnBattery: a background job waits on battery and goes on on mains power', async () => {
    const s = await setup({ bandwidth: { yield: false }, power: { pauseOnBattery: true } }, NM_METERED.NO, true);
    const id = await s.download('battery');
    const state = async (): Promise<string> => (await s.bitsadmin('/rawreturn', '/getstate', id)).trim();
    await within('blocked on battery', 5000, async () => (await state()) === 'TRANSIENT_ERROR');
    expect(await s.bitsadmin('/info', id)).toContain('\nWAITING: on battery since ');
    await s.upower.set(false);
    await within('transferred on mains power', 10_000, async () => (await state()) === 'TRANSFERRED');
  }, 60_000);
});
