/**
 * Close-Session follows the Cancel-Session retry rule: a 5xx (or a network failure) is resent
 * once per minimum retry delay until it is acknowledged or min(24 h, no-progress timeout) has
 * passed since the first failed Close-Session. When the window closes the job becomes
 * TRANSFERRED (the server committed the file at the last fragment; the decision in
 * docs/upload-engine.md, consistent with a 4xx on Close-Session). The window start is
 * persisted in the file's engine state and survives a manager restart.
 */
import { describe, expect, it } from 'vitest';
import type { BackgroundCopyJob, JobState } from '../../../src/index.js';
import { readUploadState } from '../../../src/engine/upload/state.js';
import { FRAGMENT, SEC, content, digest, digestOf, harness, packetsOf, waitState } from './helpers.js';
import type { Harness } from './helpers.js';

const HOUR = 3600 * SEC;
const DELAY = 600 * SEC;

const closePackets = (h: Harness): number => packetsOf(h.server, 'close-session').length;

function engineState(h: Harness, job: BackgroundCopyJob) {
  const [file] = h.mgr.queue.reads.getFiles(job.id);
  if (!file) throw new Error('no file');
  return readUploadState(file.engineState);
}

/** Waits (real time) until the attempt started by the last clock step is over. */
async function attemptOver(h: Harness, job: BackgroundCopyJob, seen: number, what: string): Promise<JobState> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const state = await job.getState();
    if (closePackets(h) > seen && (state === 'TRANSIENT_ERROR' || state === 'TRANSFERRED' || state === 'ERROR')) return state;
    if (Date.now() > deadline) throw new Error(`${what}: job ${state}, ${closePackets(h)} Close-Session packets`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/**
 * Drives the fake clock one retry delay at a time until the job leaves TRANSIENT_ERROR, and
 * returns the fake-clock times (relative to `start`) at which Close-Session packets arrived.
 * `between(step)` runs after each attempt (a restart, say).
 */
async function runCloseRetries(
  h: Harness,
  job: BackgroundCopyJob,
  start: number,
  limit: number,
  between: (step: number) => Promise<BackgroundCopyJob | undefined> = async () => undefined,
): Promise<{ times: number[]; state: JobState; job: BackgroundCopyJob }> {
  const times = [0];
  let current = job;
  for (let step = 1; step <= limit; step++) {
    const seen = closePackets(h);
    await h.clock.advance(DELAY);
    const state = await attemptOver(h, current, seen, `Close-Session attempt ${step + 1}`);
    expect(closePackets(h)).toBe(seen + 1);
    times.push(h.clock.now() - start);
    if (state !== 'TRANSIENT_ERROR') return { times, state, job: current };
    current = (await between(step)) ?? current;
  }
  throw new Error(`still retrying after ${limit} steps`);
}

describe('Close-Session retry window', () => {
  it('503 for a simulated 25 hours: one Close-Session per 600 s, the last at 24 h, then TRANSFERRED (window start kept across a restart)', async () => {
    const h = await harness({ server: { faults: { 'close-session': [{ kind: 'status', status: 503, times: 'forever' }] } } });
    const data = content(3 * FRAGMENT);
    const job = await h.startUpload('close-25h.bin', data, { retryDelaySec: 600 });
    await waitState(job, 'TRANSIENT_ERROR');
    const start = h.clock.now();
    expect(closePackets(h)).toBe(1);
    expect(engineState(h, job)).toMatchObject({ phase: 'closing', closeFailingSince: start });
    expect(await job.getError()).toMatchObject({ code: 'BG_E_HTTP_ERROR_503' });

    const { times, state, job: after } = await runCloseRetries(h, job, start, 200, async (step) => {
      if (step !== 72) return undefined;
      // 12 h in: a restart. The window still counts from the first failure, not from the restart.
      await h.reopen();
      const again = await h.mgr.getJob(job.id);
      expect(await again.getState()).toBe('TRANSIENT_ERROR');
      expect(engineState(h, again).closeFailingSince).toBe(start);
      return again;
    });
    // 0, 600 s, ..., 24 h: 145 packets, evenly spaced, the last at the 24 h mark (as Cancel-Session).
    expect(times).toHaveLength(145);
    expect(times.every((t, i) => t === i * DELAY)).toBe(true);
    expect(state).toBe('TRANSFERRED');
    expect(h.warnings.map((w) => [w.message, w.details?.['bound']])).toEqual([[expect.stringMatching(/retry window/), '24h']]);

    // The simulated 25th hour: nothing more is sent, and the job stays TRANSFERRED.
    await h.clock.advance(HOUR);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(closePackets(h)).toBe(145);
    expect(await after.getState()).toBe('TRANSFERRED');
    expect(engineState(h, after).phase).toBe('closed');
    // Every Close-Session named the one session, and no fragment was sent again.
    const session = packetsOf(h.server, 'create-session')[0]?.answeredSessionId;
    expect(packetsOf(h.server, 'close-session').every((p) => p.sessionId === session)).toBe(true);
    expect(packetsOf(h.server, 'create-session')).toHaveLength(1);
    expect(packetsOf(h.server, 'fragment')).toHaveLength(3);
    expect(await after.getErrorCount()).toBe(144);
    expect(await digestOf(h.stored('close-25h.bin'))).toBe(digest(data));
    expect(await after.complete()).toBe('S_OK');
  }, 60_000);

  it('a 1-hour no-progress timeout bounds the window to 1 h: TRANSFERRED, not ERROR', async () => {
    const h = await harness({ server: { faults: { 'close-session': [{ kind: 'status', status: 503, times: 'forever' }] } } });
    const data = content(2 * FRAGMENT);
    const job = await h.startUpload('close-1h.bin', data, { retryDelaySec: 600, noProgressTimeoutSec: 3600 });
    await waitState(job, 'TRANSIENT_ERROR');
    const start = h.clock.now();
    const { times, state } = await runCloseRetries(h, job, start, 20);
    // The queue's no-progress timer would fire at 60 min (turning the job to ERROR, no retry):
    // the attempt at 50 min is the last one the window holds.
    expect(times).toEqual([0, 1, 2, 3, 4, 5].map((i) => i * DELAY));
    expect(state).toBe('TRANSFERRED');
    expect(h.warnings.map((w) => w.details?.['bound'])).toEqual(['no-progress']);
    await h.clock.advance(24 * HOUR);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(closePackets(h)).toBe(6);
    expect(await job.getState()).toBe('TRANSFERRED');
    expect(await digestOf(h.stored('close-1h.bin'))).toBe(digest(data));
    expect(await job.complete()).toBe('S_OK');
  }, 30_000);

  it('network failures count like a 5xx: resent within the window, then TRANSFERRED', async () => {
    const h = await harness({
      server: { faults: { 'close-session': [{ kind: 'reset', times: 'forever' }] } },
      engine: { packetRetries: 0 },
    });
    const job = await h.startUpload('close-reset.bin', content(FRAGMENT), { retryDelaySec: 600, noProgressTimeoutSec: 1800 });
    await waitState(job, 'TRANSIENT_ERROR');
    expect((await job.getError()).context).toBe('GENERAL_TRANSPORT');
    const { times, state } = await runCloseRetries(h, job, h.clock.now(), 10);
    expect(times).toEqual([0, DELAY, 2 * DELAY]);
    expect(state).toBe('TRANSFERRED');
  });

  it('acknowledged within the window: TRANSFERRED at once, no warning', async () => {
    const h = await harness({ server: { faults: { 'close-session': [{ kind: 'status', status: 503, times: 3 }] } } });
    const job = await h.startUpload('close-late-ok.bin', content(FRAGMENT), { retryDelaySec: 600 });
    await waitState(job, 'TRANSIENT_ERROR');
    const { times, state } = await runCloseRetries(h, job, h.clock.now(), 10);
    expect(times).toEqual([0, DELAY, 2 * DELAY, 3 * DELAY]);
    expect(state).toBe('TRANSFERRED');
    expect(h.warnings).toEqual([]);
    expect(h.server.stats.sessionsClosed).toBe(1);
  });
});
