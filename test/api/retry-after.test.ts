/**
 * When a job retries after a transient error, under a fake clock and a fixed random sequence: a
 * 503 or 429 with Retry-After (seconds or an HTTP-date) waits at least that long, bad values are
 * ignored, a wait past the no-progress deadline ends there in ERROR, and the retry delay gets 0 to
 * +10% jitter from the manager's `random`. The engine is scripted; its errors come from the
 * download engine's own answer-to-error function, so the header is read as a real answer's is.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BackgroundCopyManager, FakeClock } from '../../src/index.js';
import type { BackgroundCopyJob } from '../../src/index.js';
import { answerError } from '../../src/engine/download/download-run.js';
import { type Attempt, ScriptedEngine } from '../helpers/scripted-engine.js';
import { tempDir } from '../helpers/temp.js';

const SEC = 1000;
/** The largest double below 1: what Math.random() can return at most. */
const ALMOST_ONE = 1 - Number.EPSILON / 2;

let clock: FakeClock;
let engine: ScriptedEngine;
let mgr: BackgroundCopyManager;
/** The draws the manager's random() returns, in order; 0 once used up. */
let draws: number[];
let drawn: number;

beforeEach(async () => {
  const dir = await tempDir();
  clock = new FakeClock(Date.UTC(2026, 2, 1, 12, 0, 0));
  engine = new ScriptedEngine('http:');
  draws = [];
  drawn = 0;
  const random = (): number => {
    drawn += 1;
    return draws.shift() ?? 0;
  };
  mgr = await BackgroundCopyManager.open({ dataDir: join(dir, 'data'), clock, engines: [engine], random });
});

afterEach(async () => {
  await mgr.close();
});

async function startedJob(settings: { retryDelaySec?: number; noProgressTimeoutSec?: number } = {}): Promise<BackgroundCopyJob> {
  const job = await mgr.createJob('retry-after', 'DOWNLOAD');
  await job.addFile('http://server.invalid/file', join('/tmp', 'retry-after-out'));
  await job.setMinimumRetryDelay(settings.retryDelaySec ?? 600);
  if (settings.noProgressTimeoutSec !== undefined) await job.setNoProgressTimeout(settings.noProgressTimeoutSec);
  await job.resume();
  return job;
}

/** Fails attempt `n` as the download engine fails an answer with this status and Retry-After. */
async function answer(n: number, status: number, retryAfter?: string): Promise<Attempt> {
  const attempt = await engine.waitForAttempts(n);
  attempt.failWith(answerError({ clock }, { status, headers: retryAfter === undefined ? {} : { 'retry-after': retryAfter } }));
  await clock.advance(0);
  return attempt;
}

/** The next attempt starts exactly `ms` after now: not one millisecond earlier. */
async function expectNextAttemptAfter(job: BackgroundCopyJob, ms: number): Promise<void> {
  const before = engine.attempts.length;
  expect(await job.getState()).toBe('TRANSIENT_ERROR');
  await clock.advance(ms - 1);
  expect(await job.getState()).toBe('TRANSIENT_ERROR');
  expect(engine.attempts).toHaveLength(before);
  await clock.advance(1);
  await engine.waitForAttempts(before + 1);
}

