/**
 * The persisted timers under a fake clock: minimum retry delay, no-progress timeout (including a
 * full 14-day default expiring), maximum download time and the 90-day inactivity cancel.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BackgroundCopyManager, BitsError, FakeClock, NOTIFY } from '../../src/index.js';
import type { BackgroundCopyJob } from '../../src/index.js';
import { ScriptedEngine } from '../helpers/scripted-engine.js';
import { tempDir } from '../helpers/temp.js';

const SEC = 1000;
const HOUR = 3600_000;
const DAY = 24 * 3600 * SEC;

let dir: string;
let clock: FakeClock;
let engine: ScriptedEngine;
let mgr: BackgroundCopyManager;

beforeEach(async () => {
  dir = await tempDir();
  clock = new FakeClock();
  engine = new ScriptedEngine('http:');
  mgr = await BackgroundCopyManager.open({ dataDir: join(dir, 'data'), clock, engines: [engine], random: () => 0 });
});

afterEach(async () => {
  await mgr.close();
});

/** A restart: close the manager, then open the same data dir with a fresh clock at `now` and a fresh engine. */
async function restartAt(now: number): Promise<void> {
  await mgr.close();
  clock = new FakeClock(now);
  engine = new ScriptedEngine('http:');
  mgr = await BackgroundCopyManager.open({ dataDir: join(dir, 'data'), clock, engines: [engine], random: () => 0 });
}

async function startedJob(): Promise<BackgroundCopyJob> {
  const job = await mgr.createJob('timers', 'DOWNLOAD');
  await job.addFile('http://server.invalid/file', join(dir, 'out'));
  await job.resume();
  return job;
}

describe('minimum retry delay', () => {
  it('TRANSIENT_ERROR goes back to QUEUED only once the retry delay has passed', async () => {
    const job = await startedJob();
    (await engine.waitForAttempts(1)).fail('BG_E_HTTP_ERROR_503', true);
    await clock.advance(0);
    expect(await job.getState()).toBe('TRANSIENT_ERROR');
    expect((await job.getError()).code).toBe('BG_E_HTTP_ERROR_503');
    expect(await job.getErrorCount()).toBe(1);
    await clock.advance(600 * SEC - 1);
    expect(await job.getState()).toBe('TRANSIENT_ERROR');
    expect(engine.attempts).toHaveLength(1);
    await clock.advance(1);
    await engine.waitForAttempts(2);
    expect(['CONNECTING', 'TRANSFERRING']).toContain(await job.getState());
    // The error object disappears when the job runs again.
    await expect(job.getError()).rejects.toMatchObject({ code: 'BG_E_ERROR_INFORMATION_UNAVAILABLE' });
  });

  it('Resume cuts a pending retry delay short', async () => {
    const job = await startedJob();
    (await engine.waitForAttempts(1)).fail('BG_E_HTTP_ERROR_503', true);
    await clock.advance(0);
    await job.resume();
    await engine.waitForAttempts(2);
  });

  it('a fatal failure goes to ERROR and is not retried', async () => {
    const job = await startedJob();
    (await engine.waitForAttempts(1)).fail('BG_E_HTTP_ERROR_404', false);
    await clock.advance(0);
    expect(await job.getState()).toBe('ERROR');
    expect(await job.getError()).toMatchObject({ hresult: 0x80190194, context: 'REMOTE_FILE', file: { remoteName: 'http://server.invalid/file' }, protocol: 'http' });
    await clock.advance(30 * DAY);
    expect(engine.attempts).toHaveLength(1);
  });
});

