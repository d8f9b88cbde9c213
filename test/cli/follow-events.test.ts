/**
 * /transfer and /monitor follow events, not a clock. In process: a scripted engine moves the job
 * and the CLI's timers are frozen (vi.useFakeTimers), so a verb that polled would never see a
 * change; every call the verb makes on its job is counted. Through a real bitsd: a server that
 * stalls the body until the test releases it, and a job suspended and resumed by other clients.
 */
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BackgroundCopyManager } from '../../src/api/manager.js';
import type { BackgroundCopyJob, BackgroundCopyManagerApi } from '../../src/api/types.js';
import { SLOT_NOTE_DELAY_MS, WaitingNotes } from '../../src/cli/follow-job.js';
import { ProgressReporter } from '../../src/cli/progress.js';
import { runCli } from '../../src/cli/run.js';
import type { CliIo } from '../../src/cli/types.js';
import { FakeClock } from '../../src/shared/clock.js';
import { identityOf } from '../../src/shared/file-identity.js';
import { type Attempt, ScriptedEngine } from '../helpers/scripted-engine.js';
import { tempDir } from '../helpers/temp.js';

/** Lets the event loop turn `n` times (setImmediate is not faked): room for a loop to spin. */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** The job's calls the verb made, by method name, in order. */
function counting(mgr: BackgroundCopyManager, calls: string[]): BackgroundCopyManagerApi {
  const wrap = (job: BackgroundCopyJob): BackgroundCopyJob =>
    new Proxy(job, {
      get(target, prop) {
        const value: unknown = Reflect.get(target, prop, target);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          calls.push(String(prop));
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  return {
    createJob: async (name, type) => wrap(await mgr.createJob(name, type)),
    getJob: async (id) => wrap(await mgr.getJob(id)),
    enumJobs: (options) => mgr.enumJobs(options),
    getErrorDescription: (hresult) => mgr.getErrorDescription(hresult),
    listPendingCancellations: () => mgr.listPendingCancellations(),
    on: (event, listener) => mgr.on(event, listener),
    close: async () => undefined,
  };
}

/** stdout as it grows, and a wait for text to appear in it (driven by the writes, no timer). */
class Output {
  text = '';
  #waiters: Array<() => void> = [];

  write(chunk: string): void {
    this.text += chunk;
    for (const w of this.#waiters.splice(0)) w();
  }

  async until(pattern: string | RegExp): Promise<void> {
    const found = (): boolean => (typeof pattern === 'string' ? this.text.includes(pattern) : pattern.test(this.text));
    while (!found()) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }
}

let dir: string;
let mgr: BackgroundCopyManager;
let engine: ScriptedEngine;

beforeEach(async () => {
  dir = await tempDir('bitsd-follow-');
  engine = new ScriptedEngine('http:');
  mgr = await BackgroundCopyManager.open({ dataDir: join(dir, 'data'), clock: new FakeClock(), engines: [engine] });
});

afterEach(async () => {
  vi.useRealTimers();
  await mgr.close();
});

/**
 * Runs bitsadmin in process against `mgr`, with the CLI's timers frozen from the start (and its
 * clock too with `date`: then only vi.advanceTimersByTimeAsync moves time).
 */
function start(argv: readonly string[], out: Output, calls: string[], options: { signal?: AbortSignal; date?: boolean } = {}): Promise<{ code: number; stderr: string }> {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', ...(options.date ? (['Date'] as const) : [])] });
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (chunk: string) => out.write(chunk) },
    stderr: { write: (chunk: string) => (stderr += chunk) },
    isTTY: false,
    env: {},
    cwd: dir,
    ...(options.signal ? { signal: options.signal } : {}),
  };
  return runCli(argv, io, async () => counting(mgr, calls)).then((code) => ({ code, stderr }));
}

/** Lands `content` in the attempt's temp file as the engine would, then reports it transferred. */
async function finish(attempt: Attempt, content: string): Promise<void> {
  const temp = attempt.ctx.file.tempName;
  await writeFile(temp, content);
  attempt.ctx.sink.tempCreated(identityOf(await stat(temp, { bigint: true })));
  attempt.progress(content.length, content.length);
  attempt.succeed();
}

describe('/transfer follows the job', () => {
  it('waits through a suspension by another client without polling, and ends on the TRANSFERRED event', async () => {
    const out = new Output();
    const calls: string[] = [];
    const local = join(dir, 'a.bin');
    const run = start(['/transfer', 'followed', 'http://server.invalid/a.bin', local], out, calls);

    const first = await engine.waitForAttempts(1);
    first.progress(10, 100);
    await out.until('STATE: TRANSFERRING FILES: 0 / 1 BYTES: 10 / 100 (10%)\n');
    const [job] = await mgr.enumJobs();
    if (!job) throw new Error('no job');

    // Suspended by someone else: /transfer says so and keeps waiting, on the job's events only.
    await job.suspend();
    await out.until('Waiting: suspended; /resume to go on\n');
    await turns(50);
    const resting = [...calls];
    // Two watches: the one the suspension ended, and one opened after listening for changes.
    expect(resting.filter((c) => c === 'watch')).toHaveLength(2);
    expect(resting.filter((c) => c === 'on')).toHaveLength(1);
    await turns(200);
    expect(calls).toEqual(resting);

    // A change that does not move the job wakes it once: one more look, then waiting again.
    await job.setDescription('poked');
    await turns(50);
    expect(calls.slice(resting.length)).toEqual(['watch']);
    await turns(200);
    expect(calls).toHaveLength(resting.length + 1);

    await job.resume();
    const second = await engine.waitForAttempts(2);
    second.progress(50, 100);
    await out.until('BYTES: 50 / 100 (50%)\n');
    const beforeEnd = calls.length;
    await finish(second, 'x'.repeat(100));
    const r = await run;
    // The TRANSFERRED snapshot itself ends the wait: no read after it, only Complete.
    expect(calls.slice(beforeEnd)).toEqual(['complete']);
    expect(r).toEqual({ code: 0, stderr: '' });
    expect(out.text.endsWith('STATE: TRANSFERRED FILES: 1 / 1 BYTES: 100 / 100 (100%)\nTransfer complete.\n')).toBe(true);
    expect(out.text.match(/Waiting: suspended/g)).toHaveLength(1);
    expect(await mgr.enumJobs()).toHaveLength(0);
  });

  it('Ctrl-C while the job rests SUSPENDED cancels it and exits 130', async () => {
    const out = new Output();
    const stop = new AbortController();
    const run = start(['/transfer', 'resting', 'http://server.invalid/b.bin', join(dir, 'b.bin')], out, [], { signal: stop.signal });
    await engine.waitForAttempts(1);
    const [job] = await mgr.enumJobs();
    await job?.suspend();
    await out.until('Waiting: suspended; /resume to go on\n');
    stop.abort();
    const r = await run;
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/^Transfer interrupted: job \{[0-9A-F-]{36}\} canceled\.\n$/);
    expect(await mgr.enumJobs()).toHaveLength(0);
  });

  it('a job cancelled by another client while it rests ends /transfer with BG_E_NOT_FOUND', async () => {
    const out = new Output();
    const run = start(['/transfer', 'taken', 'http://server.invalid/c.bin', join(dir, 'c.bin')], out, []);
    await engine.waitForAttempts(1);
    const [job] = await mgr.enumJobs();
    await job?.suspend();
    await out.until('Waiting: suspended; /resume to go on\n');
    await job?.cancel();
    const r = await run;
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('BG_E_NOT_FOUND');
  });
});

describe('/monitor follows the queue', () => {
  it('redraws when a job changes, at most once per refresh interval, and never while nothing changes', async () => {
    const job = await mgr.createJob('watched', 'DOWNLOAD');
    const out = new Output();
    const stop = new AbortController();
    const run = start(['--json', '/monitor', '/refresh', '2'], out, [], { signal: stop.signal, date: true });
    const docs = (): Array<{ time: string; jobs: Array<{ description: string; displayName: string }> }> =>
      out.text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { time: string; jobs: Array<{ description: string; displayName: string }> });
    await out.until('\n');

    // An idle queue: a minute of refresh ticks, and not one redraw.
    await vi.advanceTimersByTimeAsync(60_000);
    await turns(50);
    expect(docs()).toHaveLength(1);

    // The interval since the last redraw has long passed: the change shows at once.
    await job.setDescription('one');
    await out.until(/\n.*\n/);
    expect(docs()[1]?.jobs[0]?.description).toBe('one');

    // Changes within the interval wait for its end, then show together in one redraw.
    await job.setDescription('two');
    await job.setDisplayName('renamed');
    await turns(50);
    await vi.advanceTimersByTimeAsync(1999);
    await turns(50);
    expect(docs()).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    await out.until(/\n.*\n.*\n/);
    expect(docs()[2]?.jobs[0]).toMatchObject({ description: 'two', displayName: 'renamed' });
    expect(Date.parse(docs()[2]?.time ?? '') - Date.parse(docs()[1]?.time ?? '')).toBe(2000);

    // A job created meanwhile is a change of the list too.
    await vi.advanceTimersByTimeAsync(5000);
    await mgr.createJob('newcomer', 'UPLOAD');
    await out.until(/newcomer/);
    expect(docs()).toHaveLength(4);

    stop.abort();
    expect(await run).toEqual({ code: 0, stderr: '' });
  });
});

