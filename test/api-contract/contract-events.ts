/**
 * The shared API suite, part 3: watch() and the callback events (on()), with their notify flags
 * and unsubscribe functions. Events may arrive asynchronously (over IPC), so the tests wait for
 * them rather than expect them at once.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NOTIFY } from '../../src/job/types.js';
import type { FileEventData, JobChangeEventData, JobErrorEventData, JobEventData } from '../../src/job/events.js';
import type { WatchEvent } from '../../src/api/types.js';
import { waitFor } from '../helpers/temp.js';
import type { ContractContext } from './contract.js';
import { settle } from './contract.js';

export function defineContractEvents(ctx: ContractContext): void {
  describe('watch', () => {
    it('starts with the current state and ends when the job rests', async () => {
      const job = await ctx.job();
      const first = await settle(job);
      expect(first).toEqual([
        { kind: 'state', state: 'SUSPENDED', progress: { bytesTotal: 0, bytesTransferred: 0, filesTotal: 0, filesTransferred: 0 }, waiting: { reason: 'SUSPENDED', since: null, until: null } },
      ]);
      await job.addFile(await ctx.source('w', Buffer.alloc(2 * 1024 * 1024, 1)), join(ctx.out, 'w'));
      await job.resume();
      const seen = await settle(job);
      const last = seen.at(-1) as WatchEvent;
      expect(last).toEqual({
        kind: 'state',
        state: 'TRANSFERRED',
        progress: { bytesTotal: 2 * 1024 * 1024, bytesTransferred: 2 * 1024 * 1024, filesTotal: 1, filesTransferred: 1 },
        waiting: { reason: 'AWAITING_COMPLETE', since: expect.any(Date), until: null },
      });
      // Progress never goes backwards.
      const bytes = seen.map((e) => e.progress.bytesTransferred);
      expect([...bytes].sort((a, b) => a - b)).toEqual(bytes);
    });

    it('an abort signal ends a watch quietly; an aborted signal refuses to start', async () => {
      const job = await ctx.job();
      // Nothing listens on port 9: the job bounces between CONNECTING and TRANSIENT_ERROR, never resting.
      await job.addFile('http://127.0.0.1:9/nothing', join(ctx.out, 'n'));
      await job.setProxySettings('NO_PROXY');
      await job.resume();
      const controller = new AbortController();
      const seen: WatchEvent[] = [];
      for await (const ev of job.watch({ signal: controller.signal })) {
        seen.push(ev);
        controller.abort();
      }
      expect(seen).toHaveLength(1);
      const aborted = AbortSignal.abort();
      await expect(async () => {
        for await (const ev of job.watch({ signal: aborted })) void ev;
      }).rejects.toThrow();
      await job.suspend();
    });

    it('breaking out of a watch loop stops it; several watches can run at once', async () => {
      const a = await ctx.job('a');
      const b = await ctx.job('b');
      const [ea, eb] = await Promise.all([settle(a), settle(b)]);
      expect(ea?.[0]?.state).toBe('SUSPENDED');
      expect(eb?.[0]?.state).toBe('SUSPENDED');
      await a.addFile('http://127.0.0.1:9/x', join(ctx.out, 'x'));
      await a.setProxySettings('NO_PROXY');
      await a.resume();
      for await (const ev of a.watch()) {
        expect(ev.kind).toBe('state');
        break;
      }
      await a.suspend();
      expect(await a.getState()).toBe('SUSPENDED');
    });

    it('the watch of a cancelled job yields CANCELLED and ends', async () => {
      const job = await ctx.job();
      await job.cancel();
      expect((await settle(job)).map((e) => e.state)).toEqual(['CANCELLED']);
    });
  });

  describe('events', () => {
    it('manager.on and job.on deliver the callbacks the notify flags ask for', async () => {
      const job = await ctx.job('evented');
      const other = await ctx.job('other');
      await job.setNotifyFlags(NOTIFY.JOB_TRANSFERRED | NOTIFY.FILE_TRANSFERRED | NOTIFY.JOB_MODIFICATION);
      const managerTransferred: JobEventData[] = [];
      const jobFiles: FileEventData[] = [];
      const jobModified: JobEventData[] = [];
      const otherEvents: JobEventData[] = [];
      const offManager = ctx.mgr.on('job:transferred', (e) => {
        if (ctx.created.has(e.jobId)) managerTransferred.push(e);
      });
      const offFiles = job.on('file:transferred', (e) => jobFiles.push(e));
      const offModified = job.on('job:modification', (e) => jobModified.push(e));
      const offOther = other.on('job:transferred', (e) => otherEvents.push(e));
      try {
        await job.addFile(await ctx.source('e1', 'one'), join(ctx.out, 'e1'));
        await job.addFile(await ctx.source('e2', 'two'), join(ctx.out, 'e2'));
        await job.resume();
        await settle(job);
        await waitFor(() => managerTransferred.length === 1 && jobFiles.length === 2, 5000, 'the transferred events');
        expect(managerTransferred[0]).toMatchObject({ jobId: job.id, displayName: 'evented', type: 'DOWNLOAD', state: 'TRANSFERRED' });
        expect(jobFiles.map((f) => [f.fileIndex, f.localName])).toEqual([
          [0, join(ctx.out, 'e1')],
          [1, join(ctx.out, 'e2')],
        ]);
        await waitFor(() => jobModified.length > 0, 5000, 'a modification event');
        expect(jobModified.every((e) => e.jobId === job.id)).toBe(true);
        expect(otherEvents).toEqual([]);
      } finally {
        offManager();
        offFiles();
        offModified();
        offOther();
      }
    });

    it('job:error fires for a failed job; no event reaches a listener after it unsubscribed', async () => {
      const job = await ctx.job('failing');
      const errors: JobErrorEventData[] = [];
      const late: JobEventData[] = [];
      const off = job.on('job:error', (e) => errors.push(e));
      await job.addFile(`file://${join(ctx.dir, 'absent')}`, join(ctx.out, 'absent'));
      await job.resume();
      await settle(job);
      await waitFor(() => errors.length === 1, 5000, 'the job:error event');
      expect(errors[0]).toMatchObject({ jobId: job.id, state: 'ERROR', error: { code: 'ERROR_FILE_NOT_FOUND', context: 'REMOTE_FILE' } });
      off();
      off(); // twice is harmless
      const offLate = job.on('job:transferred', (e) => late.push(e));
      offLate();
      const second = await ctx.job('second');
      await second.addFile(await ctx.source('ok', 'ok'), join(ctx.out, 'ok'));
      await job.cancel();
      await second.resume();
      await settle(second);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(errors).toHaveLength(1);
      expect(late).toEqual([]);
    });

    it('job:change comes for every change whatever the notify flags, a new job included', async () => {
      const everyJob: JobChangeEventData[] = [];
      const offManager = ctx.mgr.on('job:change', (e) => everyJob.push(e));
      const job = await ctx.job('quiet');
      const own: JobChangeEventData[] = [];
      const offJob = job.on('job:change', (e) => own.push(e));
      try {
        await waitFor(() => everyJob.some((e) => e.jobId === job.id), 5000, 'the new job');
        expect(everyJob.find((e) => e.jobId === job.id)).toEqual({ jobId: job.id, displayName: 'quiet', type: 'DOWNLOAD', state: 'SUSPENDED', kind: 'state' });
        // No callback events at all: job:change does not ask the notify flags.
        await job.setNotifyFlags(NOTIFY.DISABLE);
        await job.setDescription('changed');
        await job.addFile(await ctx.source('q', 'quiet'), join(ctx.out, 'q'));
        await job.resume();
        await settle(job);
        await waitFor(() => own.some((e) => e.state === 'TRANSFERRED'), 5000, 'the TRANSFERRED change');
        expect(own.every((e) => e.jobId === job.id)).toBe(true);
        expect(own.filter((e) => e.kind === 'property').length).toBeGreaterThanOrEqual(2);
        expect(own.filter((e) => e.kind === 'state').map((e) => e.state)).toEqual(expect.arrayContaining(['QUEUED', 'TRANSFERRED']));
      } finally {
        offManager();
        offJob();
      }
    });

    it('a listener that throws does not stop the others', async () => {
      const job = await ctx.job();
      const got: string[] = [];
      const offBad = job.on('job:transferred', () => {
        throw new Error('listener bug');
      });
      const offGood = job.on('job:transferred', (e) => got.push(e.jobId));
      await job.addFile(await ctx.source('t', 'x'), join(ctx.out, 't'));
      await job.resume();
      await settle(job);
      await waitFor(() => got.length === 1, 5000, 'the good listener');
      offBad();
      offGood();
    });
  });
}
