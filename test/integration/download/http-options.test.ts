/**
 * HTTP options of DOWNLOAD jobs through the public API: the three redirect policies and the
 * HTTPS -> HTTP refusal (certificates made with the openssl CLI at test time), an OVERRIDE proxy
 * (with and without the Basic proxy credentials it demands), and Basic and Digest server
 * authentication.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECURITY, UndiciTransport } from '../../../src/index.js';
import { digestServer } from '../../engine/download/fixtures.js';
import { hasOpenssl, makeCerts, startHttpsServer, startProxy, type TestCerts } from '../../transport/helpers.js';
import { type FileServer, expectSameBytes, onCleanup, openManager, randomContent, startFileServer, waitForState, workDir } from './helpers.js';

/** /old -> 301 /middle -> 302 /file (absolute Location); /file is served. */
async function redirectingServer(): Promise<{ server: FileServer; content: Buffer }> {
  const server = await startFileServer();
  const content = server.put('/file', randomContent(120_000));
  server.intercept = (req, res) => {
    if (req.url === '/old') {
      res.writeHead(301, { location: '/middle', 'content-length': '0' });
    } else if (req.url === '/middle') {
      res.writeHead(302, { location: `${server.url}/file`, 'content-length': '0' });
    } else {
      return false;
    }
    res.end();
    return true;
  };
  return { server, content };
}

describe('redirect policies', () => {
  it('ALLOW_SILENT (default): followed, the remote name stays as added', async () => {
    const dir = await workDir();
    const { server, content } = await redirectingServer();
    const mgr = await openManager(dir);
    const job = await mgr.createJob('silent', 'DOWNLOAD');
    await job.addFile(`${server.url}/old`, join(dir, 'out'));
    expect((await job.getSecurityFlags()) & SECURITY.REDIRECT_POLICY_MASK).toBe(SECURITY.REDIRECT_POLICY_ALLOW_SILENT);
    await job.resume();
    await waitForState(job, 'TRANSFERRED');
    expect(await (await job.enumFiles())[0]?.getRemoteName()).toBe(`${server.url}/old`);
    expect(server.log('GET', '/file')).toHaveLength(1);
    expect(await job.complete()).toBe('S_OK');
    expectSameBytes(await readFile(join(dir, 'out')), content);
  });

  it('ALLOW_REPORT: followed, and the file remote name becomes the final URL', async () => {
    const dir = await workDir();
    const { server, content } = await redirectingServer();
    const mgr = await openManager(dir);
    const job = await mgr.createJob('report', 'DOWNLOAD');
    await job.addFile(`${server.url}/old`, join(dir, 'out'));
    await job.setSecurityFlags(SECURITY.REDIRECT_POLICY_ALLOW_REPORT);
    await job.resume();
    await waitForState(job, 'TRANSFERRED');
    expect(await (await job.enumFiles())[0]?.getRemoteName()).toBe(`${server.url}/file`);
    expect(await job.complete()).toBe('S_OK');
    expectSameBytes(await readFile(join(dir, 'out')), content);
  });

  it('DISALLOW: the first redirect fails the job (ERROR, BG_E_HTTP_ERROR_301, REMOTE_FILE)', async () => {
    const dir = await workDir();
    const { server } = await redirectingServer();
    const mgr = await openManager(dir);
    const job = await mgr.createJob('disallow', 'DOWNLOAD');
    await job.addFile(`${server.url}/old`, join(dir, 'out'));
    await job.setSecurityFlags(SECURITY.REDIRECT_POLICY_DISALLOW);
    await job.resume();
    await waitForState(job, 'ERROR');
    expect(await job.getError()).toMatchObject({ code: 'BG_E_HTTP_ERROR_301', hresult: 0x8019012d, context: 'REMOTE_FILE' });
    expect(server.requests.map((r) => `${r.method} ${r.url}`)).toEqual(['GET /old']);
    expect(await (await job.enumFiles())[0]?.getRemoteName()).toBe(`${server.url}/old`);
  });
});

