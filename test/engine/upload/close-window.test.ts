/**
 * The Close-Session retry window: min(24 h, no-progress timeout) from the first failed
 * Close-Session, persisted in the engine state; when it closes the upload counts as done (the
 * server committed the file at the last fragment), as for a 4xx. The pure rule first, then the
 * engine carrying it out over a scripted transport.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CLOSE_RETRY_WINDOW_MS, closeRetryDecision } from '../../../src/engine/upload/close-window.js';
import { INITIAL_STATE, readUploadState, writeUploadState } from '../../../src/engine/upload/state.js';
import type { TransferContext } from '../../../src/engine/types.js';
import { FakeClock } from '../../../src/shared/clock.js';
import { makeContext, tempFile } from './fake-context.js';
import { ack, settle, setup } from './helpers.js';

const SEC = 1000;
const HOUR = 3600 * SEC;
const T0 = Date.UTC(2026, 0, 1);

describe('closeRetryDecision (pure)', () => {
  const decide = (now: number, failingSince: number | null, delaySec = 600, noProgressSec = 14 * 24 * 3600) =>
    closeRetryDecision({ failingSince, now, minimumRetryDelaySec: delaySec, noProgressTimeoutSec: noProgressSec });

  it('the first failure opens the window at its own time', () => {
    expect(decide(T0, null)).toEqual({ retry: true, failingSince: T0, windowEnd: T0 + CLOSE_RETRY_WINDOW_MS });
    expect(CLOSE_RETRY_WINDOW_MS).toBe(24 * HOUR);
  });

  it('24 h bound: an attempt may fall exactly at 24 h (as Cancel-Session), none after', () => {
    expect(decide(T0 + 24 * HOUR - 600 * SEC, T0).retry).toBe(true);
    expect(decide(T0 + 24 * HOUR, T0)).toMatchObject({ retry: false, bound: '24h' });
    // A retry delay that does not divide 24 h: the last attempt is the one before the mark.
    expect(decide(T0 + 23 * HOUR + 40 * 60 * SEC, T0, 1000).retry).toBe(true);
    expect(decide(T0 + 23 * HOUR + 50 * 60 * SEC, T0, 1000)).toMatchObject({ retry: false, bound: '24h' });
  });

  it('no-progress bound: no attempt at its deadline (the queue turns the job to ERROR there)', () => {
    expect(decide(T0 + 40 * 60 * SEC, T0, 600, 3600)).toMatchObject({ retry: true, windowEnd: T0 + HOUR });
    expect(decide(T0 + 50 * 60 * SEC, T0, 600, 3600)).toMatchObject({ retry: false, bound: 'no-progress', windowEnd: T0 + HOUR });
    // A no-progress timeout of exactly 24 h is the binding one at the 24 h mark.
    expect(decide(T0 + 24 * HOUR - 600 * SEC, T0, 600, 24 * 3600)).toMatchObject({ retry: false, bound: 'no-progress' });
  });

  it('no-progress bound with jitter: no attempt that the queue jitter (up to +10%) could push onto the deadline', () => {
    // 60 min window, 600 s delay: from 49 min the next attempt lands at 59 min without jitter,
    // but up to 60 min with it.
    expect(decide(T0 + 48 * 60 * SEC, T0, 600, 3600).retry).toBe(true);
    expect(decide(T0 + 49 * 60 * SEC, T0, 600, 3600)).toMatchObject({ retry: false, bound: 'no-progress' });
  });

  it('a Retry-After longer than the delay is the wait both bounds judge', () => {
    const withRetryAfter = (now: number, retryAfterMs: number, noProgressSec = 14 * 24 * 3600) =>
      closeRetryDecision({ failingSince: T0, now, minimumRetryDelaySec: 600, noProgressTimeoutSec: noProgressSec, retryAfterMs });
    // No-progress window of 1 h: a 30 min Retry-After at 20 min fits (at most 53 min), at 30 min not.
    expect(withRetryAfter(T0 + 20 * 60 * SEC, 30 * 60 * SEC, 3600).retry).toBe(true);
    expect(withRetryAfter(T0 + 30 * 60 * SEC, 30 * 60 * SEC, 3600)).toMatchObject({ retry: false, bound: 'no-progress' });
    // 24 h: judged without jitter, as Cancel-Session's window is.
    expect(withRetryAfter(T0 + 22 * HOUR, 2 * HOUR).retry).toBe(true);
    expect(withRetryAfter(T0 + 22 * HOUR, 2 * HOUR + 1)).toMatchObject({ retry: false, bound: '24h' });
    // Shorter than the delay: the delay decides, as without one.
    expect(withRetryAfter(T0 + 24 * HOUR - 600 * SEC, 60 * SEC).retry).toBe(true);
  });

  it('a no-progress timeout of 0, or a retry delay longer than it: the first failure is the last attempt', () => {
    expect(decide(T0, null, 600, 0)).toMatchObject({ retry: false, bound: 'no-progress', failingSince: T0 });
    expect(decide(T0, null, 7200, 3600)).toMatchObject({ retry: false, bound: 'no-progress' });
  });
});

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** A context whose upload is done and only Close-Session is owed. */
async function closing(clock: FakeClock, closeFailingSince: number | null, job: Partial<TransferContext['job']> = {}) {
  const f = await tempFile(10);
  cleanups.push(f.cleanup);
  const engineState = writeUploadState({ ...INITIAL_STATE, phase: 'closing', sessionId: 's1', fileSize: 10, fileMtimeMs: 1, closeFailingSince });
  const made = makeContext({ localName: f.path, engineState, bytesTotal: 10, bytesTransferred: 10, clock });
  const ctx: TransferContext = { ...made.ctx, job: { ...made.ctx.job, ...job } };
  return { ctx, rec: made.rec };
}

