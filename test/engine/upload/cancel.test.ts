/**
 * cancelRemote / needsRemoteCancel, and handles().
 */
import { describe, expect, it } from 'vitest';
import { BitsError } from '../../../src/shared/errors.js';
import { FakeClock } from '../../../src/shared/clock.js';
import { INITIAL_STATE, writeUploadState, type UploadState } from '../../../src/engine/upload/state.js';
import type { CancelContext } from '../../../src/engine/types.js';
import { makeFile, makeJob } from './fake-context.js';
import { ack, setup } from './helpers.js';

function cancelContext(state: Partial<UploadState> | null, signal = new AbortController().signal): CancelContext {
  const engineState = state === null ? {} : writeUploadState({ ...INITIAL_STATE, ...state });
  return {
    job: makeJob({ customHeaders: 'X-A: 1' }),
    file: makeFile({ localName: '/tmp/x', engineState }),
    signal,
    clock: new FakeClock(),
  };
}

describe('cancelRemote', () => {
  it('2xx: done; sent on a fresh connection with the stored session id', async () => {
    const { transport, engine } = setup();
    const outcome = engine.cancelRemote(cancelContext({ sessionId: '{S-9}' }));
    const req = await transport.nextRequest();
    expect(req.method).toBe('BITS_POST');
    expect(req.path).toBe('/upload/data.bin');
    expect(req.headers).toEqual({ 'bits-packet-type': 'Cancel-Session', 'bits-session-id': '{S-9}', 'content-length': '0', 'x-a': '1' });
    await req.respondWith({ status: 200, headers: ack({ 'bits-session-id': '{S-9}' }) });
    expect(await outcome).toEqual({ done: true });
    expect(transport.connects).toHaveLength(1);
    expect(transport.destroyed).toEqual([req.connectionId]);
  });

  it('goes to the Host-Id host when the session has one', async () => {
    const { transport, engine } = setup();
    const outcome = engine.cancelRemote(cancelContext({ sessionId: 's', hostId: '127.0.0.1:9001' }));
    const req = await transport.nextRequest();
    expect(req.origin).toBe('http://127.0.0.1:9001');
    await req.respondWith({ status: 200, headers: ack() });
    expect(await outcome).toEqual({ done: true });
  });

  const cases: Array<[string, number, Record<string, string>, boolean]> = [
    ['5xx: retry later', 503, ack(), false],
    ['5xx with SESSION_NOT_FOUND: done', 500, ack({ 'bits-error-code': '0x8020001F' }), true],
    ['4xx: done, never retried', 404, ack(), true],
    ['403 with a server code: done', 403, ack({ 'bits-error-code': '0x80070005' }), true],
    ['1xx: done', 100, {}, true],
    ['not an Ack: done', 200, { 'bits-packet-type': 'Fragment' }, true],
  ];
  for (const [name, status, headers, done] of cases) {
    it(name, async () => {
      const { transport, engine } = setup();
      const outcome = engine.cancelRemote(cancelContext({ sessionId: 's' }));
      await (await transport.nextRequest()).respondWith({ status, headers });
      const result = await outcome;
      expect(result.done).toBe(done);
      if (!result.done) expect(result.error).toMatch(/503/);
    });
  }

  it('network failure: retry later', async () => {
    const { transport, engine } = setup();
    const outcome = engine.cancelRemote(cancelContext({ sessionId: 's' }));
    (await transport.nextRequest()).fail(new BitsError('ERROR_WINHTTP_CANNOT_CONNECT', 'refused', { context: 'GENERAL_TRANSPORT', transient: true }));
    const result = await outcome;
    expect(result.done).toBe(false);
    expect(result.done ? '' : result.error).toMatch(/CANNOT_CONNECT/);
  });

  it('nothing to cancel: done without a request', async () => {
    const { transport, engine } = setup();
    expect(await engine.cancelRemote(cancelContext(null))).toEqual({ done: true });
    expect(await engine.cancelRemote(cancelContext({ sessionId: 's', phase: 'closed' }))).toEqual({ done: true });
    expect(transport.connects).toHaveLength(0);
  });

  it('an aborted context sends nothing and asks to be called again', async () => {
    const { transport, engine } = setup();
    const controller = new AbortController();
    controller.abort();
    expect((await engine.cancelRemote(cancelContext({ sessionId: 's' }, controller.signal))).done).toBe(false);
    expect(transport.connects).toHaveLength(0);
  });
});

describe('needsRemoteCancel', () => {
  const { engine } = setup();
  const file = (state: Partial<UploadState> | null) => makeFile({ localName: '/tmp/x', engineState: state === null ? {} : writeUploadState({ ...INITIAL_STATE, ...state }) });

  it('only with a stored session whose Close-Session was not acknowledged', () => {
    expect(engine.needsRemoteCancel(file(null))).toBe(false);
    expect(engine.needsRemoteCancel(file({}))).toBe(false);
    expect(engine.needsRemoteCancel(file({ sessionId: 's' }))).toBe(true);
    expect(engine.needsRemoteCancel(file({ sessionId: 's', phase: 'closing' }))).toBe(true);
    expect(engine.needsRemoteCancel(file({ sessionId: 's', phase: 'closed' }))).toBe(false);
  });

  it('garbage engine state means no session', () => {
    expect(engine.needsRemoteCancel(makeFile({ localName: '/x', engineState: { format: 'bits-upload/1', sessionId: 'a\nb' } }))).toBe(false);
    expect(engine.needsRemoteCancel(makeFile({ localName: '/x', engineState: { sessionId: 's' } }))).toBe(false);
  });
});

describe('handles', () => {
  const { engine } = setup();
  it('upload and upload-reply over http(s) only', () => {
    expect(engine.name).toBe('bits-upload');
    expect(engine.handles('UPLOAD', new URL('http://127.0.0.1/x'))).toBe(true);
    expect(engine.handles('UPLOAD_REPLY', new URL('https://127.0.0.1/x'))).toBe(true);
    expect(engine.handles('DOWNLOAD', new URL('http://127.0.0.1/x'))).toBe(false);
    expect(engine.handles('UPLOAD', new URL('file:///tmp/x'))).toBe(false);
  });
});