describe.skipIf(!hasOpenssl())('HTTPS -> HTTP redirects (certificates from the openssl CLI; skipped without openssl)', () => {
  let certs: TestCerts;
  beforeAll(() => {
    certs = makeCerts();
  });
  afterAll(() => certs.cleanup());

  async function setup(): Promise<{ dir: string; httpsUrl: string; plain: FileServer; content: Buffer }> {
    const dir = await workDir();
    const plain = await startFileServer();
    const content = plain.put('/file', randomContent(50_000));
    const secure = await startHttpsServer(certs.good.cert, certs.good.key, (req, res) => {
      res.writeHead(302, { location: `${plain.url}/file`, 'content-length': '0' });
      res.end();
    });
    onCleanup(() => secure.close());
    return { dir, httpsUrl: `${secure.url}/secure`, plain, content };
  }

  it('refused by default: ERROR ERROR_WINHTTP_REDIRECT_FAILED, the http server never asked', async () => {
    const { dir, httpsUrl, plain } = await setup();
    const mgr = await openManager(dir, { transport: new UndiciTransport({ ca: [certs.caPem] }) });
    const job = await mgr.createJob('https to http', 'DOWNLOAD');
    await job.addFile(httpsUrl, join(dir, 'out'));
    await job.resume();
    await waitForState(job, 'ERROR');
    expect(await job.getError()).toMatchObject({ code: 'ERROR_WINHTTP_REDIRECT_FAILED', hresult: 0x80072f7c, context: 'REMOTE_FILE', protocol: 'https' });
    expect(plain.requests).toHaveLength(0);
  });

  it('followed with BG_HTTP_REDIRECT_POLICY_ALLOW_HTTPS_TO_HTTP', async () => {
    const { dir, httpsUrl, plain, content } = await setup();
    const mgr = await openManager(dir, { transport: new UndiciTransport({ ca: [certs.caPem] }) });
    const job = await mgr.createJob('https to http allowed', 'DOWNLOAD');
    await job.addFile(httpsUrl, join(dir, 'out'));
    await job.setSecurityFlags(SECURITY.ALLOW_HTTPS_TO_HTTP);
    await job.resume();
    await waitForState(job, 'TRANSFERRED');
    expect(plain.log('GET', '/file')).toHaveLength(1);
    expect(await job.complete()).toBe('S_OK');
    expectSameBytes(await readFile(join(dir, 'out')), content);
  });
});

describe('proxy', () => {
  it('OVERRIDE: every request goes through the proxy as an absolute-URI forward request', async () => {
    const dir = await workDir();
    const server = await startFileServer();
    const content = server.put('/via-proxy', randomContent(200_000));
    const proxy = await startProxy();
    onCleanup(() => proxy.close());
    const mgr = await openManager(dir);
    const job = await mgr.createJob('proxied', 'DOWNLOAD');
    await job.addFile(`${server.url}/via-proxy`, join(dir, 'out'));
    await job.setProxySettings('OVERRIDE', `127.0.0.1:${proxy.port}`);
    expect(await job.getProxySettings()).toEqual({ usage: 'OVERRIDE', proxyList: `127.0.0.1:${proxy.port}`, bypassList: null });
    await job.resume();
    await waitForState(job, 'TRANSFERRED');
    expect(proxy.requests).toEqual([`GET ${server.url}/via-proxy`]);
    expect(server.requests).toHaveLength(1);
    expect(await job.complete()).toBe('S_OK');
    expectSameBytes(await readFile(join(dir, 'out')), content);
  });

  it('an OVERRIDE proxy that refuses the job (407) fails it with BG_E_HTTP_ERROR_407; NO_PROXY goes direct', async () => {
    const dir = await workDir();
    const server = await startFileServer();
    server.put('/f', randomContent(1_000));
    const proxy = await startProxy('Basic never');
    onCleanup(() => proxy.close());
    const mgr = await openManager(dir);
    const job = await mgr.createJob('proxy 407', 'DOWNLOAD');
    await job.addFile(`${server.url}/f`, join(dir, 'out'));
    await job.setProxySettings('OVERRIDE', `http=127.0.0.1:${proxy.port}`, null);
    await job.resume();
    await waitForState(job, 'ERROR');
    expect(await job.getError()).toMatchObject({ hresult: 0x80190197 });
    expect(server.requests).toHaveLength(0);

    await job.setProxySettings('NO_PROXY');
    await job.resume();
    await waitForState(job, 'TRANSFERRED');
    expect(proxy.requests).toHaveLength(1);
    expect(server.requests).toHaveLength(1);
  });
});

