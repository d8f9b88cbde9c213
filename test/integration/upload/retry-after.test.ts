/**
 * Retry-After and jitter for uploads, against bits-server's fault plans under a fake clock: a 503
 * or 429 Ack to a BITS packet makes the job wait at least its Retry-After (429 is transient, a
 * bitsd decision), and the Cancel-Session owed after Cancel waits for it too, with 0 to +10%
 * jitter on its retry interval, drawn from the manager's `random`.
 */
import { describe, expect, it } from 'vitest';
import type { BackgroundCopyJob } from '../../../src/index.js';
import type { FaultPlan } from '../../../src/server/index.js';
import { FRAGMENT, SEC, advanceAndWait, content, digest, digestOf, harness, packetsOf, waitState } from './helpers.js';
import type { Harness } from './helpers.js';

const HOUR = 3600 * SEC;
/** The largest double below 1: what Math.random() can return at most. */
const ALMOST_ONE = 1 - Number.EPSILON / 2;

/** Nothing more is sent for `ms` of fake time (the real-time pause lets a wrongly armed timer act). */
async function quietFor(h: Harness, ms: number, kind: Parameters<typeof packetsOf>[1]): Promise<void> {
  const before = packetsOf(h.server, kind).length;
  await h.clock.advance(ms);
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(packetsOf(h.server, kind)).toHaveLength(before);
}

describe('Retry-After on upload packets', () => {
  it('a Fragment answered 503 with Retry-After: 900 waits 900 s (retry delay 60 s), then the upload completes', async () => {
    const h = await harness();
    h.server.setFaults({ fragment: [{ kind: 'received-range', delta: 0 }, { kind: 'status', status: 503, headers: { 'Retry-After': '900' } }] });
    const data = content(3 * FRAGMENT);
    const job = await h.startUpload('fragment.bin', data, { retryDelaySec: 60 });
    await waitState(job, 'TRANSIENT_ERROR');
    expect(await job.getError()).toMatchObject({ code: 'BG_E_HTTP_ERROR_503' });
    const fragments = packetsOf(h.server, 'fragment').length;
    await quietFor(h, 900 * SEC - 1, 'fragment');
    expect(await job.getState()).toBe('TRANSIENT_ERROR');
    await advanceAndWait(h.clock, 1, async () => (await job.getState()) === 'TRANSFERRED', 'the upload after the Retry-After');
    expect(packetsOf(h.server, 'fragment').length).toBeGreaterThan(fragments);
    expect(await job.complete()).toBe('S_OK');
    expect(await digestOf(h.stored('fragment.bin'))).toBe(digest(data));
  });

  it('a Create-Session answered 429 is transient (not a fatal 4xx) and waits for its HTTP-date', async () => {
    const h = await harness();
    const until = new Date(h.clock.now() + 20 * 60 * SEC).toUTCString();
    h.server.setFaults({ 'create-session': [{ kind: 'status', status: 429, headers: { 'Retry-After': until } }] });
    const data = content(FRAGMENT);
    const job = await h.startUpload('create.bin', data, { retryDelaySec: 60 });
    await waitState(job, 'TRANSIENT_ERROR');
    expect(await job.getError()).toMatchObject({ code: 'BG_E_HTTP_ERROR_429', hresult: 0x801901ad });
    await quietFor(h, 20 * 60 * SEC - 1, 'create-session');
    await advanceAndWait(h.clock, 1, async () => (await job.getState()) === 'TRANSFERRED', 'the upload after the date');
    expect(packetsOf(h.server, 'create-session')).toHaveLength(2);
    expect(await digestOf(h.stored('create.bin'))).toBe(digest(data));
  });

  it('a Retry-After past the no-progress deadline: ERROR at the deadline, nothing resent', async () => {
    const h = await harness();
    h.server.setFaults({ 'create-session': [{ kind: 'status', status: 503, headers: { 'Retry-After': '7200' }, times: 'forever' }] });
    const job = await h.startUpload('late.bin', content(FRAGMENT), { retryDelaySec: 60, noProgressTimeoutSec: 3600 });
    await waitState(job, 'TRANSIENT_ERROR');
    await quietFor(h, HOUR - 1, 'create-session');
    expect(await job.getState()).toBe('TRANSIENT_ERROR');
    await advanceAndWait(h.clock, 1, async () => (await job.getState()) === 'ERROR', 'ERROR at the deadline');
    expect(packetsOf(h.server, 'create-session')).toHaveLength(1);
  });
});

/** An upload cut off after its first fragment, with its session open on the server, then cancelled. */
async function cancelledUpload(h: Harness, plan: FaultPlan, settings: { retryDelaySec: number; noProgressTimeoutSec?: number }): Promise<{ job: BackgroundCopyJob; start: number }> {
  h.server.setFaults({ fragment: [{ kind: 'received-range', delta: 0 }, { kind: 'status', status: 503, times: 'forever' }] });
  const job = await h.startUpload('cancelled.bin', content(4 * FRAGMENT), settings);
  await waitState(job, 'TRANSIENT_ERROR');
  expect(h.server.sessions()).toHaveLength(1);
  h.server.setFaults(plan);
  const start = h.clock.now();
  expect(await job.cancel()).toBe('S_OK');
  await advanceAndWait(h.clock, 0, async () => {
    const [pending] = await h.mgr.listPendingCancellations();
    return packetsOf(h.server, 'cancel-session').length === 1 && (pending === undefined || pending.attempts === 1);
  }, 'the first Cancel-Session');
  return { job, start };
}

