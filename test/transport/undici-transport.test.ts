import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { BitsError } from '../../src/shared/errors.js';
import { UndiciTransport } from '../../src/transport/undici-transport.js';
import type { ConnectOptions, HttpConnection } from '../../src/transport/types.js';
import { closedPort, startServer, type TestServer } from './helpers.js';

const direct = (origin: string): ConnectOptions => ({
  origin,
  proxy: { usage: 'NO_PROXY', proxyList: null, bypassList: null },
  proxyAuthorization: null,
  securityFlags: 0,
  clientCertificate: null,
});

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

async function readAll(body: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of body) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

describe('UndiciTransport over a loopback HTTP server', () => {
  let server: TestServer | undefined;
  let conn: HttpConnection | undefined;
  const transport = new UndiciTransport({ keepAliveTimeoutMs: 2_000 });

  afterEach(async () => {
    await conn?.destroy();
    await server?.close();
    conn = undefined;
    server = undefined;
  });

  it('reuses one kept-alive socket for sequential requests and lower-cases header names', async () => {
    server = await startServer((req, res) => {
      res.setHeader('X-Echo-Path', req.url ?? '');
      res.setHeader('Set-Cookie', ['a=1', 'b=2']);
      res.end(`hello ${req.headers['x-custom'] ?? ''}`);
    });
    conn = transport.connect(direct(server.url));
    const first = await conn.request({ method: 'GET', path: '/one', headers: { 'X-Custom': 'v1' } });
    expect(first.status).toBe(200);
    expect(first.headers['x-echo-path']).toBe('/one');
    expect(first.headers['set-cookie']).toBe('a=1\nb=2');
    expect(await first.text()).toBe('hello v1');
    const second = await conn.request({ method: 'GET', path: `${server.url}/two?x=1`, headers: {} });
    expect(second.headers['x-echo-path']).toBe('/two?x=1');
    await second.dump();
    const third = await conn.request({ method: 'GET', path: '/three', headers: {} });
    expect(await third.text()).toBe('hello ');
    expect(server.connections).toBe(1);
  });

  it('streams a large body and sends request bodies from bytes and streams', async () => {
    const big = Buffer.alloc(5 * 1024 * 1024, 7);
    server = await startServer((req, res) => {
      if (req.method === 'GET') {
        res.setHeader('content-length', String(big.length));
        res.end(big);
        return;
      }
      let n = 0;
      req.on('data', (c: Buffer) => (n += c.length));
      req.on('end', () => res.end(String(n)));
    });
    conn = transport.connect(direct(server.url));
    const got = await conn.request({ method: 'GET', path: '/big', headers: {} });
    expect((await readAll(got.body)).equals(big)).toBe(true);
    const posted = await conn.request({ method: 'POST', path: '/p', headers: { 'content-length': '3' }, body: new Uint8Array([1, 2, 3]) });
    expect(await posted.text()).toBe('3');
    const streamed = await conn.request({
      method: 'PUT',
      path: '/p',
      headers: { 'content-length': '6' },
      body: Readable.from([Buffer.from('abc'), Buffer.from('def')]),
    });
    expect(await streamed.text()).toBe('6');
    expect(server.connections).toBe(1);
  });

  it('fails text() past its limit with BG_E_TOO_LARGE', async () => {
    server = await startServer((_req, res) => res.end('x'.repeat(100)));
    conn = transport.connect(direct(server.url));
    const res = await conn.request({ method: 'GET', path: '/', headers: {} });
    const err = await rejection(res.text(10));
    expect(err).toBeInstanceOf(BitsError);
    expect((err as BitsError).code).toBe('BG_E_TOO_LARGE');
  });

  it('maps a refused connection to a transient ERROR_WINHTTP_CANNOT_CONNECT', async () => {
    const port = await closedPort();
    conn = transport.connect(direct(`http://127.0.0.1:${port}`));
    const err = await rejection(conn.request({ method: 'GET', path: '/', headers: {} }));
    expect(err).toBeInstanceOf(BitsError);
    const e = err as BitsError;
    expect(e.hresult).toBe(0x80072efd);
    expect(e.transient).toBe(true);
    expect(e.context).toBe('GENERAL_TRANSPORT');
  });

  it('maps a headers timeout to a transient ERROR_WINHTTP_TIMEOUT', async () => {
    server = await startServer(() => {
      // Never answers.
    });
    conn = transport.connect(direct(server.url));
    const err = await rejection(conn.request({ method: 'GET', path: '/', headers: {}, timeoutMs: 200 }));
    expect((err as BitsError).code).toBe('ERROR_WINHTTP_TIMEOUT');
    expect((err as BitsError).transient).toBe(true);
  });

  it('maps a body that stalls to ERROR_WINHTTP_TIMEOUT on the body stream', async () => {
    server = await startServer((_req, res) => {
      res.writeHead(200, { 'content-length': '10' });
      res.write('abc');
    });
    conn = transport.connect(direct(server.url));
    const res = await conn.request({ method: 'GET', path: '/', headers: {}, timeoutMs: 200 });
    const err = await rejection(readAll(res.body));
    expect((err as BitsError).code).toBe('ERROR_WINHTTP_TIMEOUT');
  });

  it('maps a connection reset mid-body to a transient ERROR_WINHTTP_CONNECTION_ERROR', async () => {
    server = await startServer((_req, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write('x'.repeat(100), () => res.socket?.destroy());
    });
    conn = transport.connect(direct(server.url));
    const res = await conn.request({ method: 'GET', path: '/', headers: {} });
    const err = await rejection(readAll(res.body));
    expect(err).toBeInstanceOf(BitsError);
    expect((err as BitsError).code).toBe('ERROR_WINHTTP_CONNECTION_ERROR');
    expect((err as BitsError).transient).toBe(true);
  });

  it('rejects with an AbortError when the signal aborts, before or during a request', async () => {
    server = await startServer(() => {
      // Never answers.
    });
    conn = transport.connect(direct(server.url));
    const pre = new AbortController();
    pre.abort();
    const early = await rejection(conn.request({ method: 'GET', path: '/', headers: {}, signal: pre.signal }));
    expect((early as Error).name).toBe('AbortError');
    const ac = new AbortController();
    const pending = conn.request({ method: 'GET', path: '/', headers: {}, signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    const late = await rejection(pending);
    expect((late as Error).name).toBe('AbortError');
    expect(late).not.toBeInstanceOf(BitsError);
  });

  it('refuses a request after close()', async () => {
    server = await startServer((_req, res) => res.end('ok'));
    conn = transport.connect(direct(server.url));
    expect(await (await conn.request({ method: 'GET', path: '/', headers: {} })).text()).toBe('ok');
    await conn.close();
    await expect(conn.request({ method: 'GET', path: '/', headers: {} })).rejects.toThrow(/closed/);
  });
});
