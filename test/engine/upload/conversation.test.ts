/**
 * Scripted conversations: the happy paths of the upload engine, every header asserted.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readUploadState } from '../../../src/engine/upload/state.js';
import { basicHeaderValue } from '../../../src/protocol/auth.js';
import { makeContext, tempFile } from './fake-context.js';
import { ack, GUID, ORIGIN, setup, URL_PATH } from './helpers.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function file(size: number) {
  const f = await tempFile(size);
  cleanups.push(f.cleanup);
  return f;
}

describe('upload conversation', () => {
  it('Create-Session -> Fragments -> Close-Session, every header asserted', async () => {
    const f = await file(250);
    const { transport, engine } = setup();
    const credentials = [
      { target: 'SERVER' as const, scheme: 'BASIC' as const, userName: 'alice', password: 's3cret' },
      { target: 'PROXY' as const, scheme: 'BASIC' as const, userName: 'proxy', password: 'pp' },
    ];
    const { ctx, rec } = makeContext({ localName: f.path, customHeaders: 'X-Tenant: blue\r\nContent-Length: 9\r\n', credentials });
    const auth = basicHeaderValue('alice', 's3cret') ?? '';
    const run = engine.transfer(ctx);

    const create = await transport.nextRequest();
    expect(create.method).toBe('BITS_POST');
    expect(create.path).toBe(URL_PATH);
    expect(create.origin).toBe(ORIGIN);
    expect(create.headers).toEqual({
      'bits-packet-type': 'Create-Session',
      'bits-supported-protocols': GUID,
      'content-length': '0',
      'x-tenant': 'blue',
      authorization: auth,
    });
    expect(create.timeoutMs).toBe(60_000);
    await create.respondWith({ status: 200, headers: ack({ 'bits-session-id': '{SESSION-1}', 'bits-protocol': GUID, 'accept-encoding': 'Identity' }) });

    const expected = [
      { range: 'bytes 0-99/250', length: '100', name: true, slice: [0, 100], ackAt: '100' },
      { range: 'bytes 100-199/250', length: '100', name: false, slice: [100, 200], ackAt: '200' },
      { range: 'bytes 200-249/250', length: '50', name: false, slice: [200, 250], ackAt: '250' },
    ] as const;
    for (const step of expected) {
      const frag = await transport.nextRequest();
      expect(frag.method).toBe('BITS_POST');
      expect(frag.path).toBe(URL_PATH);
      expect(frag.headers).toEqual({
        'bits-packet-type': 'Fragment',
        'bits-session-id': '{SESSION-1}',
        'content-range': step.range,
        'content-length': step.length,
        ...(step.name ? { 'content-name': 'data.bin' } : {}),
        'x-tenant': 'blue',
        authorization: auth,
      });
      expect(await frag.body()).toEqual(f.content.subarray(step.slice[0], step.slice[1]));
      await frag.respondWith({ status: 200, headers: ack({ 'bits-session-id': '{SESSION-1}', 'bits-received-content-range': step.ackAt }) });
    }

    const close = await transport.nextRequest();
    expect(close.headers).toEqual({
      'bits-packet-type': 'Close-Session',
      'bits-session-id': '{SESSION-1}',
      'content-length': '0',
      'x-tenant': 'blue',
      authorization: auth,
    });
    expect(await close.body()).toHaveLength(0);
    await close.respondWith({ status: 200, headers: ack({ 'bits-session-id': '{SESSION-1}' }) });
    await run;

    // One connection for the whole session, closed gracefully at the end.
    expect(new Set([create, close].map((r) => r.connectionId)).size).toBe(1);
    expect(transport.connects).toHaveLength(1);
    expect(transport.connects[0]).toEqual({
      origin: ORIGIN,
      proxy: { usage: 'NO_PROXY', proxyList: null, bypassList: null },
      proxyAuthorization: basicHeaderValue('proxy', 'pp'),
      securityFlags: 0,
      clientCertificate: null,
      connectTimeoutMs: 30_000,
    });
    expect(transport.closed).toEqual([0]);
    expect(rec.totals).toEqual([250]);
    expect(rec.connected).toBeGreaterThanOrEqual(1);
    expect(rec.progress.map((p) => p.bytes)).toEqual([100, 200, 250]);
    // The session id was persisted right after Create-Session, before any fragment.
    expect(readUploadState(rec.states[0])).toMatchObject({ phase: 'uploading', sessionId: '{SESSION-1}', fileSize: 250 });
    // The last fragment's progress moved to 'closing' in the same write.
    expect(readUploadState(rec.progress[2]?.state)).toMatchObject({ phase: 'closing' });
    expect(readUploadState(rec.lastState).phase).toBe('closed');
  });

  it('sends a Ping first when configured', async () => {
    const f = await file(10);
    const { transport, engine } = setup({ ping: true });
    const { ctx } = makeContext({ localName: f.path });
    const run = engine.transfer(ctx);
    const ping = await transport.nextRequest();
    expect(ping.headers).toEqual({ 'bits-packet-type': 'Ping', 'content-length': '0' });
    await ping.respondWith({ status: 200, headers: ack() });
    const create = await transport.nextRequest();
    expect(create.headers['bits-packet-type']).toBe('Create-Session');
    expect(create.connectionId).toBe(ping.connectionId);
    await create.respondWith({ status: 201, headers: ack({ 'bits-session-id': 's' }) });
    const frag = await transport.nextRequest();
    await frag.respondWith({ status: 200, headers: ack({ 'bits-received-content-range': '10' }) });
    await (await transport.nextRequest()).respondWith({ status: 200, headers: ack() });
    await run;
  });

  it('0-byte file: one empty Fragment "bytes */0", then Close-Session', async () => {
    const f = await file(0);
    const { transport, engine } = setup();
    const { ctx, rec } = makeContext({ localName: f.path });
    const run = engine.transfer(ctx);
    await (await transport.nextRequest()).respondWith({ status: 200, headers: ack({ 'bits-session-id': 'z' }) });
    const frag = await transport.nextRequest();
    expect(frag.headers).toEqual({
      'bits-packet-type': 'Fragment',
      'bits-session-id': 'z',
      'content-range': 'bytes */0',
      'content-length': '0',
      'content-name': 'data.bin',
    });
    expect(await frag.body()).toHaveLength(0);
    await frag.respondWith({ status: 200, headers: ack({ 'bits-received-content-range': '0' }) });
    const close = await transport.nextRequest();
    expect(close.headers['bits-packet-type']).toBe('Close-Session');
    await close.respondWith({ status: 200, headers: ack() });
    await run;
    expect(rec.totals).toEqual([0]);
    expect(rec.progress.map((p) => p.bytes)).toEqual([0]);
  });

  it('1-byte file and an exact multiple of the fragment size', async () => {
    for (const size of [1, 200]) {
      const f = await file(size);
      const { transport, engine } = setup();
      const { ctx } = makeContext({ localName: f.path });
      const run = engine.transfer(ctx);
      await (await transport.nextRequest()).respondWith({ status: 200, headers: ack({ 'bits-session-id': 's' }) });
      const ranges: string[] = [];
      let received = 0;
      while (received < size) {
        const frag = await transport.nextRequest();
        ranges.push(frag.headers['content-range'] ?? '');
        received += (await frag.body()).length;
        await frag.respondWith({ status: 200, headers: ack({ 'bits-received-content-range': String(received) }) });
      }
      await (await transport.nextRequest()).respondWith({ status: 200, headers: ack() });
      await run;
      expect(ranges).toEqual(size === 1 ? ['bytes 0-0/1'] : ['bytes 0-99/200', 'bytes 100-199/200']);
    }
  });

  it('BITS-Host-Id: validated with a Ping, then every packet goes to that host', async () => {
    const f = await file(50);
    const { transport, engine } = setup();
    const { ctx, rec } = makeContext({ localName: f.path });
    const run = engine.transfer(ctx);
    const create = await transport.nextRequest();
    await create.respondWith({ status: 200, headers: ack({ 'bits-session-id': 's', 'bits-host-id': '127.0.0.1:9001', 'bits-host-id-fallback-timeout': '60' }) });
    const ping = await transport.nextRequest();
    expect(ping.origin).toBe('http://127.0.0.1:9001');
    expect(ping.path).toBe(URL_PATH);
    expect(ping.headers['bits-packet-type']).toBe('Ping');
    await ping.respondWith({ status: 200, headers: ack() });
    const frag = await transport.nextRequest();
    expect(frag.origin).toBe('http://127.0.0.1:9001');
    await frag.respondWith({ status: 200, headers: ack({ 'bits-received-content-range': '50' }) });
    const close = await transport.nextRequest();
    expect(close.origin).toBe('http://127.0.0.1:9001');
    await close.respondWith({ status: 200, headers: ack() });
    await run;
    expect(readUploadState(rec.states[0])).toMatchObject({ hostId: '127.0.0.1:9001', hostIdFallbackSec: 60 });
  });
});

