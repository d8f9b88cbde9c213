/**
 * How many requests a static download costs, and what each answer to its first GET leads to:
 * one GET where the answer tells the size and validators (a 206 with a complete Content-Range, a
 * 200 with Content-Length and Accept-Ranges, a 416 for an empty file), a HEAD only where no GET
 * answer gives the size, and a resume that is a single GET with If-Range.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HttpDownloadEngine } from '../../../src/engine/download/http-download-engine.js';
import { toEngineState } from '../../../src/engine/download/remote-file.js';
import type { Pacer } from '../../../src/engine/types.js';
import { BG_LENGTH_TO_EOF } from '../../../src/job/types.js';
import { UndiciTransport } from '../../../src/transport/undici-transport.js';
import { startServer, type TestServer } from '../../transport/helpers.js';
import { baseJob, content, FakeRunner, type FileServer, startFileServer, failure } from './fixtures.js';

const engine = new HttpDownloadEngine({ transport: new UndiciTransport(), timeoutMs: 5_000, progressBytes: 16 * 1024 });
const LAST_MODIFIED = new Date(Date.UTC(2025, 5, 1, 12, 0, 0)).toUTCString();

interface Logged {
  readonly method: string;
  readonly range: string;
  readonly ifRange: string;
}

/** A server with hand-written answers; logs "METHOD range if-range" per request. */
async function scripted(answer: (req: IncomingMessage, res: ServerResponse) => void): Promise<TestServer & { log: Logged[]; lines(): string[] }> {
  const log: Logged[] = [];
  const server = await startServer((req, res) => {
    log.push({ method: req.method ?? '', range: req.headers.range ?? '-', ifRange: String(req.headers['if-range'] ?? '-') });
    answer(req, res);
  });
  return Object.assign(server, { log, lines: () => log.map((l) => `${l.method} ${l.range} ${l.ifRange}`) });
}

