/**
 * Case 5's floor: what SQLite alone costs for the three durable commits a sequential caller makes
 * per job (createJob, addFile, resume), on bitsd's own schema and pragmas, with none of bitsd's
 * code in between: one INSERT of a job, one SELECT + INSERT of its file, one SELECT + UPDATE of
 * its state, each in its own IMMEDIATE transaction. bitsd's in-process figure is read against it.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { DATABASE_FILE, JobStore } from '../../../src/store/job-store.js';

export interface StoreFloorTask {
  readonly task: 'store-floor';
  readonly dataDir: string;
  readonly n: number;
}

export function storeFloor(task: StoreFloorTask): { ms: number; figures: Record<string, number> } {
  JobStore.open({ dataDir: task.dataDir, now: 0 }).close(); // the schema, from the migrations
  const db = new Database(join(task.dataDir, DATABASE_FILE));
  for (const p of ['journal_mode = WAL', 'synchronous = NORMAL', 'wal_autocheckpoint = 10000', 'foreign_keys = ON', 'cache_size = -65536']) db.pragma(p);
  const insertJob = db.prepare(
    `INSERT INTO jobs (id, type, state, display_name, owner, priority, notify_flags, min_retry_delay_sec, no_progress_timeout_sec,
       max_download_time_sec, proxy_usage, cost_flags, created_at, modified_at)
     VALUES (?, 'DOWNLOAD', 'SUSPENDED', ?, 'uid:0', 2, 3, 600, 1209600, 7776000, 'PRECONFIG', 2147483775, ?, ?)`,
  );
  const getJob = db.prepare('SELECT * FROM jobs WHERE id = ?');
  const insertFile = db.prepare('INSERT INTO files (job_id, idx, remote_name, local_name, temp_name) VALUES (?, 0, ?, ?, ?)');
  const resume = db.prepare("UPDATE jobs SET state = 'QUEUED', queue_seq = ?, modified_at = ?, ever_resumed = 1 WHERE id = ?");
  const begin = db.prepare('BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  const tx = (fn: () => void): void => {
    begin.run();
    fn();
    commit.run();
  };
  const t0 = performance.now();
  for (let i = 0; i < task.n; i++) {
    const id = `{${crypto.randomUUID().toUpperCase()}}`;
    tx(() => insertJob.run(id, `scale ${i}`, i, i));
    tx(() => {
      getJob.get(id);
      insertFile.run(id, `http://127.0.0.1:9/scale/f${i}`, `/tmp/scale-out/f${i}`, `/tmp/scale-out/BIT${i}.tmp`);
    });
    tx(() => {
      getJob.get(id);
      resume.run(i, i, id);
    });
  }
  const ms = performance.now() - t0;
  db.close();
  return { ms, figures: { jobsPerSec: (task.n / ms) * 1000 } };
}
