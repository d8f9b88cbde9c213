/**
 * The policy of the daemon's config file on real transfers, through the spawned binaries: a cap
 * read at start-up, raised by `bitsadmin /reload` (the running download follows within a
 * second), and a limit of 0 that holds a job QUEUED without an error until a reload lifts it.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BitsClient } from '../../../src/ipc/client.js';
import type { BackgroundCopyJob } from '../../../src/api/types.js';
import { cleanEnv, runBitsadmin, spawnDaemon } from '../../daemon/spawn.js';
import { startReferenceServer, workDir } from '../download/helpers.js';

const MIB = 1024 * 1024;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function rateOver(job: BackgroundCopyJob, ms: number): Promise<number> {
  const start = { bytes: (await job.getProgress()).bytesTransferred, at: performance.now() };
  await sleep(ms);
  const end = { bytes: (await job.getProgress()).bytesTransferred, at: performance.now() };
  return ((end.bytes - start.bytes) * 1000) / (end.at - start.at);
}

async function setup(bandwidth: unknown) {
  const dir = await workDir();
  const root = join(dir, 'root');
  await mkdir(root);
  await writeFile(join(root, 'big.bin'), randomBytes(48 * MIB));
  const server = await startReferenceServer({ root });
  const config = join(dir, 'config.json');
  // Caps and holds are under test here, not yielding (yield.test.ts): turned off, so the
  // figures are the limiter's alone.
  await writeFile(config, JSON.stringify({ bandwidth: { yield: false, ...(bandwidth as object) } }));
  const socket = join(dir, 'bitsd.sock');
  const env = cleanEnv();
  const daemon = await spawnDaemon({ dataDir: join(dir, 'data'), socket, env, args: ['--config', config] });
  const client = await BitsClient.connect({ socket });
  const job = await client.createJob('policy', 'DOWNLOAD');
  await job.addFile(`${server.url}/big.bin`, join(dir, 'big.bin'));
  const reload = async (next: unknown) => {
    await writeFile(config, JSON.stringify({ bandwidth: { yield: false, ...(next as object) } }));
    const r = await runBitsadmin(['--socket', socket, '/reload'], { env });
    expect(r.code, r.stderr).toBe(0);
  };
  return { daemon, client, job, reload, socket, env };
}

describe('the config file on running transfers', () => {
  it('a 1 MiB/s cap from the file holds; /reload to 4 MiB/s shows within 1 s', async () => {
    const { client, job, reload, socket, env } = await setup({ background: '1 MiB/s' });
    await job.resume();
    await sleep(500);
    const capped = await rateOver(job, 3000);
    expect(capped / MIB).toBeGreaterThan(0.85);
    expect(capped / MIB).toBeLessThan(1.15);
    // /info shows the rate and the limit slowing it.
    const info = await runBitsadmin(['--socket', socket, '/info', job.id], { env });
    expect(info.stdout).toMatch(/\nRATE: (9\d\d KiB\/s|10[0-2]\d KiB\/s|1\.\d\d MiB\/s) LIMIT: 1 MiB\/s \(policy: all background jobs together\)\n/);
    const status = await job.getTransferStatus();
    expect(status.bytesPerSecond / MIB).toBeGreaterThan(0.8);
    expect(status.bytesPerSecond / MIB).toBeLessThan(1.2);
    expect(status.limit).toEqual({ bytesPerSecond: MIB, by: 'background' });
    await reload({ background: '4 MiB/s' });
    await sleep(1000);
    const raised = await rateOver(job, 2000);
    expect(raised / MIB).toBeGreaterThan(3.4);
    expect(raised / MIB).toBeLessThan(4.6);
    await job.cancel();
    await client.close();
  });

  it('a limit of 0 holds a NORMAL job QUEUED with no error or retry; a reload lifts it', async () => {
    const { client, job, reload } = await setup({ normal: 0 });
    await job.resume();
    await sleep(1500);
    expect(await job.getState()).toBe('QUEUED');
    expect(await job.getErrorCount()).toBe(0);
    expect((await job.getProgress()).bytesTransferred).toBe(0);
    await reload({ normal: 'unlimited' });
    const deadline = Date.now() + 15_000;
    while ((await job.getState()) !== 'TRANSFERRED' && Date.now() < deadline) await sleep(50);
    expect(await job.getState()).toBe('TRANSFERRED');
    expect(await job.getErrorCount()).toBe(0);
    await job.cancel();
    await client.close();
  });

  it('a reload to 0 sends a running job back to QUEUED without an error', async () => {
    const { client, job, reload, socket, env } = await setup({ background: '1 MiB/s' });
    await job.resume();
    while ((await job.getProgress()).bytesTransferred === 0) await sleep(20);
    await reload({ background: 0 });
    await sleep(500);
    expect(await job.getState()).toBe('QUEUED');
    const held = (await job.getProgress()).bytesTransferred;
    await sleep(1000);
    expect((await job.getProgress()).bytesTransferred).toBe(held);
    expect(await job.getErrorCount()).toBe(0);
    const info = await runBitsadmin(['--socket', socket, '/info', job.id], { env });
    expect(info.stdout).toContain('\nWAITING: the bandwidth policy holds all background jobs together at 0 until the config changes (no schedule entry lifts it)\n');
    await job.cancel();
    await client.close();
  });
});
