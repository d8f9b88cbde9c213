import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type BitsServer, type FaultPlan, parseFaultPlan, startBitsServer } from '../../src/server/index.js';
import { FaultQueue } from '../../src/server/faults.js';
import { BitsClient, PROTOCOL, randomBytes, RawClient, tempDir } from './helpers.js';

let dir: { path: string; remove: () => Promise<void> };
let server: BitsServer;
let bits: BitsClient;
const raws: RawClient[] = [];

async function raw(): Promise<RawClient> {
  const c = await RawClient.connect(server.port);
  raws.push(c);
  return c;
}

function packet(type: string, path: string, headers: Record<string, string>, body = ''): string {
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  return `BITS_POST ${path} HTTP/1.1\r\nHost: x\r\nBITS-Packet-Type: ${type}\r\n${lines}Content-Length: ${Buffer.byteLength(body, 'latin1')}\r\n\r\n${body}`;
}

beforeEach(async () => {
  dir = await tempDir('faults');
  server = await startBitsServer({ root: dir.path, idleTimeoutMs: 20_000 });
  bits = new BitsClient(server.url);
});

afterEach(async () => {
  for (const c of raws.splice(0)) c.destroy();
  await bits.close();
  await server.close();
  await dir.remove();
});

describe('fault plans', () => {
  it('the first 3 Cancel-Session packets get 503, then they succeed', async () => {
    const session = await bits.create('/a');
    server.setFaults({ 'cancel-session': [{ kind: 'status', status: 503, times: 3 }] });
    expect(server.pendingFaults('cancel-session')).toBe(3);
    for (let i = 0; i < 3; i++) {
      const ack = await bits.post('/a', 'Cancel-Session', { 'BITS-Session-Id': session });
      expect(ack.status).toBe(503);
      expect(ack.headers['bits-error-code']).toBe('0x801901F7');
      expect(ack.headers['bits-error-context']).toBe('0x5');
      expect(ack.headers['bits-packet-type']).toBe('Ack');
    }
    expect((await bits.post('/a', 'Cancel-Session', { 'BITS-Session-Id': session })).status).toBe(200);
    expect(server.stats.sessionsCancelled).toBe(1);
    expect(server.packets.filter((p) => p.kind === 'cancel-session').map((p) => p.outcome)).toEqual([503, 503, 503, 200]);
  });

  it('every Cancel-Session gets 503 forever, with a chosen error code', async () => {
    const session = await bits.create('/a');
    server.setFaults({
      'cancel-session': [{ kind: 'status', status: 503, times: 'forever', errorCode: 'BG_E_SESSION_NOT_FOUND', errorContext: 7 }],
    });
    for (let i = 0; i < 5; i++) {
      const ack = await bits.post('/a', 'Cancel-Session', { 'BITS-Session-Id': session });
      expect(ack.status).toBe(503);
      expect(ack.headers['bits-error-code']).toBe('0x8020001F');
      expect(ack.headers['bits-error-context']).toBe('0x7');
    }
    expect(server.pendingFaults('cancel-session')).toBe(Number.POSITIVE_INFINITY);
    expect(server.sessions()).toHaveLength(1);
  });

  it('status with apply: the fragment is stored but the Ack says 500', async () => {
    const session = await bits.create('/s');
    server.setFaults({ fragment: [{ kind: 'status', status: 500, apply: true }] });
    const ack = await bits.fragment('/s', session, Buffer.from('hello'), 0, 10);
    expect(ack.status).toBe(500);
    expect(ack.headers['bits-received-content-range']).toBe('5');
    expect(server.sessions()[0]?.received).toBe(5);
  });

  it('resets the connection mid-body after N bytes; those bytes are kept (store)', async () => {
    const data = randomBytes(1000);
    const session = await bits.create('/r');
    server.setFaults({ fragment: [{ kind: 'reset', afterBodyBytes: 300 }] });
    await expect(bits.fragment('/r', session, data, 0, 1000)).rejects.toThrow();
    expect(server.sessions()[0]?.received).toBe(300);
    expect(server.packets.at(-1)?.outcome).toBe('reset');
    // The client retries the whole fragment: the server trims the overlap.
    const ack = await bits.fragment('/r', session, data, 0, 1000);
    expect(ack.headers['bits-received-content-range']).toBe('1000');
    expect((await readFile(join(dir.path, 'r'))).equals(data)).toBe(true);
  });

  it('resets without storing when store is false, and resets body-less packets at once', async () => {
    const session = await bits.create('/r');
    server.setFaults({ fragment: [{ kind: 'reset', afterBodyBytes: 3, store: false }], ping: [{ kind: 'reset' }] });
    await expect(bits.fragment('/r', session, Buffer.from('abcdef'), 0, 6)).rejects.toThrow();
    expect(server.sessions()[0]?.received).toBe(0);
    await expect(bits.post('/r', 'Ping')).rejects.toThrow();
    expect((await bits.post('/r', 'Ping')).status).toBe(200);
  });

  it('drop-ack: the packet is served, the Ack is lost', async () => {
    const session = await bits.create('/d');
    server.setFaults({ 'close-session': [{ kind: 'drop-ack' }] });
    await expect(bits.post('/d', 'Close-Session', { 'BITS-Session-Id': session })).rejects.toThrow();
    expect(server.sessions()).toEqual([]);
    const retry = await bits.post('/d', 'Close-Session', { 'BITS-Session-Id': session });
    expect(retry.headers['bits-error-code']).toBe('0x8020001F');
  });

  it('stall: the request is read but never answered', async () => {
    server.setFaults({ 'create-session': [{ kind: 'stall' }] });
    const c = await raw();
    c.write(packet('Create-Session', '/st', { 'BITS-Supported-Protocols': PROTOCOL }));
    expect(await c.staysSilent(300)).toBe(true);
    expect(server.packets.at(-1)?.outcome).toBe('stalled');
    expect(server.stats.sessionsCreated).toBe(0);
  });

  it('stall with delayMs: answered after the delay', async () => {
    server.setFaults({ ping: [{ kind: 'stall', delayMs: 250 }] });
    const started = Date.now();
    expect((await bits.post('/p', 'Ping')).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(240);
  });

  it('received-range: lower, higher or garbage BITS-Received-Content-Range', async () => {
    const session = await bits.create('/w');
    server.setFaults({
      fragment: [
        { kind: 'received-range', delta: -2 },
        { kind: 'received-range', delta: 3 },
        { kind: 'received-range', value: 'banana' },
      ],
    });
    expect((await bits.fragment('/w', session, Buffer.from('abcd'), 0, 20)).headers['bits-received-content-range']).toBe('2');
    expect((await bits.fragment('/w', session, Buffer.from('efgh'), 4, 20)).headers['bits-received-content-range']).toBe('11');
    expect((await bits.fragment('/w', session, Buffer.from('ijkl'), 8, 20)).headers['bits-received-content-range']).toBe('banana');
    expect((await bits.fragment('/w', session, Buffer.from('mnop'), 12, 20)).headers['bits-received-content-range']).toBe('16');
  });

  it('omit-header: a required header is missing; without Content-Length the connection closes', async () => {
    const session = await bits.create('/o');
    server.setFaults({
      fragment: [{ kind: 'omit-header', header: 'BITS-Received-Content-Range' }],
      'close-session': [{ kind: 'omit-header', header: 'Content-Length' }],
    });
    const ack = await bits.fragment('/o', session, Buffer.from('ab'), 0, 4);
    expect(ack.status).toBe(200);
    expect(ack.headers['bits-received-content-range']).toBeUndefined();
    const c = await raw();
    c.write(packet('Close-Session', '/o', { 'BITS-Session-Id': session }));
    await c.waitClosed();
    const res = await c.readResponse();
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBeUndefined();
    expect(res.headers['connection']).toBe('close');
  });

  it('replyDelayMs: the final fragment Ack (with BITS-Reply-URL) waits', async () => {
    await bits.close();
    await server.close();
    server = await startBitsServer({
      root: dir.path,
      replyHandler: async () => ({ body: 'reply' }),
      faults: { replyDelayMs: 300 },
    });
    bits = new BitsClient(server.url);
    const session = await bits.create('/rd');
    const first = Date.now();
    await bits.fragment('/rd', session, Buffer.from('ab'), 0, 4);
    expect(Date.now() - first).toBeLessThan(250);
    const started = Date.now();
    const ack = await bits.fragment('/rd', session, Buffer.from('cd'), 2, 4);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    const reply = await request(ack.headers['bits-reply-url'] ?? '');
    expect(await reply.body.text()).toBe('reply');
  });

  it('get faults: status, and a reset after N body bytes', async () => {
    await bits.upload('/file', Buffer.from('0123456789'), 10);
    server.setFaults({ get: [{ kind: 'status', status: 503 }, { kind: 'reset', afterBodyBytes: 4 }] });
    const busy = await request(`${server.url}/file`);
    expect(busy.statusCode).toBe(503);
    await busy.body.dump();
    const c = await raw();
    c.write('GET /file HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.waitClosed();
    expect(c.unread.toString('latin1')).toMatch(/\r\n\r\n0123$/);
    expect(server.requests.map((r) => r.outcome)).toEqual([503, 'reset']);
  });

  it('logs what the server received', async () => {
    const session = await bits.create('/log');
    await bits.fragment('/log', session, Buffer.from('abc'), 0, 3);
    const [create, fragment] = server.packets;
    expect(create?.packetType).toBe('Create-Session');
    expect(create?.answeredSessionId).toBe(session);
    expect(create?.headers['bits-supported-protocols']).toBe(PROTOCOL);
    expect(fragment?.sessionId).toBe(session);
    expect(fragment?.contentRange).toBe('bytes 0-2/3');
    expect(fragment?.range).toEqual({ kind: 'range', first: 0, last: 2, total: 3 });
    expect(fragment?.contentLength).toBe(3);
    expect(fragment?.outcome).toBe(200);
    server.clearLog();
    expect(server.packets).toEqual([]);
    expect(server.stats.sessionsCompleted).toBe(0);
  });
});

describe('parseFaultPlan / FaultQueue', () => {
  it.each([
    [[], 'must be an object'],
    [{ nope: [] }, 'unknown fault target'],
    [{ ping: {} }, 'must be an array'],
    [{ ping: [{ kind: 'explode' }] }, 'kind must be one of'],
    [{ ping: [{ kind: 'status', status: 99 }] }, 'status'],
    [{ ping: [{ kind: 'status', status: 500, errorCode: 'NOT_A_CODE' }] }, 'bad error code'],
    [{ ping: [{ kind: 'status', status: 500, times: 0 }] }, 'times'],
    [{ fragment: [{ kind: 'received-range' }] }, 'exactly one of'],
    [{ replyDelayMs: -1 }, 'replyDelayMs'],
    [{ fragment: [{ kind: 'close', announce: 'yes' }] }, 'announce must be a boolean'],
  ])('refuses %j', (plan, message) => {
    expect(() => parseFaultPlan(plan)).toThrow(message);
  });

  it('accepts a JSON plan and consumes rules in order', () => {
    const plan: FaultPlan = parseFaultPlan(
      JSON.parse('{"fragment":[{"kind":"status","status":503,"times":2,"errorCode":"0x80070057"},{"kind":"drop-ack"}],"replyDelayMs":5}'),
    );
    const queue = new FaultQueue(plan);
    expect(queue.replyDelayMs).toBe(5);
    expect(queue.take('fragment')?.kind).toBe('status');
    expect(queue.take('fragment')?.kind).toBe('status');
    expect(queue.take('fragment')?.kind).toBe('drop-ack');
    expect(queue.take('fragment')).toBeUndefined();
    expect(queue.take('ping')).toBeUndefined();
  });
});