describe('Cancel-Session: Retry-After and jitter', () => {
  it('503 with Retry-After: 1800: the next attempt waits 1,800 s (retry delay 600 s)', async () => {
    const h = await harness();
    const { start } = await cancelledUpload(h, { 'cancel-session': [{ kind: 'status', status: 503, headers: { 'Retry-After': '1800' } }] }, { retryDelaySec: 600 });
    const [pending] = await h.mgr.listPendingCancellations();
    expect(pending).toMatchObject({ attempts: 1, nextAttemptAt: start + 1800 * SEC });
    await quietFor(h, 1800 * SEC - 1, 'cancel-session');
    await advanceAndWait(h.clock, 1, async () => (await h.mgr.listPendingCancellations()).length === 0, 'the acknowledged Cancel-Session');
    expect(packetsOf(h.server, 'cancel-session')).toHaveLength(2);
    expect(h.server.stats.sessionsCancelled).toBe(1);
  });

  it('429 is resent like a 5xx (it was the end of the retries)', async () => {
    const h = await harness();
    const { start } = await cancelledUpload(h, { 'cancel-session': [{ kind: 'status', status: 429 }] }, { retryDelaySec: 600 });
    const [pending] = await h.mgr.listPendingCancellations();
    expect(pending).toMatchObject({ attempts: 1, nextAttemptAt: start + 600 * SEC });
    expect(pending?.lastError).toMatch(/429/);
    await advanceAndWait(h.clock, 600 * SEC, async () => (await h.mgr.listPendingCancellations()).length === 0, 'the second attempt');
    expect(h.server.stats.sessionsCancelled).toBe(1);
  });

  it('a Retry-After past the retry window: given up at once (nothing may be sent before it)', async () => {
    const h = await harness();
    await cancelledUpload(h, { 'cancel-session': [{ kind: 'status', status: 503, headers: { 'Retry-After': '7200' }, times: 'forever' }] }, { retryDelaySec: 600, noProgressTimeoutSec: 3600 });
    expect(await h.mgr.listPendingCancellations()).toEqual([]);
    await quietFor(h, 24 * HOUR, 'cancel-session');
    expect(packetsOf(h.server, 'cancel-session')).toHaveLength(1);
  });

  it('the retry interval gets 0 to +10% jitter: draws 0.5, 0, then just under 1', async () => {
    // The first draw goes to the job's own transient error (the fragment's 503), then one per
    // failed Cancel-Session.
    const draws = [0, 0.5, 0, ALMOST_ONE];
    const h = await harness({ random: () => draws.shift() ?? 0 });
    const { start } = await cancelledUpload(h, { 'cancel-session': [{ kind: 'status', status: 503, times: 'forever' }] }, { retryDelaySec: 600 });
    const next = async (): Promise<number | null | undefined> => (await h.mgr.listPendingCancellations())[0]?.nextAttemptAt;
    expect(await next()).toBe(start + 630 * SEC);
    await quietFor(h, 630 * SEC - 1, 'cancel-session');
    await advanceAndWait(h.clock, 1, async () => (await h.mgr.listPendingCancellations())[0]?.attempts === 2, 'the second attempt');
    expect(await next()).toBe(start + 1230 * SEC);
    await advanceAndWait(h.clock, 600 * SEC, async () => (await h.mgr.listPendingCancellations())[0]?.attempts === 3, 'the third attempt');
    const third = start + 1230 * SEC;
    const after = (await next()) ?? 0;
    expect(after - third).toBeGreaterThan(600 * SEC);
    expect(after - third).toBeLessThan(660 * SEC);
  });

  it('jitter never pushes the last attempt past the window', async () => {
    const h = await harness({ random: () => ALMOST_ONE });
    // Window 630 s, retry delay 600 s: the second attempt's minimum (600 s) fits, its jitter (to
    // 660 s) would not: it goes at the window's end, and is the last.
    const { start } = await cancelledUpload(h, { 'cancel-session': [{ kind: 'status', status: 503, times: 'forever' }] }, { retryDelaySec: 600, noProgressTimeoutSec: 630 });
    const [pending] = await h.mgr.listPendingCancellations();
    expect(pending).toMatchObject({ attempts: 1, nextAttemptAt: start + 630 * SEC, deadline: start + 630 * SEC });
    await quietFor(h, 630 * SEC - 1, 'cancel-session');
    await advanceAndWait(h.clock, 1, async () => (await h.mgr.listPendingCancellations()).length === 0, 'the last attempt');
    expect(packetsOf(h.server, 'cancel-session')).toHaveLength(2);
    await quietFor(h, 24 * HOUR, 'cancel-session');
  });
});
