/**
 * Every fault class of the outcome table (docs/upload-engine.md), seen through job states and
 * GetError, with the reference server's fault plans; the 416 resume in both directions; and a
 * server that forgets the session mid-upload.
 */
import { describe, expect, it } from 'vitest';
import type { BackgroundCopyJob } from '../../../src/index.js';
import { FRAGMENT, SEC, content, digest, digestOf, fragmentBytes, harness, packetsOf, waitState } from './helpers.js';
import type { Harness } from './helpers.js';
import type { FaultPlan } from '../../../src/server/index.js';

const RETRY_SEC = 60;

async function fileProgress(job: BackgroundCopyJob): Promise<{ bytesTotal: number; bytesTransferred: number; completed: boolean }> {
  const [file] = await job.enumFiles();
  if (!file) throw new Error('no file');
  return file.getProgress();
}

/** Lets the retry delay pass on the fake clock and waits for the job to finish. */
async function retryToTransferred(h: Harness, job: BackgroundCopyJob): Promise<void> {
  await h.clock.advance(RETRY_SEC * SEC - 1);
  expect(await job.getState()).toBe('TRANSIENT_ERROR');
  await h.clock.advance(1);
  await waitState(job, 'TRANSFERRED');
}

describe('5xx: TRANSIENT_ERROR, then success after the retry delay', () => {
  it('503 on Create-Session', async () => {
    const h = await harness({ server: { faults: { 'create-session': [{ kind: 'status', status: 503 }] } } });
    const data = content(3 * FRAGMENT + 5);
    const job = await h.startUpload('create503.bin', data, { retryDelaySec: RETRY_SEC });
    await waitState(job, 'TRANSIENT_ERROR');
    expect(await job.getError()).toMatchObject({ hresult: 0x801901f7, code: 'BG_E_HTTP_ERROR_503', context: 'REMOTE_FILE', protocol: 'http' });
    expect(await job.getErrorCount()).toBe(1);
    expect(packetsOf(h.server, 'fragment')).toHaveLength(0);
    await retryToTransferred(h, job);
    expect(packetsOf(h.server, 'create-session')).toHaveLength(2);
    expect(await digestOf(h.stored('create503.bin'))).toBe(digest(data));
    expect(await job.complete()).toBe('S_OK');
  });

  it('503 on a Fragment: the retry continues the same session from the acknowledged offset', async () => {
    const h = await harness({
      server: { faults: { fragment: [{ kind: 'received-range', delta: 0, times: 2 }, { kind: 'status', status: 503 }] } },
    });
    const data = content(5 * FRAGMENT);
    const job = await h.startUpload('frag503.bin', data, { retryDelaySec: RETRY_SEC });
    await waitState(job, 'TRANSIENT_ERROR');
    expect(await job.getError()).toMatchObject({ code: 'BG_E_HTTP_ERROR_503', context: 'REMOTE_FILE' });
    expect(await fileProgress(job)).toEqual({ bytesTotal: data.length, bytesTransferred: 2 * FRAGMENT, completed: false });
    const before = h.server.packets.length;
    await retryToTransferred(h, job);
    expect(packetsOf(h.server, 'create-session')).toHaveLength(1);
    const resumed = packetsOf(h.server, 'fragment', before);
    expect(resumed[0]?.range).toMatchObject({ first: 2 * FRAGMENT });
    expect(new Set(packetsOf(h.server, 'fragment').map((p) => p.sessionId)).size).toBe(1);
    // The rejected fragment's body went over the wire once more: at most one fragment extra.
    expect(fragmentBytes(h.server)).toBe(data.length + FRAGMENT);
    expect(await digestOf(h.stored('frag503.bin'))).toBe(digest(data));
  });

  it('503 after the server stored the fragment: the retry follows the server, one fragment resent at most', async () => {
    const h = await harness({
      server: { faults: { fragment: [{ kind: 'received-range', delta: 0 }, { kind: 'status', status: 503, apply: true }] } },
    });
    const data = content(4 * FRAGMENT);
    const job = await h.startUpload('held503.bin', data, { retryDelaySec: RETRY_SEC });
    await waitState(job, 'TRANSIENT_ERROR');
    expect((await fileProgress(job)).bytesTransferred).toBe(FRAGMENT);
    expect(h.server.sessions()[0]?.received).toBe(2 * FRAGMENT);
    const before = h.server.packets.length;
    await retryToTransferred(h, job);
    const resumed = packetsOf(h.server, 'fragment', before).map((p) => p.range);
    // The client resends from its own offset; the Ack moves it to the server's.
    expect(resumed.map((r) => (r?.kind === 'range' ? r.first : -1))).toEqual([FRAGMENT, 2 * FRAGMENT, 3 * FRAGMENT]);
    expect(fragmentBytes(h.server)).toBeLessThanOrEqual(data.length + FRAGMENT);
    expect(h.server.stats.bytesStored).toBe(data.length);
    expect(await digestOf(h.stored('held503.bin'))).toBe(digest(data));
  });
});

