/**
 * The connection settings issue 2 asks of the store, read back rather than trusted: WAL (persistent,
 * so read from the file itself), foreign keys, busy_timeout and synchronous = NORMAL (per
 * connection, so read through JobStore.pragmas()), each also shown to have its effect; and the
 * owner-only permissions beyond the fresh-directory case of migrate.test.ts.
 */
import { chmod, mkdir, open, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { DATABASE_FILE, JobStore } from '../../src/store/job-store.js';
import { newJobRecord } from '../../src/queue/new-job.js';
import { tempDir } from '../helpers/temp.js';

const JOB = '{00000000-0000-4000-8000-000000000001}';

function openWithJob(dataDir: string, busyTimeoutMs?: number): JobStore {
  const store = JobStore.open({ dataDir, now: 1, ...(busyTimeoutMs === undefined ? {} : { busyTimeoutMs }) });
  store.insertJob(newJobRecord(JOB, 'pragmas', 'DOWNLOAD', 'uid:0', 1));
  return store;
}

/**
 * Holds the write lock of `path` from a worker thread (its own SQLite connection) for `holdMs`,
 * resolving once the lock is taken; `done` settles when the worker has committed and exited.
 */
async function holdWriteLock(path: string, holdMs: number): Promise<{ done: Promise<void> }> {
  const sqlite = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(
    `const { workerData, parentPort } = require('node:worker_threads');
     const Database = require(workerData.sqlite);
     const db = new Database(workerData.path);
     db.exec('BEGIN IMMEDIATE');
     db.prepare("UPDATE jobs SET description = 'held' WHERE id = ?").run(workerData.job);
     parentPort.postMessage('locked');
     Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, workerData.holdMs);
     db.exec('COMMIT');
     db.close();`,
    { eval: true, workerData: { sqlite, path, job: JOB, holdMs } },
  );
  const done = new Promise<void>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`lock holder exited ${code}`))));
  });
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    done.catch(reject);
  });
  return { done };
}

describe('store pragmas', () => {
  it('the connection runs with WAL, foreign keys on, a busy timeout and synchronous NORMAL', async () => {
    const store = JobStore.open({ dataDir: await tempDir(), now: 1 });
    try {
      const p = store.pragmas();
      expect(p.journalMode).toBe('wal');
      expect(p.foreignKeys).toBe(1);
      expect(p.busyTimeoutMs).toBeGreaterThan(0);
      expect(p.synchronous).toBe(1); // 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA
    } finally {
      store.close();
    }
  });

  it('WAL is recorded in the database file itself: its header and a fresh connection say so', async () => {
    const dir = await tempDir();
    JobStore.open({ dataDir: dir, now: 1 }).close();
    const path = join(dir, DATABASE_FILE);
    // Bytes 18 and 19 of the header are the write and read format versions: 2 means WAL.
    const header = Buffer.alloc(20);
    const fh = await open(path, 'r');
    await fh.read(header, 0, 20, 0);
    await fh.close();
    expect(header.subarray(0, 16).toString('latin1')).toBe('SQLite format 3\0');
    expect([header[18], header[19]]).toEqual([2, 2]);
    const db = new Database(path, { fileMustExist: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      db.close();
    }
  });

  it('foreign keys are enforced: a file of no job is refused, deleting a job deletes its files', async () => {
    const store = openWithJob(await tempDir());
    try {
      const file = {
        jobId: JOB,
        index: 0,
        remoteName: 'http://h/a',
        localName: '/tmp/a',
        tempName: '/tmp/BITa.tmp',
        bytesTotal: -1,
        bytesTransferred: 0,
        syncedBytes: 0,
        bootId: null,
        transferred: false,
        completed: false,
        ranges: null,
        engineState: {},
        tempIdentity: null,
      };
      expect(() => store.insertFile({ ...file, jobId: '{00000000-0000-4000-8000-0000000000ff}' })).toThrowError(/FOREIGN KEY constraint failed/);
      store.insertFile(file);
      store.setCredential(JOB, { target: 'SERVER', scheme: 'BASIC', userName: 'u', password: 'p' });
      store.writeTransition(JOB, { state: 'CANCELLED', finalAt: 1 });
      expect(store.purgeFinalJobs(2)).toBe(1);
      expect(store.getFiles(JOB)).toEqual([]);
      expect(store.getCredentials(JOB)).toEqual([]);
    } finally {
      store.close();
    }
  });

  it('busy_timeout makes a writer wait for another connection instead of failing (and 0 fails at once)', async () => {
    const dir = await tempDir();
    const path = join(dir, DATABASE_FILE);
    const patient = openWithJob(dir);
    try {
      const held = await holdWriteLock(path, 300);
      const start = performance.now();
      patient.writeTransition(JOB, { description: 'after the lock' }); // blocks this thread until the worker commits
      expect(performance.now() - start).toBeGreaterThanOrEqual(150);
      await held.done;
      expect(patient.getJob(JOB)?.description).toBe('after the lock');
    } finally {
      patient.close();
    }

    const impatient = JobStore.open({ dataDir: dir, now: 2, busyTimeoutMs: 0 });
    try {
      expect(impatient.pragmas().busyTimeoutMs).toBe(0);
      const held = await holdWriteLock(path, 300);
      expect(() => impatient.writeTransition(JOB, { description: 'too early' })).toThrowError(/database is locked/);
      await held.done;
      expect(impatient.getJob(JOB)?.description).toBe('held');
    } finally {
      impatient.close();
    }
  });

  it('tightens an existing 0755 directory and 0644 database to 0700/0600; WAL and shm files are 0600', async () => {
    const dir = join(await tempDir(), 'loose');
    await mkdir(dir);
    await chmod(dir, 0o755);
    await writeFile(join(dir, DATABASE_FILE), '');
    await chmod(join(dir, DATABASE_FILE), 0o644);
    const store = openWithJob(dir);
    try {
      expect((await stat(dir)).mode & 0o777).toBe(0o700);
      expect((await stat(join(dir, DATABASE_FILE))).mode & 0o777).toBe(0o600);
      for (const suffix of ['-wal', '-shm']) {
        expect((await stat(join(dir, DATABASE_FILE + suffix))).mode & 0o777, suffix).toBe(0o600);
      }
    } finally {
      store.close();
    }
  });
});
