/**
 * Case 5, queue scale, measured in the worker process:
 *
 * - "scale": in process, create + addFile + resume N jobs (one 16 KiB download file each) through
 *   BackgroundCopyManager; then enumJobs over them; then the scheduler's cost per dispatched job:
 *   the gate engine holds the first job, so N-1 wait QUEUED; opening the gate lets the scheduler
 *   dispatch, run and finish `dispatch` of them back to back, and the time per job is measured.
 * - "scale-ipc": the same create + addFile + resume, and enumJobs, over IPC to a running daemon,
 *   with `parallel` callers sharing one connection (1 = strictly one call after another).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { BackgroundCopyManager } from '../../../src/api/manager.js';
import type { BackgroundCopyManagerApi } from '../../../src/api/types.js';
import { BitsClient } from '../../../src/ipc/client.js';
import { GateEngine } from './gate-engine.js';

export type QueueScaleTask =
  | { readonly task: 'scale'; readonly dataDir: string; readonly destDir: string; readonly n: number; readonly dispatch: number; readonly url: string }
  | { readonly task: 'scale-ipc'; readonly socket: string; readonly destDir: string; readonly n: number; readonly parallel: number; readonly url: string };

export interface QueueScaleResult {
  readonly ms: number;
  readonly figures: Record<string, number>;
}

/** Creates jobs [from, to) with `parallel` concurrent callers. */
async function createJobs(mgr: BackgroundCopyManagerApi, n: number, parallel: number, url: string, destDir: string): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < n; i = next++) {
      const job = await mgr.createJob(`scale ${i}`, 'DOWNLOAD');
      await job.addFile(`${url}/f${i}`, join(destDir, `f${i}`));
      await job.resume();
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

export async function queueScale(task: QueueScaleTask): Promise<QueueScaleResult> {
  mkdirSync(task.destDir, { recursive: true });
  if (task.task === 'scale-ipc') {
    const client = await BitsClient.connect({ socket: task.socket, timeoutMs: 0 });
    const t0 = performance.now();
    await createJobs(client, task.n, task.parallel, task.url, task.destDir);
    const ms = performance.now() - t0;
    const e0 = performance.now();
    const listed = await client.enumJobs();
    const enumMs = performance.now() - e0;
    await client.close();
    return { ms, figures: { jobsPerSec: (task.n / ms) * 1000, enumMs, enumCount: listed.length } };
  }

  const gate = new GateEngine();
  const mgr = await BackgroundCopyManager.open({
    dataDir: task.dataDir,
    quotas: { jobsPerUser: 1e9, jobsPerMachine: 1e9 },
    engines: [gate],
  });
  const t0 = performance.now();
  await createJobs(mgr, task.n, 1, task.url, task.destDir);
  const ms = performance.now() - t0;

  const e0 = performance.now();
  const listed = await mgr.enumJobs();
  const enumMs = performance.now() - e0;

  // Dispatch `dispatch` jobs back to back; the first one (held at the gate) is not counted.
  const target = Math.min(task.dispatch, task.n - 1) + 1;
  const d0 = performance.now();
  let firstAt = d0;
  const dispatched = new Promise<void>((resolve) => {
    gate.onFinished = (count) => {
      if (count === 1) firstAt = performance.now();
      if (count === target) resolve();
    };
  });
  gate.open();
  await dispatched;
  const dispatchMs = performance.now() - firstAt;
  await mgr.close();
  return {
    ms,
    figures: {
      jobsPerSec: (task.n / ms) * 1000,
      enumMs,
      enumCount: listed.length,
      dispatchUsPerJob: (dispatchMs * 1000) / (target - 1),
      dispatched: target - 1,
      gateOpenMs: firstAt - d0,
    },
  };
}
