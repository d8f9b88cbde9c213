import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HttpDownloadEngine } from '../../../src/engine/download/http-download-engine.js';
import { BG_LENGTH_TO_EOF, SECURITY } from '../../../src/job/types.js';
import { UndiciTransport } from '../../../src/transport/undici-transport.js';
import { hasOpenssl, makeCerts, startHttpsServer, startServer, type TestCerts, type TestServer } from '../../transport/helpers.js';
import { baseJob, FakeRunner, type FileServer, startFileServer, failure } from './fixtures.js';

const engine = new HttpDownloadEngine({ transport: new UndiciTransport(), timeoutMs: 5_000 });

describe('HttpDownloadEngine: redirects, credentials, ranges', () => {
  let server: FileServer | undefined;
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'bitsd-dl-'));
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  const runner = (path: string, securityFlags = 0): FakeRunner =>
    new FakeRunner(baseJob({ securityFlags }), { remoteName: `${server?.url ?? ''}${path}`, tempName: join(dir, 'BIT1.tmp') });

  it('follows redirects silently by default (ALLOW_SILENT)', async () => {
    server = await startFileServer({ redirects: { '/old': [302, '/file.bin'] } });
    const r = runner('/old');
    await engine.transfer(r.context());
    expect(readFileSync(r.file.tempName).equals(server.file.content)).toBe(true);
    expect(r.remoteNames).toEqual([]);
  });

  it('reports the final URL under ALLOW_REPORT, across several hops', async () => {
    server = await startFileServer({ redirects: { '/a': [301, '/b'], '/b': [307, '/file.bin'] } });
    const r = runner('/a', SECURITY.REDIRECT_POLICY_ALLOW_REPORT);
    await engine.transfer(r.context());
    expect(r.remoteNames).toEqual([`${server.url}/file.bin`]);
    expect(readFileSync(r.file.tempName).equals(server.file.content)).toBe(true);
    // One GET, following the hops: no HEAD.
    expect(server.requests.map((q) => `${q.method} ${q.url}`)).toEqual(['GET /a', 'GET /b', 'GET /file.bin']);
  });

  it('fails the job on a redirect under DISALLOW with BG_E_HTTP_ERROR_<status>', async () => {
    server = await startFileServer({ redirects: { '/old': [302, '/file.bin'] } });
    const err = await failure(engine.transfer(runner('/old', SECURITY.REDIRECT_POLICY_DISALLOW).context()));
    expect(err.hresult).toBe(0x8019012e);
    expect(err.transient).toBe(false);
    expect(err.context).toBe('REMOTE_FILE');
  });

  it('gives up after too many redirects', async () => {
    server = await startFileServer({ redirects: { '/loop': [302, '/loop'] } });
    const err = await failure(engine.transfer(runner('/loop').context()));
    expect(err.code).toBe('ERROR_WINHTTP_REDIRECT_FAILED');
    expect(err.transient).toBe(false);
  });

  it('answers a Basic challenge with SERVER credentials, and fails with 0x80190191 when rejected', async () => {
    server = await startFileServer({ basicAuth: 'alice:s3cret' });
    const none = await failure(engine.transfer(runner('/file.bin').context()));
    expect(none.hresult).toBe(0x80190191);
    expect(none.transient).toBe(false);

    const wrong = runner('/file.bin');
    wrong.job = { ...wrong.job, credentials: [{ target: 'SERVER', scheme: 'BASIC', userName: 'alice', password: 'nope' }] };
    expect((await failure(engine.transfer(wrong.context()))).hresult).toBe(0x80190191);

    server.requests.length = 0;
    const ok = runner('/file.bin');
    ok.job = { ...ok.job, credentials: [{ target: 'SERVER', scheme: 'BASIC', userName: 'alice', password: 's3cret' }] };
    // Two ranges that make up the whole file: two GETs.
    ok.file.ranges = [
      { initialOffset: 0, length: 50_000 },
      { initialOffset: 50_000, length: BG_LENGTH_TO_EOF },
    ];
    await engine.transfer(ok.context());
    expect(readFileSync(ok.file.tempName).equals(server.file.content)).toBe(true);
    // One challenge, then the origin's Authorization is sent up front.
    expect(server.requests.map((q) => `${q.method} ${q.headers.authorization === undefined ? '-' : 'auth'}`)).toEqual(['GET -', 'GET auth', 'GET auth']);
  });

  it('custom headers go only to the origin of the remote name, never to a host a redirect points to', async () => {
    const other = await startFileServer();
    try {
      server = await startFileServer({ redirects: { '/old': [302, `${other.url}/file.bin`], '/same': [302, '/old'] } });
      const r = runner('/same');
      r.job = { ...r.job, customHeaders: 'X-Api-Key: k1\r\nUser-Agent: mine\r\n' };
      await engine.transfer(r.context());
      expect(readFileSync(r.file.tempName).equals(other.file.content)).toBe(true);
      // Both hops on the job's own origin carry them (a same-origin redirect keeps them) ...
      expect(server.requests.map((q) => `${q.method} ${q.url} ${q.headers['x-api-key'] ?? '-'} ${q.headers['user-agent'] ?? '-'}`)).toEqual([
        'GET /same k1 mine',
        'GET /old k1 mine',
      ]);
      // ... the other host gets neither the key nor the custom User-Agent (bitsd's own instead).
      expect(other.requests.map((q) => `${q.method} ${q.headers['x-api-key'] ?? '-'}`)).toEqual(['GET -']);
      expect(other.requests.every((q) => q.headers['user-agent']?.startsWith('Microsoft BITS/'))).toBe(true);
    } finally {
      await other.close();
    }
  });

  it('a 401 from a host a redirect points to is not answered with the job\'s credentials', async () => {
    const other = await startFileServer({ basicAuth: 'alice:s3cret' });
    try {
      server = await startFileServer({ redirects: { '/old': [302, `${other.url}/file.bin`] } });
      const r = runner('/old');
      r.job = { ...r.job, credentials: [{ target: 'SERVER', scheme: 'BASIC', userName: 'alice', password: 's3cret' }] };
      const err = await failure(engine.transfer(r.context()));
      expect(err).toMatchObject({ hresult: 0x80190191, transient: false, context: 'REMOTE_FILE' });
      expect(other.requests.map((q) => `${q.method} ${q.headers.authorization ?? '-'}`)).toEqual(['GET -']);
    } finally {
      await other.close();
    }
  });

  it('downloads only the requested ranges, concatenated in order', async () => {
    server = await startFileServer();
    const size = server.file.content.length;
    const r = runner('/file.bin');
    r.file.ranges = [
      { initialOffset: 500, length: 100 },
      { initialOffset: 10, length: 20 },
      { initialOffset: size - 300, length: -1 },
    ];
    await engine.transfer(r.context());
    const c = server.file.content;
    const expected = Buffer.concat([c.subarray(500, 600), c.subarray(10, 30), c.subarray(size - 300)]);
    expect(readFileSync(r.file.tempName).equals(expected)).toBe(true);
    expect(r.file.bytesTotal).toBe(420);
    expect(r.file.bytesTransferred).toBe(420);
    // No HEAD: the first range's 206 gives the size the others are checked against.
    expect(server.requests.map((q) => `${q.method} ${q.headers.range ?? ''}`)).toEqual([
      'GET bytes=500-599',
      'GET bytes=10-29',
      `GET bytes=${size - 300}-${size - 1}`,
    ]);
  });

  it('rejects ranges beyond the end of the file, and ranges on a server without range support', async () => {
    server = await startFileServer();
    const r = runner('/file.bin');
    r.file.ranges = [{ initialOffset: 99_990, length: 100 }];
    const beyond = await failure(engine.transfer(r.context()));
    expect(beyond.code).toBe('BG_E_INVALID_RANGE');
    expect(beyond.transient).toBe(false);

    server.file.ranges = false;
    const n = runner('/file.bin');
    n.file.ranges = [{ initialOffset: 0, length: 100 }];
    expect((await failure(engine.transfer(n.context()))).code).toBe('BG_E_INSUFFICIENT_RANGE_SUPPORT');
  });
});

