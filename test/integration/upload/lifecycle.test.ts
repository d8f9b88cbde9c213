/**
 * Upload jobs through the rest of the job life cycle: Cancel while a fragment is on the wire,
 * Suspend/Resume and time-slice preemption continuing the same session, a local file changed
 * between attempts, a restart while only Close-Session is owed, and a reply download resumed with
 * a Range request.
 */
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FRAGMENT, KIB, MIB, SEC, advanceAndWait, content, digest, digestOf, harness, packetsOf, waitState } from './helpers.js';

describe('upload life cycle', () => {
  it('Cancel while a fragment hangs on the server: CANCELLED at once, Cancel-Session drops the partial upload', async () => {
    const h = await harness({ server: { faults: { fragment: [{ kind: 'received-range', delta: 0 }, { kind: 'stall' }] } } });
    const job = await h.startUpload('hang.bin', content(4 * FRAGMENT));
    await advanceAndWait(h.clock, 0, () => h.server.packets.some((p) => p.outcome === 'stalled'), 'the stalled fragment');
    expect(await job.getState()).toBe('TRANSFERRING');
    expect(await job.cancel()).toBe('S_OK');
    expect(await job.getState()).toBe('CANCELLED');
    // Done once the client has the Ack (the server counts the cancel before answering).
    await advanceAndWait(h.clock, 0, async () => (await h.mgr.listPendingCancellations()).length === 0, 'the acknowledged Cancel-Session');
    expect(h.server.stats.sessionsCancelled).toBe(1);
    expect(packetsOf(h.server, 'cancel-session')).toHaveLength(1);
    expect(h.server.sessions()).toEqual([]);
    expect(await readdir(h.server.root)).not.toContain('up');
  });

  it('Suspend mid-upload and Resume: the same session continues', async () => {
    const h = await harness({ server: { faults: { fragment: [{ kind: 'received-range', delta: 0, times: 2 }, { kind: 'stall' }] } } });
    const data = content(5 * FRAGMENT);
    const job = await h.startUpload('suspend.bin', data);
    await advanceAndWait(h.clock, 0, () => h.server.packets.some((p) => p.outcome === 'stalled'), 'the stalled fragment');
    await job.suspend();
    expect(await job.getState()).toBe('SUSPENDED');
    const [file] = await job.enumFiles();
    expect((await file?.getProgress())?.bytesTransferred).toBe(2 * FRAGMENT);
    await job.resume();
    await waitState(job, 'TRANSFERRED');
    expect(packetsOf(h.server, 'create-session')).toHaveLength(1);
    expect(new Set(packetsOf(h.server, 'fragment').map((p) => p.sessionId)).size).toBe(1);
    expect(await digestOf(h.stored('suspend.bin'))).toBe(digest(data));
  });

  it('round robin: a time-sliced upload goes back in line and later continues its session', async () => {
    const h = await harness({ server: { faults: { fragment: [{ kind: 'received-range', delta: 0 }, { kind: 'stall' }] } } });
    const first = content(3 * FRAGMENT);
    const second = content(2 * FRAGMENT);
    const a = await h.startUpload('slice-a.bin', first);
    await advanceAndWait(h.clock, 0, () => h.server.packets.some((p) => p.outcome === 'stalled'), 'the stalled fragment');
    const b = await h.startUpload('slice-b.bin', second);
    expect(await b.getState()).toBe('QUEUED');
    // The 60 s slice ends while B waits: A goes back in line, B runs to the end, then A again.
    await h.clock.advance(60 * SEC);
    await waitState(b, 'TRANSFERRED');
    await waitState(a, 'TRANSFERRED');
    const aSession = packetsOf(h.server, 'create-session').find((p) => p.target === '/up/slice-a.bin')?.answeredSessionId;
    expect(packetsOf(h.server, 'create-session').filter((p) => p.target === '/up/slice-a.bin')).toHaveLength(1);
    expect(packetsOf(h.server, 'fragment').filter((p) => p.target === '/up/slice-a.bin').every((p) => p.sessionId === aSession)).toBe(true);
    expect(await digestOf(h.stored('slice-a.bin'))).toBe(digest(first));
    expect(await digestOf(h.stored('slice-b.bin'))).toBe(digest(second));
  });

  it('the local file changes between attempts: ERROR BG_E_LOCAL_FILE_CHANGED, and Cancel still closes the session', async () => {
    const h = await harness({ server: { faults: { fragment: [{ kind: 'received-range', delta: 0 }, { kind: 'status', status: 503 }] } } });
    const job = await h.startUpload('changed.bin', content(3 * FRAGMENT), { retryDelaySec: 60 });
    await waitState(job, 'TRANSIENT_ERROR');
    await writeFile(join(h.client, 'changed.bin'), content(3 * FRAGMENT + 1));
    const before = h.server.packets.length;
    await h.clock.advance(60 * SEC);
    await waitState(job, 'ERROR');
    expect(await job.getError()).toMatchObject({ hresult: 0x8020001d, code: 'BG_E_LOCAL_FILE_CHANGED', context: 'LOCAL_FILE' });
    // Checked before any request.
    expect(h.server.packets.length).toBe(before);
    await job.cancel();
    await advanceAndWait(h.clock, 0, () => h.server.stats.sessionsCancelled === 1, 'the Cancel-Session');
  });

  it('a restart while only Close-Session is owed: the next attempt sends only Close-Session', async () => {
    const h = await harness({ server: { faults: { 'close-session': [{ kind: 'status', status: 503 }] } } });
    const data = content(2 * FRAGMENT);
    const job = await h.startUpload('restart-close.bin', data, { retryDelaySec: 60 });
    await waitState(job, 'TRANSIENT_ERROR');
    const before = h.server.packets.length;
    await h.reopen();
    const again = await h.mgr.getJob(job.id);
    expect(await again.getState()).toBe('TRANSIENT_ERROR');
    await h.clock.advance(60 * SEC);
    await waitState(again, 'TRANSFERRED');
    expect(h.server.packets.slice(before).map((p) => p.kind)).toEqual(['close-session']);
    expect(await again.complete()).toBe('S_OK');
  });

  it('a reply download cut off mid-body resumes with a Range request from the flushed length', async () => {
    const reply = content(2 * MIB + 100 * KIB);
    const h = await harness({ server: { replyHandler: async () => ({ body: reply }), faults: { get: [{ kind: 'reset', afterBodyBytes: MIB + 500 * KIB }] } } });
    const job = await h.startUpload('reply-cut.bin', content(FRAGMENT), { type: 'UPLOAD_REPLY', retryDelaySec: 60 });
    await waitState(job, 'TRANSIENT_ERROR');
    expect((await job.getError()).context).toBe('GENERAL_TRANSPORT');
    // What arrived before the reset was flushed and counted (the download engine keeps the bytes
    // of a failed connection, like any download's).
    const { bytesTotal, bytesTransferred: kept } = await job.getReplyProgress();
    expect(bytesTotal).toBe(reply.length);
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(MIB + 500 * KIB);
    await h.clock.advance(60 * SEC);
    await waitState(job, 'TRANSFERRED');
    const gets = h.server.requests.filter((r) => r.method === 'GET');
    expect(gets.map((g) => g.range)).toEqual([undefined, `bytes=${kept}-`]);
    expect(packetsOf(h.server, 'fragment')).toHaveLength(1);
    expect(await job.complete()).toBe('S_OK');
    expect(await digestOf(join(h.client, 'reply-cut.bin.reply'))).toBe(digest(reply));
  });
});