describe('proxy credentials', () => {
  it('a proxy demanding Basic: without PROXY credentials ERROR 0x80190197; with PROXY/BASIC credentials the job succeeds', async () => {
    const dir = await workDir();
    const server = await startFileServer();
    const content = server.put('/through', randomContent(180_000));
    const expected = `Basic ${Buffer.from('proxy-user:pr0xy:secret').toString('base64')}`;
    const proxy = await startProxy(expected);
    onCleanup(() => proxy.close());
    const mgr = await openManager(dir);
    const job = await mgr.createJob('proxy auth', 'DOWNLOAD');
    await job.addFile(`${server.url}/through`, join(dir, 'out'));
    await job.setProxySettings('OVERRIDE', `127.0.0.1:${proxy.port}`);

    await job.resume();
    await waitForState(job, 'ERROR');
    expect(await job.getError()).toMatchObject({ code: 'BG_E_HTTP_ERROR_407', hresult: 0x80190197 });
    expect(proxy.authorizations).toEqual([undefined]);
    expect(server.requests).toHaveLength(0);

    // SERVER credentials are not sent to the proxy.
    await job.setCredentials({ target: 'SERVER', scheme: 'BASIC', userName: 'proxy-user', password: 'pr0xy:secret' });
    await job.resume();
    await waitForState(job, 'ERROR');
    expect((await job.getError()).hresult).toBe(0x80190197);
    expect(server.requests).toHaveLength(0);

    await job.removeCredentials('SERVER', 'BASIC');
    await job.setCredentials({ target: 'PROXY', scheme: 'BASIC', userName: 'proxy-user', password: 'pr0xy:secret' });
    proxy.requests.length = 0;
    proxy.authorizations.length = 0;
    await job.resume();
    await waitForState(job, 'TRANSFERRED');
    expect(proxy.requests).toEqual([`GET ${server.url}/through`]);
    expect(proxy.authorizations).toEqual([expected]);
    expect(server.requests.map((r) => r.method)).toEqual(['GET']);
    // The proxy's credentials are for the proxy: the origin never sees an Authorization.
    expect(server.requests.every((r) => r.headers.authorization === undefined)).toBe(true);
    expect(await job.complete()).toBe('S_OK');
    expectSameBytes(await readFile(join(dir, 'out')), content);
  });
});

