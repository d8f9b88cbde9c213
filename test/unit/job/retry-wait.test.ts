/**
 * The wait before a retry (src/job/retry-wait.ts) and how the state machine arms it
 * (planTransientFailure, TRANSIENT_FAILURE): the retry delay or the server's Retry-After, whichever
 * is longer, plus 0 to +10% jitter from the draw the event carries, never past the no-progress
 * deadline. Pure: no clock, no random source.
 */
import { describe, expect, it } from 'vitest';
import { type MachineJob, planTransientFailure, transition } from '../../../src/job/machine.js';
import { maxRetryWaitMs, minimumWaitMs, RETRY_JITTER, retryWaitMs } from '../../../src/job/retry-wait.js';

const SEC = 1000;
const NOW = 5_000_000;
/** The largest double below 1: what Math.random() can return at most. */
const ALMOST_ONE = 1 - Number.EPSILON / 2;
const failure = { hresult: 0x801901f7, code: 'BG_E_HTTP_ERROR_503', context: 'REMOTE_FILE', message: 'x', fileIndex: 0 };

function job(over: Partial<MachineJob> = {}): MachineJob {
  return {
    state: 'TRANSFERRING',
    type: 'DOWNLOAD',
    filesTotal: 1,
    filesTransferred: 0,
    minimumRetryDelaySec: 600,
    noProgressTimeoutSec: 1_209_600,
    noProgressSince: null,
    fileIntent: null,
    blockedSince: null,
    errorHresult: null,
    ...over,
  };
}

describe('retryWaitMs', () => {
  it('random() = 0: exactly the retry delay', () => {
    expect(retryWaitMs(600 * SEC, { jitter: 0 })).toBe(600 * SEC);
  });

  it('random() -> 1: under 10% more, never 10% or less than the delay', () => {
    const wait = retryWaitMs(600 * SEC, { jitter: ALMOST_ONE });
    expect(wait).toBeGreaterThan(600 * SEC);
    expect(wait).toBeLessThan(660 * SEC);
    expect(wait).toBe(660 * SEC - 1);
    expect(RETRY_JITTER).toBe(0.1);
  });

  it('stays within [delay, delay + 10%] over a sweep of draws, growing with the draw', () => {
    let previous = 0;
    for (let i = 0; i < 1000; i++) {
      const wait = retryWaitMs(5 * SEC, { jitter: i / 1000 });
      expect(wait).toBeGreaterThanOrEqual(5 * SEC);
      expect(wait).toBeLessThan(5.5 * SEC);
      expect(wait).toBeGreaterThanOrEqual(previous);
      previous = wait;
    }
    expect(retryWaitMs(5 * SEC, { jitter: 0.5 })).toBe(5.25 * SEC);
  });

  it('a Retry-After longer than the delay is the minimum, and jitter adds to it', () => {
    expect(retryWaitMs(600 * SEC, { retryAfterMs: 1800 * SEC, jitter: 0 })).toBe(1800 * SEC);
    expect(retryWaitMs(600 * SEC, { retryAfterMs: 1800 * SEC, jitter: 0.5 })).toBe(1890 * SEC);
    expect(retryWaitMs(600 * SEC, { retryAfterMs: 1800 * SEC, jitter: ALMOST_ONE })).toBeLessThan(1980 * SEC);
  });

  it('a Retry-After shorter than the delay does not shorten it (the delay is a minimum)', () => {
    expect(retryWaitMs(600 * SEC, { retryAfterMs: 60 * SEC, jitter: 0 })).toBe(600 * SEC);
    expect(retryWaitMs(600 * SEC, { retryAfterMs: 0, jitter: 0 })).toBe(600 * SEC);
    expect(minimumWaitMs(600 * SEC, undefined)).toBe(600 * SEC);
  });

  it('a broken draw can neither shorten the wait nor blow it up', () => {
    expect(retryWaitMs(600 * SEC, { jitter: -3 })).toBe(600 * SEC);
    expect(retryWaitMs(600 * SEC, { jitter: Number.NaN })).toBe(600 * SEC);
    expect(retryWaitMs(600 * SEC, { jitter: 7 })).toBe(660 * SEC);
    expect(maxRetryWaitMs(600 * SEC, undefined)).toBe(660 * SEC);
  });
});

describe('planTransientFailure with Retry-After and jitter', () => {
  it('jitter bounds on the armed retry: random() = 0 and random() -> 1', () => {
    expect(planTransientFailure(job(), NOW, { jitter: 0 })?.retryAt).toBe(NOW + 600 * SEC);
    const high = planTransientFailure(job(), NOW, { jitter: ALMOST_ONE })?.retryAt ?? 0;
    expect(high).toBeGreaterThan(NOW + 600 * SEC);
    expect(high).toBeLessThan(NOW + 660 * SEC);
  });

  it('Retry-After in seconds beyond the delay moves the retry; the deadline stays', () => {
    expect(planTransientFailure(job(), NOW, { retryAfterMs: 3600 * SEC, jitter: 0 })).toEqual({ retryAt: NOW + 3600 * SEC, deadline: NOW + 1_209_600 * SEC });
  });

  it('a Retry-After past the no-progress deadline waits until the deadline (where the job turns ERROR)', () => {
    const plan = planTransientFailure(job({ noProgressTimeoutSec: 3600 }), NOW, { retryAfterMs: 7200 * SEC, jitter: 0 });
    expect(plan).toEqual({ retryAt: NOW + 3600 * SEC, deadline: NOW + 3600 * SEC });
    // Part of the window already used: the deadline is what is left of it.
    const later = planTransientFailure(job({ noProgressTimeoutSec: 3600, noProgressSince: NOW - 3000 * SEC }), NOW, { retryAfterMs: 1200 * SEC, jitter: 0 });
    expect(later).toEqual({ retryAt: NOW + 600 * SEC, deadline: NOW + 600 * SEC });
  });

  it('jitter never pushes the retry past the deadline either', () => {
    const plan = planTransientFailure(job({ noProgressTimeoutSec: 620 }), NOW, { jitter: ALMOST_ONE });
    expect(plan).toEqual({ retryAt: NOW + 620 * SEC, deadline: NOW + 620 * SEC });
  });

  it('the rules that skip TRANSIENT_ERROR are unchanged by a Retry-After', () => {
    expect(planTransientFailure(job({ noProgressTimeoutSec: 0 }), NOW, { retryAfterMs: 1, jitter: 0 })).toBeNull();
    expect(planTransientFailure(job({ minimumRetryDelaySec: 100, noProgressTimeoutSec: 50 }), NOW, { jitter: 0 })).toBeNull();
  });

  it('TRANSIENT_FAILURE arms the retry from what the event carries', () => {
    const r = transition(job(), { type: 'TRANSIENT_FAILURE', error: failure, retryAfterMs: 900 * SEC, jitter: 0.5 }, NOW);
    expect(r.ok && r.state).toBe('TRANSIENT_ERROR');
    expect(r.ok && r.effects).toContainEqual({ type: 'arm-retry', retryAt: NOW + 945 * SEC, deadline: NOW + 1_209_600 * SEC });
  });
});
