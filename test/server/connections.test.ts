/**
 * Connection identity in the server's logs (which TCP connection each request came over), and
 * the `close` fault: a server ending a kept-alive connection after an answer, announced with
 * Connection: close or as a bare FIN.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type BitsServer, startBitsServer } from '../../src/server/index.js';
import { PROTOCOL, RawClient, tempDir } from './helpers.js';

let dir: { path: string; remove: () => Promise<void> };
let server: BitsServer;
const raws: RawClient[] = [];

async function raw(): Promise<RawClient> {
  const c = await RawClient.connect(server.port);
  raws.push(c);
  return c;
}

function packet(type: string, path: string, headers: Record<string, string> = {}): string {
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  return `BITS_POST ${path} HTTP/1.1\r\nHost: x\r\nBITS-Packet-Type: ${type}\r\n${lines}Content-Length: 0\r\n\r\n`;
}

beforeEach(async () => {
  dir = await tempDir('connections');
  server = await startBitsServer({ root: dir.path, idleTimeoutMs: 20_000 });
});

afterEach(async () => {
  for (const c of raws.splice(0)) c.destroy();
  await server.close();
  await dir.remove();
});

describe('connection identity in the logs', () => {
  it('packets and other requests name their connection (numbered from 1) and the client port', async () => {
    const a = await raw();
    const b = await raw();
    a.write(packet('Ping', '/x'));
    expect((await a.readResponse()).status).toBe(200);
    b.write(packet('Ping', '/x'));
    expect((await b.readResponse()).status).toBe(200);
    a.write('GET /missing HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await a.readResponse()).status).toBe(404);
    a.write(packet('Ping', '/x'));
    expect((await a.readResponse()).status).toBe(200);

    const [p1, p2, p3] = server.packets;
    expect(p1).toMatchObject({ connection: 1, remotePort: a.socket.localPort });
    expect(p2).toMatchObject({ connection: 2, remotePort: b.socket.localPort });
    expect(p3).toMatchObject({ connection: 1, remotePort: a.socket.localPort });
    expect(server.requests[0]).toMatchObject({ method: 'GET', connection: 1, remotePort: a.socket.localPort });
  });
});

describe('the close fault', () => {
  it('default: the answer says Connection: close, then the server closes the connection', async () => {
    server.setFaults({ 'create-session': [{ kind: 'close' }] });
    const c = await raw();
    c.write(packet('Create-Session', '/up/a', { 'BITS-Supported-Protocols': PROTOCOL }));
    const ack = await c.readResponse();
    // Served normally: the session exists.
    expect(ack.status).toBe(201);
    expect(ack.headers['connection']).toBe('close');
    expect(server.sessions()).toHaveLength(1);
    await c.waitClosed();
    expect(server.packets[0]?.fault).toBe(JSON.stringify({ kind: 'close' }));
    // The next connection is served normally.
    const d = await raw();
    d.write(packet('Ping', '/up/a'));
    expect((await d.readResponse()).headers['connection']).toBeUndefined();
    expect(await d.staysSilent(100)).toBe(true);
  });

  it('announce: false: no Connection header, but the server closes all the same (a bare FIN)', async () => {
    server.setFaults({ ping: [{ kind: 'close', announce: false }] });
    const c = await raw();
    c.write(packet('Ping', '/x'));
    const ack = await c.readResponse();
    expect(ack.status).toBe(200);
    expect(ack.headers['connection']).toBeUndefined();
    await c.waitClosed();
  });

  it('applies to GET too', async () => {
    server.setFaults({ get: [{ kind: 'close' }] });
    const c = await raw();
    c.write('GET /missing HTTP/1.1\r\nHost: x\r\n\r\n');
    const res = await c.readResponse();
    expect(res.status).toBe(404);
    expect(res.headers['connection']).toBe('close');
    await c.waitClosed();
  });
});
