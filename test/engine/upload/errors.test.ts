/**
 * Failures: what each server answer, network failure and local file problem turns into.
 */
import { appendFile, rm, stat, utimes } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { BitsError } from '../../../src/shared/errors.js';
import { INITIAL_STATE, readUploadState, writeUploadState } from '../../../src/engine/upload/state.js';
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

async function created(transport: ScriptedTransport): Promise<void> {
  await (await transport.nextRequest()).respondWith({ status: 200, headers: ack({ 'bits-session-id': 's1' }) });
}

async function failure(run: Promise<{ ok: true; value: void } | { ok: false; error: unknown }>): Promise<BitsError> {
  const result = await run;
  if (result.ok) throw new Error('expected the transfer to fail');
  expect(result.error).toBeInstanceOf(BitsError);
  return result.error as BitsError;
}

const reset = (): Error => Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });

describe('server errors', () => {
  it('5xx on a fragment: transient, REMOTE_FILE, the session and progress kept', async () => {
    const f = await file(200);
    const { transport, engine } = setup();
    const { ctx, rec } = makeContext({ localName: f.path });
    const run = settle(engine.transfer(ctx));
    await created(transport);
    await (await transport.nextRequest()).respondWith({ status: 200, headers: ack({ 'bits-received-content-range': '100' }) });
    await (await transport.nextRequest()).respondWith({ status: 503, headers: {} });
    const err = await failure(run);
    expect(err).toMatchObject({ code: 'BG_E_HTTP_ERROR_503', hresult: 0x801901f7, transient: true, context: 'REMOTE_FILE' });
    expect(rec.lastBytes).toBe(100);
    expect(readUploadState(rec.lastState).sessionId).toBe('s1');
  });

  it('5xx with a server HRESULT and context 0x7 keeps both', async () => {
    const f = await file(50);
    const { transport, engine } = setup();
    const { ctx } = makeContext({ localName: f.path });
    const run = settle(engine.transfer(ctx));
    await created(transport);
    await (await transport.nextRequest()).respondWith({ status: 500, headers: ack({ 'bits-error-code': '0x80070070', 'bits-error-context': '0x7' }) });
    expect(await failure(run)).toMatchObject({ code: 'ERROR_DISK_FULL', hresult: 0x80070070, transient: true, context: 'REMOTE_APPLICATION' });
  });

  it('4xx on Create-Session: fatal with the server HRESULT', async () => {
    const f = await file(50);
    const { transport, engine } = setup();
    const { ctx, rec } = makeContext({ localName: f.path });
    const run = settle(engine.transfer(ctx));
    await (await transport.nextRequest()).respondWith({ status: 403, headers: ack({ 'bits-error-code': '0x80070005', 'bits-error-context': '0x5' }) });
    expect(await failure(run)).toMatchObject({ code: 'E_ACCESSDENIED', hresult: 0x80070005, transient: false, context: 'REMOTE_FILE' });
    expect(rec.connected).toBe(0);
  });

  it('4xx without BITS-Error-Code: BG_E_HTTP_ERROR_nnn', async () => {
    const f = await file(50);
    const { transport, engine } = setup();
    const { ctx } = makeContext({ localName: f.path });
    const run = settle(engine.transfer(ctx));
    await (await transport.nextRequest()).respondWith({ status: 404, headers: { 'content-type': 'text/html' }, body: '<h1>no</h1>' });
    expect(await failure(run)).toMatchObject({ code: 'BG_E_HTTP_ERROR_404', hresult: 0x80190194, transient: false });
  });

  it('401 and 407 are fatal whatever came with them', async () => {
    for (const [status, hresult] of [[401, 0x80190191], [407, 0x80190197]] as const) {
      const f = await file(50);
      const { transport, engine } = setup();
      const { ctx } = makeContext({ localName: f.path });
      const run = settle(engine.transfer(ctx));
      await (await transport.nextRequest()).respondWith({ status, headers: { 'www-authenticate': 'Negotiate' } });
      expect(await failure(run)).toMatchObject({ hresult, transient: false });
    }
  });

  it('an HRESULT bitsd has no name for is kept by value', async () => {
    const f = await file(50);
    const { transport, engine } = setup();
    const { ctx } = makeContext({ localName: f.path });
    const run = settle(engine.transfer(ctx));
    await created(transport);
    await (await transport.nextRequest()).respondWith({ status: 400, headers: ack({ 'bits-error-code': '0x80070112' }) });
    const err = await failure(run);
    expect(err).toMatchObject({ hresult: 0x80070112, code: 'E_FAIL', transient: false });
    expect(err.toJSON().hresult).toBe(0x80070112);
  });

  it('BG_E_TOO_LARGE is fatal even on a 500', async () => {
    const f = await file(50);
    const { transport, engine } = setup();
    const { ctx } = makeContext({ localName: f.path });
    const run = settle(engine.transfer(ctx));
    await created(transport);
    await (await transport.nextRequest()).respondWith({ status: 500, headers: ack({ 'bits-error-code': '0x80200020' }) });
    expect(await failure(run)).toMatchObject({ code: 'BG_E_TOO_LARGE', transient: false });
  });

  it('malformed Acks: BG_E_INVALID_SERVER_RESPONSE, fatal', async () => {
    const cases: Array<[string, Record<string, string>, boolean]> = [
      ['create without session id', ack({}), false],
      ['create with a 101-char session id', ack({ 'bits-session-id': 'x'.repeat(101) }), false],
      ['create answered by a non-BITS server', { 'content-type': 'text/html' }, false],
      ['fragment without received range', ack({}), true],
      ['fragment with a range past the end', ack({ 'bits-received-content-range': '51' }), true],
    ];
    for (const [name, headers, atFragment] of cases) {
      const f = await file(50);
      const { transport, engine } = setup();
      const { ctx } = makeContext({ localName: f.path });
      const run = settle(engine.transfer(ctx));
      if (atFragment) await created(transport);
      await (await transport.nextRequest()).respondWith({ status: 200, headers });
      expect(await failure(run), name).toMatchObject({ code: 'BG_E_INVALID_SERVER_RESPONSE', hresult: 0x8020001b, transient: false });
    }
  });

  it('a server that acknowledges without ever advancing: transient, bounded', async () => {
    const f = await file(50);
    const { transport, engine } = setup();
    const { ctx } = makeContext({ localName: f.path });
    const run = settle(engine.transfer(ctx));
    await created(transport);
    for (let i = 0; i < 6; i++) {
      await (await transport.nextRequest()).respondWith({ status: 200, headers: ack({ 'bits-received-content-range': '0' }) });
    }
    expect(await failure(run)).toMatchObject({ code: 'BG_E_INVALID_SERVER_RESPONSE', transient: true });
  });
});

