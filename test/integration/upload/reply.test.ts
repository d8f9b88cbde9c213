/**
 * UPLOAD_REPLY jobs through the API: GetReplyData (1 MB limit, before and after Complete),
 * GetReplyProgress, the reply file at SetReplyFileName's path or the default name, a missing
 * BITS-Reply-URL, a failing server application, and Cancel once the upload has finished.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BG_SIZE_UNKNOWN } from '../../../src/index.js';
import type { ReplyHandler } from '../../../src/server/index.js';
import { FRAGMENT, KIB, MIB, SEC, content, digest, digestOf, harness, packetsOf, waitState } from './helpers.js';

function replyWith(body: Buffer | string): ReplyHandler {
  return async () => ({ body });
}

describe('upload-reply', () => {
  it('a reply over 1 MB: getReplyData is BG_E_TOO_LARGE, progress totals, Complete puts it at the reply file name', async () => {
    const reply = content(MIB + 300 * KIB);
    const h = await harness({ server: { replyHandler: replyWith(reply) } });
    const data = content(3 * FRAGMENT + 17);
    const replyFile = join(h.client, 'answer.bin');
    const job = await h.startUpload('big-reply.bin', data, {
      type: 'UPLOAD_REPLY',
      before: async (j) => {
        expect(await j.getReplyProgress()).toEqual({ bytesTotal: BG_SIZE_UNKNOWN, bytesTransferred: 0 });
        await j.setReplyFileName(replyFile);
      },
    });
    await waitState(job, 'TRANSFERRED');
    expect(await digestOf(h.stored('big-reply.bin'))).toBe(digest(data));
    await expect(job.getReplyData()).rejects.toMatchObject({ code: 'BG_E_TOO_LARGE', hresult: 0x80200020 });
    expect(await job.getReplyProgress()).toEqual({ bytesTotal: reply.length, bytesTransferred: reply.length });
    // GetProgress is the upload part only.
    expect(await job.getProgress()).toMatchObject({ bytesTotal: data.length, bytesTransferred: data.length });
    // The reply was fetched before Close-Session (which deletes it on the server).
    const get = h.server.requests.find((r) => r.method === 'GET' && r.target.startsWith('/__bits-reply/'));
    const close = packetsOf(h.server, 'close-session')[0];
    expect(get?.outcome).toBe(200);
    expect(get?.seq ?? Infinity).toBeLessThan(close?.seq ?? -1);
    // Not visible under its name before Complete.
    await expect(readFile(replyFile)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await job.complete()).toBe('S_OK');
    expect(await digestOf(replyFile)).toBe(digest(reply));
    expect((await readdir(h.client)).filter((n) => n.startsWith('BIT'))).toEqual([]);
    await expect(job.getReplyData()).rejects.toMatchObject({ code: 'BG_E_TOO_LARGE' });
  });

  it('no reply file name: the reply lands at <upload>.reply', async () => {
    const reply = Buffer.from('default name reply');
    const h = await harness({ server: { replyHandler: replyWith(reply) } });
    const job = await h.startUpload('named.bin', content(1000), { type: 'UPLOAD_REPLY' });
    const local = join(h.client, 'named.bin');
    expect(await job.getReplyFileName()).toBe(`${local}.reply`);
    await waitState(job, 'TRANSFERRED');
    expect(await job.complete()).toBe('S_OK');
    expect(await readFile(`${local}.reply`)).toEqual(reply);
  });

  it('a small reply: getReplyData returns it before and after Complete', async () => {
    const h = await harness({ server: { replyHandler: async (path) => ({ body: `got ${(await readFile(path)).length} bytes` }) } });
    const job = await h.startUpload('small.bin', content(2 * FRAGMENT), { type: 'UPLOAD_REPLY' });
    await expect(job.getReplyData()).rejects.toMatchObject({ code: 'BG_E_INVALID_STATE' });
    await waitState(job, 'TRANSFERRED');
    const text = `got ${2 * FRAGMENT} bytes`;
    expect((await job.getReplyData())?.toString()).toBe(text);
    expect(await job.getReplyProgress()).toEqual({ bytesTotal: text.length, bytesTransferred: text.length });
    const [file] = await job.enumFiles();
    expect((await file?.getProgress())?.completed).toBe(true);
    expect(await job.complete()).toBe('S_OK');
    expect(await job.getState()).toBe('ACKNOWLEDGED');
    expect((await job.getReplyData())?.toString()).toBe(text);
  });

  it('an empty reply: getReplyData is empty and Complete creates an empty reply file', async () => {
    const h = await harness({ server: { replyHandler: replyWith('') } });
    const job = await h.startUpload('empty-reply.bin', content(10), { type: 'UPLOAD_REPLY' });
    await waitState(job, 'TRANSFERRED');
    expect(await job.getReplyData()).toEqual(Buffer.alloc(0));
    expect(await job.complete()).toBe('S_OK');
    expect(await readFile(join(h.client, 'empty-reply.bin.reply'))).toEqual(Buffer.alloc(0));
  });

  it('a 0-byte upload-reply: one empty fragment, then the reply', async () => {
    const h = await harness({ server: { replyHandler: async (path) => ({ body: `size ${(await readFile(path)).length}` }) } });
    const job = await h.startUpload('zero.bin', Buffer.alloc(0), { type: 'UPLOAD_REPLY' });
    await waitState(job, 'TRANSFERRED');
    expect(packetsOf(h.server, 'fragment').map((p) => p.contentRange)).toEqual(['bytes */0']);
    expect((await job.getReplyData())?.toString()).toBe('size 0');
    expect(await readFile(h.stored('zero.bin'))).toEqual(Buffer.alloc(0));
  });

  it('no BITS-Reply-URL on the final Ack: ERROR BG_E_INVALID_SERVER_RESPONSE, reply total unknown', async () => {
    const h = await harness({ server: { replyHandler: async () => null } });
    const job = await h.startUpload('no-url.bin', content(FRAGMENT + 1), { type: 'UPLOAD_REPLY' });
    await waitState(job, 'ERROR');
    expect(await job.getError()).toMatchObject({ hresult: 0x8020001b, code: 'BG_E_INVALID_SERVER_RESPONSE' });
    // BytesTotal unknown: the failure was in the upload half.
    expect((await job.getReplyProgress()).bytesTotal).toBe(BG_SIZE_UNKNOWN);
  });

  it('the server application fails (500, context 0x7): TRANSIENT_ERROR REMOTE_APPLICATION, then the retry gets the reply', async () => {
    let calls = 0;
    const h = await harness({
      server: {
        replyHandler: async () => {
          calls += 1;
          if (calls === 1) throw new Error('application down');
          return { body: 'second time lucky' };
        },
      },
    });
    const data = content(2 * FRAGMENT);
    const job = await h.startUpload('app.bin', data, { type: 'UPLOAD_REPLY', retryDelaySec: 60 });
    await waitState(job, 'TRANSIENT_ERROR');
    expect(await job.getError()).toMatchObject({ hresult: 0x80004005, context: 'REMOTE_APPLICATION' });
    await h.clock.advance(60 * SEC);
    await waitState(job, 'TRANSFERRED');
    expect((await job.getReplyData())?.toString()).toBe('second time lucky');
    expect(packetsOf(h.server, 'create-session')).toHaveLength(1);
    expect(await digestOf(h.stored('app.bin'))).toBe(digest(data));
  });

  it('Cancel once the upload finished cancels only the reply: the uploaded file stays on the server', async () => {
    const h = await harness({ server: { replyHandler: replyWith('never fetched'), faults: { get: [{ kind: 'stall', times: 'forever' }] } } });
    const data = content(2 * FRAGMENT);
    const job = await h.startUpload('cancel-reply.bin', data, { type: 'UPLOAD_REPLY' });
    // The upload is complete on the server; the reply download hangs.
    await waitFor(() => h.server.stats.sessionsCompleted === 1 && h.server.requests.some((r) => r.outcome === 'stalled'));
    expect(await job.getState()).toBe('TRANSFERRING');
    expect(await job.cancel()).toBe('S_OK');
    expect(await job.getState()).toBe('CANCELLED');
    await waitFor(() => h.server.stats.sessionsCancelled === 1);
    expect(packetsOf(h.server, 'cancel-session')).toHaveLength(1);
    expect(packetsOf(h.server, 'close-session')).toHaveLength(0);
    expect(h.server.sessions()).toEqual([]);
    expect(await digestOf(h.stored('cancel-reply.bin'))).toBe(digest(data));
    await waitFor(async () => (await h.mgr.listPendingCancellations()).length === 0);
    expect((await readdir(h.client)).filter((n) => n.startsWith('BIT'))).toEqual([]);
  });
});

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