describe('no-progress timeout', () => {
  it('the default 14-day timeout expires: retries every 600 s, then ERROR exactly at 14 days', async () => {
    engine.autoFail = { code: 'BG_E_HTTP_ERROR_503', transient: true };
    const job = await startedJob();
    const start = clock.now();
    const errors: number[] = [];
    mgr.on('job:error', () => errors.push(clock.now()));
    await clock.advance(14 * DAY - 1);
    expect(await job.getState()).toBe('TRANSIENT_ERROR');
    await clock.advance(1);
    expect(await job.getState()).toBe('ERROR');
    expect(errors).toEqual([start + 14 * DAY]);
    // One attempt at the start and one per retry delay until the deadline.
    expect(engine.attempts.length).toBe(14 * DAY / (600 * SEC));
    expect(await job.getErrorCount()).toBe(engine.attempts.length);
    expect((await job.getError()).code).toBe('BG_E_HTTP_ERROR_503');
  });

  it('progress restarts the no-progress window', async () => {
    const job = await startedJob();
    await job.setNoProgressTimeout(3600);
    await job.setMinimumRetryDelay(600);
    (await engine.waitForAttempts(1)).fail('BG_E_HTTP_ERROR_503', true);
    await clock.advance(600 * SEC);
    const second = await engine.waitForAttempts(2);
    second.progress(10, 100);
    engine.autoFail = { code: 'BG_E_HTTP_ERROR_503', transient: true };
    second.fail('BG_E_HTTP_ERROR_503', true);
    // Without the progress the window (opened by the failure at 0 s) would close at 3,600 s;
    // the progress at 600 s moved it to 600 + 3,600 s.
    await clock.advance(3000 * SEC);
    expect(await job.getState()).toBe('TRANSIENT_ERROR'); // 3,600 s
    await clock.advance(600 * SEC - 1);
    expect(await job.getState()).toBe('TRANSIENT_ERROR');
    await clock.advance(1);
    expect(await job.getState()).toBe('ERROR'); // 4,200 s
  });

  it('0 means no retries: the first transient failure is fatal', async () => {
    const job = await startedJob();
    await job.setNoProgressTimeout(0);
    (await engine.waitForAttempts(1)).fail('BG_E_HTTP_ERROR_503', true);
    await clock.advance(0);
    expect(await job.getState()).toBe('ERROR');
  });
});

describe('maximum download time', () => {
  it('a job active longer than its maximum download time goes to ERROR with BG_E_MAXDOWNLOAD_TIMEOUT', async () => {
    const job = await startedJob();
    await engine.waitForAttempts(1);
    await job.setMaximumDownloadTime(3600);
    await job.suspend();
    await job.resume();
    const attempt = await engine.waitForAttempts(2);
    attempt.progress(1, 1000);
    await clock.advance(3600 * SEC - 1);
    expect(await job.getState()).toBe('TRANSFERRING');
    await clock.advance(1);
    expect(await job.getState()).toBe('ERROR');
    expect(attempt.aborted).toBe(true);
    expect((await job.getError()).code).toBe('BG_E_MAXDOWNLOAD_TIMEOUT');
  });
});

describe('90-day inactivity', () => {
  it('a job without progress or change for 90 days is cancelled and leaves the queue', async () => {
    const job = await mgr.createJob('idle', 'DOWNLOAD');
    await clock.advance(45 * DAY);
    await job.setDescription('touched'); // a change restarts the 90 days
    await clock.advance(90 * DAY - 1);
    expect(await job.getState()).toBe('SUSPENDED');
    // The hourly sweep finds it within the hour after its 90 days.
    await clock.advance(HOUR);
    expect(await job.getState()).toBe('CANCELLED');
    await expect(mgr.getJob(job.id)).rejects.toBeInstanceOf(BitsError);
    expect(await mgr.enumJobs()).toHaveLength(0);
  });
});

describe('final jobs', () => {
  it('are kept a day after they end (a held job still answers), then forgotten', async () => {
    const job = await mgr.createJob('done', 'DOWNLOAD');
    await job.cancel();
    await clock.advance(23 * 3600 * SEC);
    await expect(job.cancel()).rejects.toMatchObject({ code: 'BG_E_INVALID_STATE' });
    await clock.advance(2 * 3600 * SEC);
    await expect(job.getState()).rejects.toMatchObject({ code: 'BG_E_NOT_FOUND' });
  });
});