describe('network failures', () => {
  it('a reset packet is resent on a new connection, then the upload goes on', async () => {
    const f = await file(50);
    const { transport, engine } = setup({ packetRetries: 2 });
    const { ctx } = makeContext({ localName: f.path });
    const run = engine.transfer(ctx);
    await created(transport);
    const a = await transport.nextRequest();
    a.fail(reset());
    const b = await transport.nextRequest();
    expect(b.connectionId).not.toBe(a.connectionId);
    expect(b.headers['content-range']).toBe('bytes 0-49/50');
    expect(await b.body()).toEqual(f.content);
    await b.respondWith({ status: 200, headers: ack({ 'bits-received-content-range': '50' }) });
    const close = await transport.nextRequest();
    expect(close.connectionId).toBe(b.connectionId);
    await close.respondWith({ status: 200, headers: ack() });
    await run;
    expect(transport.destroyed).toContain(a.connectionId);
  });

  it('after the retries: transient GENERAL_TRANSPORT', async () => {
    const f = await file(50);
    const { transport, engine } = setup({ packetRetries: 2 });
    const { ctx } = makeContext({ localName: f.path });
    const run = settle(engine.transfer(ctx));
    for (let i = 0; i < 3; i++) (await transport.nextRequest()).fail(reset());
    expect(await failure(run)).toMatchObject({ code: 'ERROR_WINHTTP_CONNECTION_ERROR', transient: true, context: 'GENERAL_TRANSPORT' });
    expect(transport.queued).toBe(0);
  });

  it('a fatal transport error (certificate) is not resent', async () => {
    const f = await file(50);
    const { transport, engine } = setup({ packetRetries: 2 });
    const { ctx } = makeContext({ localName: f.path });
    const run = settle(engine.transfer(ctx));
    (await transport.nextRequest()).fail(new BitsError('ERROR_WINHTTP_SECURE_INVALID_CA', 'TLS: self-signed', { context: 'GENERAL_TRANSPORT', transient: false }));
    expect(await failure(run)).toMatchObject({ code: 'ERROR_WINHTTP_SECURE_INVALID_CA', transient: false });
    expect(transport.queued).toBe(0);
  });

  it('abort stops at once', async () => {
    const f = await file(50);
    const { transport, engine } = setup();
    const { ctx, controller } = makeContext({ localName: f.path });
    const run = settle(engine.transfer(ctx));
    await created(transport);
    await transport.nextRequest();
    controller.abort(new Error('suspended'));
    expect(await failure(run)).toMatchObject({ code: 'E_ABORT' });
  });

  it('every request has a timeout; the final upload-reply fragment a longer one', async () => {
    const f = await file(50);
    const { transport, engine } = setup({ requestTimeoutMs: 1000, replyAckTimeoutMs: 5000 });
    const { ctx } = makeContext({ localName: f.path, type: 'UPLOAD_REPLY' });
    const run = settle(engine.transfer(ctx));
    const create = await transport.nextRequest();
    expect(create.timeoutMs).toBe(1000);
    await create.respondWith({ status: 200, headers: ack({ 'bits-session-id': 's' }) });
    const frag = await transport.nextRequest();
    expect(frag.timeoutMs).toBe(5000);
    await frag.respondWith({ status: 500, headers: {} });
    await run;
  });
});

