/**
 * Resume: 416 resume points, SESSION_NOT_FOUND restarts, resuming a stored session after a retry or
 * a restart, the Host-Id fallback timer, and 413 fragment shrinking.
 */
import { stat } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { BitsError } from '../../../src/shared/errors.js';
import { FakeClock } from '../../../src/shared/clock.js';
import { readUploadState, writeUploadState, INITIAL_STATE } from '../../../src/engine/upload/state.js';
import { makeContext, tempFile } from './fake-context.js';
import { ack, settle, setup } from './helpers.js';
import type { ScriptedTransport } from './scripted-transport.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function file(size: number) {
  const f = await tempFile(size);
  cleanups.push(f.cleanup);
  return f;
}

async function create(transport: ScriptedTransport, sessionId = 's1'): Promise<void> {
  const req = await transport.nextRequest();
  expect(req.headers['bits-packet-type']).toBe('Create-Session');
  await req.respondWith({ status: 200, headers: ack({ 'bits-session-id': sessionId }) });
}

async function fragment(transport: ScriptedTransport, expectRange: string, answer: { status?: number; headers: Record<string, string> }): Promise<void> {
  const req = await transport.nextRequest();
  expect(req.headers['bits-packet-type']).toBe('Fragment');
  expect(req.headers['content-range']).toBe(expectRange);
  await req.respondWith({ status: answer.status ?? 200, headers: ack(answer.headers) });
}

async function close(transport: ScriptedTransport, sessionId = 's1'): Promise<void> {
  const req = await transport.nextRequest();
  expect(req.headers['bits-packet-type']).toBe('Close-Session');
  expect(req.headers['bits-session-id']).toBe(sessionId);
  await req.respondWith({ status: 200, headers: ack() });
}

async function storedState(path: string, patch: Partial<typeof INITIAL_STATE> = {}) {
  const st = await stat(path);
  return writeUploadState({ ...INITIAL_STATE, sessionId: 's1', fileSize: st.size, fileMtimeMs: st.mtimeMs, ...patch });
}

