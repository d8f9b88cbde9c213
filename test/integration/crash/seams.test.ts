/**
 * Complete and Cancel stopped dead at every step boundary (the crash seams of
 * src/queue/file-work.ts and src/queue/remote-cancels.ts), in the real daemon on a real SQLite
 * file, then started again. Whatever the boundary, after the restart the job's state is right,
 * no temp file is left, delivered files are byte-identical, a second Complete is not needed,
 * and the Cancel-Session reaches the server.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CrashRig, eventually, waitForState } from './rig.js';

const FILES = ['a.bin', 'b.bin', 'c.bin'];

async function expectNotFound(rig: CrashRig, jobId: string): Promise<void> {
  await expect(rig.client?.getJob(jobId)).rejects.toMatchObject({ code: 'BG_E_NOT_FOUND' });
}

describe('download Complete, killed at each step boundary', () => {
  const seams = ['complete:committed', 'complete:renamed@1', 'complete:recorded@1', 'complete:renamed@2', 'complete:renamed@3', 'complete:recorded@3', 'complete:cleaned'];
  it.each(seams)('%s: after the restart the job is ACKNOWLEDGED with every file delivered, byte-identical', async (seam) => {
    const rig = await CrashRig.create();
    await rig.start(seam);
    const { job, contents } = await rig.transferredDownload(FILES);
    void job.complete().catch(() => undefined);
    await rig.died();

    await rig.start();
    expect(rig.stored(job.id)).toMatchObject({ state: 'ACKNOWLEDGED', fileIntent: null });
    expect(await rig.tempFiles()).toEqual([]);
    const delivered = await rig.delivered();
    expect([...delivered.keys()].sort()).toEqual(FILES);
    for (const [name, data] of contents) expect(delivered.get(name)?.equals(data), name).toBe(true);
    // Nothing left to do: the job left the queue.
    await expectNotFound(rig, job.id);
  });
});

describe('download Cancel, killed at each step boundary', () => {
  const seams = ['cancel:committed', 'cancel:deleted@1', 'cancel:deleted@2', 'cancel:discarded'];
  it.each(seams)('%s: after the restart the job is CANCELLED and no temp file is left', async (seam) => {
    const rig = await CrashRig.create();
    await rig.start(seam);
    const { job } = await rig.transferredDownload(FILES);
    expect((await rig.tempFiles()).length).toBe(3);
    void job.cancel().catch(() => undefined);
    await rig.died();

    await rig.start();
    expect(rig.stored(job.id)).toMatchObject({ state: 'CANCELLED', fileIntent: null });
    expect(await rig.tempFiles()).toEqual([]);
    expect((await rig.delivered()).size).toBe(0);
    await expectNotFound(rig, job.id);
  });
});

describe('upload Cancel after the session reached the server, killed at each step boundary', () => {
  const seams = ['cancel:committed', 'cancel:discarded', 'cancel-session:answered'];
  it.each(seams)('%s: after the restart the job is CANCELLED and the server got its Cancel-Session', async (seam) => {
    // Every fragment fails: the session exists on the server and the job waits to retry.
    const rig = await CrashRig.create({ faults: { fragment: [{ kind: 'status', status: 503, times: 'forever' }] } });
    await rig.start(seam);
    const job = await rig.upload('u.bin', 'UPLOAD');
    await waitForState(job, 'TRANSIENT_ERROR');
    const session = rig.server.packets.find((p) => p.kind === 'create-session')?.answeredSessionId;
    expect(session).toBeDefined();
    void job.cancel().catch(() => undefined);
    await rig.died();

    await rig.start();
    expect(rig.stored(job.id)?.state).toBe('CANCELLED');
    // The debt survived the crash: start-up sends it (again, if the answer was lost with the process).
    await eventually(() => rig.server.packets.some((p) => p.kind === 'cancel-session' && p.sessionId === session), 'a Cancel-Session for the session');
    await eventually(async () => (await rig.client?.listPendingCancellations())?.length === 0, 'the debt settled');
    expect(rig.stored(job.id)).toMatchObject({ state: 'CANCELLED', cancelPending: false, fileIntent: null });
  });
});

describe('upload-reply, killed at each step boundary of Complete and of Cancel', () => {
  const reply = (path: string): Promise<{ body: string }> => Promise.resolve({ body: `reply to ${path}` });

  it.each(['complete:committed', 'complete:renamed', 'complete:cleaned'])('Complete, %s: ACKNOWLEDGED with the reply at its name', async (seam) => {
    const rig = await CrashRig.create({ replyHandler: reply });
    await rig.start(seam);
    const job = await rig.upload('r.bin', 'UPLOAD_REPLY');
    await waitForState(job, 'TRANSFERRED');
    const replyFile = (await job.getReplyFileName()) as string;
    void job.complete().catch(() => undefined);
    await rig.died();

    await rig.start();
    expect(rig.stored(job.id)).toMatchObject({ state: 'ACKNOWLEDGED', fileIntent: null });
    expect(await readFile(replyFile, 'utf8')).toMatch(/^reply to \S*r\.bin$/);
    expect((await readdir(rig.src)).filter((n) => n.startsWith('BIT'))).toEqual([]);
  });

  it.each(['cancel:committed', 'cancel:deleted', 'cancel:discarded'])('Cancel, %s: CANCELLED, the reply temp file gone, no reply file', async (seam) => {
    const rig = await CrashRig.create({ replyHandler: reply });
    await rig.start(seam);
    const job = await rig.upload('r.bin', 'UPLOAD_REPLY');
    await waitForState(job, 'TRANSFERRED');
    const replyFile = (await job.getReplyFileName()) as string;
    expect((await readdir(rig.src)).filter((n) => n.startsWith('BIT')).length).toBe(1);
    void job.cancel().catch(() => undefined);
    await rig.died();

    await rig.start();
    expect(rig.stored(job.id)).toMatchObject({ state: 'CANCELLED', fileIntent: null });
    expect((await readdir(rig.src)).filter((n) => n.startsWith('BIT'))).toEqual([]);
    await expect(stat(replyFile)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(stat(join(rig.out, 'r.bin'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
