/**
 * Digest server authentication of the download engine, against a node:http server that checks
 * every Authorization itself (fixtures.ts digestServer: HA1/HA2/response computed independently,
 * nonce, realm, opaque, URI, algorithm and an increasing nonce count checked, 401 otherwise):
 * MD5 and SHA-256, with qop=auth and without (RFC 2069), the -sess variants with qop=auth, the
 * RFC 7616 example vectors, and wrong passwords.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BG_LENGTH_TO_EOF, type Credentials, type FileRange } from '../../../src/job/types.js';
import { digestAuthorization, parseChallenges } from '../../../src/engine/download/http-auth.js';
import { HttpDownloadEngine } from '../../../src/engine/download/http-download-engine.js';
import { UndiciTransport } from '../../../src/transport/undici-transport.js';
import { baseJob, content, type DigestAlgorithm, type DigestServer, digestServer, FakeRunner, type FileServer, startFileServer, failure } from './fixtures.js';

const engine = new HttpDownloadEngine({ transport: new UndiciTransport(), timeoutMs: 5_000 });

describe('RFC 7616 §3.9.1 example (Mufasa / Circle of Life)', () => {
  const challenge = parseChallenges(
    'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"',
  )[0];
  const input = {
    userName: 'Mufasa',
    password: 'Circle of Life',
    method: 'GET',
    uri: '/dir/index.html',
    nonceCount: 1,
    cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
  };

  it('SHA-256 gives the published response', () => {
    if (!challenge) throw new Error('no challenge parsed');
    const header = digestAuthorization({ ...input, challenge });
    expect(header).toContain('response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"');
    expect(header).toContain('algorithm=SHA-256');
    expect(header).toContain('qop=auth, nc=00000001');
    expect(header).toContain('opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"');
  });

  it('MD5 gives the published response', () => {
    if (!challenge) throw new Error('no challenge parsed');
    const md5 = { ...challenge, params: { ...challenge.params, algorithm: 'MD5' } };
    expect(digestAuthorization({ ...input, challenge: md5 })).toContain('response="8ca523f5e9506fed4657c9700eebdbec"');
  });
});

describe('HttpDownloadEngine: Digest against a verifying server', () => {
  let server: FileServer | undefined;
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'bitsd-dl-digest-'));
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  async function protectedServer(algorithm: DigestAlgorithm, qop: boolean, extra: { sendAlgorithm?: boolean; alsoBasic?: boolean } = {}): Promise<DigestServer> {
    const digest = digestServer({ realm: 'downloads', userName: 'carol', password: 'p4ss:w0rd', algorithm, qop, ...extra });
    server = await startFileServer({ content: content(150_000), authorize: (req, res) => !digest.guard(req, res) });
    return digest;
  }

  // The file in two ranges (back to back, so the temp file is the whole file): two GETs, so the
  // second shows the answer sent up front.
  const halves: FileRange[] = [
    { initialOffset: 0, length: 75_000 },
    { initialOffset: 75_000, length: BG_LENGTH_TO_EOF },
  ];

  function runner(credentials: Credentials[], name: string): FakeRunner {
    const r = new FakeRunner(baseJob({ credentials }), { remoteName: `${server?.url ?? ''}/protected.bin`, tempName: join(dir, `BIT${name}.tmp`), ranges: halves });
    r.expected = server?.file.content ?? null;
    return r;
  }

  const DIGEST: Credentials = { target: 'SERVER', scheme: 'DIGEST', userName: 'carol', password: 'p4ss:w0rd' };

  const cases: Array<[string, DigestAlgorithm, boolean, boolean]> = [
    // [label, algorithm, qop=auth, send the algorithm parameter]
    ['MD5, qop=auth', 'MD5', true, true],
    ['MD5 without qop and without algorithm (RFC 2069)', 'MD5', false, false],
    ['MD5 without qop, algorithm=MD5', 'MD5', false, true],
    ['SHA-256, qop=auth', 'SHA-256', true, true],
    ['SHA-256 without qop', 'SHA-256', false, true],
    ['MD5-sess, qop=auth', 'MD5-sess', true, true],
    ['SHA-256-sess, qop=auth', 'SHA-256-sess', true, true],
  ];

  it.each(cases)('%s: the answer verifies, later requests send it up front, the file is byte-identical', async (_label, algorithm, qop, sendAlgorithm) => {
    const digest = await protectedServer(algorithm, qop, { sendAlgorithm });
    const r = runner([DIGEST], '1');
    await engine.transfer(r.context());
    expect(readFileSync(r.file.tempName).equals(server?.file.content as Buffer)).toBe(true);
    // One challenge (the bare first GET), then the GETs of both ranges verified by the server.
    expect(digest.rejected).toBe(1);
    expect(digest.lastReason).toBe('missing');
    expect(digest.verified).toBe(2);
    const auth = server?.requests.map((q) => q.headers.authorization ?? '-') ?? [];
    expect(auth[0]).toBe('-');
    expect(auth.slice(1).every((a) => a.startsWith('Digest '))).toBe(true);
    if (qop) expect(auth.slice(1).map((a) => /nc=([0-9a-f]{8})/.exec(a)?.[1])).toEqual(['00000001', '00000002']);
    else expect(auth.slice(1).some((a) => /\b(nc|cnonce|qop)=/.test(a))).toBe(false);
  });

  it.each(cases)('%s, wrong password: one answer, refused, fatal 0x80190191', async (_label, algorithm, qop, sendAlgorithm) => {
    const digest = await protectedServer(algorithm, qop, { sendAlgorithm });
    const err = await failure(engine.transfer(runner([{ ...DIGEST, password: 'wrong' }], '2').context()));
    expect(err.hresult).toBe(0x80190191);
    expect(err.transient).toBe(false);
    expect(err.context).toBe('REMOTE_FILE');
    expect(digest.verified).toBe(0);
    expect(digest.rejected).toBe(2);
    expect(digest.lastReason).toBe('wrong response');
    expect(server?.requests).toHaveLength(2);
  });

  it('Digest is preferred over Basic when both are offered and the job has both credentials', async () => {
    const digest = await protectedServer('SHA-256', true, { alsoBasic: true });
    const r = runner([{ target: 'SERVER', scheme: 'BASIC', userName: 'carol', password: 'p4ss:w0rd' }, DIGEST], '3');
    await engine.transfer(r.context());
    expect(digest.verified).toBe(2);
    expect(server?.requests.slice(1).every((q) => q.headers.authorization?.startsWith('Digest ') === true)).toBe(true);
  });

  it('a -sess challenge without qop is not answered (the client nonce could not be sent): fatal 0x80190191 after one request', async () => {
    const digest = await protectedServer('MD5-sess', false);
    const err = await failure(engine.transfer(runner([DIGEST], '4').context()));
    expect(err.hresult).toBe(0x80190191);
    expect(digest.rejected).toBe(1);
    expect(server?.requests).toHaveLength(1);
  });
});