describe('Retry-After on a transient answer', () => {
  it('503 with delay-seconds longer than the retry delay: the retry waits for it', async () => {
    const job = await startedJob();
    await answer(1, 503, '1800');
    expect(await job.getError()).toMatchObject({ code: 'BG_E_HTTP_ERROR_503' });
    await expectNextAttemptAfter(job, 1800 * SEC);
  });

  it('429 with an HTTP-date: the retry waits until that time', async () => {
    const job = await startedJob();
    const at = new Date(clock.now() + 2 * 3600 * SEC).toUTCString();
    expect(at).toBe('Sun, 01 Mar 2026 14:00:00 GMT');
    await answer(1, 429, at);
    expect(await job.getError()).toMatchObject({ code: 'BG_E_HTTP_ERROR_429', hresult: 0x801901ad });
    await expectNextAttemptAfter(job, 2 * 3600 * SEC);
  });

  it('a Retry-After shorter than the retry delay does not shorten it', async () => {
    const job = await startedJob();
    await answer(1, 503, '60');
    await expectNextAttemptAfter(job, 600 * SEC);
  });

  it.each(['soon', '-1', '1.5', '120, 120', 'Mon, 31 Feb 2026 10:00:00 GMT', ''])('a bad value (%j) is ignored: the retry delay', async (value) => {
    const job = await startedJob();
    await answer(1, 503, value);
    await expectNextAttemptAfter(job, 600 * SEC);
  });

  it('a Retry-After on another status (500) is ignored', async () => {
    const job = await startedJob();
    await answer(1, 500, '1800');
    await expectNextAttemptAfter(job, 600 * SEC);
  });

  it('each answer sets its own wait: a later 503 without the header falls back to the delay', async () => {
    const job = await startedJob();
    await answer(1, 503, '1200');
    await expectNextAttemptAfter(job, 1200 * SEC);
    await answer(2, 503);
    await expectNextAttemptAfter(job, 600 * SEC);
  });

  it('a wait past the no-progress deadline ends there: ERROR at the deadline, no retry', async () => {
    const job = await startedJob({ noProgressTimeoutSec: 3600 });
    const errors: number[] = [];
    job.on('job:error', () => errors.push(clock.now()));
    const start = clock.now();
    await answer(1, 503, '7200');
    await clock.advance(3600 * SEC - 1);
    expect(await job.getState()).toBe('TRANSIENT_ERROR');
    await clock.advance(1);
    expect(await job.getState()).toBe('ERROR');
    expect(errors).toEqual([start + 3600 * SEC]);
    expect(await job.getError()).toMatchObject({ code: 'BG_E_HTTP_ERROR_503' });
    await clock.advance(7200 * SEC);
    expect(engine.attempts).toHaveLength(1);
  });

  it('a wait past what is left of the window: the window was opened by an earlier failure', async () => {
    const job = await startedJob({ noProgressTimeoutSec: 3600 });
    await answer(1, 503);
    await expectNextAttemptAfter(job, 600 * SEC);
    // 600 s of the window are used: a 1-hour Retry-After ends at the deadline, 3,000 s from now.
    await answer(2, 503, '3600');
    await clock.advance(3000 * SEC - 1);
    expect(await job.getState()).toBe('TRANSIENT_ERROR');
    await clock.advance(1);
    expect(await job.getState()).toBe('ERROR');
    expect(engine.attempts).toHaveLength(2);
  });
});

describe('jitter on the retry delay', () => {
  it('random() = 0: exactly the retry delay', async () => {
    const job = await startedJob();
    draws = [0];
    await answer(1, 503);
    expect(drawn).toBe(1);
    await expectNextAttemptAfter(job, 600 * SEC);
  });

  it('random() -> 1: just under 10% more than the delay', async () => {
    const job = await startedJob();
    draws = [ALMOST_ONE];
    await answer(1, 503);
    await expectNextAttemptAfter(job, 660 * SEC - 1);
  });

  it('a draw of 0.5 adds 5%; each failure draws again', async () => {
    const job = await startedJob();
    draws = [0.5, 0.25];
    await answer(1, 503);
    await expectNextAttemptAfter(job, 630 * SEC);
    await answer(2, 503);
    await expectNextAttemptAfter(job, 615 * SEC);
    expect(drawn).toBe(2);
  });

  it('jitter adds to a Retry-After too (a fleet told the same wait spreads out)', async () => {
    const job = await startedJob();
    draws = [0.5];
    await answer(1, 429, '1800');
    await expectNextAttemptAfter(job, 1890 * SEC);
  });

  it('a fatal error draws nothing', async () => {
    const job = await startedJob();
    await answer(1, 404);
    expect(await job.getState()).toBe('ERROR');
    expect(drawn).toBe(0);
  });
});
