import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type BitsServer, type BitsServerOptions, startBitsServer } from '../../src/server/index.js';
import { BitsClient, PROTOCOL, randomBytes, RawClient, tempDir } from './helpers.js';

let dir: { path: string; remove: () => Promise<void> };
let server: BitsServer;
let bits: BitsClient;

async function restart(options: Partial<BitsServerOptions>): Promise<void> {
  await bits.close();
  await server.close();
  server = await startBitsServer({ root: dir.path, port: 0, ...options });
  bits = new BitsClient(server.url);
}

beforeEach(async () => {
  dir = await tempDir('upload');
  server = await startBitsServer({ root: dir.path, port: 0 });
  bits = new BitsClient(server.url);
});

afterEach(async () => {
  await bits.close();
  await server.close();
  await dir.remove();
});

async function stagedFiles(): Promise<string[]> {
  return existsSync(server.stagingDir) ? readdir(server.stagingDir) : [];
}

describe('BITS upload sessions', () => {
  it('uploads under /__sink/ are acknowledged in full but never stored (benchmarks)', async () => {
    const data = randomBytes(200_000);
    const create = await bits.post('/__sink/big.bin', 'Create-Session', { 'BITS-Supported-Protocols': PROTOCOL });
    const session = create.headers['bits-session-id'] ?? '';
    const first = await bits.fragment('/__sink/big.bin', session, data.subarray(0, 120_000), 0, data.length);
    expect(first.headers['bits-received-content-range']).toBe('120000');
    // Overlap is trimmed exactly as for stored uploads.
    const second = await bits.fragment('/__sink/big.bin', session, data.subarray(100_000), 100_000, data.length);
    expect(second.status).toBe(200);
    expect(second.headers['bits-received-content-range']).toBe('200000');
    expect(server.stats.sessionsCompleted).toBe(1);
    expect(existsSync(join(dir.path, '__sink'))).toBe(false);
    expect(await stagedFiles()).toEqual([]);
  });

  it('Ping answers an Ack with Content-Length', async () => {
    const ack = await bits.post('/x', 'PING');
    expect(ack.status).toBe(200);
    expect(ack.headers['bits-packet-type']).toBe('Ack');
    expect(ack.headers['content-length']).toBe('0');
    expect(ack.headers['bits-error-code']).toBeUndefined();
  });

  it('runs a full session: Create 201, fragments, file renamed into place byte-identical', async () => {
    const data = randomBytes(300_000);
    const create = await bits.post('/dir/sub/file.bin', 'Create-Session', { 'BITS-Supported-Protocols': `{AAAA} ${PROTOCOL.toUpperCase()}` });
    expect(create.status).toBe(201);
    expect(create.headers['bits-protocol']).toBe(PROTOCOL.toUpperCase());
    expect(create.headers['accept-encoding']).toBe('Identity');
    const session = create.headers['bits-session-id'] ?? '';
    expect(session).toMatch(/^\{[0-9A-F-]{36}\}$/);
    expect(create.headers['bits-host-id']).toBeUndefined();

    const sizes = [100_000, 150_000, 50_000];
    let offset = 0;
    for (const size of sizes) {
      const ack = await bits.fragment('/dir/sub/file.bin', session, data.subarray(offset, offset + size), offset, data.length);
      offset += size;
      expect(ack.status).toBe(200);
      expect(ack.headers['bits-received-content-range']).toBe(String(offset));
      expect(ack.headers['bits-session-id']).toBe(session);
      expect(ack.headers['bits-reply-url']).toBeUndefined();
      expect(existsSync(join(dir.path, 'dir/sub/file.bin'))).toBe(offset === data.length);
    }
    expect((await readFile(join(dir.path, 'dir/sub/file.bin'))).equals(data)).toBe(true);
    expect(server.stats.sessionsCompleted).toBe(1);
    expect(server.stats.completedUploads).toEqual(['dir/sub/file.bin']);

    const close = await bits.post('/dir/sub/file.bin', 'Close-Session', { 'BITS-Session-Id': session });
    expect(close.status).toBe(200);
    expect(server.sessions()).toEqual([]);
    expect(await stagedFiles()).toEqual([]);
    expect(server.packets.map((p) => p.kind)).toEqual(['create-session', 'fragment', 'fragment', 'fragment', 'close-session']);
    expect(server.packets[2]?.range).toEqual({ kind: 'range', first: 100_000, last: 249_999, total: 300_000 });
  });

  it('accepts the packet type and protocol GUID in any case, comma separated', async () => {
    const ack = await bits.post('/a', 'create-session', { 'BITS-Supported-Protocols': `{x},${PROTOCOL}` });
    expect(ack.status).toBe(201);
  });

  it('uploads a 1-byte file', async () => {
    const { last } = await bits.upload('/one', Buffer.from('Z'), 10);
    expect(last.headers['bits-received-content-range']).toBe('1');
    expect(await readFile(join(dir.path, 'one'), 'utf8')).toBe('Z');
  });

  it('uploads a 0-byte file with Content-Range: bytes */0', async () => {
    const session = await bits.create('/empty');
    const ack = await bits.post('/empty', 'Fragment', { 'BITS-Session-Id': session, 'Content-Range': 'bytes */0' }, Buffer.alloc(0));
    expect(ack.status).toBe(200);
    expect(ack.headers['bits-received-content-range']).toBe('0');
    expect(await readFile(join(dir.path, 'empty'))).toEqual(Buffer.alloc(0));
    expect(server.stats.sessionsCompleted).toBe(1);
    const bad = await bits.post('/empty2', 'Fragment', { 'BITS-Session-Id': await bits.create('/empty2'), 'Content-Range': 'bytes */5' }, Buffer.alloc(0));
    expect(bad.status).toBe(400);
  });

  it('refuses Create-Session without the BITS 1.5 protocol: 400 + 0x80070057, context 0x5', async () => {
    for (const headers of [{}, { 'BITS-Supported-Protocols': '{11111111-249b-430f-820d-3d2a9bef4931}' }]) {
      const ack = await bits.post('/a', 'Create-Session', headers);
      expect(ack.status).toBe(400);
      expect(ack.headers['bits-error-code']).toBe('0x80070057');
      expect(ack.headers['bits-error-context']).toBe('0x5');
      expect(ack.headers['bits-packet-type']).toBe('Ack');
    }
  });

  it('answers an unknown packet type with 400', async () => {
    const ack = await bits.post('/a', 'Bogus');
    expect(ack.status).toBe(400);
    expect(ack.headers['bits-error-code']).toBe('0x80070057');
  });

  it('answers unknown sessions with 500 + BG_E_SESSION_NOT_FOUND for every packet', async () => {
    const id = '{00000000-0000-0000-0000-000000000000}';
    const fragment = await bits.fragment('/a', id, Buffer.from('abc'), 0, 3);
    const close = await bits.post('/a', 'Close-Session', { 'BITS-Session-Id': id });
    const cancel = await bits.post('/a', 'Cancel-Session', { 'BITS-Session-Id': id });
    for (const ack of [fragment, close, cancel]) {
      expect(ack.status).toBe(500);
      expect(ack.headers['bits-error-code']).toBe('0x8020001F');
      expect(ack.headers['bits-error-context']).toBe('0x5');
    }
  });

  it('answers a gap with 416 and BITS-Received-Content-Range', async () => {
    const data = randomBytes(100);
    const session = await bits.create('/gap');
    await bits.fragment('/gap', session, data.subarray(0, 40), 0, 100);
    const ack = await bits.fragment('/gap', session, data.subarray(60), 60, 100);
    expect(ack.status).toBe(416);
    expect(ack.headers['bits-received-content-range']).toBe('40');
    expect(ack.headers['bits-error-code']).toBe('0x801901A0');
    const rest = await bits.fragment('/gap', session, data.subarray(40), 40, 100);
    expect(rest.headers['bits-received-content-range']).toBe('100');
    expect(await readFile(join(dir.path, 'gap'))).toEqual(data);
  });

  it('trims overlaps: only the new tail is written, held bytes are never rewritten', async () => {
    const data = randomBytes(150);
    const session = await bits.create('/ov');
    await bits.fragment('/ov', session, data.subarray(0, 101), 0, 150);
    // The overlapping part carries different bytes: if the server rewrote it, the file would differ.
    const overlap = Buffer.concat([Buffer.alloc(51, 0xee), data.subarray(101)]);
    const ack = await bits.fragment('/ov', session, overlap, 50, 150);
    expect(ack.headers['bits-received-content-range']).toBe('150');
    expect(await readFile(join(dir.path, 'ov'))).toEqual(data);
    expect(server.stats.bytesStored).toBe(150);
  });

  it('answers a fully held fragment with 200 and the current offset', async () => {
    const session = await bits.create('/held');
    await bits.fragment('/held', session, Buffer.from('abcdef'), 0, 10);
    const ack = await bits.fragment('/held', session, Buffer.from('bcd'), 1, 10);
    expect(ack.status).toBe(200);
    expect(ack.headers['bits-received-content-range']).toBe('6');
  });

  it('answers a retried final fragment after completion with 200 and the total', async () => {
    const { session } = await bits.upload('/again', Buffer.from('hello'), 5);
    const ack = await bits.fragment('/again', session, Buffer.from('hello'), 0, 5);
    expect(ack.status).toBe(200);
    expect(ack.headers['bits-received-content-range']).toBe('5');
    expect(server.stats.sessionsCompleted).toBe(1);
  });

  it.each([
    ['garbage', 'bytes=0-4/5'],
    ['last < first', 'bytes 4-0/5'],
    ['last >= total', 'bytes 0-5/5'],
    ['wrong length', 'bytes 0-3/5'],
  ])('refuses a malformed Content-Range (%s) with 400 + 0x80070057', async (_name, range) => {
    const session = await bits.create('/bad');
    const ack = await bits.post('/bad', 'Fragment', { 'BITS-Session-Id': session, 'Content-Range': range }, Buffer.from('hello'));
    expect(ack.status).toBe(400);
    expect(ack.headers['bits-error-code']).toBe('0x80070057');
    expect(ack.headers['bits-error-context']).toBe('0x5');
  });

  it('refuses a total that differs from the session with 400', async () => {
    const session = await bits.create('/tot');
    await bits.fragment('/tot', session, Buffer.from('ab'), 0, 10);
    const ack = await bits.fragment('/tot', session, Buffer.from('cd'), 2, 11);
    expect(ack.status).toBe(400);
  });

  it('refuses a Fragment without Content-Length with 411', async () => {
    const session = await bits.create('/nolen');
    const c = await RawClient.connect(server.port);
    try {
      c.write(`BITS_POST /nolen HTTP/1.1\r\nHost: x\r\nBITS-Packet-Type: Fragment\r\nBITS-Session-Id: ${session}\r\nContent-Range: bytes 0-1/2\r\n\r\n`);
      const res = await c.readResponse();
      expect(res.status).toBe(411);
      expect(res.headers['bits-error-code']).toBe('0x80070057');
    } finally {
      c.destroy();
    }
  });

  it('refuses a body on a packet that has none', async () => {
    const ack = await bits.post('/a', 'Ping', {}, Buffer.from('x'));
    expect(ack.status).toBe(400);
  });

  it('Cancel-Session deletes the temp file and the session', async () => {
    const session = await bits.create('/c');
    await bits.fragment('/c', session, Buffer.from('abc'), 0, 10);
    expect(await stagedFiles()).toHaveLength(1);
    const ack = await bits.post('/c', 'Cancel-Session', { 'BITS-Session-Id': session });
    expect(ack.status).toBe(200);
    expect(ack.headers['bits-session-id']).toBe(session);
    expect(await stagedFiles()).toEqual([]);
    expect(existsSync(join(dir.path, 'c'))).toBe(false);
    expect((await bits.fragment('/c', session, Buffer.from('d'), 3, 10)).headers['bits-error-code']).toBe('0x8020001F');
  });

  it('Cancel-Session after completion leaves the file in place', async () => {
    const { session } = await bits.upload('/kept', Buffer.from('data'), 4);
    const ack = await bits.post('/kept', 'Cancel-Session', { 'BITS-Session-Id': session });
    expect(ack.status).toBe(200);
    expect(await readFile(join(dir.path, 'kept'), 'utf8')).toBe('data');
    expect(server.stats.sessionsCancelled).toBe(1);
  });

  it('Close-Session before completion deletes the partial upload', async () => {
    const session = await bits.create('/partial');
    await bits.fragment('/partial', session, Buffer.from('abc'), 0, 10);
    const ack = await bits.post('/partial', 'Close-Session', { 'BITS-Session-Id': session });
    expect(ack.status).toBe(200);
    expect(await stagedFiles()).toEqual([]);
    expect(existsSync(join(dir.path, 'partial'))).toBe(false);
  });

  it.each([
    ['/../escape'],
    ['/a/%2e%2e/%2e%2e/escape'],
    ['/a%2f..%2f..%2fescape'],
    ['/a%00b'],
    ['/a%zz'],
    ['/'],
  ])('refuses the escaping path %s with 400', async (path) => {
    const c = await RawClient.connect(server.port);
    try {
      c.write(`BITS_POST ${path} HTTP/1.1\r\nHost: x\r\nBITS-Packet-Type: Create-Session\r\nBITS-Supported-Protocols: ${PROTOCOL}\r\nContent-Length: 0\r\n\r\n`);
      const res = await c.readResponse();
      expect(res.status).toBe(400);
      expect(res.headers['bits-error-code']).toBe('0x80070057');
    } finally {
      c.destroy();
    }
    expect(server.stats.sessionsCreated).toBe(0);
  });

  it('refuses uploads into the staging directory', async () => {
    const name = server.stagingDir.slice(dir.path.length + 1);
    const ack = await bits.post(`/${name}/x`, 'Create-Session', { 'BITS-Supported-Protocols': PROTOCOL });
    expect(ack.status).toBe(400);
  });

  it('answers 409 for an existing file when overwrites are off', async () => {
    await restart({ allowOverwrite: false });
    await writeFile(join(dir.path, 'exists'), 'x');
    const ack = await bits.post('/exists', 'Create-Session', { 'BITS-Supported-Protocols': PROTOCOL });
    expect(ack.status).toBe(409);
    expect(ack.headers['bits-error-code']).toBe('0x80070050');
  });

  it('sends BITS-Host-Id and its fallback timeout when configured', async () => {
    await restart({ hostId: 'farm-node-7', hostIdFallbackTimeoutSec: 86400 });
    const ack = await bits.post('/h', 'Create-Session', { 'BITS-Supported-Protocols': PROTOCOL });
    expect(ack.headers['bits-host-id']).toBe('farm-node-7');
    expect(ack.headers['bits-host-id-fallback-timeout']).toBe('86400');
  });

  it('answers a file over maxUploadSize with 500 + BG_E_TOO_LARGE, a fragment over maxFragmentSize with 413', async () => {
    await restart({ maxUploadSize: 100, maxFragmentSize: 10 });
    const session = await bits.create('/big');
    const tooLarge = await bits.fragment('/big', session, Buffer.alloc(5), 0, 101);
    expect(tooLarge.status).toBe(500);
    expect(tooLarge.headers['bits-error-code']).toBe('0x80200020');
    const fragmentTooLarge = await bits.fragment('/big', session, Buffer.alloc(11), 0, 100);
    expect(fragmentTooLarge.status).toBe(413);
    expect(fragmentTooLarge.headers['bits-error-code']).toBe('0x8019019D');
    expect((await bits.fragment('/big', session, Buffer.alloc(10), 0, 100)).status).toBe(200);
  });

  it('serves the upload reply at BITS-Reply-URL until Close-Session', async () => {
    const seen: Array<[string, string]> = [];
    await restart({
      replyHandler: async (uploadedPath, requestPath) => {
        seen.push([uploadedPath, requestPath]);
        if (requestPath.startsWith('/plain')) return null;
        return { body: `got ${(await readFile(uploadedPath)).length} bytes`, contentType: 'text/plain' };
      },
    });
    const { session, last } = await bits.upload('/rpc/call%201', randomBytes(1000), 400);
    const replyUrl = last.headers['bits-reply-url'] ?? '';
    expect(replyUrl).toMatch(new RegExp(`^${server.url}/__bits-reply/[0-9a-f]{32}$`));
    expect(seen).toEqual([[join(dir.path, 'rpc/call 1'), '/rpc/call 1']]);
    const reply = await request(replyUrl);
    expect(reply.statusCode).toBe(200);
    expect(reply.headers['content-type']).toBe('text/plain');
    expect(await reply.body.text()).toBe('got 1000 bytes');
    const ranged = await request(replyUrl, { headers: { Range: 'bytes=4-' } });
    expect(ranged.statusCode).toBe(206);
    expect(await ranged.body.text()).toBe('1000 bytes');

    await bits.post('/rpc/call%201', 'Close-Session', { 'BITS-Session-Id': session });
    const gone = await request(replyUrl);
    expect(gone.statusCode).toBe(404);
    await gone.body.dump();
    expect(await stagedFiles()).toEqual([]);

    const plain = await bits.upload('/plain', Buffer.from('x'), 1);
    expect(plain.last.headers['bits-reply-url']).toBeUndefined();
  });

  it('answers 500 with context 0x7 when the reply handler fails', async () => {
    await restart({
      replyHandler: async () => {
        throw new Error('application down');
      },
    });
    const session = await bits.create('/app');
    const ack = await bits.fragment('/app', session, Buffer.from('x'), 0, 1);
    expect(ack.status).toBe(500);
    expect(ack.headers['bits-error-context']).toBe('0x7');
    expect(existsSync(join(dir.path, 'app'))).toBe(true);
  });

  it('counts bytes swallowed by the /__sink route', async () => {
    const res = await request(`${server.url}/__sink`, { method: 'PUT', body: Buffer.alloc(123_456) });
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-sink-bytes']).toBe('123456');
    expect(await res.body.text()).toBe('123456\n');
    expect(server.stats.sinkBytes).toBe(123_456);
  });

  it('refuses other methods with 405', async () => {
    const res = await request(`${server.url}/x`, { method: 'DELETE' });
    expect(res.statusCode).toBe(405);
    await res.body.dump();
  });

  it('keeps a session across connections and deletes staged files on close', async () => {
    const session = await bits.create('/multi');
    await bits.fragment('/multi', session, Buffer.from('ab'), 0, 4);
    const other = new BitsClient(server.url);
    try {
      const ack = await other.fragment('/multi', session, Buffer.from('cd'), 2, 4);
      expect(ack.headers['bits-received-content-range']).toBe('4');
    } finally {
      await other.close();
    }
    const open = await bits.create('/left-open');
    await bits.fragment('/left-open', open, Buffer.from('ab'), 0, 4);
    await server.close();
    expect(existsSync(server.stagingDir)).toBe(false);
  });
});
