/**
 * bitsd's D-Bus wire format against two other implementations on a real bus: libdbus (dbus-send,
 * Debian package dbus-bin) and GLib (gdbus, libglib2.0-bin) read what the fake NetworkManager
 * (bitsd's connection as a service) answers, and bitsd's connection reads signals they write.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { connectBus } from '../../src/network/dbus/connect.js';
import type { BusConnection, Incoming } from '../../src/network/dbus/connection.js';
import { findDbusDaemon, startFakeNetworkManager, startPrivateBus } from '../fixtures/fake-bus.js';
import { tempDir, waitFor } from '../helpers/temp.js';

const run = promisify(execFile);

function onPath(program: string): boolean {
  return (process.env['PATH'] ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, program), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

const missing = [findDbusDaemon() === null ? 'dbus-daemon' : '', onPath('dbus-send') ? '' : 'dbus-send', onPath('gdbus') ? '' : 'gdbus'].filter((p) => p !== '');
if (missing.length > 0) console.warn(`skipping the D-Bus interoperability tests: ${missing.join(', ')} not installed (apt-get install dbus-daemon dbus-bin libglib2.0-bin)`);

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function privateBus(): Promise<string> {
  const bus = await startPrivateBus(await tempDir());
  cleanups.push(() => bus.stop());
  return bus.address;
}

/** A connection of bitsd's that keeps every signal of interface org.bitsd.Test it receives. */
async function listener(address: string): Promise<{ conn: BusConnection; signals: Incoming[] }> {
  const conn = await connectBus(address);
  cleanups.push(() => conn.close());
  const signals: Incoming[] = [];
  // The bus also sends NameAcquired to each new connection, whatever its match rules.
  conn.onSignal((m) => {
    if (m.interface === 'org.bitsd.Test') signals.push(m);
  });
  await conn.call({ destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'AddMatch', signature: 's', body: ["type='signal',interface='org.bitsd.Test'"] });
  return { conn, signals };
}

/**
 * Runs gdbus on the private bus as the system bus: with --address, gdbus talks to the bus as a
 * peer and sends no Hello, and the bus routes nothing it emits.
 */
function gdbus(address: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run('gdbus', [args[0] as string, '--system', ...args.slice(1)], { env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: address } });
}

describe.skipIf(missing.length > 0)('D-Bus interoperability', () => {
  it('libdbus and GLib read the fake NetworkManager: GetAll, Get, and Set refused', async () => {
    const address = await privateBus();
    const nm = await startFakeNetworkManager(address, { state: 70, connectivity: 4, metered: 3 });
    cleanups.push(() => nm.stop());
    const dest = ['--dest=org.freedesktop.NetworkManager', '/org/freedesktop/NetworkManager'];

    const glib = await gdbus(address, ['call', '--dest', 'org.freedesktop.NetworkManager', '--object-path', '/org/freedesktop/NetworkManager', '--method', 'org.freedesktop.DBus.Properties.GetAll', 'org.freedesktop.NetworkManager']);
    expect(glib.stdout.trim()).toBe("({'State': <uint32 70>, 'Connectivity': <uint32 4>, 'Metered': <uint32 3>, 'Version': <'1.42.0'>},)");

    const get = await run('dbus-send', [`--bus=${address}`, '--print-reply=literal', ...dest, 'org.freedesktop.DBus.Properties.Get', 'string:org.freedesktop.NetworkManager', 'string:Version']);
    expect(get.stdout.trim()).toBe('variant       1.42.0');

    const set = run('dbus-send', [`--bus=${address}`, '--print-reply', ...dest, 'org.freedesktop.DBus.Properties.Set', 'string:org.freedesktop.NetworkManager', 'string:Metered', 'variant:uint32:2']);
    await expect(set).rejects.toMatchObject({ stderr: expect.stringContaining('org.freedesktop.DBus.Error.PropertyReadOnly: Metered is read-only') });
  });

  it('bitsd reads signals that GLib writes: a{sv} of several types, as, a struct, a uint64', async () => {
    const address = await privateBus();
    const { signals } = await listener(address);
    await gdbus(address, [
      'emit', '--object-path', '/org/bitsd/Test', '--signal', 'org.bitsd.Test.Values',
      "{'Metered': <uint32 3>, 'Devices': <[objectpath '/a', '/b']>, 'Big': <int64 -5>, 'D': <2.5>, 'Nested': <{'k': <true>}>}",
      "@as ['State']",
      '(byte 7, true, int16 -3, uint16 65535)',
      'uint64 18446744073709551615',
    ]);
    const [signal] = await waitFor(() => (signals.length > 0 ? signals : null), 5_000, 'the GLib signal');
    expect(signal?.path).toBe('/org/bitsd/Test');
    expect(signal?.member).toBe('Values');
    expect(signal?.signature).toBe('a{sv}as(ybnq)t');
    expect(signal?.body).toEqual([
      [
        ['Metered', { signature: 'u', value: 3 }],
        ['Devices', { signature: 'ao', value: ['/a', '/b'] }],
        ['Big', { signature: 'x', value: -5n }],
        ['D', { signature: 'd', value: 2.5 }],
        ['Nested', { signature: 'a{sv}', value: [['k', { signature: 'b', value: true }]] }],
      ],
      ['State'],
      [7, true, -3, 65535],
      2n ** 64n - 1n,
    ]);
  });

  it('bitsd reads signals that libdbus writes: strings, integers, an array, a dict, a variant', async () => {
    const address = await privateBus();
    const { signals } = await listener(address);
    await run('dbus-send', [`--bus=${address}`, '--type=signal', '/org/bitsd/Test', 'org.bitsd.Test.Values', 'string:hé', 'uint64:5', 'array:string:a,b', 'dict:string:int32:k,1,m,-2', 'variant:boolean:true', 'objpath:/x', 'double:1.5', 'byte:7']);
    const [signal] = await waitFor(() => (signals.length > 0 ? signals : null), 5_000, 'the libdbus signal');
    expect(signal?.signature).toBe('stasa{si}vody');
    expect(signal?.body).toEqual(['hé', 5n, ['a', 'b'], [['k', 1], ['m', -2]], { signature: 'b', value: true }, '/x', 1.5, 7]);
  });
});
