/**
 * The kill -9 scenarios of issue 10, each run 20 times: the verb is sent to the real daemon,
 * which is killed 0-20 ms later (a random delay, printed with any failure), then started again
 * on the same data directory. Whatever the delay, nothing is stuck, lost or half-done:
 *   1. /complete of a download: ACKNOWLEDGED with every file delivered, or still TRANSFERRED
 *      and a second Complete succeeds;
 *   2. /cancel of a download: no temp file survives (a second Cancel if the first never landed);
 *   3. /cancel of an upload whose session reached the server: the server gets its Cancel-Session;
 *   4. /cancel and /complete racing on one job: never CANCELLED with delivered files, never
 *      ACKNOWLEDGED with files missing.
 */
import { describe, expect, it } from 'vitest';
import { BitsClient } from '../../../src/ipc/client.js';
import type { BackgroundCopyJob } from '../../../src/api/types.js';
import { cleanEnv, runBitsadmin } from '../../daemon/spawn.js';
import { CrashRig, eventually, waitForState } from './rig.js';

const RUNS = 20;
const FILES = ['a.bin', 'b.bin', 'c.bin'];

/** A small seeded generator, so a failing delay can be replayed (the seed is in the message). */
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
}

const SEED = Number(process.env.BITSD_CRASH_SEED ?? Date.now() % 100_000);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Kills the daemon `delay` ms from now, then starts it again. */
async function killAfter(rig: CrashRig, delay: number): Promise<BitsClient> {
  await sleep(delay);
  rig.kill();
  await rig.died();
  return rig.start();
}

/** Invariant of a download job after everything settled: delivered whole, or nothing left. */
async function expectSettled(rig: CrashRig, jobId: string, contents: Map<string, Buffer>, why: string): Promise<'ACKNOWLEDGED' | 'CANCELLED'> {
  const stored = rig.stored(jobId);
  expect(stored?.fileIntent, why).toBeNull();
  expect(await rig.tempFiles(), `${why}: temp files left`).toEqual([]);
  const delivered = await rig.delivered();
  if (stored?.state === 'ACKNOWLEDGED') {
    expect([...delivered.keys()].sort(), `${why}: ACKNOWLEDGED with files missing`).toEqual([...contents.keys()].sort());
    for (const [name, data] of contents) expect(delivered.get(name)?.equals(data), `${why}: ${name} differs`).toBe(true);
    return 'ACKNOWLEDGED';
  }
  expect(stored?.state, why).toBe('CANCELLED');
  expect([...delivered.keys()], `${why}: CANCELLED with delivered files`).toEqual([]);
  return 'CANCELLED';
}

/** A download job named for the run, in its own directory so runs do not see each other's files. */
async function transferredRun(rig: CrashRig, run: number): Promise<{ job: BackgroundCopyJob; contents: Map<string, Buffer> }> {
  const names = FILES.map((f) => `${run}-${f}`);
  return rig.transferredDownload(names);
}

async function clearOut(rig: CrashRig): Promise<void> {
  const { readdir, rm } = await import('node:fs/promises');
  const { join } = await import('node:path');
  for (const name of await readdir(rig.out)) await rm(join(rig.out, name), { force: true });
}

