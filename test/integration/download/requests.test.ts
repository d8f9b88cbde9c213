/**
 * Requests per file against the reference server (src/server), which logs every GET and HEAD:
 * a static file costs one GET where the answer tells its size and validators, with no HEAD, for
 * single-file jobs, a many-file job, byte ranges, an empty file, a server whose HEAD has no size,
 * and a MAX_DOWNLOAD_SIZE refusal. (Resumes, changed files and servers without ranges: resume.test.ts,
 * remote-name.test.ts, errors.test.ts.)
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BG_LENGTH_TO_EOF } from '../../../src/index.js';
import { expectSameBytes, openManager, randomContent, startReferenceServer, tempFilesIn, waitForState, workDir } from './helpers.js';

const SMALL = 16 * 1024;

/** "METHOD target range outcome" per logged request. */
function seen(server: Awaited<ReturnType<typeof startReferenceServer>>): string[] {
  return server.requests.map((r) => `${r.method} ${r.target} ${r.range ?? '-'} ${String(r.outcome)}`);
}

describe('one request per small file', () => {
  it('10 single-file jobs of 16 KiB: 10 GETs (206), no HEAD; the files are byte-identical', async () => {
    const dir = await workDir();
    const root = join(dir, 'root');
    const server = await startReferenceServer({ root });
    const contents = Array.from({ length: 10 }, () => randomContent(SMALL));
    await Promise.all(contents.map((c, i) => writeFile(join(root, `s${i}.bin`), c)));
    const mgr = await openManager(dir);
    const jobs = [];
    for (let i = 0; i < contents.length; i++) {
      const job = await mgr.createJob(`small ${i}`, 'DOWNLOAD');
      await job.addFile(`${server.url}/s${i}.bin`, join(dir, `s${i}.bin`));
      await job.resume();
      jobs.push(job);
    }
    for (const job of jobs) {
      await waitForState(job, 'TRANSFERRED');
      expect(await job.complete()).toBe('S_OK');
    }
    expect(seen(server).sort()).toEqual(contents.map((_, i) => `GET /s${i}.bin bytes=0- 206`).sort());
    for (let i = 0; i < contents.length; i++) expectSameBytes(await readFile(join(dir, `s${i}.bin`)), contents[i] as Buffer);
  });

  it('a job of 25 files: 25 GETs in file order, no HEAD', async () => {
    const dir = await workDir();
    const root = join(dir, 'root');
    const server = await startReferenceServer({ root });
    const contents = Array.from({ length: 25 }, (_, i) => randomContent(SMALL + i));
    await Promise.all(contents.map((c, i) => writeFile(join(root, `m${i}.bin`), c)));
    const mgr = await openManager(dir);
    const job = await mgr.createJob('many', 'DOWNLOAD');
    await job.addFileSet(contents.map((_, i) => ({ remoteName: `${server.url}/m${i}.bin`, localName: join(dir, `m${i}.bin`) })));
    await job.resume();
    await waitForState(job, 'TRANSFERRED');
    expect(await job.complete()).toBe('S_OK');
    expect(seen(server)).toEqual(contents.map((_, i) => `GET /m${i}.bin bytes=0- 206`));
    for (let i = 0; i < contents.length; i++) expectSameBytes(await readFile(join(dir, `m${i}.bin`)), contents[i] as Buffer);
  });

  it('an empty file: one GET, answered 416 "bytes */0"; the destination is empty', async () => {
    const dir = await workDir();
    const root = join(dir, 'root');
    const server = await startReferenceServer({ root });
    await writeFile(join(root, 'empty.bin'), Buffer.alloc(0));
    const mgr = await openManager(dir);
    const job = await mgr.createJob('empty', 'DOWNLOAD');
    await job.addFile(`${server.url}/empty.bin`, join(dir, 'empty.bin'));
    await job.resume();
    await waitForState(job, 'TRANSFERRED');
    expect(await job.getProgress()).toMatchObject({ bytesTotal: 0, bytesTransferred: 0 });
    expect(await job.complete()).toBe('S_OK');
    expect(seen(server)).toEqual(['GET /empty.bin bytes=0- 416']);
    expect((await readFile(join(dir, 'empty.bin'))).length).toBe(0);
  });

  it('a server whose HEAD has no Content-Length: the GET\'s Content-Range gives the size, in one request', async () => {
    const dir = await workDir();
    const root = join(dir, 'root');
    const server = await startReferenceServer({ root, headSize: false });
    const content = randomContent(200_000);
    await writeFile(join(root, 'f.bin'), content);
    const mgr = await openManager(dir);
    const job = await mgr.createJob('no head size', 'DOWNLOAD');
    await job.addFile(`${server.url}/f.bin`, join(dir, 'f.bin'));
    await job.resume();
    await waitForState(job, 'TRANSFERRED');
    expect(await job.getProgress()).toMatchObject({ bytesTotal: content.length, bytesTransferred: content.length });
    expect(await job.complete()).toBe('S_OK');
    expect(seen(server)).toEqual(['GET /f.bin bytes=0- 206']);
    expectSameBytes(await readFile(join(dir, 'f.bin')), content);
  });

  it('byte ranges: one GET per range, no HEAD; the first range\'s 206 gives the size for BG_LENGTH_TO_EOF', async () => {
    const dir = await workDir();
    const root = join(dir, 'root');
    const server = await startReferenceServer({ root });
    const content = randomContent(100_000);
    await writeFile(join(root, 'r.bin'), content);
    const mgr = await openManager(dir);
    const job = await mgr.createJob('ranges', 'DOWNLOAD');
    await job.addFileWithRanges(`${server.url}/r.bin`, join(dir, 'r.bin'), [
      { initialOffset: 50_000, length: 1_000 },
      { initialOffset: 90_000, length: BG_LENGTH_TO_EOF },
      { initialOffset: 0, length: 10 },
    ]);
    await job.resume();
    await waitForState(job, 'TRANSFERRED');
    expect(await job.getProgress()).toMatchObject({ bytesTotal: 11_010, bytesTransferred: 11_010 });
    expect(await job.complete()).toBe('S_OK');
    expect(seen(server)).toEqual(['GET /r.bin bytes=50000-50999 206', 'GET /r.bin bytes=90000-99999 206', 'GET /r.bin bytes=0-9 206']);
    expectSameBytes(await readFile(join(dir, 'r.bin')), Buffer.concat([content.subarray(50_000, 51_000), content.subarray(90_000), content.subarray(0, 10)]));
  });

  it('MAX_DOWNLOAD_SIZE: refused on the first GET\'s answer, before any byte lands (ERROR, no temp file)', async () => {
    const dir = await workDir();
    const root = join(dir, 'root');
    const server = await startReferenceServer({ root });
    await writeFile(join(root, 'big.bin'), randomContent(3 * 1024 * 1024));
    const mgr = await openManager(dir);
    const job = await mgr.createJob('capped', 'DOWNLOAD');
    await job.setProperty('MAX_DOWNLOAD_SIZE', 1024 * 1024);
    await job.addFile(`${server.url}/big.bin`, join(dir, 'big.bin'));
    await job.resume();
    await waitForState(job, 'ERROR');
    expect(await job.getError()).toMatchObject({ code: 'BG_E_MAX_DOWNLOAD_SIZE_LIMIT_REACHED', context: 'REMOTE_FILE' });
    expect(await job.getProgress()).toMatchObject({ bytesTransferred: 0 });
    expect(server.requests.map((r) => r.method)).toEqual(['GET']);
    expect(await tempFilesIn(dir)).toEqual([]);
  });
});