describe('HttpDownloadEngine: Digest authentication', () => {
  let server: TestServer | undefined;
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'bitsd-dl-'));
  });
  afterEach(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers an MD5 Digest challenge (qop=auth) with DIGEST credentials', async () => {
    const body = Buffer.from('digest protected body');
    const md5 = (s: string): string => createHash('md5').update(s).digest('hex');
    const nonce = 'abc123nonce';
    // An independent server-side check of RFC 7616 (MD5, qop=auth).
    const valid = (header: string | undefined, method: string): boolean => {
      if (header === undefined || !header.startsWith('Digest ')) return false;
      const p: Record<string, string> = {};
      for (const m of header.slice(7).matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]*))/g)) p[m[1] ?? ''] = m[2] ?? m[3] ?? '';
      const ha1 = md5(`bob:files:pa55`);
      const ha2 = md5(`${method}:${p.uri ?? ''}`);
      return p.username === 'bob' && p.nonce === nonce && p.response === md5(`${ha1}:${nonce}:${p.nc ?? ''}:${p.cnonce ?? ''}:auth:${ha2}`);
    };
    server = await startServer((req, res) => {
      if (!valid(req.headers.authorization, req.method ?? '')) {
        res.writeHead(401, { 'www-authenticate': `Basic realm="files", Digest realm="files", nonce="${nonce}", qop="auth", algorithm=MD5`, 'content-length': '0' });
        res.end();
        return;
      }
      res.writeHead(200, { 'content-length': String(body.length), 'last-modified': 'Sun, 01 Jun 2025 12:00:00 GMT', 'accept-ranges': 'bytes' });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
    const r = new FakeRunner(
      baseJob({ credentials: [{ target: 'SERVER', scheme: 'DIGEST', userName: 'bob', password: 'pa55' }] }),
      { remoteName: `${server.url}/d.txt`, tempName: join(dir, 'BIT2.tmp') },
    );
    await engine.transfer(r.context());
    expect(readFileSync(r.file.tempName).equals(body)).toBe(true);
  });
});