describe('what /transfer holds back until it is due', () => {
  const view = (bytes: number) => ({ state: 'TRANSFERRING' as const, progress: { bytesTotal: 100, bytesTransferred: bytes, filesTotal: 1, filesTransferred: 0 } });

  it('a rate-limited progress line is printed a second after the last one, unless a newer one replaced it', () => {
    let now = 0;
    let out = '';
    const r = new ProgressReporter({ write: (s: string) => (out += s) }, { tty: false, now: () => now });
    r.update(view(10));
    expect(r.dueIn()).toBeNull();
    now = 300;
    r.update(view(20));
    expect(r.dueIn()).toBe(700);
    now = 600;
    r.flushDue();
    expect(out).not.toContain('BYTES: 20');
    r.update(view(30));
    now = 1000;
    expect(r.dueIn()).toBe(0);
    r.flushDue();
    expect(out.trimEnd().split('\n').map((l) => /BYTES: (\d+)/.exec(l)?.[1])).toEqual(['10', '30']);
    expect(r.dueIn()).toBeNull();
    // The same line again holds nothing.
    r.update(view(30));
    expect(r.dueIn()).toBeNull();
  });

  it('a wait for a slot is told once it has lasted SLOT_NOTE_DELAY_MS; other reasons at once', () => {
    let now = 0;
    const notes = new WaitingNotes('DOWNLOAD', () => now);
    const slot = (ahead: number) => ({ reason: 'BACKGROUND_SLOT' as const, since: null, until: null, ahead });
    expect(notes.next(slot(3))).toBeNull();
    expect(notes.dueIn()).toBe(SLOT_NOTE_DELAY_MS);
    now = SLOT_NOTE_DELAY_MS - 1;
    expect(notes.releaseDue()).toBeNull();
    // A newer snapshot of the same wait keeps its first sight, and brings its count.
    expect(notes.next(slot(2))).toBeNull();
    now = SLOT_NOTE_DELAY_MS;
    expect(notes.releaseDue()).toBe('Waiting: for a background transfer slot (2 ahead)');
    expect(notes.dueIn()).toBeNull();
    expect(notes.next(slot(1))).toBeNull();
    // Moving, then a short slot wait that ends before it is due: never told.
    expect(notes.next(null)).toBeNull();
    expect(notes.next(slot(0))).toBeNull();
    expect(notes.next(null)).toBeNull();
    expect(notes.dueIn()).toBeNull();
    expect(notes.next({ reason: 'SUSPENDED', since: null, until: null })).toBe('Waiting: suspended; /resume to go on');
    expect(notes.next({ reason: 'SUSPENDED', since: null, until: null })).toBeNull();
  });
});
