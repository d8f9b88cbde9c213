/**
 * setRemoteName and replaceRemotePrefix through the API, at transfer level: the change takes
 * effect at the next Resume, and per IBackgroundCopyFile2::SetRemoteName the file then resumes at
 * the same offset when the new URL serves the same file (same size and validators), or restarts
 * from byte 0 when its size, timestamp (or strong ETag) differ or the new server cannot resume.
 * Files already transferred are never fetched again.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BackgroundCopyFile, BackgroundCopyJob } from '../../../src/index.js';
import { expectSameBytes, type FileServer, openManager, randomContent, type ServedFile, startFileServer, tempFilesIn, waitForState, workDir } from './helpers.js';

function rangeStart(range: string | string[] | undefined): number {
  const m = /^bytes=(\d+)-$/.exec(typeof range === 'string' ? range : '');
  if (!m) throw new Error(`not an open-ended range: ${String(range)}`);
  return Number(m[1]);
}

async function waitForFileBytes(file: BackgroundCopyFile, atLeast: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { bytesTransferred } = await file.getProgress();
    if (bytesTransferred >= atLeast) return;
    if (Date.now() > deadline) throw new Error(`progress stayed at ${bytesTransferred} (< ${atLeast})`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface Suspended {
  readonly dir: string;
  readonly old: FileServer;
  readonly job: BackgroundCopyJob;
  readonly fa: BackgroundCopyFile;
  readonly fb: BackgroundCopyFile;
  readonly a: Buffer;
  readonly b: Buffer;
  /** Durable offset of b when the job was suspended. */
  readonly kept: number;
  readonly aTemp: string;
  readonly aMtimeMs: number;
}

/**
 * A two-file job on `old`: a (300 kB) is transferred, b (1.5 MB) is suspended mid-body. The GET of
 * b sends 600 kB and then holds, so the suspend always lands inside the body.
 */
async function suspendedMidSecondFile(): Promise<Suspended> {
  const dir = await workDir();
  const old = await startFileServer();
  const a = old.put('/files/a', randomContent(300_000));
  const b = old.put('/files/b', randomContent(1_500_000));
  old.holdNext('/files/b', 600_000);
  const mgr = await openManager(dir);
  const job = await mgr.createJob('moved', 'DOWNLOAD');
  await job.addFile(`${old.url}/files/a`, join(dir, 'a'));
  await job.addFile(`${old.url}/files/b`, join(dir, 'b'));
  const [fa, fb] = await job.enumFiles();
  if (!fa || !fb) throw new Error('the job should have two files');
  await job.resume();
  await waitForFileBytes(fb, 64 * 1024);
  await job.suspend();
  expect(await job.getState()).toBe('SUSPENDED');
  const kept = (await fb.getProgress()).bytesTransferred;
  expect(kept).toBeGreaterThan(0);
  expect(kept).toBeLessThan(b.length);
  expect(await fa.getProgress()).toEqual({ bytesTotal: a.length, bytesTransferred: a.length, completed: false });
  const aTemp = await fa.getTemporaryName();
  const aMtimeMs = (await stat(aTemp)).mtimeMs;
  expect(old.log('GET', '/files/a')).toHaveLength(1);
  return { dir, old, job, fa, fb, a, b, kept, aTemp, aMtimeMs };
}

/** The new server's requests, as "METHOD path range". */
function seen(server: FileServer): string[] {
  return server.requests.map((r) => `${r.method} ${r.url} ${r.headers.range ?? ''}`.trim());
}

async function expectAUntouched(s: Suspended): Promise<void> {
  expect(await s.fa.getProgress()).toEqual({ bytesTotal: s.a.length, bytesTransferred: s.a.length, completed: false });
  expect((await stat(s.aTemp)).mtimeMs).toBe(s.aMtimeMs);
  expectSameBytes(await readFile(s.aTemp), s.a);
}

