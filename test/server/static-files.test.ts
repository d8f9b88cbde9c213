import { utimes, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type BitsServer, type BitsServerOptions, startBitsServer } from '../../src/server/index.js';
import { evaluateRange } from '../../src/server/ranges.js';
import { RawClient, tempDir } from './helpers.js';

let dir: { path: string; remove: () => Promise<void> };
let server: BitsServer;
const content = Buffer.from('0123456789abcdefghij');

async function start(options: Partial<BitsServerOptions> = {}): Promise<void> {
  await server?.close();
  server = await startBitsServer({ root: dir.path, ...options });
}

async function get(path: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' = 'GET') {
  const res = await request(`${server.url}${path}`, { method, headers });
  const body = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, body };
}

beforeEach(async () => {
  dir = await tempDir('static');
  await mkdir(join(dir.path, 'd'));
  await writeFile(join(dir.path, 'd/f.bin'), content);
  await utimes(join(dir.path, 'd/f.bin'), new Date('2024-01-02T03:04:05Z'), new Date('2024-01-02T03:04:05Z'));
  await writeFile(join(dir.path, 'empty'), '');
  server = await startBitsServer({ root: dir.path });
});

afterEach(async () => {
  await server.close();
  await dir.remove();
});

describe('evaluateRange', () => {
  it.each([
    ['bytes=0-4', { kind: 'range', start: 0, end: 4 }],
    ['bytes=5-', { kind: 'range', start: 5, end: 19 }],
    ['bytes=-3', { kind: 'range', start: 17, end: 19 }],
    ['bytes=-50', { kind: 'range', start: 0, end: 19 }],
    ['bytes=10-100', { kind: 'range', start: 10, end: 19 }],
    ['bytes=20-', { kind: 'unsatisfiable' }],
    ['bytes=-0', { kind: 'unsatisfiable' }],
    ['bytes=0-1,3-4', { kind: 'none' }],
    ['items=0-1', { kind: 'none' }],
    ['bytes=5-1', { kind: 'none' }],
    ['bytes=-', { kind: 'none' }],
  ])('%s', (header, expected) => expect(evaluateRange(header, 20)).toEqual(expected));
});

describe('static files', () => {
  it('serves a whole file with validators and Accept-Ranges', async () => {
    const res = await get('/d/f.bin');
    expect(res.status).toBe(200);
    expect(res.body).toEqual(content);
    expect(res.headers['content-length']).toBe('20');
    expect(res.headers['accept-ranges']).toBe('bytes');
    expect(res.headers['last-modified']).toBe('Tue, 02 Jan 2024 03:04:05 GMT');
    expect(res.headers['etag']).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/);
  });

  it('serves single ranges with 206 and Content-Range', async () => {
    for (const [range, body, cr] of [
      ['bytes=2-5', '2345', 'bytes 2-5/20'],
      ['bytes=15-', 'fghij', 'bytes 15-19/20'],
      ['bytes=-2', 'ij', 'bytes 18-19/20'],
    ] as const) {
      const res = await get('/d/f.bin', { Range: range });
      expect(res.status).toBe(206);
      expect(res.body.toString()).toBe(body);
      expect(res.headers['content-range']).toBe(cr);
    }
  });

  it('answers 416 with bytes */size when unsatisfiable', async () => {
    const res = await get('/d/f.bin', { Range: 'bytes=20-' });
    expect(res.status).toBe(416);
    expect(res.headers['content-range']).toBe('bytes */20');
  });

  it('answers HEAD with the size and no body, on a reusable connection', async () => {
    const c = await RawClient.connect(server.port);
    try {
      c.write('HEAD /d/f.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /d/f.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=0-0\r\n\r\n');
      const head = await c.readResponse({ noBody: true });
      expect(head.status).toBe(200);
      expect(head.headers['content-length']).toBe('20');
      const next = await c.readResponse();
      expect(next.status).toBe(206);
      expect(next.body.toString()).toBe('0');
    } finally {
      c.destroy();
    }
  });

  it('honours If-Range, If-Match and If-Unmodified-Since', async () => {
    const { headers } = await get('/d/f.bin');
    const etag = String(headers['etag']);
    expect((await get('/d/f.bin', { Range: 'bytes=0-1', 'If-Range': etag })).status).toBe(206);
    expect((await get('/d/f.bin', { Range: 'bytes=0-1', 'If-Range': '"other"' })).status).toBe(200);
    expect((await get('/d/f.bin', { Range: 'bytes=0-1', 'If-Range': 'Tue, 02 Jan 2024 03:04:05 GMT' })).status).toBe(206);
    expect((await get('/d/f.bin', { Range: 'bytes=0-1', 'If-Range': 'Mon, 01 Jan 2024 00:00:00 GMT' })).status).toBe(200);
    expect((await get('/d/f.bin', { 'If-Match': '"nope"' })).status).toBe(412);
    expect((await get('/d/f.bin', { 'If-Match': etag })).status).toBe(200);
    expect((await get('/d/f.bin', { 'If-Unmodified-Since': 'Mon, 01 Jan 2024 00:00:00 GMT' })).status).toBe(412);
    expect((await get('/d/f.bin', { 'If-Unmodified-Since': 'Tue, 02 Jan 2024 03:04:05 GMT' })).status).toBe(200);
  });

  it('serves an empty file and answers 404 for missing files and directories', async () => {
    const empty = await get('/empty');
    expect(empty.status).toBe(200);
    expect(empty.headers['content-length']).toBe('0');
    expect((await get('/missing')).status).toBe(404);
    expect((await get('/d')).status).toBe(404);
    expect((await get(`/${server.stagingDir.slice(dir.path.length + 1)}/x`)).status).toBe(404);
  });

  it('refuses escaping paths with 400', async () => {
    for (const path of ['/../etc/passwd', '/d/%2e%2e/%2e%2e/x', '/d%2f..%2f..%2fx', '/a%00']) {
      const c = await RawClient.connect(server.port);
      try {
        c.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
        expect((await c.readResponse()).status, path).toBe(400);
      } finally {
        c.destroy();
      }
    }
  });

  it('can turn Range support and HEAD sizes off', async () => {
    await start({ ranges: false, headSize: false });
    const res = await get('/d/f.bin', { Range: 'bytes=0-1' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(content);
    expect(res.headers['accept-ranges']).toBeUndefined();
    const c = await RawClient.connect(server.port);
    try {
      c.write('HEAD /d/f.bin HTTP/1.1\r\nHost: x\r\n\r\n');
      const head = await c.readResponse({ noBody: true });
      expect(head.status).toBe(200);
      expect(head.headers['content-length']).toBeUndefined();
    } finally {
      c.destroy();
    }
  });

  it('logs GET requests', async () => {
    await get('/d/f.bin', { Range: 'bytes=1-2' });
    expect(server.requests.map((r) => [r.method, r.target, r.range, r.outcome])).toEqual([['GET', '/d/f.bin', 'bytes=1-2', 206]]);
  });
});
