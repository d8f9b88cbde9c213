/**
 * /create, /resume, /suspend, /cancel, /complete, /reset and how a job argument is resolved
 * ({GUID} or display name), in text, /rawreturn and --json form.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/temp.js';
import { CliHarness, GUID } from './helpers.js';

let h: CliHarness;

beforeEach(async () => {
  h = await CliHarness.open();
});

afterEach(async () => {
  await h.close();
});

describe('/create', () => {
  it('prints "created job {GUID}", the GUID alone with /rawreturn, { id } with --json', async () => {
    const text = await h.ok(['/create', 'one']);
    expect(text).toMatch(/^created job \{[0-9A-F-]{36}\}\n$/);
    const raw = await h.ok(['/rawreturn', '/create', 'two']);
    expect(raw).toMatch(GUID);
    const { code, doc } = await h.json(['/create', 'three']);
    expect(code).toBe(0);
    expect(doc).toEqual({ id: expect.stringMatching(GUID) });
    const jobs = await h.mgr.enumJobs();
    expect(await Promise.all(jobs.map((j) => j.getDisplayName()))).toEqual(['one', 'two', 'three']);
  });

  it('accepts create, /CREATE and /Create, and the three job types', async () => {
    const a = await h.create('a');
    const b = (await h.ok(['CREATE', '/upload', 'b'])).trim().replace('created job ', '');
    const c = await h.ok(['/rawreturn', '/Create', '/UPLOAD-REPLY', 'c']);
    expect(await (await h.mgr.getJob(a)).getType()).toBe('DOWNLOAD');
    expect(await (await h.mgr.getJob(b)).getType()).toBe('UPLOAD');
    expect(await (await h.mgr.getJob(c)).getType()).toBe('UPLOAD_REPLY');
    expect(await (await h.mgr.getJob(a)).getState()).toBe('SUSPENDED');
  });

  it('rejects two job types and a missing name as usage errors (exit 2)', async () => {
    const both = await h.run(['/create', '/download', '/upload', 'x']);
    expect(both.code).toBe(2);
    expect(both.stderr).toBe('ERROR: 0x80070057 E_INVALIDARG - The parameter is incorrect. (Give one job type, not /download and /upload.)\nUsage: bitsadmin /create [/download|/upload|/upload-reply] NAME\n');
    const none = await h.run(['/create']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('/create needs [/download|/upload|/upload-reply] NAME.');
    expect(h.sockets).toEqual([]); // usage errors never connect
  });
});

describe('job arguments', () => {
  it('finds a job by {GUID}, by GUID without braces or in lower case, and by display name', async () => {
    const id = await h.create('named');
    for (const ref of [id, id.slice(1, -1), id.toLowerCase(), 'named']) {
      expect(await h.ok(['/getdisplayname', ref])).toBe('named\n');
    }
  });

  it('an exact name wins; otherwise names match without regard to case', async () => {
    await h.create('Report');
    await h.create('report');
    expect(await h.ok(['/getdisplayname', 'report'])).toBe('report\n');
    await h.create('Nightly');
    expect(await h.ok(['/getdisplayname', 'NIGHTLY'])).toBe('Nightly\n');
  });

  it('a name shared by two jobs is an error naming both GUIDs (exit 2)', async () => {
    const a = await h.create('twin');
    const b = await h.create('twin');
    const r = await h.run(['/resume', 'twin']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`(The name 'twin' matches 2 jobs: ${a}, ${b}; name the job by its GUID.)`);
    const j = await h.json(['/getstate', 'twin']);
    expect(j.code).toBe(2);
    expect(j.doc).toMatchObject({ error: { code: 'E_INVALIDARG', hresult: 0x80070057, context: 'NONE', message: expect.stringContaining('matches 2 jobs') } });
  });

  it('an unknown name or GUID is BG_E_NOT_FOUND (exit 1)', async () => {
    const r = await h.run(['/getstate', 'nobody']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("ERROR: 0x80200001 BG_E_NOT_FOUND - The requested job was not found. (No job named 'nobody' in the queue (/list shows the jobs).)\n");
    const g = await h.json(['/getstate', '{00000000-0000-0000-0000-000000000000}']);
    expect(g.code).toBe(1);
    expect(g.doc).toMatchObject({ error: { code: 'BG_E_NOT_FOUND', hresult: 0x80200001 } });
  });

  it('a display name that looks like a GUID is still found by name', async () => {
    const name = '{11111111-2222-3333-4444-555555555555}';
    const id = await h.create(name);
    expect(await h.ok(['/rawreturn', '/getdisplayname', name])).toBe(name);
    expect(id).not.toBe(name);
  });
});

describe('state changes', () => {
  it('/resume on an empty job fails with BG_E_EMPTY; with a file it runs to TRANSFERRED; /complete delivers it', async () => {
    const id = await h.create('job');
    const empty = await h.run(['/resume', id]);
    expect(empty.code).toBe(1);
    expect(empty.stderr).toBe('ERROR: 0x80200003 BG_E_EMPTY - There are currently no files attached to this job. (Cannot resume a job that has no files: add a file first.)\n');

    const src = await h.source('a.txt', 'hello');
    await h.ok(['/addfile', id, src, join(h.out, 'a.txt')]);
    expect(await h.ok(['/resume', id])).toBe('Job resumed.\n');
    await waitFor(async () => (await h.ok(['/rawreturn', '/getstate', id])) === 'TRANSFERRED', 10_000, 'TRANSFERRED');
    expect(await h.ok(['/complete', id])).toBe('Job completed.\n');
    expect(await readFile(join(h.out, 'a.txt'), 'utf8')).toBe('hello');
    const gone = await h.run(['/getstate', id]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('BG_E_NOT_FOUND');
  });

  it('--json: /resume and /suspend report the state, /cancel and /complete their result', async () => {
    const id = await h.create('j');
    await h.ok(['/addfile', id, await h.source('b', 'b'), join(h.out, 'b')]);
    expect((await h.json(['/suspend', id])).doc).toEqual({ id, state: 'SUSPENDED' });
    expect(await h.ok(['/suspend', id])).toBe('Job suspended.\n');
    const resumed = await h.json(['/resume', id]);
    expect(resumed.doc).toMatchObject({ id, state: expect.stringMatching(/^(QUEUED|CONNECTING|TRANSFERRING|TRANSFERRED)$/) });
    await waitFor(async () => (await (await h.mgr.getJob(id)).getState()) === 'TRANSFERRED');
    expect((await h.json(['/complete', id])).doc).toEqual({ id, state: 'ACKNOWLEDGED', result: 'S_OK' });

    const other = await h.create('k');
    expect((await h.json(['/cancel', other])).doc).toEqual({ id: other, state: 'CANCELLED', result: 'S_OK' });
  });

  it('/cancel prints "Job canceled."; a second /cancel cannot find the job', async () => {
    const id = await h.create('c');
    expect(await h.ok(['/cancel', 'c'])).toBe('Job canceled.\n');
    const again = await h.run(['/cancel', id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('0x80200001 BG_E_NOT_FOUND');
  });

  it('/complete of a partly transferred download is BG_S_PARTIAL_COMPLETE, still a success', async () => {
    const id = await h.create('p');
    await h.ok(['/addfile', id, await h.source('ok', 'ok'), join(h.out, 'ok')]);
    await h.ok(['/addfile', id, `${await h.source('x', '')}-missing`, join(h.out, 'missing')]);
    await h.ok(['/resume', id]);
    await waitFor(async () => (await (await h.mgr.getJob(id)).getState()) === 'ERROR');
    expect(await h.ok(['/complete', id])).toBe('Job partially completed: files that had not finished transferring were deleted (BG_S_PARTIAL_COMPLETE).\n');
  });

  it('/reset cancels every job: one line each, then the count; --json lists them', async () => {
    const a = await h.create('a');
    const b = await h.create('b');
    expect(await h.ok(['/reset'])).toBe(`${a} canceled.\n${b} canceled.\n2 out of 2 jobs canceled.\n`);
    expect(await h.mgr.enumJobs()).toHaveLength(0);
    const c = await h.create('c');
    expect((await h.json(['/reset', '/allusers'])).doc).toEqual({ canceled: [c], failed: [], total: 1 });
    expect(await h.ok(['/reset'])).toBe('0 out of 0 jobs canceled.\n');
  });
});
