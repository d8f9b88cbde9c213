import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { IncomingRequest } from '../../src/server/http-connection.js';
import type { ResponseWriter } from '../../src/server/http-response.js';
import { type HttpListener, listenHttp } from '../../src/server/http-server.js';
import { RawClient } from './helpers.js';

/** Echo handler: answers with method, target and the body length it read (slowly, when asked). */
async function echo(req: IncomingRequest, res: ResponseWriter): Promise<void> {
  let bytes = 0;
  const slow = req.headers.get('x-slow') !== undefined;
  for await (const chunk of req.body as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (slow) await new Promise((r) => setTimeout(r, 1));
  }
  res.send(200, { 'Content-Type': 'text/plain', 'X-Method': req.method }, `${req.method} ${req.target} ${bytes}`);
}

let server: HttpListener;
const clients: RawClient[] = [];

async function client(): Promise<RawClient> {
  const c = await RawClient.connect(server.port);
  clients.push(c);
  return c;
}

beforeEach(async () => {
  server = await listenHttp({ host: '127.0.0.1', port: 0, handler: echo, idleTimeoutMs: 10_000 });
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await server.close();
});

describe('HTTP connection handling', () => {
  it('serves several requests on one keep-alive connection', async () => {
    const c = await client();
    for (let i = 0; i < 3; i++) {
      c.write(`PUT /r${i} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello`);
      const res = await c.readResponse();
      expect(res.status).toBe(200);
      expect(res.body.toString()).toBe(`PUT /r${i} 5`);
      expect(res.headers['connection']).toBeUndefined();
    }
    expect(c.closed).toBe(false);
  });

  it('answers pipelined requests in order', async () => {
    const c = await client();
    c.write(
      'PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc' +
        'GET /b HTTP/1.1\r\nHost: x\r\n\r\n' +
        'BITS_POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nz',
    );
    expect((await c.readResponse()).body.toString()).toBe('PUT /a 3');
    expect((await c.readResponse()).body.toString()).toBe('GET /b 0');
    expect((await c.readResponse()).body.toString()).toBe('BITS_POST /c 1');
  });

  it('assembles a request arriving byte by byte', async () => {
    const c = await client();
    const bytes = Buffer.from('BITS_POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nwxyz');
    for (let i = 0; i < bytes.length; i++) {
      c.write(bytes.subarray(i, i + 1));
      await new Promise((r) => setImmediate(r));
    }
    expect((await c.readResponse()).body.toString()).toBe('BITS_POST /x 4');
  });

  it('honours Connection: close and HTTP/1.0', async () => {
    const c = await client();
    c.write('GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const res = await c.readResponse();
    expect(res.headers['connection']).toBe('close');
    await c.waitClosed();
    const d = await client();
    d.write('GET /a HTTP/1.0\r\n\r\n');
    expect((await d.readResponse()).status).toBe(200);
    await d.waitClosed();
  });

  it('streams a large body with backpressure (never buffered whole)', async () => {
    const c = await client();
    const size = 8 * 1024 * 1024;
    c.write(`PUT /big HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\nContent-Length: ${size}\r\n\r\n`);
    const chunk = Buffer.alloc(256 * 1024, 7);
    for (let sent = 0; sent < size; sent += chunk.length) {
      if (!c.socket.write(chunk)) await new Promise((r) => c.socket.once('drain', r));
    }
    const res = await c.readResponse({ timeoutMs: 20_000 });
    expect(res.body.toString()).toBe(`PUT /big ${size}`);
  });

  it.each([
    ['garbage', 'hello\r\n\r\n', 400],
    ['bare LF', 'GET / HTTP/1.1\nHost: x\n\n', 400],
    ['missing Host', 'GET / HTTP/1.1\r\n\r\n', 400],
    ['bad Content-Length', 'PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n', 400],
    ['chunked body', 'PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 501],
    ['HTTP/2.0', 'GET / HTTP/2.0\r\nHost: x\r\n\r\n', 505],
    ['too many headers', `GET / HTTP/1.1\r\nHost: x\r\n${'A: b\r\n'.repeat(120)}\r\n`, 431],
    ['huge head', `GET / HTTP/1.1\r\nHost: x\r\n${'A: b\r\n'.repeat(90)}B: ${'x'.repeat(17000)}\r\n\r\n`, 431],
  ])('answers %s with its error status and closes', async (_name, request, status) => {
    const c = await client();
    c.write(request);
    const res = await c.readResponse();
    expect(res.status).toBe(status);
    expect(res.headers['connection']).toBe('close');
    await c.waitClosed();
  });

  it('answers a malformed request after a good one on the same connection, then closes', async () => {
    const c = await client();
    c.write('GET /ok HTTP/1.1\r\nHost: x\r\n\r\nNOT HTTP\r\n\r\n');
    expect((await c.readResponse()).status).toBe(200);
    expect((await c.readResponse()).status).toBe(400);
    await c.waitClosed();
  });

  it('sends 100 Continue for Expect: 100-continue', async () => {
    const c = await client();
    c.write('PUT /e HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n');
    expect((await c.readResponse()).status).toBe(100);
    c.write('ok');
    expect((await c.readResponse()).body.toString()).toBe('PUT /e 2');
  });

  it('answers a client that half-closes after its request', async () => {
    const c = await client();
    c.socket.end('GET /h HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await c.readResponse()).body.toString()).toBe('GET /h 0');
    await c.waitClosed();
  });

  it('closes idle connections between requests when the peer closes', async () => {
    const c = await client();
    c.write('GET /a HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.readResponse();
    c.socket.end();
    await c.waitClosed();
  });
});

describe('HTTP connection handling: handler edge cases', () => {
  it('drains a body the handler ignored and keeps the connection', async () => {
    await server.close();
    server = await listenHttp({
      host: '127.0.0.1',
      port: 0,
      handler: async (_req, res) => res.send(416, {}, 'no'),
    });
    const c = await client();
    c.write(`PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n${'x'.repeat(100000)}`);
    expect((await c.readResponse()).status).toBe(416);
    c.write('GET /b HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await c.readResponse()).status).toBe(416);
  });

  it('answers 500 when the handler throws', async () => {
    await server.close();
    server = await listenHttp({
      host: '127.0.0.1',
      port: 0,
      handler: async () => {
        throw new Error('boom');
      },
    });
    const c = await client();
    c.write('GET /a HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await c.readResponse()).status).toBe(500);
    await c.waitClosed();
  });
});
