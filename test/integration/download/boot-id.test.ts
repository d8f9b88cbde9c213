/**
 * The start-up rule of docs/download-engine.md ("Durability"), through the API with the
 * injectable boot id: a download's progress is recorded as the written offset (the page cache)
 * and the synced one (fdatasync), with the boot it was made in. Reopened in the same boot, the job
 * keeps the written offset; reopened in another, it falls back to the synced one. Either way the
 * next GET starts there and the file ends byte-identical.
 *
 * The clock is a FakeClock that never moves, and background syncs are set out of reach, so the
 * only fdatasync before the reopen is the one after the dropped connection: the synced offset is
 * known exactly.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../src/index.js';
import { waitFor } from '../../helpers/temp.js';
import { expectSameBytes, openManager, randomContent, startFileServer, waitForState, workDir } from './helpers.js';

const SIZE = 2_000_000;
const DROP_AT = 300_000;
const HOLD_AFTER = 500_000;
const NO_BACKGROUND_SYNC = 2 ** 40;

function rangeStart(range: string | string[] | undefined): number {
  const m = /^bytes=(\d+)-$/.exec(String(range ?? ''));
  if (!m) throw new Error(`not an open-ended range: ${String(range)}`);
  return Number(m[1]);
}

/**
 * A download left SUSPENDED with bytes written past its synced offset: the first GET drops after
 * DROP_AT bytes (a network failure: what arrived is written, synced and recorded), the second
 * holds after HOLD_AFTER more (progress of written, not synced, bytes), then Suspend.
 */
async function halfDone(bootId: string) {
  const dir = await workDir();
  const server = await startFileServer();
  const content = server.put('/f.bin', randomContent(SIZE));
  server.dropNext('/f.bin', DROP_AT);
  const mgr = await openManager(dir, { clock: new FakeClock(), bootId, syncBytes: NO_BACKGROUND_SYNC });
  const job = await mgr.createJob('boot id', 'DOWNLOAD');
  await job.addFile(`${server.url}/f.bin`, join(dir, 'f.bin'));
  await job.resume();
  await waitForState(job, 'TRANSIENT_ERROR');
  const synced = (await job.getProgress()).bytesTransferred;
  expect(synced).toBeGreaterThan(0);
  expect(synced).toBeLessThanOrEqual(DROP_AT);

  server.holdNext('/f.bin', HOLD_AFTER);
  await job.resume();
  // Reports come every 64 KiB of written bytes (the helpers' progressBytes): the last one before the hold.
  const written = await waitFor(async () => {
    const n = (await job.getProgress()).bytesTransferred;
    return n >= synced + HOLD_AFTER - 64 * 1024 ? n : 0;
  }, 10_000, 'progress past the synced offset');
  await job.suspend();
  expect((await job.getProgress()).bytesTransferred).toBe(written);
  await mgr.close();
  return { dir, server, content, jobId: job.id, synced, written };
}

describe('start-up after a restart or a reboot (injectable boot id)', () => {
  it('same boot: the written offset is kept, and the download resumes from it', async () => {
    const { dir, server, content, jobId, written } = await halfDone('boot-a');
    const mgr = await openManager(dir, { clock: new FakeClock(), bootId: 'boot-a', syncBytes: NO_BACKGROUND_SYNC });
    const job = await mgr.getJob(jobId);
    expect((await job.getProgress()).bytesTransferred).toBe(written);
    expect((await (await job.enumFiles())[0]?.getProgress())?.bytesTransferred).toBe(written);

    const before = server.requests.length;
    await job.resume();
    await waitForState(job, 'TRANSFERRED');
    const get = server.requests.slice(before).find((r) => r.method === 'GET');
    expect(rangeStart(get?.headers.range)).toBe(written);
    expect(await job.complete()).toBe('S_OK');
    expectSameBytes(await readFile(join(dir, 'f.bin')), content);
  });

  it('another boot: every unsynced byte is dropped, and the download resumes from the synced offset', async () => {
    const { dir, server, content, jobId, synced, written } = await halfDone('boot-a');
    expect(written).toBeGreaterThan(synced);
    const mgr = await openManager(dir, { clock: new FakeClock(), bootId: 'boot-b', syncBytes: NO_BACKGROUND_SYNC });
    const job = await mgr.getJob(jobId);
    expect((await job.getProgress()).bytesTransferred).toBe(synced);
    expect((await (await job.enumFiles())[0]?.getProgress())?.bytesTransferred).toBe(synced);

    const before = server.requests.length;
    await job.resume();
    await waitForState(job, 'TRANSFERRED');
    const get = server.requests.slice(before).find((r) => r.method === 'GET');
    expect(rangeStart(get?.headers.range)).toBe(synced);
    expect(await job.complete()).toBe('S_OK');
    expectSameBytes(await readFile(join(dir, 'f.bin')), content);
  });
});
