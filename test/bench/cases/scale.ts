/**
 * Case 5, queue scale: in process (worker "scale"), over IPC to the bench daemon host (worker
 * "scale-ipc"), daemon start-up with N jobs in the database (the real bitsd binary), and the
 * scheduler's cost per dispatched job at N queued against 1,000 queued.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchContext, Row } from '../lib/context.js';
import { startDaemon, worker } from '../lib/procs.js';
import { fmt, summarize } from '../lib/stats.js';

/** Never contacted: the gate engine moves no bytes. */
const URL = 'http://127.0.0.1:9/scale';

export async function scaleCases(ctx: BenchContext): Promise<Row[]> {
  const n = ctx.scaleJobs;
  const dest = join(ctx.tmp, 'scale-out');

  // Scheduler cost at 1,000 queued: median of a few fresh queues.
  const small: number[] = [];
  for (let r = 0; r < ctx.smallReps; r++) {
    const dir = join(ctx.tmp, 'scale-1k');
    const res = await worker({ task: 'scale', dataDir: dir, destDir: dest, n: 1000, dispatch: 999, url: URL });
    rmSync(dir, { recursive: true, force: true });
    small.push(res.figures?.dispatchUsPerJob ?? 0);
  }
  const dispatch1k = summarize(small);
  ctx.log(`scheduler at 1,000 queued: ${dispatch1k.median.toFixed(0)} µs per dispatched job`);

  const bigDir = join(ctx.tmp, 'scale-big');
  const big = await worker({ task: 'scale', dataDir: bigDir, destDir: dest, n, dispatch: 1000, url: URL });
  const f = big.figures ?? {};
  ctx.log(`in process: ${fmt(f.jobsPerSec ?? 0)} jobs/s, enumJobs ${fmt(f.enumMs ?? 0)} ms, ${fmt(f.dispatchUsPerJob ?? 0)} µs per dispatch`);

  // The floor: SQLite alone making the same three commits per job (test/bench/lib/store-floor.ts).
  const floorDir = join(ctx.tmp, 'scale-floor');
  const floor = await worker({ task: 'store-floor', dataDir: floorDir, n });
  rmSync(floorDir, { recursive: true, force: true });
  const floorRate = floor.figures?.jobsPerSec ?? 0;
  ctx.log(`SQLite alone, three commits per job: ${fmt(floorRate)} jobs/s`);

  // Start-up of the real daemon over that database (n jobs, one of them cut off mid-transfer).
  const starts: number[] = [];
  for (let r = 0; r < 3; r++) {
    const d = await startDaemon('bitsd', bigDir, join(ctx.tmp, `bitsd-${r}.sock`));
    starts.push(d.readyMs);
    await d.stop();
  }
  const start = summarize(starts);
  ctx.log(`bitsd start to ready with ${fmt(n)} jobs: ${start.median.toFixed(0)} ms`);
  rmSync(bigDir, { recursive: true, force: true });

  // Over IPC: one caller at a time (each call waits for its answer), then 16 callers on the connection.
  const ipc = async (count: number, parallel: number): Promise<Readonly<Record<string, number>>> => {
    const dir = join(ctx.tmp, `scale-ipc-${parallel}`);
    const d = await startDaemon('host', dir, join(ctx.tmp, `host-${parallel}.sock`));
    try {
      const res = await worker({ task: 'scale-ipc', socket: join(ctx.tmp, `host-${parallel}.sock`), destDir: dest, n: count, parallel, url: URL });
      return res.figures ?? {};
    } finally {
      await d.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const seqCount = Math.min(n, 10_000);
  const seq = await ipc(seqCount, 1);
  ctx.log(`IPC, 1 caller, ${fmt(seqCount)} jobs: ${fmt(seq.jobsPerSec ?? 0)} jobs/s`);
  const par = await ipc(n, 16);
  ctx.log(`IPC, 16 callers, ${fmt(n)} jobs: ${fmt(par.jobsPerSec ?? 0)} jobs/s, enumJobs ${fmt(par.enumMs ?? 0)} ms`);
  rmSync(dest, { recursive: true, force: true });

  const N = fmt(n);
  const dispatchRatio = (f.dispatchUsPerJob ?? 0) / dispatch1k.median;
  return [
    { id: '5a', what: `create + addFile + resume ${N} jobs, in process`, bitsd: f.jobsPerSec ?? 0, unit: 'jobs/s', target: '>= 10,000/s', met: (f.jobsPerSec ?? 0) >= 10_000 },
    { id: '5a\'', what: `the floor: the same three commits per job in plain better-sqlite3 on bitsd's schema, no bitsd code`, bitsd: floorRate, unit: 'jobs/s', ratio: (f.jobsPerSec ?? 0) / floorRate, target: 'reported (ratio: 5a / this)', met: true },
    { id: '5b', what: `create + addFile + resume ${N} jobs over IPC, 16 callers on one connection`, bitsd: par.jobsPerSec ?? 0, unit: 'jobs/s', target: '>= 3,000/s', met: (par.jobsPerSec ?? 0) >= 3000 },
    { id: '5b\'', what: `the same, one caller (each call waits for its answer), ${fmt(seqCount)} jobs`, bitsd: seq.jobsPerSec ?? 0, unit: 'jobs/s', target: '>= 3,000/s', met: (seq.jobsPerSec ?? 0) >= 3000 },
    { id: '5c', what: `enumJobs over ${N} jobs, in process`, bitsd: f.enumMs ?? 0, unit: 'ms', target: '< 1,000 ms', met: (f.enumMs ?? 0) < 1000 },
    { id: '5c\'', what: `enumJobs over ${N} jobs, over IPC`, bitsd: par.enumMs ?? 0, unit: 'ms', target: '< 1,000 ms', met: (par.enumMs ?? 0) < 1000 },
    { id: '5d', what: `bitsd start to ready with ${N} jobs in the database`, bitsd: start, unit: 'ms', target: '< 2,000 ms', met: start.median < 2000 },
    { id: '5e', what: `scheduler cost per dispatched job at ${N} queued (vs ${fmt(dispatch1k.median)} µs at 1,000)`, bitsd: f.dispatchUsPerJob ?? 0, unit: 'µs', ratio: dispatchRatio, target: '<= 1.5 x the cost at 1,000', met: dispatchRatio <= 1.5 },
  ];
}
