import * as https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SECURITY } from '../../src/job/types.js';
import { BitsError } from '../../src/shared/errors.js';
import type { ConnectOptions, HttpConnection } from '../../src/transport/types.js';
import { UndiciTransport } from '../../src/transport/undici-transport.js';
import { hasOpenssl, makeCerts, startHttpsServer, startProxy, type TestCerts, type TestProxy, type TestServer } from './helpers.js';

const opensslMissing = !hasOpenssl();

// Certificates are generated with the openssl CLI at test time; without it these tests cannot run.
describe.skipIf(opensslMissing)('UndiciTransport TLS (certificates made with openssl; skipped when openssl is missing)', () => {
  let certs: TestCerts;
  let server: TestServer | undefined;
  let proxy: TestProxy | undefined;
  let conn: HttpConnection | undefined;

  beforeAll(() => {
    certs = makeCerts();
  });
  afterAll(() => certs.cleanup());
  afterEach(async () => {
    await conn?.destroy();
    await proxy?.close();
    await server?.close();
    conn = undefined;
    proxy = undefined;
    server = undefined;
  });

  const options = (securityFlags: number, extra: Partial<ConnectOptions> = {}): ConnectOptions => ({
    origin: server?.url ?? '',
    proxy: { usage: 'NO_PROXY', proxyList: null, bypassList: null },
    proxyAuthorization: null,
    securityFlags,
    clientCertificate: null,
    ...extra,
  });

  async function get(transport: UndiciTransport, o: ConnectOptions): Promise<string | BitsError> {
    conn = transport.connect(o);
    try {
      const res = await conn.request({ method: 'GET', path: '/', headers: {} });
      return await res.text();
    } catch (err) {
      if (err instanceof BitsError) return err;
      throw err;
    } finally {
      await conn.destroy();
    }
  }

  const serve = async (pair: { cert: string; key: string }): Promise<void> => {
    server = await startHttpsServer(pair.cert, pair.key, (_req, res) => res.end('secret'));
  };

  it('rejects a self-signed certificate by default (fatal ERROR_WINHTTP_SECURE_INVALID_CA)', async () => {
    await serve(certs.selfSigned);
    const result = await get(new UndiciTransport(), options(0));
    expect(result).toBeInstanceOf(BitsError);
    expect((result as BitsError).code).toBe('ERROR_WINHTTP_SECURE_INVALID_CA');
    expect((result as BitsError).transient).toBe(false);
  });

  it('accepts a self-signed certificate with BG_SSL_IGNORE_UNKNOWN_CA', async () => {
    await serve(certs.selfSigned);
    expect(await get(new UndiciTransport(), options(SECURITY.IGNORE_UNKNOWN_CA))).toBe('secret');
  });

  it('trusts a certificate of a CA given to the transport', async () => {
    await serve(certs.good);
    expect(await get(new UndiciTransport({ ca: [certs.caPem] }), options(0))).toBe('secret');
  });

  it('checks the host name unless BG_SSL_IGNORE_CERT_CN_INVALID', async () => {
    await serve(certs.wrongName);
    const transport = new UndiciTransport({ ca: [certs.caPem] });
    const result = await get(transport, options(0));
    expect((result as BitsError).code).toBe('ERROR_WINHTTP_SECURE_CERT_CN_INVALID');
    expect(await get(transport, options(SECURITY.IGNORE_CERT_CN_INVALID))).toBe('secret');
    // Ignoring only the CA does not ignore the name.
    const caOnly = await get(new UndiciTransport(), options(SECURITY.IGNORE_UNKNOWN_CA));
    expect((caOnly as BitsError).code).toBe('ERROR_WINHTTP_SECURE_CERT_CN_INVALID');
  });

  it('checks dates unless BG_SSL_IGNORE_CERT_DATE_INVALID, and still checks the CA then', async () => {
    await serve(certs.expired);
    const trusting = new UndiciTransport({ ca: [certs.caPem] });
    expect(((await get(trusting, options(0))) as BitsError).code).toBe('ERROR_WINHTTP_SECURE_CERT_DATE_INVALID');
    expect(await get(trusting, options(SECURITY.IGNORE_CERT_DATE_INVALID))).toBe('secret');
    // Without the CA, ignoring dates is not enough.
    const untrusting = new UndiciTransport();
    expect(((await get(untrusting, options(SECURITY.IGNORE_CERT_DATE_INVALID))) as BitsError).code).toBe('ERROR_WINHTTP_SECURE_INVALID_CA');
    // Ignoring the CA alone still fails on the dates.
    expect(((await get(untrusting, options(SECURITY.IGNORE_UNKNOWN_CA))) as BitsError).code).toBe('ERROR_WINHTTP_SECURE_CERT_DATE_INVALID');
    expect(await get(untrusting, options(SECURITY.IGNORE_UNKNOWN_CA | SECURITY.IGNORE_CERT_DATE_INVALID))).toBe('secret');
  });

  it('tunnels https through a CONNECT proxy and applies the flags to the origin certificate', async () => {
    await serve(certs.selfSigned);
    proxy = await startProxy();
    const viaProxy = { proxy: { usage: 'OVERRIDE' as const, proxyList: proxy.url, bypassList: null } };
    const rejected = await get(new UndiciTransport(), options(0, viaProxy));
    expect((rejected as BitsError).code).toBe('ERROR_WINHTTP_SECURE_INVALID_CA');
    expect(await get(new UndiciTransport(), options(SECURITY.IGNORE_UNKNOWN_CA, viaProxy))).toBe('secret');
    expect(proxy.requests.every((r) => r === `CONNECT 127.0.0.1:${server?.port ?? 0}`)).toBe(true);
    expect(proxy.requests.length).toBeGreaterThanOrEqual(2);
  });

  it('presents the client certificate from PEM files', async () => {
    const seen: (string | undefined)[] = [];
    const srv = https.createServer({ cert: certs.good.cert, key: certs.good.key, ca: certs.caPem, requestCert: true, rejectUnauthorized: true }, (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      seen.push(typeof peer.subject?.CN === 'string' ? peer.subject.CN : undefined);
      res.end('hello client');
    });
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    const port = (srv.address() as { port: number }).port;
    try {
      const transport = new UndiciTransport({ ca: [certs.caPem] });
      const o = options(0, {
        origin: `https://127.0.0.1:${port}`,
        clientCertificate: { certFile: certs.clientCertFile, keyFile: certs.clientKeyFile },
      });
      expect(await get(transport, o)).toBe('hello client');
      expect(seen).toEqual(['client']);
      const missing = await get(transport, options(0, { origin: `https://127.0.0.1:${port}`, clientCertificate: { certFile: '/nonexistent.pem', keyFile: null } }));
      expect((missing as BitsError).code).toBe('ERROR_FILE_NOT_FOUND');
    } finally {
      srv.closeAllConnections();
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    }
  });
});
