/**
 * What an engine sees of a file (src/queue/transfer-view.ts): its written and synced offsets, and
 * for an UPLOAD_REPLY job the reply as recorded, which is where the reply resumes at the most
 * (after a reboot, start-up has cut it back to its synced bytes).
 */
import { describe, expect, it } from 'vitest';
import type { FileRecord } from '../../../src/job/records.js';
import { newJobRecord } from '../../../src/queue/new-job.js';
import { toTransferFile } from '../../../src/queue/transfer-view.js';

const FILE: FileRecord = {
  jobId: '{00000000-0000-4000-8000-000000000001}',
  index: 0,
  remoteName: 'http://h/u',
  localName: '/tmp/u',
  tempName: '/tmp/BITU.tmp',
  bytesTotal: 100,
  bytesTransferred: 70,
  syncedBytes: 30,
  bootId: 'boot-a',
  transferred: false,
  completed: false,
  ranges: null,
  engineState: {},
  tempIdentity: null,
};

describe('toTransferFile', () => {
  it('carries the written and the synced offsets', () => {
    expect(toTransferFile(FILE)).toMatchObject({ bytesTransferred: 70, syncedBytes: 30 });
    expect(toTransferFile(FILE)).not.toHaveProperty('reply');
  });

  it("UPLOAD_REPLY: the job's recorded reply goes with its file, once the reply has a URL", () => {
    const job = newJobRecord(FILE.jobId, 'ur', 'UPLOAD_REPLY', 'uid:0', 1);
    expect(toTransferFile(FILE, job)).not.toHaveProperty('reply');
    const replying = { ...job, replyUrl: 'http://h/r', replyTempName: '/tmp/BITR.tmp', replyBytesTotal: 50, replyBytesTransferred: 40, replySyncedBytes: 20, replyTempIdentity: '1:2' };
    expect(toTransferFile(FILE, replying).reply).toEqual({ url: 'http://h/r', tempName: '/tmp/BITR.tmp', bytesTotal: 50, bytesTransferred: 40, syncedBytes: 20, tempIdentity: '1:2' });
    expect(toTransferFile(FILE, { ...replying, type: 'UPLOAD' })).not.toHaveProperty('reply');
  });
});