describe('replaceRemotePrefix to a server with the same files', () => {
  it('the suspended file resumes at its durable offset on the new server; the finished file is not fetched again', async () => {
    const s = await suspendedMidSecondFile();
    const moved = await startFileServer();
    // The very same files: same bytes, size, Last-Modified and ETag.
    moved.files.set('/mirror/a', s.old.files.get('/files/a') as ServedFile);
    moved.files.set('/mirror/b', s.old.files.get('/files/b') as ServedFile);
    const before = s.old.requests.length;

    expect(await s.job.replaceRemotePrefix(`${s.old.url}/files/`, `${moved.url}/mirror/`)).toBe('S_OK');
    expect(await s.fa.getRemoteName()).toBe(`${moved.url}/mirror/a`);
    expect(await s.fb.getRemoteName()).toBe(`${moved.url}/mirror/b`);
    // Not before the next Resume: nothing was sent anywhere.
    await new Promise((r) => setTimeout(r, 50));
    expect(moved.requests).toHaveLength(0);

    await s.job.resume();
    await waitForState(s.job, 'TRANSFERRED');
    // One GET: its If-Range names the stored version, and the 206 confirms size and validators.
    expect(seen(moved)).toEqual([`GET /mirror/b bytes=${s.kept}-`]);
    expect(rangeStart(moved.log('GET', '/mirror/b')[0]?.headers.range)).toBe(s.kept);
    expect(moved.log('GET', '/mirror/b')[0]?.headers['if-range']).toBe(s.old.files.get('/files/b')?.etag);
    expect(s.old.requests.length).toBe(before);
    await expectAUntouched(s);
    expect(await s.fb.getProgress()).toEqual({ bytesTotal: s.b.length, bytesTransferred: s.b.length, completed: false });
    expect(await s.job.complete()).toBe('S_OK');
    expectSameBytes(await readFile(join(s.dir, 'a')), s.a);
    expectSameBytes(await readFile(join(s.dir, 'b')), s.b);
    expect(await tempFilesIn(s.dir)).toEqual([]);
  });
});

describe('setRemoteName to a URL serving the same file', () => {
  it('resumes at the durable offset with a Range request to the new URL; the result is byte-identical', async () => {
    const dir = await workDir();
    const server = await startFileServer();
    const content = server.put('/v1/f', randomContent(1_200_000));
    server.holdNext('/v1/f', 500_000);
    const mgr = await openManager(dir);
    const job = await mgr.createJob('renamed', 'DOWNLOAD');
    await job.addFile(`${server.url}/v1/f`, join(dir, 'f'));
    const [file] = await job.enumFiles();
    if (!file) throw new Error('the job should have a file');
    await job.resume();
    await waitForFileBytes(file, 64 * 1024);
    await job.suspend();
    const kept = (await file.getProgress()).bytesTransferred;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(500_000);

    server.files.set('/v2/f', server.files.get('/v1/f') as ServedFile);
    await file.setRemoteName(`${server.url}/v2/f`);
    await job.resume();
    await waitForState(job, 'TRANSFERRED');
    expect(server.log('GET', '/v1/f')).toHaveLength(1);
    expect(server.log('HEAD', '/v2/f')).toHaveLength(0);
    expect(server.log('GET', '/v2/f').map((r) => rangeStart(r.headers.range))).toEqual([kept]);
    expect(await file.getRemoteName()).toBe(`${server.url}/v2/f`);
    expect(await job.complete()).toBe('S_OK');
    expectSameBytes(await readFile(join(dir, 'f')), content);
  });
});

