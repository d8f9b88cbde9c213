/**
 * Clean UPLOAD jobs through the public API against the reference server: the job reaches
 * TRANSFERRED, the server's file is byte-identical, Complete acknowledges it.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BG_SIZE_UNKNOWN } from '../../../src/index.js';
import { FRAGMENT, MIB, content, digest, digestOf, harness, packetsOf, waitState } from './helpers.js';

describe('clean uploads through the API', () => {
  const sizes: Array<[string, number]> = [
    ['0 bytes', 0],
    ['1 byte', 1],
    ['an exact multiple of the fragment size', 4 * FRAGMENT],
    ['one byte over a fragment multiple', 2 * FRAGMENT + 1],
  ];
  for (const [label, size] of sizes) {
    it(`${label}: TRANSFERRED, byte-identical on the server, Complete -> ACKNOWLEDGED`, async () => {
      const h = await harness();
      const data = content(size);
      const name = `clean-${size}.bin`;
      const job = await h.startUpload(name, data);
      await waitState(job, 'TRANSFERRED');
      expect(await digestOf(h.stored(name))).toBe(digest(data));

      const [file] = await job.enumFiles();
      expect(await file?.getProgress()).toEqual({ bytesTotal: size, bytesTransferred: size, completed: true });
      expect(await job.getProgress()).toEqual({ bytesTotal: size, bytesTransferred: size, filesTotal: 1, filesTransferred: 1 });
      expect((await job.getTimes()).transferCompletionTime).not.toBeNull();

      // One session, the expected number of fragments, closed.
      const fragments = packetsOf(h.server, 'fragment');
      expect(fragments).toHaveLength(Math.max(1, Math.ceil(size / FRAGMENT)));
      expect(packetsOf(h.server, 'create-session')).toHaveLength(1);
      expect(packetsOf(h.server, 'close-session')).toHaveLength(1);
      expect(h.server.stats).toMatchObject({ sessionsCreated: 1, sessionsCompleted: 1, sessionsClosed: 1, sessionsCancelled: 0 });
      expect(h.server.sessions()).toEqual([]);
      // Content-Name rides on the first fragment only.
      expect(fragments[0]?.headers['content-name']).toBe(name);
      expect(fragments.slice(1).every((p) => p.headers['content-name'] === undefined)).toBe(true);

      expect(await job.complete()).toBe('S_OK');
      expect(await job.getState()).toBe('ACKNOWLEDGED');
      await expect(h.mgr.getJob(job.id)).rejects.toMatchObject({ code: 'BG_E_NOT_FOUND' });
      // Complete of an upload needs no network.
      expect(h.server.packets.at(-1)?.kind).toBe('close-session');
    });
  }

  it('a large file (64 MiB, default 1 MiB fragments) arrives byte-identical', async () => {
    const h = await harness({ engine: { fragmentSize: MIB } });
    const data = content(64 * MIB);
    const job = await h.startUpload('large.bin', data);
    await waitState(job, 'TRANSFERRED', 60_000);
    expect(await digestOf(h.stored('large.bin'))).toBe(digest(data));
    expect(packetsOf(h.server, 'fragment')).toHaveLength(64);
    expect(h.server.stats.bytesStored).toBe(64 * MIB);
    expect(await job.complete()).toBe('S_OK');
  }, 60_000);

  it('Complete before TRANSFERRED is BG_E_INVALID_STATE and changes nothing', async () => {
    const h = await harness({ server: { faults: { fragment: [{ kind: 'stall' }] } } });
    const job = await h.mgr.createJob('early complete', 'UPLOAD');
    const data = content(3 * FRAGMENT);
    const local = join(h.client, 'early.bin');
    await writeFile(local, data);
    await job.addFile(`${h.server.url}/up/early.bin`, local);
    // SUSPENDED.
    await expect(job.complete()).rejects.toMatchObject({ code: 'BG_E_INVALID_STATE' });
    const [file] = await job.enumFiles();
    expect(await file?.getProgress()).toEqual({ bytesTotal: BG_SIZE_UNKNOWN, bytesTransferred: 0, completed: false });
    await job.resume();
    // TRANSFERRING: the session exists, the first fragment hangs on the server.
    await waitState(job, 'TRANSFERRING');
    await expect(job.complete()).rejects.toMatchObject({ code: 'BG_E_INVALID_STATE', hresult: 0x80200002 });
    expect(await job.getState()).toBe('TRANSFERRING');
    expect((await file?.getProgress())?.completed).toBe(false);
    // Let it finish: Complete works now.
    h.server.setFaults({});
    await job.suspend();
    await job.resume();
    await waitState(job, 'TRANSFERRED');
    expect((await file?.getProgress())?.completed).toBe(true);
    expect(await job.complete()).toBe('S_OK');
    expect(await digestOf(h.stored('early.bin'))).toBe(digest(data));
  });
});
