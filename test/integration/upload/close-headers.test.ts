/**
 * Close-Session answers (5xx retried until acknowledged; 4xx counted as done, the decision in
 * docs/upload-engine.md), and the job's custom headers and Basic credentials on every packet,
 * never in error messages.
 */
import { describe, expect, it } from 'vitest';
import type { BackgroundCopyJob } from '../../../src/index.js';
import { FRAGMENT, SEC, advanceAndWait, content, digest, digestOf, harness, packetsOf, waitState } from './helpers.js';

async function fileProgress(job: BackgroundCopyJob): Promise<{ bytesTotal: number; bytesTransferred: number; completed: boolean }> {
  const [file] = await job.enumFiles();
  if (!file) throw new Error('no file');
  return file.getProgress();
}

describe('Close-Session', () => {
  it('5xx: TRANSIENT_ERROR until Close-Session is acknowledged; each retry sends only Close-Session', async () => {
    const h = await harness({ server: { faults: { 'close-session': [{ kind: 'status', status: 503, times: 2 }] } } });
    const data = content(3 * FRAGMENT);
    const job = await h.startUpload('close503.bin', data, { retryDelaySec: 60 });
    await waitState(job, 'TRANSIENT_ERROR');
    expect(await job.getError()).toMatchObject({ code: 'BG_E_HTTP_ERROR_503', context: 'REMOTE_FILE' });
    // Every byte is on the server, but the job is not TRANSFERRED yet.
    expect(await digestOf(h.stored('close503.bin'))).toBe(digest(data));
    expect(await fileProgress(job)).toEqual({ bytesTotal: data.length, bytesTransferred: data.length, completed: false });
    await expect(job.complete()).rejects.toMatchObject({ code: 'BG_E_INVALID_STATE' });
    const afterFirst = h.server.packets.length;

    await h.clock.advance(60 * SEC);
    await waitState(job, 'TRANSIENT_ERROR');
    await advanceAndWait(h.clock, 0, () => h.server.packets.length > afterFirst, 'the second Close-Session');
    await h.clock.advance(60 * SEC);
    await waitState(job, 'TRANSFERRED');
    expect(h.server.packets.slice(afterFirst).map((p) => p.kind)).toEqual(['close-session', 'close-session']);
    expect(packetsOf(h.server, 'create-session')).toHaveLength(1);
    expect(h.server.stats).toMatchObject({ sessionsCreated: 1, sessionsCompleted: 1, sessionsClosed: 1 });
    expect(await job.getErrorCount()).toBe(2);
    expect((await fileProgress(job)).completed).toBe(true);
    expect(await job.complete()).toBe('S_OK');
  });

  it('5xx on an upload-reply Close-Session: the retry does not fetch the reply again', async () => {
    const h = await harness({ server: { replyHandler: async () => ({ body: 'the reply' }), faults: { 'close-session': [{ kind: 'status', status: 500 }] } } });
    const job = await h.startUpload('reply-close.bin', content(FRAGMENT + 3), { type: 'UPLOAD_REPLY', retryDelaySec: 60 });
    await waitState(job, 'TRANSIENT_ERROR');
    await h.clock.advance(60 * SEC);
    await waitState(job, 'TRANSFERRED');
    expect(h.server.requests.filter((r) => r.method === 'GET')).toHaveLength(1);
    expect(packetsOf(h.server, 'close-session')).toHaveLength(2);
    expect((await job.getReplyData())?.toString()).toBe('the reply');
  });

  it('4xx: logged and counted as done (the server holds the file); never resent', async () => {
    const h = await harness({ server: { faults: { 'close-session': [{ kind: 'status', status: 400 }] } } });
    const data = content(2 * FRAGMENT);
    const job = await h.startUpload('close400.bin', data);
    await waitState(job, 'TRANSFERRED');
    expect(await job.getErrorCount()).toBe(0);
    expect(h.warnings.map((w) => w.message)).toEqual([expect.stringMatching(/Close-Session was not acknowledged/)]);
    await h.clock.advance(24 * 3600 * SEC);
    expect(packetsOf(h.server, 'close-session')).toHaveLength(1);
    expect(await digestOf(h.stored('close400.bin'))).toBe(digest(data));
    expect(await job.complete()).toBe('S_OK');
  });

  it('a lost Close-Session Ack: the resend meets SESSION_NOT_FOUND, which ends it', async () => {
    const h = await harness({ server: { faults: { 'close-session': [{ kind: 'drop-ack' }] } } });
    const job = await h.startUpload('close-lost.bin', content(FRAGMENT));
    await waitState(job, 'TRANSFERRED');
    expect(packetsOf(h.server, 'close-session').map((p) => p.outcome)).toEqual(['reset', 500]);
    expect(await job.getErrorCount()).toBe(0);
  });
});

