/**
 * Uploads through an HTTP forward proxy (OVERRIDE proxy settings): every BITS packet goes to
 * the proxy as an absolute-form BITS_POST, reaches the origin over the proxy's connection, and
 * the file arrives byte-identical; PROXY Basic credentials go to the proxy as
 * Proxy-Authorization on every packet and never to the origin; a proxy that refuses them fails
 * the job with BG_E_HTTP_ERROR_407. The proxy is test/fixtures/forward-proxy.ts (node:net: node's
 * http server cannot parse BITS_POST).
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import type { BackgroundCopyJob } from '../../../src/index.js';
import { type ForwardProxy, startForwardProxy } from '../../fixtures/forward-proxy.js';
import { FRAGMENT, content, digest, digestOf, harness, waitState } from './helpers.js';
import type { Harness } from './helpers.js';

async function proxy(requireAuth?: string): Promise<ForwardProxy> {
  const p = await startForwardProxy(requireAuth === undefined ? {} : { requireAuth });
  onTestFinished(() => p.close());
  return p;
}

const viaProxy = (p: ForwardProxy) => async (job: BackgroundCopyJob): Promise<void> => {
  await job.setProxySettings('OVERRIDE', p.url);
};

/** Every packet the origin logged came over one of the proxy's upstream connections, and the proxy logged the same packets in order. */
function expectAllThroughProxy(h: Harness, p: ForwardProxy, remote: string): void {
  const posts = p.log.filter((e) => e.method === 'BITS_POST');
  expect(posts.length).toBeGreaterThan(0);
  expect(posts.every((e) => e.target === remote)).toBe(true);
  expect(posts.map((e) => e.packetType)).toEqual(h.server.packets.map((pk) => pk.packetType));
  expect(h.server.packets.every((pk) => pk.remotePort !== undefined && p.upstreamPorts.has(pk.remotePort))).toBe(true);
  // And the proxy knew which upstream connection each went over: the same ports, in order.
  expect(posts.map((e) => e.upstreamPort)).toEqual(h.server.packets.map((pk) => pk.remotePort));
}

describe('uploads through an OVERRIDE proxy', () => {
  it('every BITS packet passes through the proxy; the file arrives byte-identical', async () => {
    const h = await harness();
    const p = await proxy();
    const data = content(5 * FRAGMENT + 123);
    const job = await h.startUpload('via-proxy.bin', data, { before: viaProxy(p) });
    await waitState(job, 'TRANSFERRED');
    expect(await digestOf(h.stored('via-proxy.bin'))).toBe(digest(data));
    const remote = `${h.server.url}/up/via-proxy.bin`;
    expectAllThroughProxy(h, p, remote);
    expect(h.server.packets.map((pk) => pk.kind)).toEqual(['create-session', ...Array<string>(6).fill('fragment'), 'close-session']);
    // Every fragment byte went through the proxy, once.
    const fragmentBytes = p.log.filter((e) => e.packetType === 'Fragment').reduce((sum, e) => sum + e.bodyBytes, 0);
    expect(fragmentBytes).toBe(data.length);
    // One kept-alive connection to the proxy carried the session.
    expect(new Set(p.log.map((e) => e.clientConnection)).size).toBe(1);
    expect(p.log.every((e) => e.proxyAuthorization === undefined)).toBe(true);
    expect(await job.complete()).toBe('S_OK');
  });

  it('upload-reply: the packets and the reply download both go through the proxy', async () => {
    const h = await harness({ server: { replyHandler: async () => ({ body: 'reply via proxy' }) } });
    const p = await proxy();
    const data = content(2 * FRAGMENT);
    const job = await h.startUpload('reply-proxy.bin', data, { type: 'UPLOAD_REPLY', before: viaProxy(p) });
    await waitState(job, 'TRANSFERRED');
    expectAllThroughProxy(h, p, `${h.server.url}/up/reply-proxy.bin`);
    const gets = p.log.filter((e) => e.method === 'GET');
    expect(gets).toHaveLength(1);
    expect(gets[0]?.target.startsWith(`${h.server.url}/__bits-reply/`)).toBe(true);
    expect(h.server.requests.filter((r) => r.method === 'GET').every((r) => r.remotePort !== undefined && p.upstreamPorts.has(r.remotePort))).toBe(true);
    expect((await job.getReplyData())?.toString()).toBe('reply via proxy');
    expect(await digestOf(h.stored('reply-proxy.bin'))).toBe(digest(data));
  });

  it('PROXY Basic credentials: Proxy-Authorization on every packet, never passed to the origin', async () => {
    const user = 'proxy-user';
    const password = 'proxy-secret';
    const expected = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    const h = await harness();
    const p = await proxy(expected);
    const data = content(3 * FRAGMENT);
    const job = await h.startUpload('proxy-auth.bin', data, {
      before: async (j) => {
        await viaProxy(p)(j);
        await j.setCredentials({ target: 'PROXY', scheme: 'BASIC', userName: user, password });
      },
    });
    await waitState(job, 'TRANSFERRED');
    expect(await digestOf(h.stored('proxy-auth.bin'))).toBe(digest(data));
    expectAllThroughProxy(h, p, `${h.server.url}/up/proxy-auth.bin`);
    expect(p.log.every((e) => e.proxyAuthorization === expected && e.refused === undefined)).toBe(true);
    // PROXY credentials are not SERVER credentials: no Authorization to the origin either.
    expect(p.log.every((e) => e.authorization === undefined)).toBe(true);
    expect(h.server.packets.every((pk) => pk.headers['proxy-authorization'] === undefined && pk.headers['authorization'] === undefined)).toBe(true);
  });

  it('a proxy that refuses the credentials (407): ERROR BG_E_HTTP_ERROR_407, nothing reaches the origin', async () => {
    const h = await harness();
    const p = await proxy(`Basic ${Buffer.from('right:creds').toString('base64')}`);
    const job = await h.startUpload('proxy-407.bin', content(FRAGMENT), {
      before: async (j) => {
        await viaProxy(p)(j);
        await j.setCredentials({ target: 'PROXY', scheme: 'BASIC', userName: 'wrong', password: 'creds' });
      },
    });
    await waitState(job, 'ERROR');
    expect(await job.getError()).toMatchObject({ hresult: 0x80190197, code: 'BG_E_HTTP_ERROR_407' });
    expect(p.log.map((e) => [e.packetType, e.refused])).toEqual([['Create-Session', 407]]);
    expect(h.server.packets).toEqual([]);
  });
});
