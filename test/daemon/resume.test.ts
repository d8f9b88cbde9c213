/**
 * A download interrupted by the daemon going away resumes after the restart from its durable
 * offset and completes byte-identical: once after SIGTERM (which must exit 0 within 5 s while a
 * request is in flight) and once after kill -9.
 *
 * The test server scripts the interruption (docs/bits-server.md fault plans): the first GET is
 * cut after 2 MiB, so some bytes are durable; the retried GET is never answered, so a transfer
 * is in flight when the signal arrives; after the restart the GET is served.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BitsClient } from '../../src/index.js';
import { type BitsServer, startBitsServer } from '../../src/server/index.js';
import { settle } from '../api-contract/contract.js';
import { tempDir, waitFor } from '../helpers/temp.js';
import { spawnDaemon } from './spawn.js';

const servers: BitsServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

async function interruptAndResume(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  const dir = await tempDir('bitsd-resume-');
  const root = join(dir, 'www');
  const out = join(dir, 'out');
  await mkdir(root);
  await mkdir(out);
  const content = randomBytes(6 * 1024 * 1024);
  await writeFile(join(root, 'big.bin'), content);
  const server = await startBitsServer({
    root,
    faults: {
      // One GET per attempt (no HEAD: the GET's answer gives the size and validators).
      get: [
        { kind: 'reset', afterBodyBytes: 2 * 1024 * 1024 }, // GET of attempt 1: cut mid-body
        { kind: 'stall' }, // GET of attempt 2: never answered
      ],
    },
  });
  servers.push(server);
  const where = { dataDir: join(dir, 'data'), socket: join(dir, 'run', 'bitsd.sock') };

  const daemon = await spawnDaemon(where);
  const client = await BitsClient.connect({ socket: where.socket });
  const job = await client.createJob('interrupted', 'DOWNLOAD');
  await job.setProxySettings('NO_PROXY');
  await job.addFile(`${server.url}/big.bin`, join(out, 'big.bin'));
  await job.resume();
  await waitFor(async () => (await job.getState()) === 'TRANSIENT_ERROR', 10_000, 'the cut GET to fail');
  const durable = (await job.getProgress()).bytesTransferred;
  expect(durable).toBeGreaterThan(0);
  expect(durable).toBeLessThan(content.length);
  await job.resume(); // retry now instead of after the retry delay
  await waitFor(() => server.requests.some((r) => r.outcome === 'stalled'), 10_000, 'the stalled GET');
  expect(['CONNECTING', 'TRANSFERRING']).toContain(await job.getState());
  await client.close();

  const exit = await daemon.stop(signal);
  if (signal === 'SIGTERM') {
    expect(exit.code).toBe(0);
    expect(exit.ms).toBeLessThan(5000);
    expect(daemon.logs().map((l) => l.msg)).toEqual(expect.arrayContaining(['stopping', 'stopped']));
  } else {
    expect(exit.signal).toBe('SIGKILL');
  }

  const restarted = await spawnDaemon(where);
  const again = await BitsClient.connect({ socket: where.socket });
  const resumed = await again.getJob(job.id);
  const seen = await settle(resumed);
  expect(seen.at(-1)?.state).toBe('TRANSFERRED');
  expect(Math.min(...seen.map((e) => e.progress.bytesTransferred))).toBeGreaterThanOrEqual(durable);
  const gets = server.requests.filter((r) => r.method === 'GET');
  expect(gets.at(-1)?.range).toBe(`bytes=${durable}-`);
  expect(await resumed.complete()).toBe('S_OK');
  expect(sha256(await readFile(join(out, 'big.bin')))).toBe(sha256(content));
  await again.close();
  expect(await restarted.stop()).toMatchObject({ code: 0 });
}

describe('interrupted transfers resume after a restart', () => {
  it('SIGTERM mid-transfer: exit 0 within 5 s, then the restarted daemon resumes and completes', async () => {
    await interruptAndResume('SIGTERM');
  });

  it('kill -9 mid-transfer: the restarted daemon recovers the job and resumes it', async () => {
    await interruptAndResume('SIGKILL');
  });
});
