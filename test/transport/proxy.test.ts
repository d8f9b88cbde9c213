import { afterEach, describe, expect, it } from 'vitest';
import type { ProxySettings } from '../../src/job/types.js';
import { BitsError } from '../../src/shared/errors.js';
import { resolveProxy } from '../../src/transport/proxy-resolver.js';
import type { ConnectOptions, HttpConnection } from '../../src/transport/types.js';
import { UndiciTransport } from '../../src/transport/undici-transport.js';
import { startProxy, startServer, type TestProxy, type TestServer } from './helpers.js';

const settings = (usage: ProxySettings['usage'], proxyList: string | null = null, bypassList: string | null = null): ProxySettings => ({
  usage,
  proxyList,
  bypassList,
});

describe('resolveProxy', () => {
  const http = new URL('http://files.example.com/a');
  const https = new URL('https://files.example.com/a');

  it('NO_PROXY is always direct', () => {
    expect(resolveProxy(http, settings('NO_PROXY'), { http_proxy: 'p:1' })).toEqual({ kind: 'direct' });
  });

  it('PRECONFIG and AUTODETECT read the environment per scheme, lower case first', () => {
    const env = { http_proxy: 'lower:1', HTTP_PROXY: 'upper:2', HTTPS_PROXY: 'https://secure:3' };
    expect(resolveProxy(http, settings('PRECONFIG'), env)).toEqual({ kind: 'proxy', uri: 'http://lower:1' });
    expect(resolveProxy(https, settings('AUTODETECT'), env)).toEqual({ kind: 'proxy', uri: 'https://secure:3' });
    expect(resolveProxy(http, settings('PRECONFIG'), {})).toEqual({ kind: 'direct' });
  });

  it('PRECONFIG honours no_proxy: suffixes, leading dots, ports and *', () => {
    const env = { http_proxy: 'p:1' };
    expect(resolveProxy(http, settings('PRECONFIG'), { ...env, no_proxy: 'example.com' }).kind).toBe('direct');
    expect(resolveProxy(http, settings('PRECONFIG'), { ...env, NO_PROXY: '.example.com' }).kind).toBe('direct');
    expect(resolveProxy(http, settings('PRECONFIG'), { ...env, no_proxy: 'files.example.com:8080' }).kind).toBe('proxy');
    expect(resolveProxy(http, settings('PRECONFIG'), { ...env, no_proxy: 'other.org, files.example.com:80' }).kind).toBe('direct');
    expect(resolveProxy(http, settings('PRECONFIG'), { ...env, no_proxy: '*' }).kind).toBe('direct');
    expect(resolveProxy(http, settings('PRECONFIG'), { ...env, no_proxy: 'ample.com' }).kind).toBe('proxy');
  });

  it('OVERRIDE picks the scheme-specific entry, then the generic one', () => {
    const list = 'generic:8080 https=https://tls-proxy:443 http=plain:3128';
    expect(resolveProxy(http, settings('OVERRIDE', list), {})).toEqual({ kind: 'proxy', uri: 'http://plain:3128' });
    expect(resolveProxy(https, settings('OVERRIDE', list), {})).toEqual({ kind: 'proxy', uri: 'https://tls-proxy' });
    expect(resolveProxy(https, settings('OVERRIDE', 'generic:8080 http=plain:3128'), {})).toEqual({ kind: 'proxy', uri: 'http://generic:8080' });
    expect(resolveProxy(https, settings('OVERRIDE', 'http=plain:3128'), {})).toEqual({ kind: 'direct' });
  });

  it('OVERRIDE bypass: <local>, leading wildcards, ports', () => {
    const list = 'proxy:8080';
    expect(resolveProxy(new URL('http://intranet/x'), settings('OVERRIDE', list, '<local>'), {}).kind).toBe('direct');
    expect(resolveProxy(new URL('http://127.0.0.1:9/x'), settings('OVERRIDE', list, '<local>'), {}).kind).toBe('direct');
    expect(resolveProxy(new URL('http://[::1]:9/x'), settings('OVERRIDE', list, '<local>'), {}).kind).toBe('direct');
    expect(resolveProxy(http, settings('OVERRIDE', list, '<local>'), {}).kind).toBe('proxy');
    expect(resolveProxy(http, settings('OVERRIDE', list, '*.example.com'), {}).kind).toBe('direct');
    expect(resolveProxy(http, settings('OVERRIDE', list, 'other.org *.example.com:8080'), {}).kind).toBe('proxy');
    expect(resolveProxy(http, settings('OVERRIDE', list, 'FILES.example.com:80'), {}).kind).toBe('direct');
  });

  it('rejects unusable proxy strings with the fatal BG_E_INVALID_PROXY_INFO', () => {
    for (const bad of ['socks5://p:1', 'http://', 'http://p:1/path', 'http=', 'p:99999']) {
      let err: unknown;
      try {
        resolveProxy(http, settings('OVERRIDE', bad), {});
      } catch (e) {
        err = e;
      }
      expect(err, bad).toBeInstanceOf(BitsError);
      expect((err as BitsError).code).toBe('BG_E_INVALID_PROXY_INFO');
      expect((err as BitsError).transient).toBe(false);
    }
    expect(() => resolveProxy(http, settings('OVERRIDE', ''), {})).toThrow(BitsError);
    expect(() => resolveProxy(http, settings('PRECONFIG'), { http_proxy: 'ftp://p:1' })).toThrow(BitsError);
  });
});