describe(`kill -9 a few ms after the verb (${RUNS} runs each, seed ${SEED})`, () => {
  it('1. /complete of a download: ACKNOWLEDGED and delivered, or a second Complete succeeds', async () => {
    const rig = await CrashRig.create();
    await rig.start();
    const next = random(SEED + 1);
    const outcomes = { finishedByRecovery: 0, completedAgain: 0 };
    for (let run = 0; run < RUNS; run++) {
      const delay = Math.floor(next() * 21);
      const why = `run ${run}, kill ${delay} ms after /complete (seed ${SEED})`;
      const { job, contents } = await transferredRun(rig, run);
      void job.complete().catch(() => undefined);
      const client = await killAfter(rig, delay);
      if (rig.stored(job.id)?.state === 'TRANSFERRED') {
        expect(await (await client.getJob(job.id)).complete(), why).toBe('S_OK');
        outcomes.completedAgain++;
      } else {
        outcomes.finishedByRecovery++;
      }
      expect(await expectSettled(rig, job.id, contents, why)).toBe('ACKNOWLEDGED');
      await clearOut(rig);
    }
    expect(outcomes.finishedByRecovery + outcomes.completedAgain).toBe(RUNS);
  });

  it('2. /cancel of a download: CANCELLED with no temp file left', async () => {
    const rig = await CrashRig.create();
    await rig.start();
    const next = random(SEED + 2);
    for (let run = 0; run < RUNS; run++) {
      const delay = Math.floor(next() * 21);
      const why = `run ${run}, kill ${delay} ms after /cancel (seed ${SEED})`;
      const { job, contents } = await transferredRun(rig, run);
      expect((await rig.tempFiles()).length, why).toBe(FILES.length);
      void job.cancel().catch(() => undefined);
      const client = await killAfter(rig, delay);
      // The Cancel never landed: the job is still there and cancels now.
      if (rig.stored(job.id)?.state !== 'CANCELLED') expect(await (await client.getJob(job.id)).cancel(), why).toBe('S_OK');
      expect(await expectSettled(rig, job.id, contents, why)).toBe('CANCELLED');
    }
  });

  it('3. /cancel of an upload whose session reached the server: the Cancel-Session gets there', async () => {
    const rig = await CrashRig.create({ faults: { fragment: [{ kind: 'status', status: 503, times: 'forever' }] } });
    await rig.start();
    const next = random(SEED + 3);
    for (let run = 0; run < RUNS; run++) {
      const delay = Math.floor(next() * 21);
      const why = `run ${run}, kill ${delay} ms after /cancel (seed ${SEED})`;
      const job = await rig.upload(`u${run}.bin`, 'UPLOAD');
      await waitForState(job, 'TRANSIENT_ERROR');
      const session = rig.server.packets.filter((p) => p.kind === 'create-session').at(-1)?.answeredSessionId;
      expect(session, why).toBeDefined();
      void job.cancel().catch(() => undefined);
      const client = await killAfter(rig, delay);
      if (rig.stored(job.id)?.state !== 'CANCELLED') await (await client.getJob(job.id)).cancel();
      await eventually(() => rig.server.packets.some((p) => p.kind === 'cancel-session' && p.sessionId === session), `${why}: a Cancel-Session for ${session}`);
      await eventually(async () => (await client.listPendingCancellations()).length === 0, `${why}: the debt settled`);
      expect(rig.stored(job.id), why).toMatchObject({ state: 'CANCELLED', cancelPending: false, fileIntent: null });
    }
  });

  it('4. /cancel and /complete racing on one job (two connections), killed: never half-done', async () => {
    const rig = await CrashRig.create();
    await rig.start();
    const next = random(SEED + 4);
    const ends = { ACKNOWLEDGED: 0, CANCELLED: 0 };
    for (let run = 0; run < RUNS; run++) {
      const delay = Math.floor(next() * 21);
      const cancelFirst = next() < 0.5;
      const why = `run ${run}, ${cancelFirst ? 'cancel' : 'complete'} first, kill ${delay} ms later (seed ${SEED})`;
      const { job, contents } = await transferredRun(rig, run);
      const other = await BitsClient.connect({ socket: rig.socket });
      const twin = await other.getJob(job.id);
      const verbs = cancelFirst ? [() => job.cancel(), () => twin.complete()] : [() => job.complete(), () => twin.cancel()];
      for (const verb of verbs) void verb().catch(() => undefined);
      const client = await killAfter(rig, delay);
      await other.close().catch(() => undefined);
      const state = rig.stored(job.id)?.state;
      // Neither landed: settle the job the way the run's first verb would have.
      if (state !== 'ACKNOWLEDGED' && state !== 'CANCELLED') {
        const again = await client.getJob(job.id);
        await (cancelFirst ? again.cancel() : again.complete());
      }
      ends[await expectSettled(rig, job.id, contents, why)]++;
      await clearOut(rig);
    }
    expect(ends.ACKNOWLEDGED + ends.CANCELLED).toBe(RUNS);
  });

  it('4b. /cancel and /complete from separate bitsadmin processes: exactly one wins, the other is refused', async () => {
    const rig = await CrashRig.create();
    await rig.start();
    const env = cleanEnv({ BITSD_SOCKET: rig.socket });
    for (let run = 0; run < 5; run++) {
      const { job, contents } = await transferredRun(rig, run);
      const [cancel, complete] = await Promise.all([
        runBitsadmin(['/cancel', job.id], { env }),
        runBitsadmin(['/complete', job.id], { env }),
      ]);
      const why = `run ${run}: /cancel exit ${cancel.code} (${cancel.stdout.trim()} ${cancel.stderr.trim()}), /complete exit ${complete.code} (${complete.stdout.trim()} ${complete.stderr.trim()})`;
      expect([cancel.code, complete.code].filter((c) => c === 0), why).toHaveLength(1);
      expect(`${cancel.stderr}${complete.stderr}`, why).toMatch(/BG_E_INVALID_STATE|BG_E_NOT_FOUND/);
      const end = await expectSettled(rig, job.id, contents, why);
      expect(end === 'CANCELLED' ? cancel.code : complete.code, why).toBe(0);
      await clearOut(rig);
    }
  });
});