describe('4xx and fatal statuses: ERROR with the server HRESULT and context', () => {
  it('403 on Create-Session: the server BITS-Error-Code (default BG_E_HTTP_ERROR_403), REMOTE_FILE, no retry', async () => {
    const h = await harness({ server: { faults: { 'create-session': [{ kind: 'status', status: 403 }] } } });
    const job = await h.startUpload('forbidden.bin', content(100), { retryDelaySec: RETRY_SEC });
    await waitState(job, 'ERROR');
    const error = await job.getError();
    expect(error).toMatchObject({ hresult: 0x80190193, code: 'BG_E_HTTP_ERROR_403', context: 'REMOTE_FILE', protocol: 'http' });
    expect(error.file?.remoteName).toBe(`${h.server.url}/up/forbidden.bin`);
    await h.clock.advance(24 * 3600 * SEC);
    expect(await job.getState()).toBe('ERROR');
    expect(h.server.packets).toHaveLength(1);
    await expect(job.complete()).rejects.toMatchObject({ code: 'BG_E_INVALID_STATE' });
  });

  it('404 on a Fragment without BITS-Error-Code: 0x80190000 + status', async () => {
    const h = await harness({ server: { faults: { fragment: [{ kind: 'status', status: 404, errorCode: null }] } } });
    const job = await h.startUpload('missing.bin', content(100));
    await waitState(job, 'ERROR');
    expect(await job.getError()).toMatchObject({ hresult: 0x80190194, code: 'BG_E_HTTP_ERROR_404', context: 'REMOTE_FILE' });
  });

  it('403 with a server HRESULT and BITS-Error-Context 0x7: that HRESULT, REMOTE_APPLICATION', async () => {
    const h = await harness({ server: { faults: { fragment: [{ kind: 'status', status: 403, errorCode: 'E_ACCESSDENIED', errorContext: 7 }] } } });
    const job = await h.startUpload('app403.bin', content(100));
    await waitState(job, 'ERROR');
    expect(await job.getError()).toMatchObject({ hresult: 0x80070005, code: 'E_ACCESSDENIED', context: 'REMOTE_APPLICATION' });
  });

  it('a server HRESULT bitsd has no name for is kept by value', async () => {
    const h = await harness({ server: { faults: { 'create-session': [{ kind: 'status', status: 404, errorCode: 0x8007abcd }] } } });
    const job = await h.startUpload('odd.bin', content(10));
    await waitState(job, 'ERROR');
    expect(await job.getError()).toMatchObject({ hresult: 0x8007abcd, context: 'REMOTE_FILE' });
  });

  it('501 on a Fragment is fatal', async () => {
    const h = await harness({ server: { faults: { fragment: [{ kind: 'status', status: 501 }] } } });
    const job = await h.startUpload('notimpl.bin', content(100));
    await waitState(job, 'ERROR');
    expect(await job.getError()).toMatchObject({ hresult: 0x801901f5, code: 'BG_E_HTTP_ERROR_501' });
    await h.clock.advance(24 * 3600 * SEC);
    expect(packetsOf(h.server, 'fragment')).toHaveLength(1);
  });

  it('BG_E_TOO_LARGE (file over the server limit) is fatal', async () => {
    const h = await harness({ server: { maxUploadSize: 1000 } });
    const job = await h.startUpload('big.bin', content(2000));
    await waitState(job, 'ERROR');
    expect(await job.getError()).toMatchObject({ hresult: 0x80200020, code: 'BG_E_TOO_LARGE', context: 'REMOTE_FILE' });
    await h.clock.advance(24 * 3600 * SEC);
    expect(packetsOf(h.server, 'fragment')).toHaveLength(1);
  });
});