describe('UndiciTransport through a proxy', () => {
  let origin: TestServer | undefined;
  let proxy: TestProxy | undefined;
  let conn: HttpConnection | undefined;
  const transport = new UndiciTransport();

  afterEach(async () => {
    await conn?.destroy();
    await proxy?.close();
    await origin?.close();
    conn = undefined;
    proxy = undefined;
    origin = undefined;
  });

  const options = (o: Partial<ConnectOptions> & Pick<ConnectOptions, 'proxy'>): ConnectOptions => ({
    origin: origin?.url ?? '',
    proxyAuthorization: null,
    securityFlags: 0,
    clientCertificate: null,
    ...o,
  });

  async function setup(requireAuth?: string): Promise<void> {
    origin = await startServer((req, res) => res.end(`origin saw ${req.url ?? ''}`));
    proxy = await startProxy(requireAuth);
  }

  it('OVERRIDE sends plain http as forward requests through the proxy, with Proxy-Authorization', async () => {
    await setup('Basic dTpw');
    conn = transport.connect(options({ proxy: settings('OVERRIDE', `http=${proxy?.url ?? ''}`), proxyAuthorization: 'Basic dTpw' }));
    const res = await conn.request({ method: 'GET', path: '/file?a=1', headers: {} });
    expect(await res.text()).toBe('origin saw /file?a=1');
    expect(proxy?.requests).toEqual([`GET ${origin?.url ?? ''}/file?a=1`]);
    expect(proxy?.authorizations).toEqual(['Basic dTpw']);
  });

  it('maps a proxy 407 to the fatal BG_E_HTTP_ERROR_407', async () => {
    await setup('Basic right');
    conn = transport.connect(options({ proxy: settings('OVERRIDE', proxy?.url ?? '') }));
    const err = await conn.request({ method: 'GET', path: '/', headers: {} }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(BitsError);
    expect((err as BitsError).hresult).toBe(0x80190197);
    expect((err as BitsError).transient).toBe(false);
  });

  it('PRECONFIG uses HTTP_PROXY from the environment, and NO_PROXY bypasses it', async () => {
    await setup();
    conn = transport.connect(options({ proxy: settings('PRECONFIG'), env: { HTTP_PROXY: proxy?.url } }));
    expect(await (await conn.request({ method: 'GET', path: '/via', headers: {} })).text()).toBe('origin saw /via');
    expect(proxy?.requests).toHaveLength(1);
    await conn.destroy();
    conn = transport.connect(options({ proxy: settings('PRECONFIG'), env: { HTTP_PROXY: proxy?.url, NO_PROXY: '127.0.0.1' } }));
    expect(await (await conn.request({ method: 'GET', path: '/direct', headers: {} })).text()).toBe('origin saw /direct');
    expect(proxy?.requests).toHaveLength(1);
  });

  it('OVERRIDE with <local> in the bypass list goes direct to loopback', async () => {
    await setup();
    conn = transport.connect(options({ proxy: settings('OVERRIDE', proxy?.url ?? '', '<local>') }));
    expect(await (await conn.request({ method: 'GET', path: '/x', headers: {} })).text()).toBe('origin saw /x');
    expect(proxy?.requests).toEqual([]);
  });

  it('surfaces an unusable proxy as the request error BG_E_INVALID_PROXY_INFO', async () => {
    await setup();
    conn = transport.connect(options({ proxy: settings('OVERRIDE', 'gopher://nope:70') }));
    const err = await conn.request({ method: 'GET', path: '/', headers: {} }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as BitsError).code).toBe('BG_E_INVALID_PROXY_INFO');
  });
});