describe.skipIf(!hasOpenssl())('HttpDownloadEngine: HTTPS to HTTP redirects (openssl needed for the test certificate)', () => {
  let certs: TestCerts;
  let tls: TestServer | undefined;
  let plain: FileServer | undefined;
  let dir: string;
  beforeAll(() => {
    certs = makeCerts();
  });
  afterAll(() => certs.cleanup());
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'bitsd-dl-'));
  });
  afterEach(async () => {
    await tls?.close();
    await plain?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses HTTPS -> HTTP unless ALLOW_HTTPS_TO_HTTP', async () => {
    plain = await startFileServer();
    const target = `${plain.url}/file.bin`;
    tls = await startHttpsServer(certs.selfSigned.cert, certs.selfSigned.key, (_req, res) => {
      res.writeHead(302, { location: target, 'content-length': '0' });
      res.end();
    });
    const flags = SECURITY.IGNORE_UNKNOWN_CA;
    const refused = new FakeRunner(baseJob({ securityFlags: flags }), { remoteName: `${tls.url}/file.bin`, tempName: join(dir, 'BIT3.tmp') });
    const err = await failure(engine.transfer(refused.context()));
    expect(err.code).toBe('ERROR_WINHTTP_REDIRECT_FAILED');
    expect(err.transient).toBe(false);

    const allowed = new FakeRunner(baseJob({ securityFlags: flags | SECURITY.ALLOW_HTTPS_TO_HTTP }), {
      remoteName: `${tls.url}/file.bin`,
      tempName: join(dir, 'BIT4.tmp'),
    });
    await engine.transfer(allowed.context());
    expect(readFileSync(allowed.file.tempName).equals(plain.file.content)).toBe(true);
  });
});
