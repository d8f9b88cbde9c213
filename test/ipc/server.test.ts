/**
 * The IPC server as scripted conversations over a real socket: hello rules, every kind of bad
 * frame, the limits (frame size, connections, in-flight requests, subscriptions, unread output),
 * clients that vanish mid-request, and the guarantee that none of it affects other clients.
 */
import { describe, expect, it } from 'vitest';
import { tempDir, waitFor } from '../helpers/temp.js';
import { startIpcServer } from './in-process-server.js';
import { rawConnect } from './raw-client.js';

async function server(limits = {}) {
  return startIpcServer(await tempDir(), { limits });
}

describe('IPC server: hello', () => {
  it('answers hello with the version, server name and pid', async () => {
    const s = await server();
    const c = await rawConnect(s.socket);
    expect(await c.hello()).toEqual({ type: 'hello', ok: true, version: 1, server: 'bitsd test', pid: process.pid });
    expect(await c.request(1, 'manager.enumJobs')).toEqual({ type: 'response', id: 1, ok: true, result: [] });
  });

  it('refuses a request before hello, and closes', async () => {
    const s = await server();
    const c = await rawConnect(s.socket);
    c.send('{"type":"request","id":1,"method":"manager.enumJobs"}\n');
    expect(await c.next()).toMatchObject({ type: 'hello', ok: false, error: { code: 'E_INVALIDARG', message: expect.stringMatching(/first frame must be/) } });
    await c.closed;
  });

  it('refuses another protocol version with BG_E_CLIENT_SERVER_PROTOCOL_MISMATCH', async () => {
    const s = await server();
    const c = await rawConnect(s.socket);
    c.send('{"type":"hello","version":99}\n');
    expect(await c.next()).toMatchObject({ type: 'hello', ok: false, error: { code: 'BG_E_CLIENT_SERVER_PROTOCOL_MISMATCH', hresult: 0x80200022 } });
    await c.closed;
  });

  it('closes a connection that never says hello', async () => {
    const s = await server({ helloTimeoutMs: 100 });
    const c = await rawConnect(s.socket);
    expect(await c.next()).toMatchObject({ type: 'hello', ok: false, error: { code: 'BG_E_TIMEOUT' } });
    await c.closed;
  });
});

describe('IPC server: bad frames', () => {
  it('malformed JSON, unknown types and methods, bad params: an error each, and the connection goes on', async () => {
    const s = await server();
    const c = await rawConnect(s.socket);
    await c.hello();
    c.send('{"type":"request",\n');
    expect(await c.next()).toMatchObject({ type: 'response', id: null, ok: false, error: { code: 'E_INVALIDARG', message: expect.stringMatching(/Malformed JSON/) } });
    c.send('"just a string"\n');
    expect(await c.next()).toMatchObject({ id: null, ok: false, error: { code: 'E_INVALIDARG' } });
    c.send('{"type":"hello","version":1}\n');
    expect(await c.next()).toMatchObject({ id: null, ok: false, error: { message: expect.stringMatching(/already/) } });
    expect(await c.request(2, 'job.explode', {})).toMatchObject({ id: 2, ok: false, error: { code: 'E_NOTIMPL', hresult: 0x80004001 } });
    expect(await c.request(3, 'manager.createJob', { displayName: 'x', type: 7 })).toMatchObject({
      id: 3,
      ok: false,
      error: { code: 'E_INVALIDARG', message: 'manager.createJob: params.type must be a string; got 7.' },
    });
    expect(await c.request(4, 'manager.createJob', 'x')).toMatchObject({ id: 4, ok: false, error: { code: 'E_INVALIDARG' } });
    expect(await c.request(5, 'job.getState', { job: 'nope' })).toMatchObject({ id: 5, ok: false, error: { code: 'E_INVALIDARG', message: expect.stringMatching(/not a job id/) } });
    expect(await c.request(6, 'events.unsubscribe', { subscription: 9 })).toMatchObject({ id: 6, ok: false, error: { code: 'E_INVALIDARG' } });
    // Nothing reached the queue.
    expect(await s.manager.enumJobs()).toEqual([]);
    expect(await c.request(7, 'manager.enumJobs')).toMatchObject({ id: 7, ok: true, result: [] });
  });

  it('an oversized frame gets an error and the connection is closed; other clients are unaffected', async () => {
    const s = await server({ maxFrameBytes: 64 * 1024 });
    const other = await rawConnect(s.socket);
    await other.hello();
    const c = await rawConnect(s.socket);
    await c.hello();
    c.send(`{"type":"request","id":1,"method":"job.setDescription","params":{"text":"${'x'.repeat(100 * 1024)}`);
    expect(await c.next()).toMatchObject({ type: 'response', id: null, ok: false, error: { code: 'E_INVALIDARG', message: expect.stringMatching(/larger than 65536 bytes/) } });
    await c.closed;
    expect(await other.request(1, 'manager.enumJobs')).toMatchObject({ ok: true });
  });
});

