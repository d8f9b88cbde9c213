/**
 * Cancel of an upload whose session reached the server: CANCELLED at once for the caller, then
 * Cancel-Session owed to the server, resent once per minimum retry delay within min(24 h,
 * no-progress timeout) (IBackgroundCopyJob::Cancel), persisted across a manager restart.
 */
import { getEventListeners } from 'node:events';
import { readdir } from 'node:fs/promises';
import { describe, expect, it, onTestFinished } from 'vitest';
import { BitsUploadEngine, UndiciTransport } from '../../../src/index.js';
import type { BackgroundCopyJob } from '../../../src/index.js';
import type { FaultPlan } from '../../../src/server/index.js';
import { FRAGMENT, SEC, advanceAndWait, content, harness, packetsOf, waitState } from './helpers.js';
import type { Harness } from './helpers.js';
import { toTransferJob } from '../../../src/queue/transfer-view.js';

const HOUR = 3600 * SEC;

/**
 * An upload cut off after its first fragment (503 on the second): TRANSIENT_ERROR with a
 * session open on the server holding one fragment.
 */
async function interruptedUpload(h: Harness, options: { retryDelaySec: number; noProgressTimeoutSec?: number }): Promise<BackgroundCopyJob> {
  h.server.setFaults({ fragment: [{ kind: 'received-range', delta: 0 }, { kind: 'status', status: 503, times: 'forever' }] });
  const job = await h.startUpload('cancelled.bin', content(4 * FRAGMENT), options);
  await waitState(job, 'TRANSIENT_ERROR');
  expect(h.server.sessions()).toHaveLength(1);
  return job;
}

async function cancelWith(h: Harness, job: BackgroundCopyJob, plan: FaultPlan): Promise<void> {
  h.server.setFaults(plan);
  expect(await job.cancel()).toBe('S_OK');
  // CANCELLED for the caller at once, whatever the server does.
  expect(await job.getState()).toBe('CANCELLED');
  await expect(h.mgr.getJob(job.id)).rejects.toMatchObject({ code: 'BG_E_NOT_FOUND' });
}

const cancelPackets = (h: Harness): number => packetsOf(h.server, 'cancel-session').length;

async function attempts(h: Harness): Promise<number | null> {
  const [pending] = await h.mgr.listPendingCancellations();
  return pending?.attempts ?? null;
}

/**
 * Drives the fake clock one retry delay at a time, waiting after each step for the attempt to
 * finish (its outcome recorded), until the pending list is empty. Returns the fake-clock times
 * (relative to `start`) at which Cancel-Session packets arrived.
 */
async function runRetries(h: Harness, delayMs: number, start: number, limit: number): Promise<number[]> {
  const times: number[] = [];
  let seen = 0;
  for (let step = 0; step < limit; step++) {
    await advanceAndWait(
      h.clock,
      step === 0 ? 0 : delayMs,
      async () => {
        const pending = await h.mgr.listPendingCancellations();
        // The attempt is over once its packet was answered and the row moved on.
        return cancelPackets(h) > seen && (pending.length === 0 || (pending[0]?.attempts ?? 0) === cancelPackets(h));
      },
      `Cancel-Session attempt ${step + 1}`,
    );
    for (; seen < cancelPackets(h); seen++) times.push(h.clock.now() - start);
    if ((await h.mgr.listPendingCancellations()).length === 0) return times;
  }
  throw new Error(`still pending after ${limit} steps`);
}

