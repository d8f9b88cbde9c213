/**
 * The watcher (src/network/property-watch.ts) on a scripted bus: a unix socket server in this
 * test that authenticates, answers the few calls the watcher makes, and writes what a real
 * dbus-daemon cannot be made to write on purpose: a GetAll reply and a PropertiesChanged in one
 * write (so they reach the watcher in one read; under load a real bus does it by chance), a
 * stranger's signal, garbage, a refused or cut handshake.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, type Message, MESSAGE_TYPE, messageLength, type OutgoingMessage } from '../../src/network/dbus/message.js';
import { type DBusValue, variant } from '../../src/network/dbus/signature.js';
import { watchNetworkManager } from '../../src/network/system-bus.js';
import { NM_METERED } from '../../src/policy/network.js';
import { FakeClock } from '../../src/shared/clock.js';
import { tempDir, waitFor } from '../helpers/temp.js';

const NM_OWNER = ':1.9';
const servers: { server: Server; sockets: Socket[] }[] = [];
const watches: { stop(): Promise<void> }[] = [];
afterEach(async () => {
  for (const watcher of watches.splice(0)) await watcher.stop();
  for (const { server, sockets } of servers.splice(0)) {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function watch(address: string, log?: (level: string, message: string) => void): ReturnType<typeof watchNetworkManager> {
  const watcher = await watchNetworkManager(log === undefined ? { address } : { address, log });
  watches.push(watcher);
  return watcher;
}

/** What the scripted bus sends for a call: messages written together, in one write. */
type Script = (call: Message) => OutgoingMessage[];

async function scriptedBus(script: Script): Promise<{ address: string; calls: string[]; sockets: Socket[] }> {
  const path = join(await tempDir(), 'bus.sock');
  const calls: string[] = [];
  const sockets: Socket[] = [];
  let serial = 0;
  const server = createServer((socket) => {
    sockets.push(socket);
    let authed = false;
    let buffer = Buffer.alloc(0);
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (!authed) {
        const text = buffer.toString('latin1');
        if (text.includes('AUTH EXTERNAL') && !text.includes('BEGIN\r\n')) socket.write('OK 0123456789abcdef0123456789abcdef\r\n');
        const begin = text.indexOf('BEGIN\r\n');
        if (begin < 0) return;
        authed = true;
        buffer = buffer.subarray(begin + 'BEGIN\r\n'.length);
      }
      for (let length = messageLength(buffer); length !== null && buffer.length >= length; length = messageLength(buffer)) {
        const call = decodeMessage(buffer.subarray(0, length));
        buffer = buffer.subarray(length);
        calls.push(call.member ?? '');
        try {
          socket.write(Buffer.concat(script(call).map((m) => encodeMessage(m, ++serial))));
        } catch (err) {
          // A mistake in a script: fail the watcher's calls rather than the test process.
          socket.destroy(err instanceof Error ? err : new Error(String(err)));
        }
      }
    });
  });
  servers.push({ server, sockets });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return { address: `unix:path=${path}`, calls, sockets };
}

/** A message from `sender` (the bus sets it on real buses; OutgoingMessage has no such field). */
function from(sender: string, message: OutgoingMessage): OutgoingMessage {
  const withSender: OutgoingMessage & { sender: string } = { ...message, sender };
  return withSender;
}

function reply(call: Message, signature: string, body: DBusValue[], sender = 'org.freedesktop.DBus'): OutgoingMessage {
  return from(sender, { type: MESSAGE_TYPE.METHOD_RETURN, replySerial: call.serial, signature, body });
}

function propertiesChanged(changed: [string, number][]): OutgoingMessage {
  return from(NM_OWNER, {
    type: MESSAGE_TYPE.SIGNAL,
    path: '/org/freedesktop/NetworkManager',
    interface: 'org.freedesktop.DBus.Properties',
    member: 'PropertiesChanged',
    signature: 'sa{sv}as',
    body: ['org.freedesktop.NetworkManager', changed.map(([k, v]) => [k, variant('u', v)]), []],
  });
}