describe('IPC server: limits and misbehaving clients', () => {
  it('pipelined requests beyond the in-flight limit are all answered', async () => {
    const s = await server({ maxInFlight: 4 });
    const c = await rawConnect(s.socket);
    await c.hello();
    const lines = Array.from({ length: 300 }, (_, i) => JSON.stringify({ type: 'request', id: i, method: 'manager.getErrorDescription', params: { hresult: 0x80200001 } })).join('\n');
    c.send(`${lines}\n`);
    const ids = new Set<unknown>();
    for (let i = 0; i < 300; i++) {
      const f = await c.next();
      expect(f).toMatchObject({ ok: true, result: 'The requested job was not found.' });
      ids.add(f.id);
    }
    expect(ids.size).toBe(300);
  });

  it('refuses connections beyond the limit with an error, then accepts again when one leaves', async () => {
    const s = await server({ maxConnections: 2 });
    const a = await rawConnect(s.socket);
    const b = await rawConnect(s.socket);
    await a.hello();
    await b.hello();
    const c = await rawConnect(s.socket);
    expect(await c.next()).toMatchObject({ type: 'hello', ok: false, error: { code: 'E_OUTOFMEMORY', message: expect.stringMatching(/limit/) } });
    await c.closed;
    a.socket.destroy();
    await waitFor(() => s.server.connectionCount === 1, 2000, 'the server to notice');
    const d = await rawConnect(s.socket);
    expect(await d.hello()).toMatchObject({ ok: true });
  });

  it('a client that disconnects mid-request does not disturb the server; the request still takes effect', async () => {
    const s = await server();
    for (let i = 0; i < 20; i++) {
      const c = await rawConnect(s.socket);
      c.send('{"type":"hello","version":1}\n');
      c.send(`{"type":"request","id":1,"method":"manager.createJob","params":{"displayName":"gone ${i}","type":"DOWNLOAD"}}\n`);
      c.send('{"type":"request","id":2,"method":"manager.enumJ'); // half a frame
      c.socket.destroy();
    }
    await waitFor(() => s.server.connectionCount === 0, 2000, 'all connections to close');
    const ok = await rawConnect(s.socket);
    await ok.hello();
    const listed = await ok.request(1, 'manager.enumJobs');
    expect((listed.result as string[]).length).toBeLessThanOrEqual(20);
  });

  it('a client that stops reading is dropped once its unread answers pass the limit', async () => {
    const s = await server({ maxOutputBytes: 32 * 1024 });
    const c = await rawConnect(s.socket);
    await c.hello();
    c.socket.pause();
    const request = `${JSON.stringify({ type: 'request', id: 1, method: 'manager.getErrorDescription', params: { hresult: 0x80200002 } })}\n`;
    const burst = request.repeat(2000);
    for (let i = 0; i < 20 && !c.isClosed(); i++) {
      c.socket.write(burst);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await waitFor(() => s.server.connectionCount === 0, 5000, 'the slow client to be dropped');
    const other = await rawConnect(s.socket);
    await other.hello();
    expect(await other.request(1, 'manager.enumJobs')).toMatchObject({ ok: true });
  });

  it('subscriptions per connection are bounded, and unsubscribe frees them', async () => {
    const s = await server({ maxStreams: 2 });
    const c = await rawConnect(s.socket);
    await c.hello();
    const first = await c.request(1, 'events.subscribe', { events: ['job:transferred'] });
    expect(first).toMatchObject({ ok: true, result: { subscription: 1 } });
    await c.request(2, 'events.subscribe', { events: ['job:error', 'job:error'] });
    expect(await c.request(3, 'events.subscribe', { events: ['job:error'] })).toMatchObject({ ok: false, error: { code: 'E_OUTOFMEMORY' } });
    expect(await c.request(4, 'events.unsubscribe', { subscription: 1 })).toMatchObject({ ok: true, result: null });
    expect(await c.request(5, 'events.subscribe', { events: ['job:error'] })).toMatchObject({ ok: true, result: { subscription: 3 } });
  });

  it('streams events and watch snapshots as frames, and ends a watch with an end frame', async () => {
    const s = await server();
    const c = await rawConnect(s.socket);
    await c.hello();
    const created = await c.request(1, 'manager.createJob', { displayName: 'raw', type: 'DOWNLOAD' });
    const job = (created.result as { id: string }).id;
    expect(await c.request(2, 'events.subscribe', { events: ['job:modification'], job })).toMatchObject({ ok: true, result: { subscription: 1 } });
    await c.request(3, 'job.setNotifyFlags', { job, flags: 0x8 });
    await c.request(4, 'job.setDescription', { job, text: 'changed' });
    expect(await c.next()).toMatchObject({ type: 'event', subscription: 1, event: 'job:modification', data: { jobId: job, displayName: 'raw' } });
    expect(await c.request(5, 'events.watch', { job })).toMatchObject({ ok: true, result: { subscription: 2 } });
    const watchFrame = (f: Record<string, unknown>): boolean => f.subscription === 2;
    expect(await c.nextMatching(watchFrame)).toEqual({ type: 'event', subscription: 2, event: 'watch', data: { kind: 'state', state: 'SUSPENDED', progress: { bytesTotal: 0, bytesTransferred: 0, filesTotal: 0, filesTransferred: 0 }, waiting: { reason: 'SUSPENDED', since: null, until: null } } });
    expect(await c.nextMatching(watchFrame)).toEqual({ type: 'end', subscription: 2 });
    expect(await c.request(6, 'events.watch', { job: '{00000000-0000-0000-0000-000000000001}' })).toMatchObject({ ok: true });
    expect(await c.nextMatching((f) => f.subscription === 3)).toMatchObject({ type: 'end', subscription: 3, error: { code: 'BG_E_NOT_FOUND' } });
  });
});
