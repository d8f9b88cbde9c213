/**
 * The reply of an UPLOAD_REPLY job is fetched by the download engine: the same redirect policy
 * as DOWNLOAD jobs (DISALLOW fails with BG_E_HTTP_ERROR_<status>) and the same temp-file
 * discipline (a reply temp file taken over between runs is refused and left untouched). Real
 * reference server, real files, the API.
 */
import { lstat, mkdir, readdir, readFile, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SECURITY } from '../../../src/index.js';
import { FRAGMENT, KIB, MIB, SEC, content, digest, digestOf, harness, type Harness, waitState } from './helpers.js';

async function replyTemps(h: Harness): Promise<string[]> {
  return (await readdir(h.client)).filter((n) => /^BIT[0-9A-F]{8}\.tmp$/.test(n)).map((n) => join(h.client, n));
}

describe('the reply follows the redirect policy of downloads', () => {
  it('DISALLOW: a redirected reply URL fails the job with the fatal BG_E_HTTP_ERROR_302 (REMOTE_FILE), and nothing is fetched from the target', async () => {
    const h = await harness({
      server: {
        replyHandler: async () => ({ body: 'never read' }),
        faults: { get: [{ kind: 'status', status: 302, errorCode: null, headers: { Location: '/up/elsewhere.bin' } }] },
      },
    });
    const job = await h.startUpload('disallow.bin', content(FRAGMENT), {
      type: 'UPLOAD_REPLY',
      before: (j) => j.setSecurityFlags(SECURITY.REDIRECT_POLICY_DISALLOW),
    });
    await waitState(job, 'ERROR');
    expect(await job.getError()).toMatchObject({ code: 'BG_E_HTTP_ERROR_302', hresult: 0x8019012e, context: 'REMOTE_FILE' });
    const gets = h.server.requests.filter((r) => r.method === 'GET' || r.method === 'HEAD');
    expect(gets.map((r) => r.target.startsWith('/__bits-reply/'))).toEqual([true]);
  });

  it('ALLOW_SILENT (the default): the redirect is followed and the reply is what the target serves', async () => {
    const data = content(3 * FRAGMENT);
    const h = await harness({
      server: {
        replyHandler: async () => ({ body: 'not this' }),
        // The redirect points at the uploaded file itself, served as a static file.
        faults: { get: [{ kind: 'status', status: 302, errorCode: null, headers: { Location: '/up/silent.bin' } }] },
      },
    });
    const job = await h.startUpload('silent.bin', data, { type: 'UPLOAD_REPLY' });
    await waitState(job, 'TRANSFERRED');
    expect(await job.getReplyData()).toEqual(data);
    expect(await job.getReplyProgress()).toEqual({ bytesTotal: data.length, bytesTransferred: data.length });
  });
});

describe('the reply temp file cannot be hijacked', () => {
  /** An upload-reply job whose reply download was cut off: a reply temp file with flushed bytes. */
  async function interruptedReply(name: string): Promise<{ h: Harness; job: Awaited<ReturnType<Harness['startUpload']>>; temp: string; reply: Buffer }> {
    const reply = content(MIB);
    const h = await harness({ server: { replyHandler: async () => ({ body: reply }), faults: { get: [{ kind: 'reset', afterBodyBytes: 300 * KIB }] } } });
    const job = await h.startUpload(name, content(FRAGMENT), { type: 'UPLOAD_REPLY', retryDelaySec: 60 });
    await waitState(job, 'TRANSIENT_ERROR');
    expect((await job.getReplyProgress()).bytesTransferred).toBeGreaterThan(0);
    const temps = await replyTemps(h);
    expect(temps).toHaveLength(1);
    return { h, job, temp: temps[0] as string, reply };
  }

  it('a symlink swapped in at the reply temp name between runs: ERROR BG_E_LOCAL_FILE_CHANGED, the file it points at is unchanged', async () => {
    const { h, job, temp } = await interruptedReply('swapped-link.bin');
    await mkdir(join(h.dir, 'elsewhere'));
    const victim = join(h.dir, 'elsewhere', 'victim.dat');
    const bytes = content(39_000);
    await writeFile(victim, bytes);
    await unlink(temp);
    await symlink(victim, temp);
    const gets = h.server.requests.filter((r) => r.method === 'GET').length;

    await h.clock.advance(60 * SEC);
    await waitState(job, 'ERROR');
    const error = await job.getError();
    expect(error).toMatchObject({ code: 'BG_E_LOCAL_FILE_CHANGED', hresult: 0x8020001d, context: 'LOCAL_FILE' });
    expect(error.message).toContain(temp);
    expect(digest(await readFile(victim))).toBe(digest(bytes));
    // Refused before any request.
    expect(h.server.requests.filter((r) => r.method === 'GET')).toHaveLength(gets);
    // Cancel leaves what bitsd did not create alone, and says something is left.
    expect(await job.cancel()).toBe('BG_S_UNABLE_TO_DELETE_FILES');
    expect((await lstat(temp)).isSymbolicLink()).toBe(true);
    expect(digest(await readFile(victim))).toBe(digest(bytes));
  });

  it('a plain retry resumes the reply in the same temp file and the reply is byte-identical', async () => {
    const { h, job, reply } = await interruptedReply('resumed.bin');
    const kept = (await job.getReplyProgress()).bytesTransferred;
    await h.clock.advance(60 * SEC);
    await waitState(job, 'TRANSFERRED');
    expect(h.server.requests.filter((r) => r.method === 'GET').map((r) => r.range)).toEqual([undefined, `bytes=${kept}-`]);
    expect(await job.complete()).toBe('S_OK');
    expect(await digestOf(join(h.client, 'resumed.bin.reply'))).toBe(digest(reply));
  });
});