describe('transport failures: TRANSIENT_ERROR with a transport context', () => {
  it('connection reset mid-body on every resend; then the retry continues from what the server kept', async () => {
    const h = await harness({ server: { faults: { fragment: [{ kind: 'received-range', delta: 0 }, { kind: 'reset', afterBodyBytes: 10_000, times: 'forever' }] } } });
    const data = content(3 * FRAGMENT);
    const job = await h.startUpload('reset.bin', data, { retryDelaySec: RETRY_SEC });
    await waitState(job, 'TRANSIENT_ERROR');
    const error = await job.getError();
    expect(error.context).toBe('GENERAL_TRANSPORT');
    expect(error.code).toMatch(/^ERROR_WINHTTP_/);
    // One packet plus the engine's two immediate resends.
    expect(packetsOf(h.server, 'fragment').filter((p) => p.outcome === 'reset')).toHaveLength(3);
    expect(h.server.sessions()[0]?.received).toBe(FRAGMENT + 10_000);
    h.server.setFaults({});
    await retryToTransferred(h, job);
    expect(packetsOf(h.server, 'create-session')).toHaveLength(1);
    expect(await digestOf(h.stored('reset.bin'))).toBe(digest(data));
    expect(h.server.stats.bytesStored).toBe(data.length);
  });

  it('a stalled server: the request timeout ends the attempt transiently', async () => {
    const h = await harness({ engine: { requestTimeoutMs: 300 }, server: { faults: { fragment: [{ kind: 'stall', times: 3 }] } } });
    const data = content(2 * FRAGMENT);
    const job = await h.startUpload('stall.bin', data, { retryDelaySec: RETRY_SEC });
    await waitState(job, 'TRANSIENT_ERROR');
    expect(await job.getError()).toMatchObject({ code: 'ERROR_WINHTTP_TIMEOUT', context: 'GENERAL_TRANSPORT' });
    await retryToTransferred(h, job);
    expect(await digestOf(h.stored('stall.bin'))).toBe(digest(data));
  });
});

describe('protocol violations: ERROR BG_E_INVALID_SERVER_RESPONSE', () => {
  const cases: Array<[string, FaultPlan]> = [
    ['a garbage BITS-Received-Content-Range', { fragment: [{ kind: 'received-range', value: 'garbage' }] }],
    ['a BITS-Received-Content-Range past the end of the file', { fragment: [{ kind: 'received-range', delta: 1_000_000 }] }],
    ['a fragment Ack without BITS-Received-Content-Range', { fragment: [{ kind: 'omit-header', header: 'BITS-Received-Content-Range' }] }],
    ['a Create-Session Ack without BITS-Session-Id', { 'create-session': [{ kind: 'omit-header', header: 'BITS-Session-Id' }] }],
    ['a 2xx answer that is not an Ack', { 'create-session': [{ kind: 'omit-header', header: 'BITS-Packet-Type' }] }],
  ];
  for (const [label, faults] of cases) {
    it(label, async () => {
      const h = await harness({ server: { faults } });
      const job = await h.startUpload('bad.bin', content(2 * FRAGMENT));
      await waitState(job, 'ERROR');
      expect(await job.getError()).toMatchObject({ hresult: 0x8020001b, code: 'BG_E_INVALID_SERVER_RESPONSE' });
      await h.clock.advance(24 * 3600 * SEC);
      expect(await job.getState()).toBe('ERROR');
    });
  }
});