describe('local file', () => {
  it('changed between attempts: fatal BG_E_LOCAL_FILE_CHANGED before any request', async () => {
    const f = await file(50);
    const st = await stat(f.path);
    const state = writeUploadState({ ...INITIAL_STATE, sessionId: 's1', fileSize: st.size, fileMtimeMs: st.mtimeMs });
    await utimes(f.path, new Date(), new Date(Date.now() + 5000));
    const { transport, engine } = setup();
    const { ctx } = makeContext({ localName: f.path, engineState: state, bytesTransferred: 10 });
    const err = await failure(settle(engine.transfer(ctx)));
    expect(err).toMatchObject({ code: 'BG_E_LOCAL_FILE_CHANGED', hresult: 0x8020001d, context: 'LOCAL_FILE', transient: false });
    expect(transport.connects).toHaveLength(0);
  });

  it('changed during the upload: fatal at the next fragment', async () => {
    const f = await file(150);
    const { transport, engine } = setup();
    const { ctx } = makeContext({ localName: f.path });
    const run = settle(engine.transfer(ctx));
    await created(transport);
    const first = await transport.nextRequest();
    await first.body();
    await appendFile(f.path, 'more');
    await first.respondWith({ status: 200, headers: ack({ 'bits-received-content-range': '100' }) });
    expect(await failure(run)).toMatchObject({ code: 'BG_E_LOCAL_FILE_CHANGED', context: 'LOCAL_FILE', transient: false });
  });

  it('vanished: ERROR_FILE_NOT_FOUND, LOCAL_FILE, fatal', async () => {
    const f = await file(150);
    const { transport, engine } = setup();
    const { ctx } = makeContext({ localName: f.path });
    const run = settle(engine.transfer(ctx));
    await created(transport);
    const first = await transport.nextRequest();
    await rm(f.path);
    await first.respondWith({ status: 200, headers: ack({ 'bits-received-content-range': '100' }) });
    expect(await failure(run)).toMatchObject({ code: 'ERROR_FILE_NOT_FOUND', hresult: 0x80070002, context: 'LOCAL_FILE', transient: false });
  });

  it('missing from the start: no request at all', async () => {
    const { transport, engine } = setup();
    const { ctx } = makeContext({ localName: '/nonexistent/bitsd/upload.bin' });
    expect(await failure(settle(engine.transfer(ctx)))).toMatchObject({ code: 'ERROR_FILE_NOT_FOUND', context: 'LOCAL_FILE' });
    expect(transport.connects).toHaveLength(0);
  });

  it('a directory is not readable as a file', async () => {
    const f = await file(1);
    const { engine } = setup();
    const { ctx } = makeContext({ localName: f.dir });
    expect(await failure(settle(engine.transfer(ctx)))).toMatchObject({ code: 'E_ACCESSDENIED', context: 'LOCAL_FILE' });
  });
});

describe('Close-Session', () => {
  async function toClose(status: number, headers: Record<string, string>) {
    const f = await file(10);
    const { transport, engine, lines } = setup();
    const { ctx, rec } = makeContext({ localName: f.path });
    const run = settle(engine.transfer(ctx));
    await created(transport);
    await (await transport.nextRequest()).respondWith({ status: 200, headers: ack({ 'bits-received-content-range': '10' }) });
    await (await transport.nextRequest()).respondWith({ status, headers });
    return { result: await run, rec, lines };
  }

  it('5xx: transient, phase stays closing so the retry sends Close-Session again', async () => {
    const { result, rec } = await toClose(500, ack({}));
    expect(result.ok ? null : result.error).toMatchObject({ code: 'BG_E_HTTP_ERROR_500', transient: true });
    expect(readUploadState(rec.lastState).phase).toBe('closing');
  });

  it('5xx with SESSION_NOT_FOUND: done', async () => {
    const { result, rec } = await toClose(500, ack({ 'bits-error-code': '0x8020001F' }));
    expect(result.ok).toBe(true);
    expect(readUploadState(rec.lastState).phase).toBe('closed');
  });

  it('4xx: logged and done (the server committed the file at the last fragment)', async () => {
    const { result, rec, lines } = await toClose(404, ack({}));
    expect(result.ok).toBe(true);
    expect(readUploadState(rec.lastState).phase).toBe('closed');
    expect(lines.some((l) => l.level === 'warn' && /Close-Session/.test(l.message))).toBe(true);
  });

  it('a 500 without Content-Length (SimpleBITSServer style) drops the connection instead of draining it', async () => {
    const f = await file(10);
    const { transport, engine } = setup();
    const { ctx } = makeContext({ localName: f.path });
    const run = settle(engine.transfer(ctx));
    await created(transport);
    const frag = await transport.nextRequest();
    await frag.respondWith({ status: 200, headers: ack({ 'bits-received-content-range': '10' }) });
    const close = await transport.nextRequest();
    await close.respondWith({ status: 500, unframed: true });
    await run;
    expect(transport.destroyed).toContain(close.connectionId);
  });
});