describe('replaceRemotePrefix to a server whose copy differs', () => {
  /**
   * b on the new server: new bytes, and exactly one validator changed (or the size); and the
   * requests that takes. With the old ETag kept, If-Range matches and the 206 itself shows the
   * change (its size or Last-Modified): the file restarts with a GET from 0. A new ETag fails
   * If-Range: the 200 with the new version is the file from byte 0, in the same request.
   */
  const variants: Array<[string, (old: ServedFile) => ServedFile, (kept: number) => string[]]> = [
    ['the size', (old) => ({ ...old, content: randomContent(old.content.length - 100_000) }), (kept) => [`GET /mirror/b bytes=${kept}-`, 'GET /mirror/b bytes=0-']],
    [
      'the Last-Modified date',
      (old) => ({ ...old, content: randomContent(old.content.length), lastModified: new Date(Date.UTC(2025, 7, 9)).toUTCString() }),
      (kept) => [`GET /mirror/b bytes=${kept}-`, 'GET /mirror/b bytes=0-'],
    ],
    ['the strong ETag', (old) => ({ ...old, content: randomContent(old.content.length), etag: '"other-version"' }), (kept) => [`GET /mirror/b bytes=${kept}-`]],
  ];

  it.each(variants)('%s differs: that file restarts from byte 0, the finished file stays untouched', async (_what, change, requests) => {
    const s = await suspendedMidSecondFile();
    const moved = await startFileServer();
    moved.files.set('/mirror/a', s.old.files.get('/files/a') as ServedFile);
    const newB = change(s.old.files.get('/files/b') as ServedFile);
    moved.files.set('/mirror/b', newB);

    expect(await s.job.replaceRemotePrefix(`${s.old.url}/files/`, `${moved.url}/mirror/`)).toBe('S_OK');
    await s.job.resume();
    await waitForState(s.job, 'TRANSFERRED');
    expect(seen(moved)).toEqual(requests(s.kept));
    await expectAUntouched(s);
    expect(await s.fb.getProgress()).toEqual({ bytesTotal: newB.content.length, bytesTransferred: newB.content.length, completed: false });
    expect(await s.job.complete()).toBe('S_OK');
    expectSameBytes(await readFile(join(s.dir, 'a')), s.a);
    expectSameBytes(await readFile(join(s.dir, 'b')), newB.content);
    expect(await tempFilesIn(s.dir)).toEqual([]);
  });

  it('the new server cannot resume (200 to the ranged GET, same file): the file restarts from byte 0', async () => {
    const s = await suspendedMidSecondFile();
    const moved = await startFileServer();
    moved.files.set('/mirror/a', s.old.files.get('/files/a') as ServedFile);
    moved.files.set('/mirror/b', s.old.files.get('/files/b') as ServedFile);
    // Announces Accept-Ranges, but answers a Range that does not start at 0 with the whole file.
    moved.intercept = (req, res) => {
      const range = req.headers.range;
      if (req.method !== 'GET' || range === undefined || rangeStart(range) === 0) return false;
      const file = moved.files.get(req.url ?? '') as ServedFile;
      res.writeHead(200, {
        'content-length': String(file.content.length),
        'last-modified': file.lastModified,
        ...(file.etag !== null ? { etag: file.etag } : {}),
        'accept-ranges': 'bytes',
      });
      res.end(file.content);
      return true;
    };
    expect(await s.job.replaceRemotePrefix(`${s.old.url}/files/`, `${moved.url}/mirror/`)).toBe('S_OK');
    await s.job.resume();
    await waitForState(s.job, 'TRANSFERRED');
    // The 200 is the whole file: taken from byte 0 in the same request.
    expect(seen(moved)).toEqual([`GET /mirror/b bytes=${s.kept}-`]);
    await expectAUntouched(s);
    expect(await s.job.complete()).toBe('S_OK');
    expectSameBytes(await readFile(join(s.dir, 'a')), s.a);
    expectSameBytes(await readFile(join(s.dir, 'b')), s.b);
  });

  it('the new server has no range support at all: the file restarts, then fails with BG_E_INSUFFICIENT_RANGE_SUPPORT', async () => {
    const s = await suspendedMidSecondFile();
    const moved = await startFileServer();
    moved.ranges = false;
    moved.files.set('/mirror/a', s.old.files.get('/files/a') as ServedFile);
    moved.files.set('/mirror/b', s.old.files.get('/files/b') as ServedFile);
    expect(await s.job.replaceRemotePrefix(`${s.old.url}/files/`, `${moved.url}/mirror/`)).toBe('S_OK');
    await s.job.resume();
    await waitForState(s.job, 'ERROR');
    expect(await s.job.getError()).toMatchObject({ code: 'BG_E_INSUFFICIENT_RANGE_SUPPORT', hresult: 0x80200013, context: 'REMOTE_FILE' });
    // A 200 without Accept-Ranges to the resume: the file restarts; the GET from 0 gets one too.
    expect(seen(moved)).toEqual([`GET /mirror/b bytes=${s.kept}-`, 'GET /mirror/b bytes=0-']);
    expect((await s.fb.getProgress()).bytesTransferred).toBe(0);
    await expectAUntouched(s);
  });
});
