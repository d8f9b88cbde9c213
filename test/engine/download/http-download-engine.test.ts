import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HttpDownloadEngine } from '../../../src/engine/download/http-download-engine.js';
import { toEngineState } from '../../../src/engine/download/remote-file.js';
import { BitsError } from '../../../src/shared/errors.js';
import { UndiciTransport } from '../../../src/transport/undici-transport.js';
import { startServer } from '../../transport/helpers.js';
import { fill, smallDisk, tmpfsMountable } from '../../helpers/small-disk.js';
import { baseJob, content, FakeRunner, type FileServer, startFileServer, failure } from './fixtures.js';

describe('HttpDownloadEngine (static files)', () => {
  let server: FileServer | undefined;
  let dir: string;
  const engine = new HttpDownloadEngine({ transport: new UndiciTransport(), timeoutMs: 5_000, progressBytes: 16 * 1024 });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'bitsd-dl-'));
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  const runner = (extra: ConstructorParameters<typeof FakeRunner>[1] extends infer F ? Partial<F> : never = {}): FakeRunner => {
    const r = new FakeRunner(baseJob(), { remoteName: `${server?.url ?? ''}/file.bin`, tempName: join(dir, 'BIT1234.tmp'), ...extra });
    r.expected = server?.file.content ?? null;
    return r;
  };

  it('handles DOWNLOAD jobs over http and https only', () => {
    expect(engine.handles('DOWNLOAD', new URL('http://x/a'))).toBe(true);
    expect(engine.handles('DOWNLOAD', new URL('https://x/a'))).toBe(true);
    expect(engine.handles('UPLOAD', new URL('http://x/a'))).toBe(false);
    expect(engine.handles('DOWNLOAD', new URL('file:///a'))).toBe(false);
  });

  it('downloads a whole file byte-identical with one ranged GET (no HEAD), durable progress and the server time', async () => {
    server = await startFileServer({ content: content(300_000) });
    const r = runner();
    r.job = { ...r.job, customHeaders: 'X-Token: abc\r\nX-Other: 1\r\n' };
    await engine.transfer(r.context());
    expect(readFileSync(r.file.tempName).equals(server.file.content)).toBe(true);
    expect(r.file.bytesTotal).toBe(300_000);
    expect(r.progress.at(-1)).toBe(300_000);
    // Several steps (16 KiB progressBytes over a body that arrives in chunks), each reported
    // once: the written offset never goes back, and no report repeats the one before it. The
    // last one, after the final fdatasync, has every byte synced.
    expect(r.progress.length).toBeGreaterThanOrEqual(2);
    expect([...r.progress].sort((a, b) => a - b)).toEqual(r.progress);
    const reports = r.progress.map((n, i) => `${n}/${r.synced[i]}`);
    expect(reports.filter((x, i) => i > 0 && x === reports[i - 1])).toEqual([]);
    expect(r.synced.at(-1)).toBe(300_000);
    expect(r.calls[0]).toBe('connected');
    expect(server.requests.map((q) => `${q.method} ${q.headers.range ?? ''}`)).toEqual(['GET bytes=0-']);
    expect(server.requests.every((q) => q.headers['x-token'] === 'abc' && q.headers['x-other'] === '1')).toBe(true);
    // Nothing stored yet: no validator to send.
    expect(server.requests[0]?.headers['if-range']).toBeUndefined();
    // The 206's validators are stored with the bytes, for the next resume's If-Range.
    expect(r.file.engineState).toEqual({ remoteSize: 300_000, lastModified: server.file.lastModified, etag: '"v1"' });
    expect(statSync(r.file.tempName).mtime.getTime()).toBe(Date.parse(server.file.lastModified));
    expect(server.connections).toBe(1);
  });

  it('a server that sends a body after HEAD costs a new connection, never a corrupt file', async () => {
    const body = content(50_000);
    const sockets = new Set<Socket>();
    const misbehaving = createServer((socket) => {
      sockets.add(socket);
      let text = '';
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString('latin1');
        for (let end = text.indexOf('\r\n\r\n'); end >= 0; end = text.indexOf('\r\n\r\n')) {
          const head = text.slice(0, end);
          text = text.slice(end + 4);
          const range = /^range: bytes=(\d+)-/im.exec(head);
          const from = range ? Number(range[1]) : 0;
          const common = `ETag: "v1"\r\nLast-Modified: ${new Date(0).toUTCString()}\r\nAccept-Ranges: bytes\r\nConnection: keep-alive\r\n`;
          if (head.startsWith('HEAD')) {
            // Headers as for GET, then the body anyway: the bug undici guards against by default.
            socket.write(`HTTP/1.1 200 OK\r\n${common}Content-Length: ${body.length}\r\n\r\n`);
            socket.write('<html>not for HEAD</html>');
          } else {
            socket.write(`HTTP/1.1 206 Partial Content\r\n${common}Content-Range: bytes ${from}-${body.length - 1}/${body.length}\r\nContent-Length: ${body.length - from}\r\n\r\n`);
            socket.write(body.subarray(from));
          }
        }
      });
    });
    await new Promise<void>((resolve) => misbehaving.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = misbehaving.address() as AddressInfo;
      const r = new FakeRunner(baseJob(), { remoteName: `http://127.0.0.1:${port}/file.bin`, tempName: join(dir, 'BIT5678.tmp') });
      r.expected = body;
      const failures: BitsError[] = [];
      let done = false;
      for (let attempt = 0; attempt < 3 && !done; attempt++) {
        try {
          await engine.transfer(r.context());
          done = true;
        } catch (err) {
          if (!(err instanceof BitsError)) throw err;
          failures.push(err);
        }
      }
      // At worst one transient failure (retried by the queue), and the bytes are right.
      expect(done).toBe(true);
      expect(failures.every((e) => e.transient)).toBe(true);
      expect(failures.length).toBeLessThanOrEqual(1);
      expect(readFileSync(r.file.tempName).equals(body)).toBe(true);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => misbehaving.close(() => resolve()));
    }
  });

  it('resumes from the persisted offset and cuts off bytes past it', async () => {
    server = await startFileServer();
    const offset = 40_000;
    const garbage = Buffer.concat([server.file.content.subarray(0, offset), Buffer.alloc(5_000, 0xee)]);
    writeFileSync(join(dir, 'BIT1234.tmp'), garbage);
    const state = toEngineState({ size: 100_000, lastModified: server.file.lastModified, etag: '"v1"' });
    const r = runner({ bytesTransferred: offset, bytesTotal: 100_000, engineState: state });
    await engine.transfer(r.context());
    expect(readFileSync(r.file.tempName).equals(server.file.content)).toBe(true);
    // One GET with If-Range carries the check a HEAD made before.
    expect(server.requests.map((q) => `${q.method} ${q.headers.range ?? ''} ${q.headers['if-range'] ?? ''}`)).toEqual([`GET bytes=${offset}- "v1"`]);
    expect(r.calls).not.toContain('progress 0');
  });

  it('reports a dropped connection as transient and resumes on the next call', async () => {
    server = await startFileServer({ content: content(200_000), dropAfter: 70_000 });
    const r = runner();
    const err = await failure(engine.transfer(r.context()));
    expect(err.transient).toBe(true);
    expect(err.code).toBe('ERROR_WINHTTP_CONNECTION_ERROR');
    const durable = r.file.bytesTransferred;
    expect(durable).toBeGreaterThan(0);
    expect(durable).toBeLessThanOrEqual(70_000);
    await engine.transfer(r.context());
    expect(readFileSync(r.file.tempName).equals(server.file.content)).toBe(true);
    expect(server.requests.at(-1)?.headers.range).toBe(`bytes=${durable}-`);
  });

  it('restarts from zero when the remote size or time changed', async () => {
    server = await startFileServer();
    writeFileSync(join(dir, 'BIT1234.tmp'), server.file.content.subarray(0, 30_000));
    const old = toEngineState({ size: 90_000, lastModified: 'Mon, 01 Jan 2024 00:00:00 GMT', etag: null });
    const r = runner({ bytesTransferred: 30_000, bytesTotal: 90_000, engineState: old });
    await engine.transfer(r.context());
    expect(r.calls).toContain('setTotal 100000');
    expect(r.calls).toContain('progress 0');
    // If-Range with the old date gets the whole new version (200), taken as the file from byte 0.
    expect(server.requests.map((q) => `${q.method} ${q.headers.range ?? ''} ${q.headers['if-range'] ?? ''}`)).toEqual(['GET bytes=30000- Mon, 01 Jan 2024 00:00:00 GMT']);
    expect(r.file.engineState).toEqual({ remoteSize: 100_000, lastModified: server.file.lastModified, etag: '"v1"' });
    expect(readFileSync(r.file.tempName).equals(server.file.content)).toBe(true);

    // Same size, new Last-Modified: also a restart.
    const r2 = runner({ bytesTransferred: 30_000, bytesTotal: 100_000, engineState: toEngineState({ size: 100_000, lastModified: 'Tue, 02 Jan 2024 00:00:00 GMT', etag: null }) });
    await engine.transfer(r2.context());
    expect(r2.calls).toContain('progress 0');
    expect(readFileSync(r2.file.tempName).equals(server.file.content)).toBe(true);
  });

  it('fails with BG_E_INSUFFICIENT_RANGE_SUPPORT without range support, and succeeds with DYNAMIC_CONTENT', async () => {
    server = await startFileServer({ ranges: false });
    const r = runner();
    const err = await failure(engine.transfer(r.context()));
    expect(err.code).toBe('BG_E_INSUFFICIENT_RANGE_SUPPORT');
    expect(err.transient).toBe(false);

    server.requests.length = 0;
    server.file.sendLength = false;
    const d = runner();
    d.job = { ...d.job, dynamicContent: true };
    await engine.transfer(d.context());
    expect(readFileSync(d.file.tempName).equals(server.file.content)).toBe(true);
    expect(d.file.bytesTotal).toBe(100_000);
    expect(server.requests.map((q) => q.method)).toEqual(['GET']);
    expect(server.requests[0]?.headers.range).toBeUndefined();
  });

  it('takes the size from a 206\'s Content-Range without Content-Length; fails with BG_E_MISSING_FILE_SIZE when neither the GET nor a HEAD gives it', async () => {
    server = await startFileServer({ sendLength: false });
    const sized = runner();
    await engine.transfer(sized.context());
    expect(readFileSync(sized.file.tempName).equals(server.file.content)).toBe(true);
    expect(sized.file.bytesTotal).toBe(100_000);
    expect(server.requests.map((q) => q.method)).toEqual(['GET']);

    // Without ranges the GET is a chunked 200: no size there, so a HEAD is asked, which has none either.
    server.requests.length = 0;
    server.file.ranges = false;
    const err = await failure(engine.transfer(runner({ tempName: join(dir, 'BIT2.tmp') }).context()));
    expect(err.code).toBe('BG_E_MISSING_FILE_SIZE');
    expect(err.transient).toBe(false);
    expect(err.context).toBe('REMOTE_FILE');
    expect(server.requests.map((q) => q.method)).toEqual(['GET', 'HEAD']);
    expect(existsSync(join(dir, 'BIT2.tmp'))).toBe(false);
  });

  it('maps 404 to fatal 0x80190194 and 503 to transient 0x801901F7', async () => {
    server = await startFileServer({ status: 404 });
    const notFound = await failure(engine.transfer(runner().context()));
    expect(notFound.hresult).toBe(0x80190194);
    expect(notFound.transient).toBe(false);
    expect(notFound.context).toBe('REMOTE_FILE');
    server.file.status = 503;
    const busy = await failure(engine.transfer(runner().context()));
    expect(busy.hresult).toBe(0x801901f7);
    expect(busy.transient).toBe(true);
  });

  it('caps the download at MAX_DOWNLOAD_SIZE', async () => {
    server = await startFileServer();
    const r = runner();
    r.job = { ...r.job, maxDownloadSize: 50_000 };
    const err = await failure(engine.transfer(r.context()));
    expect(err.code).toBe('BG_E_MAX_DOWNLOAD_SIZE_LIMIT_REACHED');
    expect(err.transient).toBe(false);
    // Refused on the GET's headers: no byte landed, no temp file was made.
    expect(server.requests.map((q) => q.method)).toEqual(['GET']);
    expect(existsSync(r.file.tempName)).toBe(false);
    expect(r.calls).not.toContain('tempCreated');

    // Dynamic content without a size: stopped while streaming.
    server.file.sendLength = false;
    const d = runner();
    d.job = { ...d.job, dynamicContent: true, maxDownloadSize: 50_000 };
    const dynamic = await failure(engine.transfer(d.context()));
    expect(dynamic.code).toBe('BG_E_MAX_DOWNLOAD_SIZE_LIMIT_REACHED');
    expect(statSync(d.file.tempName).size).toBeLessThanOrEqual(50_000);
  });

  it.skipIf(!tmpfsMountable)('reports a full disk (a full tmpfs) as a transient ERROR_DISK_FULL in LOCAL_FILE, and resumes once space is back', async () => {
    server = await startFileServer({ content: content(300_000) });
    const disk = await smallDisk('1m');
    const free = fill(disk);
    const r = runner({ tempName: join(disk, 'BIT1234.tmp') });
    const err = await failure(engine.transfer(r.context()));
    expect(err.code).toBe('ERROR_DISK_FULL');
    expect(err.hresult).toBe(0x80070070);
    expect(err.context).toBe('LOCAL_FILE');
    expect(err.transient).toBe(true);
    expect(r.progress.filter((n) => n > 0)).toEqual([]);
    // The temp file was created (and recorded) before the first write failed.
    expect(r.calls).toContain('tempCreated');

    free();
    await engine.transfer(r.context());
    expect(readFileSync(r.file.tempName).equals(server.file.content)).toBe(true);
  });

  it('reports a missing destination directory as a fatal ERROR_PATH_NOT_FOUND', async () => {
    server = await startFileServer();
    const err = await failure(engine.transfer(runner({ tempName: join(dir, 'missing', 'BIT1.tmp') }).context()));
    expect(err.code).toBe('ERROR_PATH_NOT_FOUND');
    expect(err.transient).toBe(false);
    expect(err.context).toBe('LOCAL_FILE');
  });

  it('stops promptly when the signal aborts mid-body and keeps the durable progress', async () => {
    const stalling = await startServer((req, res) => {
      res.writeHead(200, { 'content-length': '100000', 'accept-ranges': 'bytes', 'last-modified': 'Sun, 01 Jun 2025 12:00:00 GMT' });
      if (req.method === 'HEAD') res.end();
      else res.write(Buffer.alloc(30_000, 1));
    });
    try {
      const ac = new AbortController();
      const r = new FakeRunner(baseJob(), { remoteName: `${stalling.url}/f`, tempName: join(dir, 'BIT9.tmp') });
      const pending = engine.transfer(r.context(ac.signal));
      setTimeout(() => ac.abort(), 300);
      const started = Date.now();
      const err = await pending.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((err as Error).name).toBe('AbortError');
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(r.file.bytesTransferred).toBeLessThanOrEqual(30_000);
    } finally {
      await stalling.close();
    }
  });
});
