/**
 * The reboot rule through the real daemon (docs/download-engine.md, "Durability"): the daemon
 * records each download's written offset (bytes in the page cache) and synced offset (bytes an
 * fdatasync covered) with the boot id, which a test sets with BITSD_TEST_BOOT_ID.
 *
 * A 64 MiB download whose first GET drops after 20 MiB (a network failure: what arrived is
 * written, fdatasync'ed and recorded as synced) and whose resumed GET holds after 12 MiB more
 * (written progress every 8 MiB, no background fdatasync before 16 MiB more) is killed there
 * with -9, its written offset past its synced one.
 * - Restarted in the same boot, it trusts the page cache: the next GET starts at the written offset.
 * - Restarted in another boot, after the temp file's unsynced tail was zeroed or cut off (what a
 *   power loss may leave), it starts from the synced offset.
 * Either way the file ends byte-identical.
 */
import { open, readFile, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BitsClient } from '../../../src/ipc/client.js';
import { JobStore } from '../../../src/store/job-store.js';
import { cleanEnv, spawnDaemon } from '../../daemon/spawn.js';
import { waitFor } from '../../helpers/temp.js';
import { onCleanup, randomContent, startFileServer, waitForState, workDir } from '../download/helpers.js';

const MIB = 1024 * 1024;
const SIZE = 64 * MIB;
const DROP_AT = 20 * MIB;
const HOLD_AFTER = 12 * MIB;

interface Row {
  readonly offset: number;
  readonly synced: number;
  readonly bootId: string | null;
  readonly tempName: string;
}

function row(dataDir: string, jobId: string): Row {
  const store = JobStore.open({ dataDir, now: Date.now() });
  try {
    const [file] = store.getFiles(jobId);
    if (!file) throw new Error(`no file row for ${jobId}`);
    return { offset: file.bytesTransferred, synced: file.syncedBytes, bootId: file.bootId, tempName: file.tempName };
  } finally {
    store.close();
  }
}

function rangeStart(range: string | string[] | undefined): number {
  const m = /^bytes=(\d+)-$/.exec(String(range ?? ''));
  if (!m) throw new Error(`not an open-ended range: ${String(range)}`);
  return Number(m[1]);
}

/** The page cache died with the system: the bytes past `from` are zeros, or not there at all. */
async function loseTail(path: string, from: number, how: 'zero' | 'truncate'): Promise<void> {
  if (how === 'truncate') {
    await truncate(path, from);
    return;
  }
  const size = (await stat(path)).size;
  const handle = await open(path, 'r+');
  try {
    await handle.write(Buffer.alloc(size - from), 0, size - from, from);
  } finally {
    await handle.close();
  }
}

/** A download killed with -9 while its server holds the body: written bytes past the synced ones. */
async function killedMidway() {
  const dir = await workDir();
  const server = await startFileServer();
  const content = server.put('/big.bin', randomContent(SIZE));
  server.dropNext('/big.bin', DROP_AT);
  const dataDir = join(dir, 'data');
  const socket = join(dir, 'bitsd.sock');
  const destination = join(dir, 'big.bin');
  const daemon = await spawnDaemon({ dataDir, socket, env: cleanEnv({ BITSD_TEST_BOOT_ID: 'boot-a' }) });
  const client = await BitsClient.connect({ socket });
  const job = await client.createJob('reboot', 'DOWNLOAD');
  await job.addFile(`${server.url}/big.bin`, destination);
  await job.resume();
  await waitForState(job, 'TRANSIENT_ERROR', 30_000);
  const dropped = row(dataDir, job.id);
  expect(dropped.synced).toBe(dropped.offset);
  expect(dropped.synced).toBeGreaterThan(0);

  server.holdNext('/big.bin', HOLD_AFTER);
  await job.resume();
  const held = await waitFor(() => {
    const r = row(dataDir, job.id);
    return r.offset >= dropped.offset + HOLD_AFTER - 8 * MIB ? r : null;
  }, 30_000, 'written progress past the synced offset');
  await client.close();
  daemon.child.kill('SIGKILL');
  expect((await daemon.exited).signal).toBe('SIGKILL');
  const image = row(dataDir, job.id);
  expect(image.offset).toBeGreaterThanOrEqual(held.offset);
  expect(image.synced).toBe(dropped.synced);
  expect(image.bootId).toBe('boot-a');
  return { dir, server, content, dataDir, socket, destination, jobId: job.id, image };
}

/** Restarts the daemon in `bootId` and finishes the job; returns where the resumed GET started. */
async function restartAndFinish(k: Awaited<ReturnType<typeof killedMidway>>, bootId: string): Promise<number> {
  const before = k.server.requests.length;
  await spawnDaemon({ dataDir: k.dataDir, socket: k.socket, env: cleanEnv({ BITSD_TEST_BOOT_ID: bootId }) });
  const client = await BitsClient.connect({ socket: k.socket });
  onCleanup(() => client.close());
  const job = await client.getJob(k.jobId);
  await waitForState(job, 'TRANSFERRED', 30_000);
  expect(await job.complete()).toBe('S_OK');
  expect((await readFile(k.destination)).equals(k.content)).toBe(true);
  const get = k.server.requests.slice(before).find((r) => r.method === 'GET');
  return rangeStart(get?.headers.range);
}

describe('the reboot rule through the daemon (BITSD_TEST_BOOT_ID)', () => {
  it('same boot: the page cache survived, so the job resumes from the written offset', async () => {
    const k = await killedMidway();
    expect(await restartAndFinish(k, 'boot-a')).toBe(k.image.offset);
  });

  for (const how of ['zero', 'truncate'] as const) {
    it(`another boot, the unsynced tail ${how === 'zero' ? 'zeroed' : 'cut off'}: the job resumes from the synced offset`, async () => {
      const k = await killedMidway();
      await loseTail(k.image.tempName, k.image.synced, how);
      expect(await restartAndFinish(k, 'boot-b')).toBe(k.image.synced);
      // What start-up recorded for the new boot before resuming.
      expect(row(k.dataDir, k.jobId)).toMatchObject({ bootId: 'boot-b' });
    });
  }
});