describe('static downloads: one request per file where the answer allows it', () => {
  let dir: string;
  const servers: TestServer[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'bitsd-dl-one-'));
  });
  afterEach(async () => {
    while (servers.length > 0) await servers.pop()?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function fileServer(initial: Parameters<typeof startFileServer>[0] = {}): Promise<FileServer> {
    const s = await startFileServer(initial);
    servers.push(s);
    return s;
  }

  const runnerFor = (url: string, extra: Partial<ConstructorParameters<typeof FakeRunner>[1]> = {}): FakeRunner =>
    new FakeRunner(baseJob(), { remoteName: url, tempName: join(dir, 'BIT1.tmp'), ...extra });

  const lines = (s: FileServer): string[] => s.requests.map((q) => `${q.method} ${q.headers.range ?? '-'} ${q.headers['if-range'] ?? '-'}`);

  it('a 200 with Content-Length and Accept-Ranges to the first GET is the whole file, in one request', async () => {
    const body = content(70_000);
    const s = await scripted((req, res) => {
      // Range support announced, but this answer is the whole file (RFC 9110 lets a server ignore Range).
      res.writeHead(200, { 'content-length': String(body.length), 'accept-ranges': 'bytes', etag: '"w1"', 'last-modified': LAST_MODIFIED });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
    servers.push(s);
    const r = runnerFor(`${s.url}/f`);
    r.expected = body;
    await engine.transfer(r.context());
    expect(readFileSync(r.file.tempName).equals(body)).toBe(true);
    expect(s.lines()).toEqual(['GET bytes=0- -']);
    expect(r.file.bytesTotal).toBe(70_000);
    expect(r.file.engineState).toEqual({ remoteSize: 70_000, lastModified: LAST_MODIFIED, etag: '"w1"' });
  });

  it('a 200 with Content-Length but no Accept-Ranges: fatal BG_E_INSUFFICIENT_RANGE_SUPPORT after one GET, no temp file', async () => {
    const s = await fileServer({ ranges: false });
    const r = runnerFor(`${s.url}/f`);
    const err = await failure(engine.transfer(r.context()));
    expect(err).toMatchObject({ code: 'BG_E_INSUFFICIENT_RANGE_SUPPORT', transient: false, context: 'REMOTE_FILE' });
    expect(lines(s)).toEqual(['GET bytes=0- -']);
    expect(existsSync(r.file.tempName)).toBe(false);
  });

  it('an empty file: the 416 "bytes */0" of the first GET, or a 200 with Content-Length: 0, completes it in one request', async () => {
    const s = await fileServer({ content: Buffer.alloc(0) });
    const r = runnerFor(`${s.url}/f`);
    await engine.transfer(r.context());
    expect(lines(s)).toEqual(['GET bytes=0- -']);
    expect(statSync(r.file.tempName).size).toBe(0);
    expect(r.file.bytesTotal).toBe(0);
    expect(r.file.engineState).toEqual({ remoteSize: 0, lastModified: s.file.lastModified, etag: '"v1"' });

    // nginx answers bytes=0- of an empty file with a 200; without Accept-Ranges it is still whole.
    const plain = await scripted((_req, res) => {
      res.writeHead(200, { 'content-length': '0', 'last-modified': LAST_MODIFIED });
      res.end();
    });
    servers.push(plain);
    const p = runnerFor(`${plain.url}/e`, { tempName: join(dir, 'BIT2.tmp') });
    await engine.transfer(p.context());
    expect(plain.lines()).toEqual(['GET bytes=0- -']);
    expect(statSync(p.file.tempName).size).toBe(0);
    expect(p.file.bytesTotal).toBe(0);
  });

  it('a 206 without the complete length ("bytes 0-N/*"): a HEAD gives the size, then the GET again', async () => {
    const body = content(50_000);
    const s = await scripted((req, res) => {
      const headers = { etag: '"s1"', 'last-modified': LAST_MODIFIED, 'accept-ranges': 'bytes' };
      if (req.method === 'HEAD') {
        res.writeHead(200, { ...headers, 'content-length': String(body.length) });
        res.end();
        return;
      }
      const from = Number(/^bytes=(\d+)-/.exec(req.headers.range ?? '')?.[1] ?? 0);
      res.writeHead(206, { ...headers, 'content-range': `bytes ${from}-${body.length - 1}/*`, 'content-length': String(body.length - from) });
      res.end(body.subarray(from));
    });
    servers.push(s);
    const r = runnerFor(`${s.url}/f`);
    r.expected = body;
    await engine.transfer(r.context());
    expect(readFileSync(r.file.tempName).equals(body)).toBe(true);
    expect(s.lines()).toEqual(['GET bytes=0- -', 'HEAD - -', 'GET bytes=0- "s1"']);
  });

  it('a first range beyond the end: the 416 "bytes */N" settles BG_E_INVALID_RANGE in one request, nothing written', async () => {
    const s = await fileServer();
    const r = runnerFor(`${s.url}/f`, { ranges: [{ initialOffset: 200_000, length: BG_LENGTH_TO_EOF }] });
    const err = await failure(engine.transfer(r.context()));
    expect(err).toMatchObject({ code: 'BG_E_INVALID_RANGE', transient: false });
    expect(lines(s)).toEqual(['GET bytes=200000- -']);
    expect(existsSync(r.file.tempName)).toBe(false);
  });

  it('under a pacer that bounds requests, the first GET asks a bounded piece and the rest carry If-Range', async () => {
    const s = await fileServer();
    const r = runnerFor(`${s.url}/f`);
    r.expected = s.file.content;
    const asked: number[] = [];
    const pacer: Pacer = { acquire: () => undefined, limit: () => null, requestSize: () => 40_000, requested: (n) => void asked.push(n) };
    await engine.transfer({ ...r.context(), pacer });
    expect(readFileSync(r.file.tempName).equals(s.file.content)).toBe(true);
    expect(lines(s)).toEqual(['GET bytes=0-39999 -', 'GET bytes=40000-79999 "v1"', 'GET bytes=80000-99999 "v1"']);
    expect(asked).toEqual([40_000, 40_000, 20_000]);
  });

  it('a resume that already holds every byte checks the file with a HEAD and fetches nothing', async () => {
    const s = await fileServer();
    writeFileSync(join(dir, 'BIT1.tmp'), s.file.content);
    const state = toEngineState({ size: 100_000, lastModified: s.file.lastModified, etag: '"v1"' });
    const r = runnerFor(`${s.url}/f`, { bytesTransferred: 100_000, bytesTotal: 100_000, engineState: state });
    await engine.transfer(r.context());
    expect(lines(s)).toEqual(['HEAD - -']);
    expect(readFileSync(r.file.tempName).equals(s.file.content)).toBe(true);
    expect(r.file.bytesTransferred).toBe(100_000);
  });

  it('a resume whose 206 carries another Last-Modified (the ETag still matched If-Range): the file restarts from byte 0', async () => {
    const s = await fileServer();
    writeFileSync(join(dir, 'BIT1.tmp'), s.file.content.subarray(0, 30_000));
    const state = toEngineState({ size: 100_000, lastModified: 'Mon, 01 Jan 2024 00:00:00 GMT', etag: '"v1"' });
    const r = runnerFor(`${s.url}/f`, { bytesTransferred: 30_000, bytesTotal: 100_000, engineState: state });
    r.expected = s.file.content;
    await engine.transfer(r.context());
    expect(lines(s)).toEqual(['GET bytes=30000- "v1"', 'GET bytes=0- -']);
    expect(r.calls).toContain('progress 0');
    expect(r.file.engineState).toEqual({ remoteSize: 100_000, lastModified: s.file.lastModified, etag: '"v1"' });
    expect(readFileSync(r.file.tempName).equals(s.file.content)).toBe(true);
  });

  it('a resume whose 206 gives another complete length: the file restarts from byte 0', async () => {
    const s = await fileServer({ content: content(120_000) });
    writeFileSync(join(dir, 'BIT1.tmp'), s.file.content.subarray(0, 30_000));
    const state = toEngineState({ size: 100_000, lastModified: s.file.lastModified, etag: '"v1"' });
    const r = runnerFor(`${s.url}/f`, { bytesTransferred: 30_000, bytesTotal: 100_000, engineState: state });
    await engine.transfer(r.context());
    expect(lines(s)).toEqual(['GET bytes=30000- "v1"', 'GET bytes=0- -']);
    expect(r.file.bytesTotal).toBe(120_000);
    expect(readFileSync(r.file.tempName).equals(s.file.content)).toBe(true);
  });

  it('MAX_DOWNLOAD_SIZE below the stored size stops a resume before any request', async () => {
    const s = await fileServer();
    writeFileSync(join(dir, 'BIT1.tmp'), s.file.content.subarray(0, 30_000));
    const state = toEngineState({ size: 100_000, lastModified: s.file.lastModified, etag: '"v1"' });
    const r = runnerFor(`${s.url}/f`, { bytesTransferred: 30_000, bytesTotal: 100_000, engineState: state });
    r.job = { ...r.job, maxDownloadSize: 50_000 };
    const err = await failure(engine.transfer(r.context()));
    expect(err).toMatchObject({ code: 'BG_E_MAX_DOWNLOAD_SIZE_LIMIT_REACHED', transient: false });
    expect(lines(s)).toEqual([]);
    expect(statSync(r.file.tempName).size).toBe(30_000);
  });

  it('a resume answered with a 200 of a new, shorter version: taken as the file from byte 0 in the same request, cut to its size', async () => {
    const s = await fileServer({ content: content(20_000) });
    writeFileSync(join(dir, 'BIT1.tmp'), Buffer.alloc(30_000, 0xee));
    const state = toEngineState({ size: 100_000, lastModified: 'Mon, 01 Jan 2024 00:00:00 GMT', etag: '"v0"' });
    const r = runnerFor(`${s.url}/f`, { bytesTransferred: 30_000, bytesTotal: 100_000, engineState: state });
    r.expected = s.file.content;
    await engine.transfer(r.context());
    // If-Range named the old version: the server sent the whole new one (200, Accept-Ranges).
    expect(lines(s)).toEqual(['GET bytes=30000- "v0"']);
    expect(r.calls).toContain('setTotal 20000');
    expect(r.calls).toContain('progress 0');
    expect(r.file.engineState).toEqual({ remoteSize: 20_000, lastModified: s.file.lastModified, etag: '"v1"' });
    // No byte of the old version is left past the new end.
    expect(readFileSync(r.file.tempName).equals(s.file.content)).toBe(true);
  });
});
