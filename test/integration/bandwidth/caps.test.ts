/**
 * Bandwidth caps on real transfers over unshaped loopback, on the system clock: a 1 MiB/s cap
 * holds within 10% over 5 s for a download and for an upload, and a change of policy (what a
 * reload does) reaches the running transfer within a second.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BackgroundCopyManager, BitsUploadEngine, HttpDownloadEngine, UndiciTransport } from '../../../src/index.js';
import type { BackgroundCopyJob } from '../../../src/api/types.js';
import { mergeConfig, PolicyHolder, validateConfig } from '../../../src/policy/index.js';
import { onCleanup, startReferenceServer, workDir } from '../download/helpers.js';

const MIB = 1024 * 1024;

function policy(raw: unknown): PolicyHolder {
  return new PolicyHolder(mergeConfig(validateConfig(raw, 'test.json')));
}

async function manager(dir: string, holder: PolicyHolder): Promise<BackgroundCopyManager> {
  const transport = new UndiciTransport();
  const mgr = await BackgroundCopyManager.open({
    dataDir: join(dir, 'data'),
    policy: holder,
    engines: [
      new HttpDownloadEngine({ transport, progressBytes: 64 * 1024, progressIntervalMs: 100, env: {} }),
      new BitsUploadEngine({ transport, env: {} }),
    ],
  });
  onCleanup(() => mgr.close());
  return mgr;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Bytes the job moved between two readings `ms` apart (after its progress passed `from`). */
async function rateOver(job: BackgroundCopyJob, from: number, ms: number): Promise<number> {
  const deadline = Date.now() + 15_000;
  while ((await job.getProgress()).bytesTransferred < from) {
    if (Date.now() > deadline) throw new Error('the transfer never got going');
    await sleep(20);
  }
  const start = { bytes: (await job.getProgress()).bytesTransferred, at: performance.now() };
  await sleep(ms);
  const end = { bytes: (await job.getProgress()).bytesTransferred, at: performance.now() };
  return ((end.bytes - start.bytes) * 1000) / (end.at - start.at);
}

describe('bandwidth caps on loopback', () => {
  it('download: a 1 MiB/s background cap holds within 10% over 5 s; raised to 4 MiB/s, the rate follows within 1 s', async () => {
    const dir = await workDir();
    const root = join(dir, 'root');
    await mkdir(root);
    await writeFile(join(root, 'big.bin'), randomBytes(64 * MIB));
    const server = await startReferenceServer({ root });
    const holder = policy({ bandwidth: { background: '1 MiB/s' } });
    const mgr = await manager(dir, holder);
    const job = await mgr.createJob('capped download', 'DOWNLOAD');
    await job.addFile(`${server.url}/big.bin`, join(dir, 'big.bin'));
    await job.resume();

    const capped = await rateOver(job, 256 * 1024, 5000);
    expect(capped / MIB).toBeGreaterThan(0.9);
    expect(capped / MIB).toBeLessThan(1.1);

    holder.replace(mergeConfig(validateConfig({ bandwidth: { background: '4 MiB/s' } }, 'reload.json')));
    await sleep(1000);
    const raised = await rateOver(job, 0, 2000);
    expect(raised / MIB).toBeGreaterThan(3.6);
    expect(raised / MIB).toBeLessThan(4.4);
    await job.cancel();
  });

  it('upload: a 1 MiB/s cap on NORMAL holds within 10% over 5 s, fragment by fragment', async () => {
    const dir = await workDir();
    const root = join(dir, 'root');
    await mkdir(root);
    const server = await startReferenceServer({ root });
    const holder = policy({ bandwidth: { normal: '1 MiB/s' } });
    const mgr = await manager(dir, holder);
    const local = join(dir, 'up.bin');
    await writeFile(local, randomBytes(32 * MIB));
    const job = await mgr.createJob('capped upload', 'UPLOAD');
    await job.addFile(`${server.url}/up/up.bin`, local);
    await job.resume();

    const capped = await rateOver(job, 512 * 1024, 5000);
    expect(capped / MIB).toBeGreaterThan(0.9);
    expect(capped / MIB).toBeLessThan(1.1);
    // Fragments were sized to the limit (half a second of it), not the engine's 1-16 MiB.
    const fragments = server.packets.filter((p) => p.kind === 'fragment').map((p) => p.contentLength ?? 0);
    expect(Math.max(...fragments)).toBeLessThanOrEqual(MIB / 2);
    await job.cancel();
  });
});
