/**
 * Group commit (src/store/group-commit.ts): writes made while one microtask queue drains share a
 * transaction; each transaction() stays atomic; nobody awaiting committed() is answered before
 * the commit; a commit that fails on a full disk is reported to the calls it carried and to the
 * queue, and the store goes on working once space is back.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { BitsError } from '../../src/shared/errors.js';
import { DATABASE_FILE, JobStore } from '../../src/store/job-store.js';
import { newJobRecord } from '../../src/queue/new-job.js';
import { BackgroundCopyManager } from '../../src/api/manager.js';
import { tempDir } from '../helpers/temp.js';
import { fill, smallDisk, tmpfsMountable } from '../helpers/small-disk.js';

let n = 0;
const job = (name = `job ${n}`) => newJobRecord(`{00000000-0000-4000-8000-${String(++n).padStart(12, '0')}}`, name, 'DOWNLOAD', 'uid:1', 1000 + n);

/** What another connection (another process, or the same file after a crash) sees. */
function committedNames(dir: string): string[] {
  const db = new Database(join(dir, DATABASE_FILE), { readonly: true });
  try {
    return db.prepare<[], { display_name: string }>('SELECT display_name FROM jobs ORDER BY display_name').all().map((r) => r.display_name);
  } finally {
    db.close();
  }
}

describe('group commit', () => {
  it('writes of one synchronous burst share one commit and are visible to the store at once', async () => {
    const dir = await tempDir();
    const store = JobStore.open({ dataDir: dir, now: 1 });
    const before = store.writeStats().commits;
    store.transaction(() => store.insertJob(job('a')));
    store.transaction(() => store.insertJob(job('b')));
    store.insertJob(job('c'));
    expect(store.listLiveJobIds()).toHaveLength(3);
    expect(committedNames(dir)).toEqual([]);
    await store.committed();
    expect(committedNames(dir)).toEqual(['a', 'b', 'c']);
    expect(store.writeStats().commits - before).toBe(1);
    store.close();
  });

  it('a transaction that throws undoes only its own writes', async () => {
    const dir = await tempDir();
    const store = JobStore.open({ dataDir: dir, now: 1 });
    store.transaction(() => store.insertJob(job('kept')));
    expect(() =>
      store.transaction(() => {
        store.insertJob(job('undone'));
        throw new BitsError('E_INVALIDARG', 'refused');
      }),
    ).toThrow('refused');
    store.transaction(() => store.insertJob(job('kept too')));
    await store.committed();
    expect(committedNames(dir)).toEqual(['kept', 'kept too']);
    store.close();
  });

  it('a caller awaiting committed() resumes only after its write is on disk; sequential calls commit one by one', async () => {
    const dir = await tempDir();
    const store = JobStore.open({ dataDir: dir, now: 1 });
    const before = store.writeStats().commits;
    for (const name of ['x', 'y', 'z']) {
      store.transaction(() => store.insertJob(job(name)));
      await store.committed();
      expect(committedNames(dir)).toContain(name);
    }
    expect(store.writeStats().commits - before).toBe(3);
    store.close();
  });

  it('concurrent callers whose awaits interleave are gathered into one commit', async () => {
    const dir = await tempDir();
    const store = JobStore.open({ dataDir: dir, now: 1 });
    const before = store.writeStats().commits;
    // Each caller takes a few microtask hops before writing, as API calls do.
    const caller = async (name: string, hops: number): Promise<void> => {
      for (let i = 0; i < hops; i++) await Promise.resolve();
      store.transaction(() => store.insertJob(job(name)));
      await store.committed();
    };
    await Promise.all([caller('p', 0), caller('q', 3), caller('r', 6)]);
    expect(committedNames(dir)).toEqual(['p', 'q', 'r']);
    expect(store.writeStats().commits - before).toBe(1);
    store.close();
  });

  it('afterCommit callbacks run after the commit, in order; with nothing pending, at once', async () => {
    const dir = await tempDir();
    const store = JobStore.open({ dataDir: dir, now: 1 });
    const seen: string[] = [];
    store.afterCommit(() => seen.push('idle'));
    expect(seen).toEqual(['idle']);
    store.insertJob(job('e'));
    store.afterCommit(() => seen.push(`first ${committedNames(dir).join()}`));
    store.afterCommit(() => seen.push('second'));
    expect(seen).toEqual(['idle']);
    await store.committed();
    expect(seen).toEqual(['idle', 'first e', 'second']);
    store.close();
  });

  it('close() commits what is pending', async () => {
    const dir = await tempDir();
    const store = JobStore.open({ dataDir: dir, now: 1 });
    store.insertJob(job('last words'));
    store.close();
    expect(committedNames(dir)).toEqual(['last words']);
  });
});

/** A real full disk: the data directory on a 1 MiB tmpfs, filled up with a file (test/helpers/small-disk.ts). */
describe.skipIf(!tmpfsMountable)('group commit on a full disk (tmpfs; needs root and mount)', () => {
  it('a createJob whose commit hits ENOSPC fails with ERROR_DISK_FULL, leaves nothing behind, and the queue recovers', async () => {
    const dir = await smallDisk('1m');
    const mgr = await BackgroundCopyManager.open({ dataDir: join(dir, 'data') });
    const kept = await mgr.createJob('kept', 'DOWNLOAD');
    const free = fill(dir);

    // Enough new rows that the WAL must grow past what the full disk has left.
    const attempts = Array.from({ length: 40 }, (_, i) => mgr.createJob(`doomed ${i} ${'x'.repeat(200)}`, 'DOWNLOAD'));
    const results = await Promise.allSettled(attempts);
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(failures.length).toBeGreaterThan(0);
    for (const f of failures) {
      expect(f.reason).toBeInstanceOf(BitsError);
      expect((f.reason as BitsError).code).toBe('ERROR_DISK_FULL');
      expect((f.reason as BitsError).message).toMatch(/free disk space/);
    }
    // Every call that was answered with success is in the queue; none that failed is.
    const succeeded = results.filter((r) => r.status === 'fulfilled').length;
    const listed = await mgr.enumJobs();
    expect(listed.map((j) => j.id)).toContain(kept.id);
    expect(listed).toHaveLength(1 + succeeded);

    free();
    const after = await mgr.createJob('after', 'DOWNLOAD');
    await after.setDescription('space is back');
    expect(await after.getDescription()).toBe('space is back');
    expect(await mgr.enumJobs()).toHaveLength(2 + succeeded);
    await mgr.close();

    const reopened = await BackgroundCopyManager.open({ dataDir: join(dir, 'data') });
    expect(await reopened.enumJobs()).toHaveLength(2 + succeeded);
    await reopened.close();
  });
});