describe('server authentication', () => {
  it('401 without credentials: ERROR 0x80190191; Basic SERVER credentials then Resume: success', async () => {
    const dir = await workDir();
    const server = await startFileServer();
    const content = server.put('/secret', randomContent(150_000));
    const expected = `Basic ${Buffer.from('alice:s3cret:with:colons').toString('base64')}`;
    server.intercept = (req, res) => {
      if (req.headers.authorization === expected) return false;
      res.writeHead(401, { 'www-authenticate': 'Basic realm="files"', 'content-length': '0' });
      res.end();
      return true;
    };
    const mgr = await openManager(dir);
    const job = await mgr.createJob('auth', 'DOWNLOAD');
    await job.addFile(`${server.url}/secret`, join(dir, 'secret'));
    await job.resume();
    await waitForState(job, 'ERROR');
    expect(await job.getError()).toMatchObject({ code: 'BG_E_HTTP_ERROR_401', hresult: 0x80190191, context: 'REMOTE_FILE' });

    // Wrong password: still 0x80190191, after exactly one answer to the challenge.
    await job.setCredentials({ target: 'SERVER', scheme: 'BASIC', userName: 'alice', password: 'wrong' });
    server.requests.length = 0;
    await job.resume();
    await waitForState(job, 'ERROR');
    expect((await job.getError()).hresult).toBe(0x80190191);
    expect(server.requests.map((r) => r.headers.authorization === undefined)).toEqual([true, false]);

    await job.setCredentials({ target: 'SERVER', scheme: 'BASIC', userName: 'alice', password: 's3cret:with:colons' });
    server.requests.length = 0;
    await job.resume();
    await waitForState(job, 'TRANSFERRED');
    // The bare GET is challenged; its answer carries the right credentials.
    expect(server.requests.map((r) => `${r.method} ${String(r.headers.authorization)}`)).toEqual(['GET undefined', `GET ${expected}`]);
    expect(await job.complete()).toBe('S_OK');
    expectSameBytes(await readFile(join(dir, 'secret')), content);
  });

  it('credentials for another scheme or the PROXY target do not answer a Basic server challenge', async () => {
    const dir = await workDir();
    const server = await startFileServer();
    server.put('/secret', randomContent(10));
    server.intercept = (_req, res) => {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="files"', 'content-length': '0' });
      res.end();
      return true;
    };
    const mgr = await openManager(dir);
    const job = await mgr.createJob('auth mismatch', 'DOWNLOAD');
    await job.addFile(`${server.url}/secret`, join(dir, 'secret'));
    await job.setCredentials({ target: 'PROXY', scheme: 'BASIC', userName: 'p', password: 'p' });
    await job.setCredentials({ target: 'SERVER', scheme: 'DIGEST', userName: 'd', password: 'd' });
    await job.resume();
    await waitForState(job, 'ERROR');
    expect((await job.getError()).hresult).toBe(0x80190191);
    expect(server.requests).toHaveLength(1);
    expect(await job.complete()).toBe('BG_S_PARTIAL_COMPLETE');
    await expect(stat(join(dir, 'secret'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('Digest (SHA-256, qop=auth) through setCredentials DIGEST: the server verifies every answer; a wrong password is ERROR 0x80190191', async () => {
    const dir = await workDir();
    const server = await startFileServer();
    const content = server.put('/digest', randomContent(250_000));
    const digest = digestServer({ realm: 'bitsd downloads', userName: 'dora', password: 'd1gest "quoted"', algorithm: 'SHA-256', qop: true });
    server.intercept = (req, res) => !digest.guard(req, res);
    const mgr = await openManager(dir);
    const job = await mgr.createJob('digest', 'DOWNLOAD');
    await job.addFile(`${server.url}/digest`, join(dir, 'digest'));

    await job.setCredentials({ target: 'SERVER', scheme: 'DIGEST', userName: 'dora', password: 'wrong' });
    await job.resume();
    await waitForState(job, 'ERROR');
    expect(await job.getError()).toMatchObject({ code: 'BG_E_HTTP_ERROR_401', hresult: 0x80190191, context: 'REMOTE_FILE' });
    expect(digest.verified).toBe(0);
    expect(digest.lastReason).toBe('wrong response');

    await job.setCredentials({ target: 'SERVER', scheme: 'DIGEST', userName: 'dora', password: 'd1gest "quoted"' });
    server.requests.length = 0;
    await job.resume();
    await waitForState(job, 'TRANSFERRED');
    expect(server.requests.map((r) => `${r.method} ${r.headers.authorization?.split(' ')[0] ?? '-'}`)).toEqual(['GET -', 'GET Digest']);
    expect(digest.verified).toBe(1);
    expect(await job.complete()).toBe('S_OK');
    expectSameBytes(await readFile(join(dir, 'digest')), content);
  });
});
