/**
 * UPLOAD_REPLY: BITS-Reply-URL on the final fragment, the reply download (with resume), then
 * Close-Session.
 */
import { lstat, mkdir, readFile, rename, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BitsError } from '../../../src/shared/errors.js';
import { INITIAL_STATE, readUploadState, writeUploadState } from '../../../src/engine/upload/state.js';
import { resumePoint } from '../../../src/engine/upload/reply.js';
import { basicHeaderValue } from '../../../src/protocol/auth.js';
import { USER_AGENT } from '../../../src/engine/download/remote-client.js';
import { identityOf } from '../../../src/shared/file-identity.js';
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

async function uploadAll(transport: ScriptedTransport, total: number, finalHeaders: Record<string, string>): Promise<void> {
  await (await transport.nextRequest()).respondWith({ status: 200, headers: ack({ 'bits-session-id': 'r1' }) });
  const frag = await transport.nextRequest();
  expect(frag.headers['content-range']).toBe(`bytes 0-${total - 1}/${total}`);
  await frag.respondWith({ status: 200, headers: ack({ 'bits-received-content-range': String(total), ...finalHeaders }) });
}

describe('upload-reply', () => {
  it('downloads the reply (relative URL) before Close-Session', async () => {
    const f = await file(60);
    const { transport, engine } = setup();
    const credentials = [{ target: 'SERVER' as const, scheme: 'BASIC' as const, userName: 'u', password: 'p' }];
    const { ctx, rec } = makeContext({ localName: f.path, type: 'UPLOAD_REPLY', customHeaders: 'X-A: 1', credentials });
    const run = engine.transfer(ctx);
    await uploadAll(transport, 60, { 'bits-reply-url': 'replies/42?k=v' });
    const get = await transport.nextRequest();
    expect(get.method).toBe('GET');
    expect(get.origin).toBe('http://127.0.0.1:8080');
    expect(get.path).toBe('/upload/replies/42?k=v');
    // The download engine's GET: its User-Agent, the job's headers and (own server) credentials.
    expect(get.headers).toEqual({ 'user-agent': USER_AGENT, 'x-a': '1', authorization: basicHeaderValue('u', 'p') });
    await get.respondWith({ status: 200, headers: { 'content-type': 'text/plain' }, body: 'the reply' });
    const close = await transport.nextRequest();
    expect(close.headers).toMatchObject({ 'bits-packet-type': 'Close-Session', 'bits-session-id': 'r1' });
    await close.respondWith({ status: 200, headers: ack() });
    await run;

    const state = readUploadState(rec.lastState);
    expect(state.phase).toBe('closed');
    expect(state.reply).toMatchObject({ url: 'http://127.0.0.1:8080/upload/replies/42?k=v', bytesTotal: 9, bytesReceived: 9 });
    const tempName = state.reply?.tempName ?? '';
    expect(dirname(tempName)).toBe(f.dir);
    expect(tempName).toMatch(/\/BIT[0-9A-F]{8}\.tmp$/);
    expect(await readFile(tempName, 'utf8')).toBe('the reply');
    expect(rec.replies.at(0)).toMatchObject({ bytesTotal: -1, bytesTransferred: 0, tempName });
    // The temp file bitsd created, by identity, for Complete to check before it renames it.
    const identity = identityOf(await stat(tempName, { bigint: true }));
    expect(state.reply?.tempIdentity).toBe(identity);
    expect(rec.replies.at(-1)).toEqual({ url: state.reply?.url, tempName, bytesTotal: 9, bytesTransferred: 9, syncedBytes: 9, tempIdentity: identity });
    // Upload progress finished at the file size, with the reply state in the same write.
    expect(rec.progress.at(-1)?.bytes).toBe(60);
    expect(readUploadState(rec.progress.at(-1)?.state).phase).toBe('reply');
  });

  it('the reply temp file goes beside the job\'s reply file name', async () => {
    const f = await file(5);
    const replyDir = join(f.dir, 'replies');
    await mkdir(replyDir);
    const { transport, engine } = setup();
    const { ctx, rec } = makeContext({ localName: f.path, type: 'UPLOAD_REPLY', replyFileName: join(replyDir, 'answer.xml') });
    const run = engine.transfer(ctx);
    await uploadAll(transport, 5, { 'bits-reply-url': 'http://127.0.0.1:8080/r' });
    await (await transport.nextRequest()).respondWith({ status: 200, body: 'x' });
    await (await transport.nextRequest()).respondWith({ status: 200, headers: ack() });
    await run;
    expect(dirname(readUploadState(rec.lastState).reply?.tempName ?? '')).toBe(replyDir);
  });

  it('a reply on another origin gets no credentials and no custom headers', async () => {
    const f = await file(5);
    const { transport, engine } = setup();
    const credentials = [{ target: 'SERVER' as const, scheme: 'BASIC' as const, userName: 'u', password: 'p' }];
    const { ctx } = makeContext({ localName: f.path, type: 'UPLOAD_REPLY', credentials, customHeaders: 'Cookie: a=b\r\nX-Api-Key: k1' });
    const run = engine.transfer(ctx);
    await uploadAll(transport, 5, { 'bits-reply-url': 'http://127.0.0.1:9999/elsewhere' });
    const get = await transport.nextRequest();
    expect(get.origin).toBe('http://127.0.0.1:9999');
    // Custom headers often carry API keys: they are bound to the upload server, like credentials.
    expect(get.headers).toEqual({ 'user-agent': USER_AGENT });
    await get.respondWith({ status: 200, body: 'x' });
    await (await transport.nextRequest()).respondWith({ status: 200, headers: ack() });
    await run;
  });

  it('missing BITS-Reply-URL on the final fragment: fatal BG_E_INVALID_SERVER_RESPONSE', async () => {
    const f = await file(5);
    const { transport, engine } = setup();
    const { ctx } = makeContext({ localName: f.path, type: 'UPLOAD_REPLY' });
    const run = settle(engine.transfer(ctx));
    await uploadAll(transport, 5, {});
    const result = await run;
    expect(result.ok ? null : result.error).toMatchObject({ code: 'BG_E_INVALID_SERVER_RESPONSE', transient: false, context: 'REMOTE_FILE' });
  });

  it('a non-http Reply-URL is refused', async () => {
    const f = await file(5);
    const { transport, engine } = setup();
    const { ctx } = makeContext({ localName: f.path, type: 'UPLOAD_REPLY' });
    const run = settle(engine.transfer(ctx));
    await uploadAll(transport, 5, { 'bits-reply-url': 'file:///etc/passwd' });
    const result = await run;
    expect(result.ok ? null : result.error).toMatchObject({ code: 'BG_E_INVALID_SERVER_RESPONSE' });
  });

  it('a 416 saying the server has everything: the final fragment is resent for its Reply-URL', async () => {
    const f = await file(150);
    const { transport, engine } = setup();
    const { ctx } = makeContext({ localName: f.path, type: 'UPLOAD_REPLY' });
    const run = engine.transfer(ctx);
    await (await transport.nextRequest()).respondWith({ status: 200, headers: ack({ 'bits-session-id': 'r1' }) });
    const first = await transport.nextRequest();
    expect(first.headers['content-range']).toBe('bytes 0-99/150');
    await first.respondWith({ status: 416, headers: ack({ 'bits-received-content-range': '150' }) });
    const resend = await transport.nextRequest();
    expect(resend.headers['content-range']).toBe('bytes 50-149/150');
    await resend.respondWith({ status: 200, headers: ack({ 'bits-received-content-range': '150', 'bits-reply-url': '/r' }) });
    await (await transport.nextRequest()).respondWith({ status: 200, body: 'ok' });
    await (await transport.nextRequest()).respondWith({ status: 200, headers: ack() });
    await run;
  });

  it('resumes a partial reply with a Range request', async () => {
    const f = await file(5);
    const tempName = join(f.dir, 'BITAAAA0001.tmp');
    await writeFile(tempName, 'hello');
    const state = writeUploadState({
      ...INITIAL_STATE,
      phase: 'reply',
      sessionId: 'r1',
      fileSize: 5,
      fileMtimeMs: 1,
      reply: { url: 'http://127.0.0.1:8080/r', tempName, bytesTotal: 11, bytesReceived: 5, bytesSynced: 5, tempIdentity: null, download: {} },
    });
    const { transport, engine } = setup();
    const { ctx, rec } = makeContext({ localName: f.path, type: 'UPLOAD_REPLY', engineState: state, bytesTransferred: 5 });
    const run = engine.transfer(ctx);
    const get = await transport.nextRequest();
    expect(get.headers['range']).toBe('bytes=5-');
    await get.respondWith({ status: 206, headers: { 'content-range': 'bytes 5-10/11' }, body: ' world' });
    await (await transport.nextRequest()).respondWith({ status: 200, headers: ack() });
    await run;
    expect(await readFile(tempName, 'utf8')).toBe('hello world');
    expect(rec.replies.at(-1)).toMatchObject({ bytesTotal: 11, bytesTransferred: 11 });
  });

  it('after a reboot the queue recorded less of the reply than the engine state: the reply resumes from the recorded offset', async () => {
    const f = await file(5);
    const tempName = join(f.dir, 'BITAAAA0006.tmp');
    // The engine state says 5 bytes were written; start-up cut the job's reply record back to
    // its 3 synced bytes (the page cache that held the rest is gone: here, garbage).
    await writeFile(tempName, 'helXX');
    const state = writeUploadState({
      ...INITIAL_STATE,
      phase: 'reply',
      sessionId: 'r1',
      fileSize: 5,
      fileMtimeMs: 1,
      reply: { url: 'http://127.0.0.1:8080/r', tempName, bytesTotal: 11, bytesReceived: 5, bytesSynced: 3, tempIdentity: null, download: {} },
    });
    const { transport, engine } = setup();
    const reply = { url: 'http://127.0.0.1:8080/r', tempName, bytesTotal: 11, bytesTransferred: 3, syncedBytes: 3, tempIdentity: null };
    const { ctx, rec } = makeContext({ localName: f.path, type: 'UPLOAD_REPLY', engineState: state, bytesTransferred: 5, reply });
    const run = engine.transfer(ctx);
    const get = await transport.nextRequest();
    expect(get.headers['range']).toBe('bytes=3-');
    await get.respondWith({ status: 206, headers: { 'content-range': 'bytes 3-10/11' }, body: 'lo world' });
    await (await transport.nextRequest()).respondWith({ status: 200, headers: ack() });
    await run;
    expect(await readFile(tempName, 'utf8')).toBe('hello world');
    // The reply's end was synced before it was recorded as complete.
    expect(rec.replies.at(-1)).toMatchObject({ bytesTotal: 11, bytesTransferred: 11, syncedBytes: 11 });
    expect(readUploadState(rec.lastState).reply).toMatchObject({ bytesReceived: 11, bytesSynced: 11 });
  });

  it('resumePoint: the engine state, cut back to the recorded reply of the same temp file only', () => {
    const state = { url: 'http://h/r', tempName: '/t/BITR.tmp', bytesTotal: 100, bytesReceived: 80, bytesSynced: 40, tempIdentity: null, download: {} };
    const recorded = { url: 'http://h/r', tempName: '/t/BITR.tmp', bytesTotal: 100, bytesTransferred: 40, syncedBytes: 40, tempIdentity: null };
    expect(resumePoint(state, undefined)).toBe(state);
    expect(resumePoint(state, { ...recorded, bytesTransferred: 80 })).toBe(state);
    expect(resumePoint(state, recorded)).toMatchObject({ bytesReceived: 40, bytesSynced: 40 });
    expect(resumePoint(state, { ...recorded, bytesTransferred: 20, syncedBytes: 20 })).toMatchObject({ bytesReceived: 20, bytesSynced: 20 });
    // Another reply's record (another temp file) says nothing about this one.
    expect(resumePoint(state, { ...recorded, tempName: '/t/BITOTHER.tmp' })).toBe(state);
  });

  it('a 416 whose size is the flushed length: the reply is complete without another byte', async () => {
    const f = await file(5);
    const tempName = join(f.dir, 'BITAAAA0003.tmp');
    await writeFile(tempName, 'hello world');
    const tempIdentity = identityOf(await stat(tempName, { bigint: true }));
    const state = writeUploadState({
      ...INITIAL_STATE,
      phase: 'reply',
      sessionId: 'r1',
      reply: { url: 'http://127.0.0.1:8080/r', tempName, bytesTotal: 11, bytesReceived: 11, bytesSynced: 11, tempIdentity, download: { lastModified: null, etag: '"e1"' } },
    });
    const { transport, engine } = setup();
    const { ctx, rec } = makeContext({ localName: f.path, type: 'UPLOAD_REPLY', engineState: state });
    const run = engine.transfer(ctx);
    const get = await transport.nextRequest();
    expect(get.headers).toMatchObject({ range: 'bytes=11-', 'if-range': '"e1"' });
    await get.respondWith({ status: 416, headers: { 'content-range': 'bytes */11' } });
    await (await transport.nextRequest()).respondWith({ status: 200, headers: ack() });
    await run;
    expect(await readFile(tempName, 'utf8')).toBe('hello world');
    expect(readUploadState(rec.lastState)).toMatchObject({ phase: 'closed', reply: { bytesTotal: 11, bytesReceived: 11, bytesSynced: 11, tempIdentity } });
  });

  it('a symlink planted at the reply temp name is refused before any request; the file it points at is untouched', async () => {
    const f = await file(5);
    // In a directory of its own: outside the reply's.
    const elsewhere = await tempFile(39_000, 'victim.dat');
    cleanups.push(elsewhere.cleanup);
    const tempName = join(f.dir, 'BITAAAA0004.tmp');
    await symlink(elsewhere.path, tempName);
    const state = writeUploadState({
      ...INITIAL_STATE,
      phase: 'reply',
      sessionId: 'r1',
      reply: { url: 'http://127.0.0.1:8080/r', tempName, bytesTotal: -1, bytesReceived: 0, bytesSynced: 0, tempIdentity: null, download: {} },
    });
    const { transport, engine } = setup();
    const { ctx, rec } = makeContext({ localName: f.path, type: 'UPLOAD_REPLY', engineState: state });
    const result = await settle(engine.transfer(ctx));
    expect(result.ok ? null : result.error).toMatchObject({ code: 'BG_E_LOCAL_FILE_CHANGED', context: 'LOCAL_FILE', transient: false });
    expect(transport.queued).toBe(0);
    expect((await readFile(elsewhere.path)).equals(elsewhere.content)).toBe(true);
    expect((await lstat(tempName)).isSymbolicLink()).toBe(true);
    // The session stays open for a later Close (after the owner acts) or Cancel.
    expect(readUploadState(rec.lastState).phase).toBe('reply');
    expect(rec.replies.every((r) => r.tempIdentity === null)).toBe(true);
  });

  it('another file renamed over the recorded reply temp file between runs is refused and not modified', async () => {
    const f = await file(5);
    const tempName = join(f.dir, 'BITAAAA0005.tmp');
    await writeFile(tempName, 'hello');
    const tempIdentity = identityOf(await stat(tempName, { bigint: true }));
    await writeFile(join(f.dir, 'other'), 'somebody else\'s bytes');
    await rename(join(f.dir, 'other'), tempName);
    const state = writeUploadState({
      ...INITIAL_STATE,
      phase: 'reply',
      sessionId: 'r1',
      reply: { url: 'http://127.0.0.1:8080/r', tempName, bytesTotal: 11, bytesReceived: 5, bytesSynced: 5, tempIdentity, download: {} },
    });
    const { transport, engine } = setup();
    const { ctx } = makeContext({ localName: f.path, type: 'UPLOAD_REPLY', engineState: state });
    const result = await settle(engine.transfer(ctx));
    expect(result.ok ? null : result.error).toMatchObject({ code: 'BG_E_LOCAL_FILE_CHANGED', context: 'LOCAL_FILE' });
    expect(transport.queued).toBe(0);
    expect(await readFile(tempName, 'utf8')).toBe("somebody else's bytes");
  });

  it('a server ignoring Range (200) restarts the reply from byte 0', async () => {
    const f = await file(5);
    const tempName = join(f.dir, 'BITAAAA0002.tmp');
    await writeFile(tempName, 'stale-bytes');
    const state = writeUploadState({
      ...INITIAL_STATE,
      phase: 'reply',
      sessionId: 'r1',
      reply: { url: 'http://127.0.0.1:8080/r', tempName, bytesTotal: -1, bytesReceived: 5, bytesSynced: 5, tempIdentity: null, download: {} },
    });
    const { transport, engine } = setup();
    const { ctx } = makeContext({ localName: f.path, type: 'UPLOAD_REPLY', engineState: state });
    const run = engine.transfer(ctx);
    await (await transport.nextRequest()).respondWith({ status: 200, body: 'fresh' });
    await (await transport.nextRequest()).respondWith({ status: 200, headers: ack() });
    await run;
    expect(await readFile(tempName, 'utf8')).toBe('fresh');
  });

  it('reply errors: 5xx transient, 404 fatal, both keep the session for a later Close/Cancel', async () => {
    for (const [status, transient] of [[503, true], [404, false]] as const) {
      const f = await file(5);
      const { transport, engine } = setup();
      const { ctx, rec } = makeContext({ localName: f.path, type: 'UPLOAD_REPLY' });
      const run = settle(engine.transfer(ctx));
      await uploadAll(transport, 5, { 'bits-reply-url': '/r' });
      await (await transport.nextRequest()).respondWith({ status });
      const result = await run;
      expect(result.ok).toBe(false);
      const err = result.ok ? null : (result.error as BitsError);
      expect(err).toMatchObject({ code: `BG_E_HTTP_ERROR_${status}`, transient, context: 'REMOTE_FILE' });
      const saved = readUploadState(rec.lastState);
      expect(saved.phase).toBe('reply');
      expect(saved.sessionId).toBe('r1');
    }
  });

  it('follows a redirect of the reply URL', async () => {
    const f = await file(5);
    const { transport, engine } = setup();
    const { ctx } = makeContext({ localName: f.path, type: 'UPLOAD_REPLY' });
    const run = engine.transfer(ctx);
    await uploadAll(transport, 5, { 'bits-reply-url': '/r' });
    await (await transport.nextRequest()).respondWith({ status: 302, headers: { location: '/r2' } });
    const second = await transport.nextRequest();
    expect(second.path).toBe('/r2');
    await second.respondWith({ status: 200, body: 'moved' });
    await (await transport.nextRequest()).respondWith({ status: 200, headers: ack() });
    await run;
  });
});