describe('Cancel-Session retries', () => {
  it('503 forever for a simulated 25 hours: one packet per 600 s retry delay, none after 24 h', async () => {
    const h = await harness();
    // Every attempt shares the queue's long-lived AbortSignal: a listener left on it per request
    // would pile up over a day of retries (Node warns past 10).
    const processWarnings: Error[] = [];
    const onWarning = (w: Error): void => void processWarnings.push(w);
    process.on('warning', onWarning);
    onTestFinished(() => void process.off('warning', onWarning));
    const job = await interruptedUpload(h, { retryDelaySec: 600 });
    const start = h.clock.now();
    await cancelWith(h, job, { 'cancel-session': [{ kind: 'status', status: 503, times: 'forever' }] });
    // The first attempt goes out at once; attempts count up in the pending list.
    await advanceAndWait(h.clock, 0, async () => (await attempts(h)) === 1, 'first attempt');
    const [first] = await h.mgr.listPendingCancellations();
    expect(first).toMatchObject({ jobId: job.id, remoteName: `${h.server.url}/up/cancelled.bin`, attempts: 1, deadline: start + 24 * HOUR });
    expect(first?.nextAttemptAt).toBe(start + 600 * SEC);
    expect(first?.lastError).toMatch(/503/);
    // Why the cancelled job is still busy: the Cancel-Session it owes, and when it is tried next.
    expect((await job.getTransferStatus()).waiting).toMatchObject({ reason: 'CANCEL_SESSION_OWED', attempts: 1, until: new Date(start + 600 * SEC), error: { message: expect.stringMatching(/503/) } });
    await advanceAndWait(h.clock, 600 * SEC, async () => (await attempts(h)) === 2, 'second attempt');

    const times = [0, 600 * SEC, ...(await runRetries(h, 600 * SEC, start, 200)).slice(2)];
    // 0, 600 s, ..., 24 h: 145 packets, evenly spaced, the last at the 24 h deadline.
    expect(times).toHaveLength(145);
    expect(times.every((t, i) => t === i * 600 * SEC)).toBe(true);
    expect(cancelPackets(h)).toBe(145);
    // A simulated 25th hour: nothing more.
    await h.clock.advance(HOUR);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(cancelPackets(h)).toBe(145);
    expect(await h.mgr.listPendingCancellations()).toEqual([]);
    // The server never acknowledged: its session is still there (a real server times it out).
    expect(h.server.stats.sessionsCancelled).toBe(0);
    // Every packet named the job's session.
    const session = packetsOf(h.server, 'create-session')[0]?.answeredSessionId;
    expect(packetsOf(h.server, 'cancel-session').every((p) => p.sessionId === session)).toBe(true);
    expect(processWarnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
  }, 60_000);

  it('a 1-hour no-progress timeout bounds the window to 1 h', async () => {
    const h = await harness();
    const job = await interruptedUpload(h, { retryDelaySec: 600, noProgressTimeoutSec: 3600 });
    const start = h.clock.now();
    await cancelWith(h, job, { 'cancel-session': [{ kind: 'status', status: 503, times: 'forever' }] });
    const [pending] = await waitPending(h);
    expect(pending?.deadline).toBe(start + HOUR);
    const times = await runRetries(h, 600 * SEC, start, 50);
    expect(times).toEqual([0, 1, 2, 3, 4, 5, 6].map((i) => i * 600 * SEC));
    await h.clock.advance(24 * HOUR);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(cancelPackets(h)).toBe(7);
  }, 30_000);

  it('4xx: not resent', async () => {
    const h = await harness();
    const job = await interruptedUpload(h, { retryDelaySec: 600 });
    await cancelWith(h, job, { 'cancel-session': [{ kind: 'status', status: 403 }] });
    await advanceAndWait(h.clock, 0, async () => cancelPackets(h) === 1 && (await h.mgr.listPendingCancellations()).length === 0, 'the answer');
    await h.clock.advance(24 * HOUR);
    expect(cancelPackets(h)).toBe(1);
  });

  it('SESSION_NOT_FOUND (500): not resent', async () => {
    const h = await harness();
    const job = await interruptedUpload(h, { retryDelaySec: 600 });
    await cancelWith(h, job, { 'cancel-session': [{ kind: 'status', status: 500, errorCode: 'BG_E_SESSION_NOT_FOUND', times: 'forever' }] });
    await advanceAndWait(h.clock, 0, async () => cancelPackets(h) === 1 && (await h.mgr.listPendingCancellations()).length === 0, 'the answer');
    await h.clock.advance(24 * HOUR);
    expect(cancelPackets(h)).toBe(1);
  });

  it('503 twice, then 200: done on the third attempt, the server drops the partial upload', async () => {
    const h = await harness();
    const job = await interruptedUpload(h, { retryDelaySec: 600 });
    const start = h.clock.now();
    await cancelWith(h, job, { 'cancel-session': [{ kind: 'status', status: 503, times: 2 }] });
    const times = await runRetries(h, 600 * SEC, start, 10);
    expect(times).toEqual([0, 600 * SEC, 1200 * SEC]);
    expect(h.server.stats.sessionsCancelled).toBe(1);
    expect(h.server.sessions()).toEqual([]);
    expect((await readdir(h.server.root)).includes('up')).toBe(false);
    await h.clock.advance(24 * HOUR);
    expect(cancelPackets(h)).toBe(3);
  });

  it('a network failure counts like a 5xx: resent later', async () => {
    const h = await harness();
    const job = await interruptedUpload(h, { retryDelaySec: 600 });
    const start = h.clock.now();
    await cancelWith(h, job, { 'cancel-session': [{ kind: 'reset' }] });
    const times = await runRetries(h, 600 * SEC, start, 10);
    expect(times).toEqual([0, 600 * SEC]);
    expect(h.server.stats.sessionsCancelled).toBe(1);
  });

  it('pending cancellations survive a close and reopen of the manager', async () => {
    const h = await harness();
    const job = await interruptedUpload(h, { retryDelaySec: 600 });
    const start = h.clock.now();
    await cancelWith(h, job, { 'cancel-session': [{ kind: 'status', status: 503, times: 'forever' }] });
    await advanceAndWait(h.clock, 0, async () => (await attempts(h)) === 1, 'first attempt');
    await h.reopen();
    const [pending] = await h.mgr.listPendingCancellations();
    expect(pending).toMatchObject({ jobId: job.id, attempts: 1, nextAttemptAt: start + 600 * SEC, deadline: start + 24 * HOUR });
    // Nothing is sent before the retry delay has passed, reopen or not.
    await h.clock.advance(600 * SEC - 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(cancelPackets(h)).toBe(1);
    await advanceAndWait(h.clock, 1, async () => (await attempts(h)) === 2, 'an attempt after reopen');
    h.server.setFaults({});
    await advanceAndWait(h.clock, 600 * SEC, async () => (await h.mgr.listPendingCancellations()).length === 0, 'the acknowledged cancel');
    expect(cancelPackets(h)).toBe(3);
    expect(h.server.stats.sessionsCancelled).toBe(1);
  });

  it('a cancelled upload that never reached the server owes no Cancel-Session', async () => {
    const h = await harness({ server: { faults: { 'create-session': [{ kind: 'status', status: 503 }] } } });
    const job = await h.startUpload('never.bin', content(10), { retryDelaySec: 600 });
    await waitState(job, 'TRANSIENT_ERROR');
    expect(await job.cancel()).toBe('S_OK');
    expect(await h.mgr.listPendingCancellations()).toEqual([]);
    await h.clock.advance(HOUR);
    expect(cancelPackets(h)).toBe(0);
  });

  it('a cancelled upload whose session was closed owes no Cancel-Session', async () => {
    const h = await harness();
    const job = await h.startUpload('closed.bin', content(10));
    await waitState(job, 'TRANSFERRED');
    expect(await job.cancel()).toBe('S_OK');
    expect(await h.mgr.listPendingCancellations()).toEqual([]);
    await h.clock.advance(HOUR);
    expect(cancelPackets(h)).toBe(0);
  });
});

async function waitPending(h: Harness): Promise<Awaited<ReturnType<Harness['mgr']['listPendingCancellations']>>> {
  return advanceAndWait(h.clock, 0, async () => {
    const list = await h.mgr.listPendingCancellations();
    return list.length > 0 ? list : null;
  }, 'a pending cancellation');
}

describe('Cancel-Session and the shared abort signal', () => {
  it('an attempt leaves no abort listener behind on the signal it was given', async () => {
    const h = await harness({ server: { faults: { 'cancel-session': [{ kind: 'status', status: 503, times: 'forever' }] } } });
    const engine = new BitsUploadEngine({ transport: new UndiciTransport() });
    const controller = new AbortController();
    const job = await h.mgr.createJob('direct', 'UPLOAD');
    const remoteName = `${h.server.url}/up/direct.bin`;
    const transferJob = toTransferJob(h.mgr.queue.record(job.id), []);
    const engineState = { format: 'bits-upload/1', phase: 'uploading', sessionId: '{00000000-0000-0000-0000-000000000001}' };
    const file = { index: 0, remoteName, localName: '/nonexistent', tempName: '/nonexistent.tmp', bytesTotal: 1, bytesTransferred: 0, syncedBytes: 0, ranges: null, engineState, tempIdentity: null };
    for (let i = 0; i < 12; i++) {
      expect(await engine.cancelRemote({ job: transferJob, file, signal: controller.signal, clock: h.clock })).toMatchObject({ done: false });
    }
    await waitForValue(() => getEventListeners(controller.signal, 'abort').length === 0);
    expect(cancelPackets(h)).toBe(12);
  });
});

async function waitForValue(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