const reset = (): Error => Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });

describe('Close-Session failures in the engine', () => {
  it('the first 5xx persists the window start; a later one keeps it', async () => {
    const clock = new FakeClock(T0);
    const { transport, engine } = setup();
    const first = await closing(clock, null);
    const run = settle(engine.transfer(first.ctx));
    const close = await transport.nextRequest();
    expect(close.headers['bits-packet-type']).toBe('Close-Session');
    await close.respondWith({ status: 503, headers: ack() });
    expect(await run).toMatchObject({ ok: false, error: { code: 'BG_E_HTTP_ERROR_503', transient: true } });
    expect(readUploadState(first.rec.lastState)).toMatchObject({ phase: 'closing', closeFailingSince: T0 });

    await clock.advance(12 * HOUR);
    const later = await closing(clock, T0);
    const again = settle(engine.transfer(later.ctx));
    await (await transport.nextRequest()).respondWith({ status: 500, headers: ack() });
    expect(await again).toMatchObject({ ok: false, error: { transient: true } });
    // Nothing new to persist: the window still starts at the first failure.
    expect(later.rec.states).toEqual([]);
  });

  it('a 5xx once the window is over: done, phase closed, a warning names the bound', async () => {
    const clock = new FakeClock(T0 + 24 * HOUR);
    const { transport, engine, lines } = setup();
    const { ctx, rec } = await closing(clock, T0);
    const run = settle(engine.transfer(ctx));
    await (await transport.nextRequest()).respondWith({ status: 503, headers: ack() });
    expect(await run).toEqual({ ok: true, value: undefined });
    expect(readUploadState(rec.lastState).phase).toBe('closed');
    expect(lines.filter((l) => l.level === 'warn').map((l) => [l.message, l.details?.['bound']])).toEqual([
      [expect.stringMatching(/retry window/), '24h'],
    ]);
  });

  it('the job\'s no-progress timeout bounds the window', async () => {
    const clock = new FakeClock(T0 + 50 * 60 * SEC);
    const { transport, engine, lines } = setup();
    const { ctx } = await closing(clock, T0, { noProgressTimeoutSec: 3600 });
    const run = settle(engine.transfer(ctx));
    await (await transport.nextRequest()).respondWith({ status: 503, headers: ack() });
    expect(await run).toMatchObject({ ok: true });
    expect(lines.find((l) => l.level === 'warn')?.details?.['bound']).toBe('no-progress');
  });

  it('a network failure counts like a 5xx: inside the window it is resent later, after it the upload is done', async () => {
    const clock = new FakeClock(T0);
    const { transport, engine } = setup({ packetRetries: 0 });
    const inside = await closing(clock, null);
    const run = settle(engine.transfer(inside.ctx));
    (await transport.nextRequest()).fail(reset());
    expect(await run).toMatchObject({ ok: false, error: { context: 'GENERAL_TRANSPORT', transient: true } });
    expect(readUploadState(inside.rec.lastState).closeFailingSince).toBe(T0);

    await clock.advance(24 * HOUR);
    const after = await closing(clock, T0);
    const done = settle(engine.transfer(after.ctx));
    (await transport.nextRequest()).fail(reset());
    expect(await done).toMatchObject({ ok: true });
    expect(readUploadState(after.rec.lastState).phase).toBe('closed');
  });

  it('a stopped transfer (abort) is not a failed attempt: nothing persisted', async () => {
    const clock = new FakeClock(T0);
    const { transport, engine } = setup();
    const controller = new AbortController();
    const base = await closing(clock, null);
    const ctx: TransferContext = { ...base.ctx, signal: controller.signal };
    const run = settle(engine.transfer(ctx));
    await transport.nextRequest();
    controller.abort();
    expect(await run).toMatchObject({ ok: false, error: { code: 'E_ABORT' } });
    expect(base.rec.states).toEqual([]);
  });

  it('the window start is read back, and only while a session exists', () => {
    const state = readUploadState(writeUploadState({ ...INITIAL_STATE, phase: 'closing', sessionId: 's1', closeFailingSince: T0 }));
    expect(state.closeFailingSince).toBe(T0);
    // Without a session there is nothing to close, so nothing to time.
    expect(readUploadState({ ...writeUploadState(state), sessionId: null }).closeFailingSince).toBeNull();
    // Rows written before the field existed read as null.
    const { closeFailingSince: _dropped, ...older } = writeUploadState(state);
    expect(readUploadState(older).closeFailingSince).toBeNull();
  });
});
