/**
 * The store's start-up write after a reboot (JobStore.fallBackToSyncedOffsets): unfinished files
 * and replies recorded in another boot keep only their synced bytes; the same boot, finished
 * files and rows with nothing unsynced are left alone.
 */
import { describe, expect, it } from 'vitest';
import type { FileRecord } from '../../src/job/records.js';
import { newJobRecord } from '../../src/queue/new-job.js';
import { JobStore } from '../../src/store/job-store.js';
import { tempDir } from '../helpers/temp.js';

function file(jobId: string, index: number, over: Partial<FileRecord>): FileRecord {
  return {
    jobId,
    index,
    remoteName: `http://h/${index}`,
    localName: `/tmp/${index}`,
    tempName: `/tmp/BIT${index}.tmp`,
    bytesTotal: 1000,
    bytesTransferred: 0,
    syncedBytes: 0,
    bootId: null,
    transferred: false,
    completed: false,
    ranges: null,
    engineState: {},
    tempIdentity: null,
    ...over,
  };
}

describe('fallBackToSyncedOffsets', () => {
  it('cuts unfinished files and replies of another boot back to their synced bytes, once', async () => {
    const store = JobStore.open({ dataDir: await tempDir(), now: 1 });
    const dl = newJobRecord('{00000000-0000-4000-8000-000000000001}', 'dl', 'DOWNLOAD', 'uid:0', 1);
    const ur = { ...newJobRecord('{00000000-0000-4000-8000-000000000002}', 'ur', 'UPLOAD_REPLY', 'uid:0', 1), replyUrl: 'http://h/r', replyTempName: '/tmp/BITR.tmp' };
    const same = { ...ur, id: '{00000000-0000-4000-8000-000000000003}' };
    store.transaction(() => {
      store.insertJob(dl);
      store.insertJob({ ...ur, replyBytesTotal: 900, replyBytesTransferred: 800, replySyncedBytes: 300, replyBootId: 'boot-a' });
      store.insertJob({ ...same, replyBytesTotal: 900, replyBytesTransferred: 800, replySyncedBytes: 300, replyBootId: 'boot-b' });
      store.insertFile(file(dl.id, 0, { bytesTransferred: 700, syncedBytes: 256, bootId: 'boot-a' })); // falls back
      store.insertFile(file(dl.id, 1, { bytesTransferred: 700, syncedBytes: 256, bootId: 'boot-b' })); // this boot's
      store.insertFile(file(dl.id, 2, { bytesTransferred: 1000, syncedBytes: 1000, bootId: 'boot-a', transferred: true })); // finished
      store.insertFile(file(dl.id, 3, { bytesTransferred: 500, syncedBytes: 500, bootId: 'boot-a' })); // all synced
      store.insertFile(file(dl.id, 4, {})); // never started
    });
    await store.committed();

    expect(store.transaction(() => store.fallBackToSyncedOffsets('boot-b'))).toEqual({ files: 1, replies: 1 });
    await store.committed();
    expect(store.getFiles(dl.id).map((f) => [f.bytesTransferred, f.syncedBytes, f.bootId])).toEqual([
      [256, 256, 'boot-b'],
      [700, 256, 'boot-b'],
      [1000, 1000, 'boot-a'],
      [500, 500, 'boot-a'],
      [0, 0, null],
    ]);
    expect(store.getJob(ur.id)).toMatchObject({ replyBytesTransferred: 300, replySyncedBytes: 300, replyBootId: 'boot-b' });
    expect(store.getJob(same.id)).toMatchObject({ replyBytesTransferred: 800, replySyncedBytes: 300, replyBootId: 'boot-b' });
    // A second start-up in the same boot changes nothing.
    expect(store.transaction(() => store.fallBackToSyncedOffsets('boot-b'))).toEqual({ files: 0, replies: 0 });
    store.close();
  });
});