describe('resume', () => {
  it('416: BITS-Received-Content-Range is the resume point, forward or backward', async () => {
    const f = await file(300);
    const { transport, engine } = setup();
    const { ctx, rec } = makeContext({ localName: f.path });
    const run = engine.transfer(ctx);
    await create(transport);
    await fragment(transport, 'bytes 0-99/300', { headers: { 'bits-received-content-range': '100' } });
    // The server already holds more than we think (a retried fragment landed): skip ahead.
    await fragment(transport, 'bytes 100-199/300', { status: 416, headers: { 'bits-received-content-range': '250', 'bits-error-code': '0x0' } });
    // The server lost data: go back.
    await fragment(transport, 'bytes 250-299/300', { status: 416, headers: { 'bits-received-content-range': '50' } });
    await fragment(transport, 'bytes 50-149/300', { headers: { 'bits-received-content-range': '150' } });
    await fragment(transport, 'bytes 150-249/300', { headers: { 'bits-received-content-range': '250' } });
    await fragment(transport, 'bytes 250-299/300', { headers: { 'bits-received-content-range': '300' } });
    await close(transport);
    await run;
    expect(rec.progress.map((p) => p.bytes)).toEqual([100, 250, 50, 150, 250, 300]);
  });

  it('a 416 without a usable range is a protocol error', async () => {
    const f = await file(300);
    const { transport, engine } = setup();
    const { ctx } = makeContext({ localName: f.path });
    const run = settle(engine.transfer(ctx));
    await create(transport);
    await fragment(transport, 'bytes 0-99/300', { status: 416, headers: { 'bits-received-content-range': '301' } });
    const result = await run;
    expect(result.ok).toBe(false);
    expect(result.ok ? null : result.error).toMatchObject({ code: 'BG_E_INVALID_SERVER_RESPONSE', transient: false });
  });

  it('SESSION_NOT_FOUND mid-upload: a new Create-Session, from byte 0', async () => {
    const f = await file(200);
    const { transport, engine, lines } = setup();
    const { ctx, rec } = makeContext({ localName: f.path });
    const run = engine.transfer(ctx);
    await create(transport, 'old');
    await fragment(transport, 'bytes 0-99/200', { headers: { 'bits-received-content-range': '100' } });
    await fragment(transport, 'bytes 100-199/200', { status: 500, headers: { 'bits-error-code': '0x8020001F', 'bits-error-context': '0x5' } });
    await create(transport, 'new');
    const first = await transport.nextRequest();
    expect(first.headers).toMatchObject({ 'bits-session-id': 'new', 'content-range': 'bytes 0-99/200', 'content-name': 'data.bin' });
    await first.respondWith({ status: 200, headers: ack({ 'bits-received-content-range': '100' }) });
    await fragment(transport, 'bytes 100-199/200', { headers: { 'bits-received-content-range': '200' } });
    await close(transport, 'new');
    await run;
    expect(rec.progress.map((p) => p.bytes)).toEqual([100, 0, 100, 200]);
    expect(readUploadState(rec.progress[1]?.state).sessionId).toBe('new');
    expect(lines.some((l) => l.level === 'warn' && /new one/.test(l.message))).toBe(true);
  });

  it('a server that keeps losing sessions ends the attempt transiently', async () => {
    const f = await file(50);
    const { transport, engine } = setup({ maxSessionRestarts: 1 });
    const { ctx } = makeContext({ localName: f.path });
    const run = settle(engine.transfer(ctx));
    for (let i = 0; i < 2; i++) {
      await create(transport);
      await fragment(transport, 'bytes 0-49/50', { status: 404, headers: { 'bits-error-code': '0x8020001f' } });
    }
    const result = await run;
    expect(result.ok ? null : result.error).toMatchObject({ code: 'BG_E_SESSION_NOT_FOUND', transient: true, context: 'REMOTE_FILE' });
  });

  it('continues a stored session from the stored offset (no Create-Session)', async () => {
    const f = await file(250);
    const { transport, engine } = setup();
    const { ctx, rec } = makeContext({ localName: f.path, bytesTransferred: 100, bytesTotal: 250, engineState: await storedState(f.path) });
    const run = engine.transfer(ctx);
    const frag = await transport.nextRequest();
    expect(frag.headers).toMatchObject({ 'bits-packet-type': 'Fragment', 'bits-session-id': 's1', 'content-range': 'bytes 100-199/250' });
    expect(frag.headers).not.toHaveProperty('content-name');
    expect(await frag.body()).toEqual(f.content.subarray(100, 200));
    await frag.respondWith({ status: 200, headers: ack({ 'bits-received-content-range': '200' }) });
    await fragment(transport, 'bytes 200-249/250', { headers: { 'bits-received-content-range': '250' } });
    await close(transport);
    await run;
    expect(rec.totals).toEqual([]);
  });

  it('a stored session the server forgot: new session from 0', async () => {
    const f = await file(150);
    const { transport, engine } = setup();
    const { ctx, rec } = makeContext({ localName: f.path, bytesTransferred: 100, engineState: await storedState(f.path) });
    const run = engine.transfer(ctx);
    await fragment(transport, 'bytes 100-149/150', { status: 500, headers: { 'bits-error-code': '0x8020001f' } });
    await create(transport, 's2');
    await fragment(transport, 'bytes 0-99/150', { headers: { 'bits-received-content-range': '100' } });
    await fragment(transport, 'bytes 100-149/150', { headers: { 'bits-received-content-range': '150' } });
    await close(transport, 's2');
    await run;
    expect(rec.progress[0]?.bytes).toBe(0);
  });

  it('restart in the closing phase goes straight to Close-Session', async () => {
    const f = await file(150);
    const { transport, engine } = setup();
    const { ctx, rec } = makeContext({ localName: f.path, bytesTransferred: 150, engineState: await storedState(f.path, { phase: 'closing' }) });
    const run = engine.transfer(ctx);
    await close(transport);
    await run;
    expect(readUploadState(rec.lastState).phase).toBe('closed');
  });

  it('a closed upload does nothing', async () => {
    const f = await file(10);
    const { transport, engine } = setup();
    const { ctx } = makeContext({ localName: f.path, engineState: await storedState(f.path, { phase: 'closed' }) });
    await engine.transfer(ctx);
    expect(transport.connects).toHaveLength(0);
  });

  it('413 halves the fragment (persisted) down to the floor, then fails', async () => {
    const f = await file(300);
    const { transport, engine } = setup({ fragmentSize: 100, minFragmentSize: 25 });
    const { ctx, rec } = makeContext({ localName: f.path });
    const run = settle(engine.transfer(ctx));
    await create(transport);
    await fragment(transport, 'bytes 0-99/300', { status: 413, headers: {} });
    await fragment(transport, 'bytes 0-49/300', { headers: { 'bits-received-content-range': '50' } });
    expect(readUploadState(rec.states.at(-1)).fragmentSize).toBe(50);
    await fragment(transport, 'bytes 50-99/300', { status: 413, headers: {} });
    await fragment(transport, 'bytes 50-74/300', { status: 413, headers: {} });
    const result = await run;
    expect(result.ok ? null : result.error).toMatchObject({ code: 'BG_E_HTTP_ERROR_413', hresult: 0x8019019d, transient: false, context: 'REMOTE_FILE' });
  });

  it('a stored fragment size is used after a restart', async () => {
    const f = await file(100);
    const { transport, engine } = setup();
    const { ctx } = makeContext({ localName: f.path, engineState: await storedState(f.path, { fragmentSize: 40 }) });
    const run = engine.transfer(ctx);
    await fragment(transport, 'bytes 0-39/100', { headers: { 'bits-received-content-range': '40' } });
    await fragment(transport, 'bytes 40-79/100', { headers: { 'bits-received-content-range': '80' } });
    await fragment(transport, 'bytes 80-99/100', { headers: { 'bits-received-content-range': '100' } });
    await close(transport);
    await run;
  });

  it('Host-Id unreachable: keep trying it until the fallback timeout, then the original host', async () => {
    const f = await file(50);
    const clock = new FakeClock();
    const { transport, engine } = setup({ packetRetries: 0 });
    const state = await storedState(f.path, { hostId: '127.0.0.1:9001', hostIdFallbackSec: 60 });
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });

    const first = makeContext({ localName: f.path, engineState: state, clock });
    const run1 = settle(engine.transfer(first.ctx));
    const r1 = await transport.nextRequest();
    expect(r1.origin).toBe('http://127.0.0.1:9001');
    r1.fail(reset);
    const result1 = await run1;
    expect(result1.ok ? null : result1.error).toMatchObject({ code: 'ERROR_WINHTTP_CONNECTION_ERROR', transient: true, context: 'GENERAL_TRANSPORT' });
    const failing = readUploadState(first.rec.lastState);
    expect(failing.hostIdFailingSince).toBe(clock.now());

    await clock.advance(61_000);
    const second = makeContext({ localName: f.path, engineState: first.rec.lastState, clock });
    const run2 = engine.transfer(second.ctx);
    const r2 = await transport.nextRequest();
    expect(r2.origin).toBe('http://127.0.0.1:9001');
    r2.fail(reset);
    const r3 = await transport.nextRequest();
    expect(r3.origin).toBe('http://127.0.0.1:8080');
    expect(r3.headers['content-range']).toBe('bytes 0-49/50');
    await r3.respondWith({ status: 200, headers: ack({ 'bits-received-content-range': '50' }) });
    const r4 = await transport.nextRequest();
    expect(r4.origin).toBe('http://127.0.0.1:8080');
    await r4.respondWith({ status: 200, headers: ack() });
    await run2;
    expect(readUploadState(second.rec.lastState).hostId).toBeNull();
  });

  it('Host-Id failures within the timeout stay transient', async () => {
    const f = await file(50);
    const clock = new FakeClock();
    const { transport, engine } = setup({ packetRetries: 0 });
    const state = await storedState(f.path, { hostId: '127.0.0.1:9001', hostIdFallbackSec: 60, hostIdFailingSince: clock.now() });
    await clock.advance(30_000);
    const { ctx } = makeContext({ localName: f.path, engineState: state, clock });
    const run = settle(engine.transfer(ctx));
    (await transport.nextRequest()).fail(new BitsError('ERROR_WINHTTP_CANNOT_CONNECT', 'refused', { context: 'GENERAL_TRANSPORT', transient: true }));
    const result = await run;
    expect(result.ok ? null : result.error).toMatchObject({ code: 'ERROR_WINHTTP_CANNOT_CONNECT', transient: true });
    expect(transport.queued).toBe(0);
  });
});