describe('416: the server received range is the truth, in both directions', () => {
  it('the server is behind (a lie sent the client ahead): 416 brings it back, byte-identical', async () => {
    const h = await harness({ server: { faults: { fragment: [{ kind: 'received-range', delta: 1000 }] } } });
    const data = content(4 * FRAGMENT);
    const job = await h.startUpload('behind.bin', data);
    await waitState(job, 'TRANSFERRED');
    const fragments = packetsOf(h.server, 'fragment');
    expect(fragments[1]).toMatchObject({ outcome: 416, range: { first: FRAGMENT + 1000 } });
    expect(fragments[2]?.range).toMatchObject({ first: FRAGMENT });
    expect(await digestOf(h.stored('behind.bin'))).toBe(digest(data));
    expect(await job.getErrorCount()).toBe(0);
  });

  it('the server is ahead (416 naming more than was acknowledged): the client skips what it holds', async () => {
    const h = await harness({
      server: { faults: { fragment: [{ kind: 'received-range', delta: 0 }, { kind: 'status', status: 416, apply: true }] } },
    });
    const data = content(4 * FRAGMENT);
    const job = await h.startUpload('ahead.bin', data);
    await waitState(job, 'TRANSFERRED');
    const firsts = packetsOf(h.server, 'fragment').map((p) => (p.range?.kind === 'range' ? p.range.first : -1));
    expect(firsts).toEqual([0, FRAGMENT, 2 * FRAGMENT, 3 * FRAGMENT]);
    expect(fragmentBytes(h.server)).toBe(data.length);
    expect(await digestOf(h.stored('ahead.bin'))).toBe(digest(data));
  });

  it('a 200 naming an offset behind the truth: the overlap is resent and not rewritten', async () => {
    const h = await harness({ server: { faults: { fragment: [{ kind: 'received-range', delta: 0 }, { kind: 'received-range', delta: -100 }] } } });
    const data = content(4 * FRAGMENT);
    const job = await h.startUpload('overlap.bin', data);
    await waitState(job, 'TRANSFERRED');
    expect(fragmentBytes(h.server)).toBe(data.length + 100);
    expect(h.server.stats.bytesStored).toBe(data.length);
    expect(await digestOf(h.stored('overlap.bin'))).toBe(digest(data));
  });
});

describe('BG_E_SESSION_NOT_FOUND mid-upload', () => {
  it('a new Create-Session from byte 0; the upload completes without an error', async () => {
    const h = await harness({
      server: { faults: { fragment: [{ kind: 'received-range', delta: 0, times: 2 }, { kind: 'status', status: 500, errorCode: 'BG_E_SESSION_NOT_FOUND' }] } },
    });
    const data = content(4 * FRAGMENT);
    const job = await h.startUpload('lost.bin', data);
    await waitState(job, 'TRANSFERRED');
    const creates = packetsOf(h.server, 'create-session');
    expect(creates).toHaveLength(2);
    const second = creates[1]?.seq ?? 0;
    const after = h.server.packets.filter((p) => p.seq > second && p.kind === 'fragment');
    expect(after[0]).toMatchObject({ range: { first: 0 }, sessionId: creates[1]?.answeredSessionId });
    expect(after[0]?.headers['content-name']).toBe('lost.bin');
    expect(await job.getErrorCount()).toBe(0);
    expect(await fileProgress(job)).toEqual({ bytesTotal: data.length, bytesTransferred: data.length, completed: true });
    expect(await digestOf(h.stored('lost.bin'))).toBe(digest(data));
    expect(await job.complete()).toBe('S_OK');
  });

  it('a server that keeps losing sessions: TRANSIENT_ERROR BG_E_SESSION_NOT_FOUND after the restart limit', async () => {
    const h = await harness({ server: { faults: { fragment: [{ kind: 'status', status: 500, errorCode: 'BG_E_SESSION_NOT_FOUND', times: 'forever' }] } } });
    const job = await h.startUpload('always-lost.bin', content(FRAGMENT));
    await waitState(job, 'TRANSIENT_ERROR');
    expect(await job.getError()).toMatchObject({ code: 'BG_E_SESSION_NOT_FOUND', hresult: 0x8020001f });
    // The first session plus maxSessionRestarts (3) new ones.
    expect(packetsOf(h.server, 'create-session')).toHaveLength(4);
  });
});
