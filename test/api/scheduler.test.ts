/**
 * Scheduling (bits-api.md (b) notes): FOREGROUND jobs run concurrently beside a limited number of
 * background jobs; a higher background level preempts a lower one; round-robin slices within a
 * level. Driven by a scripted engine and a fake clock.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BackgroundCopyManager, FakeClock, type Priority } from '../../src/index.js';
import type { BackgroundCopyJob } from '../../src/index.js';
import { ScriptedEngine } from '../helpers/scripted-engine.js';
import { tempDir, waitFor } from '../helpers/temp.js';

let mgr: BackgroundCopyManager | undefined;

afterEach(async () => {
  await mgr?.close();
  mgr = undefined;
});

async function setup(options: { background?: number; timeSliceMs?: number } = {}) {
  const dir = await tempDir();
  const clock = new FakeClock();
  const engine = new ScriptedEngine('http:');
  mgr = await BackgroundCopyManager.open({
    dataDir: join(dir, 'data'),
    clock,
    engines: [engine],
    concurrency: { background: options.background ?? 1 },
    timeSliceMs: options.timeSliceMs ?? 60_000,
  });
  const m = mgr;
  const make = async (name: string, priority: Priority, start = true): Promise<BackgroundCopyJob> => {
    const job = await m.createJob(name, 'DOWNLOAD');
    await job.setPriority(priority);
    await job.addFile(`http://server.invalid/${name}`, join(dir, name));
    if (start) await job.resume();
    return job;
  };
  const running = () => engine.live.map((a) => a.jobId);
  return { clock, engine, make, running };
}

describe('scheduler', () => {
  it('one background job at a time, in queue order', async () => {
    const { engine, make, running, clock } = await setup();
    const a = await make('a', 'NORMAL');
    const b = await make('b', 'NORMAL');
    await engine.waitForAttempts(1);
    await clock.advance(0);
    expect(running()).toEqual([a.id]);
    expect(await b.getState()).toBe('QUEUED');
    engine.live[0]?.succeed();
    await engine.waitForAttempts(2);
    expect(running()).toEqual([b.id]);
    expect(await a.getState()).toBe('TRANSFERRED');
  });

  it('all FOREGROUND jobs run at once, beside one background job', async () => {
    const { engine, make, running } = await setup();
    const bg = await make('bg', 'LOW');
    const fg = await Promise.all([make('f1', 'FOREGROUND'), make('f2', 'FOREGROUND'), make('f3', 'FOREGROUND')]);
    await engine.waitForAttempts(4);
    expect(new Set(running())).toEqual(new Set([bg.id, ...fg.map((j) => j.id)]));
  });

  it('a HIGH job preempts a running NORMAL one, which resumes afterwards', async () => {
    const { engine, make, running } = await setup();
    const normal = await make('normal', 'NORMAL');
    const first = await engine.waitForAttempts(1);
    first.progress(10, 100);
    const high = await make('high', 'HIGH');
    await engine.waitForAttempts(2);
    expect(first.aborted).toBe(true);
    expect(running()).toEqual([high.id]);
    expect(await normal.getState()).toBe('QUEUED');
    expect((await normal.getProgress()).bytesTransferred).toBe(10);
    engine.live[0]?.succeed();
    const third = await engine.waitForAttempts(3);
    expect(third.jobId).toBe(normal.id);
    expect(third.ctx.file.bytesTransferred).toBe(10);
  });

  it('a lower level gets no time while a higher level has work', async () => {
    const { engine, make, running, clock } = await setup();
    const high1 = await make('h1', 'HIGH');
    await make('low', 'LOW');
    const high2 = await make('h2', 'HIGH');
    await engine.waitForAttempts(1);
    expect(running()).toEqual([high1.id]);
    engine.live[0]?.succeed();
    await engine.waitForAttempts(2);
    expect(running()).toEqual([high2.id]);
    await clock.advance(10 * 60_000); // slices pass, but LOW is below HIGH: no round robin across levels
    expect(running()).toEqual([high2.id]);
  });

  it('round robin: a job that used its slice goes to the back of its level', async () => {
    const { engine, make, running, clock } = await setup({ timeSliceMs: 1000 });
    const a = await make('a', 'NORMAL');
    const b = await make('b', 'NORMAL');
    await engine.waitForAttempts(1);
    expect(running()).toEqual([a.id]);
    await clock.advance(1000);
    await engine.waitForAttempts(2);
    expect(running()).toEqual([b.id]);
    expect(await a.getState()).toBe('QUEUED');
    await clock.advance(1000);
    await engine.waitForAttempts(3);
    expect(running()).toEqual([a.id]);
  });

  it('a job alone in its level keeps running past its slice', async () => {
    const { engine, make, running, clock } = await setup({ timeSliceMs: 1000 });
    const a = await make('a', 'NORMAL');
    await engine.waitForAttempts(1);
    await clock.advance(5000);
    expect(running()).toEqual([a.id]);
    expect(engine.attempts).toHaveLength(1);
  });

  it('concurrency.background allows several background jobs', async () => {
    const { engine, make, running } = await setup({ background: 2 });
    await make('a', 'NORMAL');
    await make('b', 'LOW');
    await make('c', 'NORMAL');
    await engine.waitForAttempts(2);
    expect(running()).toHaveLength(2);
  });

  it('suspend stops the running transfer; priority changes take effect at once', async () => {
    const { engine, make, running } = await setup();
    const low = await make('low', 'LOW');
    const first = await engine.waitForAttempts(1);
    const normal = await make('normal', 'NORMAL');
    await engine.waitForAttempts(2);
    expect(first.aborted).toBe(true);
    await normal.suspend();
    await engine.waitForAttempts(3);
    expect(running()).toEqual([low.id]);
    await low.setPriority('LOW');
    await normal.resume();
    await waitFor(() => running()[0] === normal.id, 5000, 'normal job to preempt again');
  });
});