/** A bus with NetworkManager at NM_OWNER; `afterGetAll` is written together with the GetAll reply. */
function networkManagerBus(afterGetAll: OutgoingMessage[]): Script {
  return (call) => {
    switch (call.member) {
      case 'Hello': return [reply(call, 's', [':1.5'])];
      case 'AddMatch': return [reply(call, '', [])];
      case 'GetNameOwner': return [reply(call, 's', [NM_OWNER])];
      case 'GetAll':
        return [reply(call, 'a{sv}', [[['State', variant('u', 70)], ['Connectivity', variant('u', 4)], ['Metered', variant('u', NM_METERED.YES)]]], NM_OWNER), ...afterGetAll];
      default: return [];
    }
  };
}

describe('the order of a reply and the signals around it', () => {
  it('a PropertiesChanged in the same read right after the GetAll reply is applied on top of it', async () => {
    const bus = await scriptedBus(networkManagerBus([propertiesChanged([['Metered', NM_METERED.NO]])]));
    const watcher = await watch(bus.address);
    await waitFor(() => watcher.current() !== null, 2_000, 'a value');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(watcher.current()).toEqual({ state: 70, connectivity: 4, metered: NM_METERED.NO });
    expect(bus.calls).toEqual(['Hello', 'AddMatch', 'AddMatch', 'GetNameOwner', 'GetAll']);
  });

  it('a signal from another sender than the owner is ignored', async () => {
    const stranger = from(':1.77', { ...propertiesChanged([['Metered', NM_METERED.NO]]) });
    const bus = await scriptedBus(networkManagerBus([stranger]));
    const watcher = await watch(bus.address);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(watcher.current()).toEqual({ state: 70, connectivity: 4, metered: NM_METERED.YES });
  });

  it('a bus that sends garbage is dropped and retried, and the value is null meanwhile', async () => {
    const logs: string[] = [];
    const bus = await scriptedBus(networkManagerBus([]));
    const watcher = await watch(bus.address, (_level, message) => logs.push(message));
    expect(watcher.current()).not.toBeNull();
    bus.sockets[0]?.write(Buffer.from('lXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX'));
    await waitFor(() => watcher.current() === null, 2_000, 'null after garbage');
    expect(logs.at(-1)).toMatch(/^lost the system bus \(the D-Bus connection closed: malformed D-Bus message/);
  });

  it('a bus that refuses EXTERNAL, or hangs up during the handshake, is no bus: null, one debug line, no crash', async () => {
    for (const answer of ['REJECTED DBUS_COOKIE_SHA1\r\n', null]) {
      const path = join(await tempDir(), 'bus.sock');
      const sockets: Socket[] = [];
      const server = createServer((socket) => {
        sockets.push(socket);
        socket.on('error', () => {});
        if (answer === null) socket.destroy();
        else socket.once('data', () => socket.write(answer));
      });
      servers.push({ server, sockets });
      await new Promise<void>((resolve) => server.listen(path, resolve));
      const logs: string[] = [];
      const watcher = await watch(`unix:path=${path}`, (_level, message) => logs.push(message));
      expect(watcher.current()).toBeNull();
      expect(logs).toHaveLength(1);
      expect(logs[0]).toMatch(/^no system bus at unix:path=.*, so no NetworkManager; using the kernel's view$/);
    }
  });

  it('a bus that refuses the subscription is dropped and retried, and the backoff still grows', async () => {
    const clock = new FakeClock();
    const bus = await scriptedBus((call) =>
      call.member === 'Hello'
        ? [reply(call, 's', [':1.5'])]
        : [from('org.freedesktop.DBus', { type: MESSAGE_TYPE.ERROR, replySerial: call.serial, errorName: 'org.freedesktop.DBus.Error.AccessDenied', signature: 's', body: ['no'] })],
    );
    const logs: string[] = [];
    const watcher = await watchNetworkManager({ address: bus.address, clock, log: (_level, message) => logs.push(message) });
    watches.push(watcher);
    const delays: number[] = [];
    for (let attempt = 0; attempt < 4; attempt++) {
      await waitFor(() => clock.nextDue() !== undefined, 2_000, 'a retry');
      const due = clock.nextDue() as number;
      delays.push(due - clock.now());
      await clock.advance(due - clock.now());
    }
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000]);
    expect(watcher.current()).toBeNull();
    expect(bus.calls.filter((member) => member === 'Hello')).toHaveLength(5); // the first and four retries
    expect(logs[0]).toBe('the system bus did not answer the NetworkManager subscription; reconnecting');
  });
});