describe('custom headers and Basic credentials', () => {
  const USER = 'uploader';
  const PASSWORD = 'pa$$w0rd-very-secret';
  const basic = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;

  async function secureJob(job: BackgroundCopyJob): Promise<void> {
    // A custom Authorization is overridden by the SERVER Basic credentials.
    await job.setCustomHeaders('X-Trace: t-123\r\nX-Tenant: blue\r\nAuthorization: Bearer not-this\r\n');
    await job.setCredentials({ target: 'SERVER', scheme: 'BASIC', userName: USER, password: PASSWORD });
  }

  it('arrive on every packet: Create, Fragments (across a retry), Close', async () => {
    const h = await harness({ server: { faults: { fragment: [{ kind: 'received-range', delta: 0 }, { kind: 'status', status: 503 }] } } });
    const data = content(3 * FRAGMENT);
    const job = await h.startUpload('headers.bin', data, { retryDelaySec: 60, before: secureJob });
    await waitState(job, 'TRANSIENT_ERROR');
    await h.clock.advance(60 * SEC);
    await waitState(job, 'TRANSFERRED');
    const kinds = new Set(h.server.packets.map((p) => p.kind));
    expect([...kinds].sort()).toEqual(['close-session', 'create-session', 'fragment']);
    expect(h.server.packets.length).toBeGreaterThanOrEqual(6);
    for (const p of h.server.packets) {
      expect(p.headers).toMatchObject({ 'x-trace': 't-123', 'x-tenant': 'blue', authorization: basic });
    }
    expect(await digestOf(h.stored('headers.bin'))).toBe(digest(data));
  });

  it('arrive on Cancel-Session too', async () => {
    const h = await harness({ server: { faults: { fragment: [{ kind: 'received-range', delta: 0 }, { kind: 'status', status: 503 }] } } });
    const job = await h.startUpload('cancel-headers.bin', content(3 * FRAGMENT), { retryDelaySec: 60, before: secureJob });
    await waitState(job, 'TRANSIENT_ERROR');
    await job.cancel();
    await advanceAndWait(h.clock, 0, () => h.server.stats.sessionsCancelled === 1, 'the Cancel-Session');
    const [cancel] = packetsOf(h.server, 'cancel-session');
    expect(cancel?.headers).toMatchObject({ 'x-trace': 't-123', authorization: basic });
  });

  it('never appear in GetError, error events or pending-cancellation errors', async () => {
    const h = await harness({
      server: {
        faults: {
          'create-session': [{ kind: 'status', status: 401, body: `denied ${USER}:${PASSWORD}` }],
          'cancel-session': [{ kind: 'status', status: 503, times: 'forever' }],
        },
      },
    });
    const events: string[] = [];
    h.mgr.on('job:error', (e) => events.push(JSON.stringify(e)));
    const job = await h.startUpload('secret.bin', content(2 * FRAGMENT), { retryDelaySec: 60, before: secureJob });
    await waitState(job, 'ERROR');
    const fatal = await job.getError();
    expect(fatal).toMatchObject({ hresult: 0x80190191, code: 'BG_E_HTTP_ERROR_401' });

    // A transport failure and a pending Cancel-Session error as well.
    h.server.setFaults({
      fragment: [{ kind: 'received-range', delta: 0 }, { kind: 'reset', afterBodyBytes: 100, times: 'forever' }],
      'cancel-session': [{ kind: 'status', status: 503, times: 'forever' }],
    });
    await job.resume();
    await waitState(job, 'TRANSIENT_ERROR');
    const transient = await job.getError();
    await job.cancel();
    const [pending] = await advanceAndWait(
      h.clock,
      0,
      async () => {
        const list = await h.mgr.listPendingCancellations();
        return list[0]?.lastError ? list : null;
      },
      'a recorded Cancel-Session failure',
    );

    const texts = [JSON.stringify(fatal), JSON.stringify(transient), JSON.stringify(pending), ...events];
    expect(events.length).toBeGreaterThan(0);
    for (const text of texts) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(basic.slice('Basic '.length));
      expect(text).not.toContain('not-this');
    }
  });
});