describe('fragment size', () => {
  /** Sends an upload of `size` bytes and answers each fragment after `elapsed(i)` ms; returns the fragment lengths. */
  async function lengths(size: number, options: Parameters<typeof setup>[0], elapsed: (i: number) => number): Promise<number[]> {
    const f = await file(size);
    let now = 0;
    const { transport, engine } = setup({ ...options, monotonicNow: () => now });
    const { ctx } = makeContext({ localName: f.path });
    const run = engine.transfer(ctx);
    await (await transport.nextRequest()).respondWith({ status: 201, headers: ack({ 'bits-session-id': 's' }) });
    const seen: number[] = [];
    for (let offset = 0; offset < size; ) {
      const frag = await transport.nextRequest();
      const length = Number(frag.headers['content-length']);
      seen.push(length);
      offset += length;
      now += elapsed(seen.length - 1);
      await frag.respondWith({ status: 200, headers: ack({ 'bits-received-content-range': String(offset) }) });
    }
    await (await transport.nextRequest()).respondWith({ status: 200, headers: ack() });
    await run;
    return seen;
  }

  it('grows (doubling) while Acks are fast, up to maxFragmentSize', async () => {
    expect(await lengths(2000, { fragmentSize: 100, maxFragmentSize: 400 }, () => 10)).toEqual([100, 200, 400, 400, 400, 400, 100]);
  });

  it('shrinks back (not below the first size) when an Ack is slow', async () => {
    const slowAfter = (i: number): number => (i < 2 ? 10 : 5000);
    expect(await lengths(1500, { fragmentSize: 100, maxFragmentSize: 800 }, slowAfter)).toEqual([100, 200, 400, 200, 100, 100, 100, 100, 100, 100]);
  });

  it('stays fixed when only fragmentSize is given', async () => {
    expect(await lengths(300, { fragmentSize: 100 }, () => 1)).toEqual([100, 100, 100]);
  });
});
