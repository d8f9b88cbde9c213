import { describe, expect, it } from 'vitest';
import { type JobEvent, type MachineJob, planTransientFailure, transition } from '../../../src/job/machine.js';
import { JOB_STATES, type JobState } from '../../../src/job/types.js';

const NOW = 1_000_000;
const failure = { hresult: 0x801901f7, code: 'BG_E_HTTP_ERROR_503', context: 'REMOTE_FILE', message: 'x', fileIndex: 0 };

function job(state: JobState, over: Partial<MachineJob> = {}): MachineJob {
  return {
    state,
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

function next(state: JobState, event: JobEvent, over: Partial<MachineJob> = {}): JobState {
  const r = transition(job(state, over), event, NOW);
  if (!r.ok) throw r.error;
  return r.state;
}

function effects(state: JobState, event: JobEvent, over: Partial<MachineJob> = {}): string[] {
  const r = transition(job(state, over), event, NOW);
  if (!r.ok) throw r.error;
  return r.effects.map((e) => (e.type === 'notify' ? `notify:${e.kind}` : e.type === 'owe-file-work' ? `owe-file-work:${e.intent}` : e.type));
}

function refused(state: JobState, event: JobEvent, over: Partial<MachineJob> = {}): string {
  const r = transition(job(state, over), event, NOW);
  if (r.ok) throw new Error(`${event.type} from ${state} was accepted`);
  return r.error.code;
}

const ACTIVE: JobState[] = ['CONNECTING', 'TRANSFERRING'];
const FINAL: JobState[] = ['ACKNOWLEDGED', 'CANCELLED'];
const NON_FINAL = JOB_STATES.filter((s) => !FINAL.includes(s));

describe('job state machine (bits-api.md (b))', () => {
  it('SUSPENDED -> QUEUED on Resume with files', () => {
    expect(next('SUSPENDED', { type: 'RESUME' })).toBe('QUEUED');
    expect(effects('SUSPENDED', { type: 'RESUME' })).toContain('wake-scheduler');
  });

  it('Resume without files is BG_E_EMPTY and changes nothing', () => {
    expect(refused('SUSPENDED', { type: 'RESUME' }, { filesTotal: 0 })).toBe('BG_E_EMPTY');
  });

  it('QUEUED -> CONNECTING when dispatched; CONNECTING -> TRANSFERRING when connected', () => {
    expect(next('QUEUED', { type: 'DISPATCH' })).toBe('CONNECTING');
    expect(next('CONNECTING', { type: 'CONNECTED' })).toBe('TRANSFERRING');
  });

  it('QUEUED -> TRANSIENT_ERROR (network lost), not counted as an error', () => {
    const r = transition(job('QUEUED'), { type: 'TRANSIENT_FAILURE', error: failure, jitter: 0 }, NOW);
    expect(r.ok && r.state).toBe('TRANSIENT_ERROR');
    expect(r.ok && r.effects).toContainEqual({ type: 'set-error', error: failure, count: false });
  });

  it.each(ACTIVE)('%s -> TRANSIENT_ERROR on a recoverable failure, counted, retry armed', (state) => {
    const r = transition(job(state), { type: 'TRANSIENT_FAILURE', error: failure, jitter: 0 }, NOW);
    expect(r.ok && r.state).toBe('TRANSIENT_ERROR');
    expect(r.ok && r.effects).toContainEqual({ type: 'set-error', error: failure, count: true });
    expect(r.ok && r.effects).toContainEqual({ type: 'arm-retry', retryAt: NOW + 600_000, deadline: NOW + 1_209_600_000 });
  });

  it.each(ACTIVE)('%s -> ERROR on a fatal failure, JobError raised', (state) => {
    expect(next(state, { type: 'FATAL_FAILURE', error: failure })).toBe('ERROR');
    expect(effects(state, { type: 'FATAL_FAILURE', error: failure })).toContain('notify:error');
  });

  it.each(ACTIVE)('%s -> ERROR when MaxDownloadTime is exceeded (BG_E_MAXDOWNLOAD_TIMEOUT)', (state) => {
    const r = transition(job(state), { type: 'MAX_DOWNLOAD_TIME' }, NOW);
    expect(r.ok && r.state).toBe('ERROR');
    const set = r.ok ? r.effects.find((e) => e.type === 'set-error') : undefined;
    expect(set && set.type === 'set-error' && set.error.code).toBe('BG_E_MAXDOWNLOAD_TIMEOUT');
  });

  it.each(ACTIVE)('%s -> QUEUED when preempted or recovered after a crash', (state) => {
    expect(next(state, { type: 'PREEMPT' })).toBe('QUEUED');
    expect(next(state, { type: 'RECOVER' })).toBe('QUEUED');
  });

  it.each(ACTIVE)('%s -> TRANSFERRED when the last file is done, JobTransferred raised, no JobModification', (state) => {
    expect(next(state, { type: 'ALL_TRANSFERRED' })).toBe('TRANSFERRED');
    const fx = effects(state, { type: 'ALL_TRANSFERRED' });
    expect(fx).toContain('notify:transferred');
    expect(fx).toContain('set-transfer-completion-time');
    expect(fx).not.toContain('notify:modification');
  });

  it('TRANSIENT_ERROR -> QUEUED when the retry delay elapsed, or on Resume', () => {
    expect(next('TRANSIENT_ERROR', { type: 'RETRY_DUE' })).toBe('QUEUED');
    expect(next('TRANSIENT_ERROR', { type: 'RESUME' })).toBe('QUEUED');
  });

  it('TRANSIENT_ERROR -> ERROR when the no-progress timeout expires', () => {
    expect(next('TRANSIENT_ERROR', { type: 'NO_PROGRESS_TIMEOUT' })).toBe('ERROR');
    expect(effects('TRANSIENT_ERROR', { type: 'NO_PROGRESS_TIMEOUT' })).toContain('notify:error');
  });

  it('a transient failure goes straight to ERROR when NoProgressTimeout is 0', () => {
    expect(next('TRANSFERRING', { type: 'TRANSIENT_FAILURE', error: failure, jitter: 0 }, { noProgressTimeoutSec: 0 })).toBe('ERROR');
  });

  it('a transient failure goes straight to ERROR when the retry delay exceeds the no-progress timeout', () => {
    expect(next('TRANSFERRING', { type: 'TRANSIENT_FAILURE', error: failure, jitter: 0 }, { minimumRetryDelaySec: 100, noProgressTimeoutSec: 50 })).toBe('ERROR');
  });

  it('a transient failure after the no-progress window closed goes to ERROR', () => {
    expect(next('TRANSFERRING', { type: 'TRANSIENT_FAILURE', error: failure, jitter: 0 }, { noProgressSince: NOW - 1_209_600_000 })).toBe('ERROR');
  });

  it('the retry never falls after the no-progress deadline', () => {
    expect(planTransientFailure(job('TRANSFERRING', { noProgressSince: NOW - 1000, noProgressTimeoutSec: 60, minimumRetryDelaySec: 600 }), NOW, { jitter: 0 })).toBeNull();
    expect(planTransientFailure(job('TRANSFERRING', { noProgressSince: NOW - 1000, noProgressTimeoutSec: 900, minimumRetryDelaySec: 600 }), NOW, { jitter: 0 }))
      .toEqual({ retryAt: NOW + 600_000, deadline: NOW - 1000 + 900_000 });
  });

  it('ERROR -> QUEUED on Resume, clearing the error and the counters', () => {
    expect(next('ERROR', { type: 'RESUME' })).toBe('QUEUED');
    expect(effects('ERROR', { type: 'RESUME' })).toEqual(expect.arrayContaining(['clear-error', 'reset-no-progress', 'reset-active-time']));
  });

  it('TRANSFERRED -> QUEUED on Resume after AddFile; unchanged when nothing is left to do (decision)', () => {
    expect(next('TRANSFERRED', { type: 'RESUME' }, { filesTotal: 2, filesTransferred: 1 })).toBe('QUEUED');
    expect(next('TRANSFERRED', { type: 'RESUME' }, { filesTotal: 1, filesTransferred: 1 })).toBe('TRANSFERRED');
  });

  it.each(['QUEUED', 'CONNECTING', 'TRANSFERRING'] as const)('Resume in an action state (%s) is a no-op', (state) => {
    expect(next(state, { type: 'RESUME' })).toBe(state);
    expect(effects(state, { type: 'RESUME' })).toEqual([]);
  });

  it.each(NON_FINAL)('%s -> SUSPENDED on Suspend (already SUSPENDED: no change)', (state) => {
    expect(next(state, { type: 'SUSPEND' })).toBe('SUSPENDED');
    if (state === 'SUSPENDED') expect(effects(state, { type: 'SUSPEND' })).toEqual([]);
    else expect(effects(state, { type: 'SUSPEND' })).toContain('abort-transfer');
  });

  it.each(NON_FINAL)('%s -> CANCELLED on Cancel and on the 90-day inactivity expiry', (state) => {
    expect(next(state, { type: 'CANCEL' })).toBe('CANCELLED');
    expect(effects(state, { type: 'CANCEL' })).toEqual(expect.arrayContaining(['abort-transfer', 'owe-file-work:DISCARD']));
    expect(next(state, { type: 'INACTIVITY_EXPIRED' })).toBe('CANCELLED');
    expect(effects(state, { type: 'INACTIVITY_EXPIRED' })).toContain('owe-file-work:DISCARD');
  });

  it('a cancelled job owing DISCARD takes only FILES_DISCARDED, which clears the debt', () => {
    expect(next('CANCELLED', { type: 'FILES_DISCARDED' }, { fileIntent: 'DISCARD' })).toBe('CANCELLED');
    expect(effects('CANCELLED', { type: 'FILES_DISCARDED' }, { fileIntent: 'DISCARD' })).toEqual(['clear-file-work']);
    expect(refused('CANCELLED', { type: 'FILES_DISCARDED' })).toBe('BG_E_INVALID_STATE');
    expect(refused('CANCELLED', { type: 'COMPLETE' }, { fileIntent: 'DISCARD' })).toBe('BG_E_INVALID_STATE');
  });

  it.each(NON_FINAL)('download %s: Complete owes DELIVER, then COMPLETED makes it ACKNOWLEDGED', (state) => {
    expect(next(state, { type: 'COMPLETE' })).toBe(state);
    expect(effects(state, { type: 'COMPLETE' })).toEqual(expect.arrayContaining(['abort-transfer', 'owe-file-work:DELIVER']));
    expect(next(state, { type: 'COMPLETED' }, { fileIntent: 'DELIVER' })).toBe('ACKNOWLEDGED');
    expect(effects(state, { type: 'COMPLETED' }, { fileIntent: 'DELIVER' })).toContain('clear-file-work');
  });

  it('COMPLETED, COMPLETE_FAILED and FILES_DISCARDED are refused when nothing is owed', () => {
    for (const type of ['COMPLETED', 'COMPLETE_FAILED', 'FILES_DISCARDED'] as const) {
      for (const state of NON_FINAL) expect(refused(state, { type })).toBe('BG_E_INVALID_STATE');
    }
  });

  it('while Complete moves files (DELIVER owed) every other event is refused: no Cancel, Resume or dispatch in between', () => {
    const events: JobEvent[] = [
      { type: 'CANCEL' }, { type: 'RESUME' }, { type: 'SUSPEND' }, { type: 'COMPLETE' }, { type: 'MODIFY' }, { type: 'DISPATCH' },
      { type: 'RETRY_DUE' }, { type: 'RECOVER' }, { type: 'INACTIVITY_EXPIRED' }, { type: 'FILES_DISCARDED' },
    ];
    for (const state of ['QUEUED', 'TRANSIENT_ERROR', 'TRANSFERRED', 'CONNECTING'] as const) {
      for (const event of events) expect(refused(state, event, { fileIntent: 'DELIVER' }), `${state} ${event.type}`).toBe('BG_E_INVALID_STATE');
    }
  });

  it('UPLOAD: Complete only from TRANSFERRED, straight to ACKNOWLEDGED (nothing to move)', () => {
    expect(next('TRANSFERRED', { type: 'COMPLETE' }, { type: 'UPLOAD' })).toBe('ACKNOWLEDGED');
    expect(effects('TRANSFERRED', { type: 'COMPLETE' }, { type: 'UPLOAD' })).not.toContain('owe-file-work:DELIVER');
    for (const state of NON_FINAL.filter((s) => s !== 'TRANSFERRED')) {
      expect(refused(state, { type: 'COMPLETE' }, { type: 'UPLOAD' })).toBe('BG_E_INVALID_STATE');
    }
  });

  it('UPLOAD_REPLY: Complete only from TRANSFERRED, owing the reply (DELIVER)', () => {
    expect(next('TRANSFERRED', { type: 'COMPLETE' }, { type: 'UPLOAD_REPLY' })).toBe('TRANSFERRED');
    expect(effects('TRANSFERRED', { type: 'COMPLETE' }, { type: 'UPLOAD_REPLY' })).toContain('owe-file-work:DELIVER');
    for (const state of NON_FINAL.filter((s) => s !== 'TRANSFERRED')) {
      expect(refused(state, { type: 'COMPLETE' }, { type: 'UPLOAD_REPLY' })).toBe('BG_E_INVALID_STATE');
    }
  });

  it('a failed rename during Complete leaves the job TRANSFERRED and settles the debt', () => {
    expect(next('TRANSFERRING', { type: 'COMPLETE_FAILED' }, { fileIntent: 'DELIVER' })).toBe('TRANSFERRED');
    expect(effects('TRANSFERRING', { type: 'COMPLETE_FAILED' }, { fileIntent: 'DELIVER' })).toContain('clear-file-work');
  });

  it('setters (MODIFY) are allowed in every non-final state and raise JobModification', () => {
    for (const state of NON_FINAL) {
      expect(next(state, { type: 'MODIFY' })).toBe(state);
      expect(effects(state, { type: 'MODIFY' })).toEqual(['notify:modification']);
    }
  });

  describe('illegal calls are refused with BG_E_INVALID_STATE', () => {
    const ALL_EVENTS: JobEvent[] = [
      { type: 'RESUME' }, { type: 'SUSPEND' }, { type: 'CANCEL' }, { type: 'COMPLETE' }, { type: 'COMPLETED' },
      { type: 'COMPLETE_FAILED' }, { type: 'MODIFY' }, { type: 'DISPATCH' }, { type: 'CONNECTED' },
      { type: 'ALL_TRANSFERRED' }, { type: 'TRANSIENT_FAILURE', error: failure, jitter: 0 }, { type: 'FATAL_FAILURE', error: failure },
      { type: 'PREEMPT' }, { type: 'RETRY_DUE' }, { type: 'NO_PROGRESS_TIMEOUT' }, { type: 'MAX_DOWNLOAD_TIME' },
      { type: 'INACTIVITY_EXPIRED' }, { type: 'RECOVER' }, { type: 'FILES_DISCARDED' },
    ];

    it.each(FINAL)('every event on a final job (%s)', (state) => {
      for (const event of ALL_EVENTS) expect(refused(state, event)).toBe('BG_E_INVALID_STATE');
    });

    const allowedFrom: Record<string, readonly JobState[]> = {
      DISPATCH: ['QUEUED'],
      CONNECTED: ['CONNECTING'],
      ALL_TRANSFERRED: ACTIVE,
      PREEMPT: ACTIVE,
      RECOVER: ACTIVE,
      MAX_DOWNLOAD_TIME: ACTIVE,
      RETRY_DUE: ['TRANSIENT_ERROR'],
      NO_PROGRESS_TIMEOUT: ['TRANSIENT_ERROR'],
      TRANSIENT_FAILURE: ['QUEUED', ...ACTIVE],
      FATAL_FAILURE: ['QUEUED', ...ACTIVE],
    };
    for (const [type, from] of Object.entries(allowedFrom)) {
      it(`${type} outside ${from.join('/')}`, () => {
        const event = ALL_EVENTS.find((e) => e.type === type) as JobEvent;
        for (const state of NON_FINAL.filter((s) => !from.includes(s))) {
          expect(refused(state, event)).toBe('BG_E_INVALID_STATE');
        }
      });
    }
  });
});

describe('blockers (offline, cost, battery)', () => {
  const offline = { hresult: 0x80200010, code: 'BG_E_NETWORK_DISCONNECTED', context: 'GENERAL_TRANSPORT', message: 'offline', fileIndex: null };
  const cost = { hresult: 0x80200059, code: 'BG_E_BLOCKED_BY_COST_TRANSFER_POLICY', context: 'GENERAL_QUEUE_MANAGER', message: 'metered', fileIndex: null };

  it('BLOCK: queued, running or retrying jobs wait in TRANSIENT_ERROR, no error counted, no retry armed', () => {
    for (const state of ['QUEUED', 'CONNECTING', 'TRANSFERRING', 'TRANSIENT_ERROR'] as const) {
      expect(next(state, { type: 'BLOCK', error: offline })).toBe('TRANSIENT_ERROR');
      const fx = effects(state, { type: 'BLOCK', error: offline });
      expect(fx).toEqual(['abort-transfer', 'disarm-retry', 'set-error', 'block', 'wake-scheduler', 'notify:modification']);
    }
    const r = transition(job('QUEUED'), { type: 'BLOCK', error: offline }, NOW);
    expect(r.ok && r.effects.find((e) => e.type === 'set-error')).toMatchObject({ count: false });
    for (const state of ['SUSPENDED', 'ERROR', 'TRANSFERRED', 'ACKNOWLEDGED', 'CANCELLED'] as const) {
      expect(transition(job(state), { type: 'BLOCK', error: offline }, NOW).ok, state).toBe(false);
    }
  });

  it('BLOCK by the same blocker again changes nothing; another blocker replaces the error', () => {
    const held = { blockedSince: NOW - 5000, errorHresult: offline.hresult };
    expect(effects('TRANSIENT_ERROR', { type: 'BLOCK', error: offline }, held)).toEqual([]);
    expect(effects('TRANSIENT_ERROR', { type: 'BLOCK', error: cost }, held)).toContain('set-error');
  });

  it('UNBLOCK: a blocked job goes back to QUEUED; one that is not blocked refuses', () => {
    expect(next('TRANSIENT_ERROR', { type: 'UNBLOCK' }, { blockedSince: NOW - 1 })).toBe('QUEUED');
    expect(effects('TRANSIENT_ERROR', { type: 'UNBLOCK' }, { blockedSince: NOW - 1 })).toEqual(['clear-error', 'unblock', 'wake-scheduler', 'notify:modification']);
    expect(transition(job('TRANSIENT_ERROR'), { type: 'UNBLOCK' }, NOW).ok).toBe(false);
    expect(transition(job('QUEUED'), { type: 'UNBLOCK' }, NOW).ok).toBe(false);
  });
});