describe('timers across a reopen (persisted, re-armed at open)', () => {
  it('a retry armed before the close fires at its persisted time: QUEUED, then running again', async () => {
    const job = await startedJob();
    (await engine.waitForAttempts(1)).fail('BG_E_HTTP_ERROR_503', true);
    await clock.advance(0);
    expect(await job.getState()).toBe('TRANSIENT_ERROR');
    const failedAt = clock.now();
    await clock.advance(200 * SEC);
    await restartAt(clock.now());

    const again = await mgr.getJob(job.id);
    await again.setNotifyFlags(NOTIFY.JOB_TRANSFERRED | NOTIFY.JOB_ERROR | NOTIFY.JOB_MODIFICATION);
    const states: Array<[string, number]> = [];
    mgr.on('job:modification', (e) => states.push([e.state, clock.now()]));
    expect(await again.getState()).toBe('TRANSIENT_ERROR');
    expect((await again.getError()).code).toBe('BG_E_HTTP_ERROR_503');
    await clock.advance(400 * SEC - 1);
    expect(await again.getState()).toBe('TRANSIENT_ERROR');
    expect(engine.attempts).toHaveLength(0);
    await clock.advance(1);
    await engine.waitForAttempts(1);
    expect(clock.now()).toBe(failedAt + 600 * SEC);
    expect(states.slice(0, 2)).toEqual([
      ['QUEUED', failedAt + 600 * SEC],
      ['CONNECTING', failedAt + 600 * SEC],
    ]);
    expect(['CONNECTING', 'TRANSFERRING']).toContain(await again.getState());
    expect(await again.getErrorCount()).toBe(1);
  });

  it('a retry that fell due while the process was down runs right after the open', async () => {
    const job = await startedJob();
    (await engine.waitForAttempts(1)).fail('BG_E_HTTP_ERROR_503', true);
    await clock.advance(0);
    await restartAt(clock.now() + 3 * 3600 * SEC);
    await clock.advance(0);
    await engine.waitForAttempts(1);
    expect(['CONNECTING', 'TRANSFERRING']).toContain(await (await mgr.getJob(job.id)).getState());
  });

  it('the no-progress deadline still expires after a reopen: ERROR with the last error, at the deadline', async () => {
    const job = await startedJob();
    await job.setNoProgressTimeout(3600);
    await job.setMinimumRetryDelay(600);
    engine.autoFail = { code: 'BG_E_HTTP_ERROR_503', transient: true };
    (await engine.waitForAttempts(1)).fail('BG_E_HTTP_ERROR_503', true);
    await clock.advance(0);
    const failedAt = clock.now();
    await clock.advance(1000 * SEC); // the retry at 600 s failed too
    expect(engine.attempts).toHaveLength(2);
    await restartAt(clock.now());
    engine.autoFail = { code: 'BG_E_HTTP_ERROR_502', transient: true };
    const errors: Array<[string, number]> = [];
    mgr.on('job:error', (e) => errors.push([e.error.code, clock.now()]));
    const again = await mgr.getJob(job.id);

    await clock.advance(failedAt + 3600 * SEC - 1 - clock.now());
    expect(await again.getState()).toBe('TRANSIENT_ERROR');
    expect(engine.attempts).toHaveLength(4); // retries at 1,200, 1,800, 2,400 and 3,000 s
    expect(errors).toEqual([]);
    await clock.advance(1);
    expect(await again.getState()).toBe('ERROR');
    expect(errors).toEqual([['BG_E_HTTP_ERROR_502', failedAt + 3600 * SEC]]);
    expect((await again.getError()).code).toBe('BG_E_HTTP_ERROR_502');
    expect(await again.getErrorCount()).toBe(6);
    await clock.advance(DAY);
    expect(engine.attempts).toHaveLength(4);
  });

  it('a no-progress deadline that passed while the process was down ends the job at the open', async () => {
    const job = await startedJob();
    await job.setNoProgressTimeout(3600);
    (await engine.waitForAttempts(1)).fail('BG_E_HTTP_ERROR_503', true);
    await clock.advance(0);
    await restartAt(clock.now() + 2 * DAY);
    const errors: string[] = [];
    mgr.on('job:error', (e) => errors.push(e.error.code));
    await clock.advance(0);
    const again = await mgr.getJob(job.id);
    expect(await again.getState()).toBe('ERROR');
    expect((await again.getError()).code).toBe('BG_E_HTTP_ERROR_503');
    expect(errors).toEqual(['BG_E_HTTP_ERROR_503']);
    expect(engine.attempts).toHaveLength(0);
  });
});
