/**
 * One measured bitsd run in a fresh process, so no run inherits another's heap, caches or timers:
 *
 *   node dist/test/bench/worker.js '<json WorkerTask>' | @FILE
 *
 * Prints one JSON line (WorkerResult) on stdout. In-process tasks open a BackgroundCopyManager
 * on their own data directory; "ipc" tasks drive a running daemon through BitsClient.
 */
import { readFileSync } from 'node:fs';
import { BackgroundCopyManager } from '../../src/api/manager.js';
import { BitsClient } from '../../src/ipc/client.js';
import { tempFileFlushes } from '../../src/engine/download/temp-file.js';
import type { WriteStats } from '../../src/store/job-store.js';
import { runJobs, type TransferSpec } from './lib/jobs.js';
import { queueScale, type QueueScaleTask } from './lib/queue-scale.js';
import { storeFloor, type StoreFloorTask } from './lib/store-floor.js';

export type WorkerTask =
  | ({ readonly task: 'transfer'; readonly dataDir: string; readonly background: number } & TransferSpec)
  | ({ readonly task: 'transfer-ipc'; readonly socket: string } & TransferSpec)
  | QueueScaleTask
  | StoreFloorTask;

export interface WorkerResult {
  readonly ms: number;
  readonly writes?: WriteStats;
  /** fdatasync calls of download temp files during the run (in-process tasks). */
  readonly flushes?: number;
  readonly figures?: Readonly<Record<string, number>>;
}

async function main(): Promise<void> {
  const arg = process.argv[2] ?? '{}';
  const task = JSON.parse(arg.startsWith('@') ? readFileSync(arg.slice(1), 'utf8') : arg) as WorkerTask;
  let result: WorkerResult;
  if (task.task === 'transfer') {
    const mgr = await BackgroundCopyManager.open({
      dataDir: task.dataDir,
      quotas: { jobsPerUser: 1e9, jobsPerMachine: 1e9 },
      concurrency: { background: task.background },
    });
    const before = mgr.queue.writeStats();
    const flushesBefore = tempFileFlushes();
    const t0 = performance.now();
    await runJobs(mgr, task);
    const ms = performance.now() - t0;
    const after = mgr.queue.writeStats();
    const flushes = tempFileFlushes() - flushesBefore;
    await mgr.close();
    result = { ms, writes: { statements: after.statements - before.statements, commits: after.commits - before.commits }, flushes };
  } else if (task.task === 'transfer-ipc') {
    const client = await BitsClient.connect({ socket: task.socket, timeoutMs: 0 });
    const t0 = performance.now();
    await runJobs(client, task);
    result = { ms: performance.now() - t0 };
    await client.close();
  } else if (task.task === 'store-floor') {
    result = storeFloor(task);
  } else {
    result = await queueScale(task);
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`worker: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
