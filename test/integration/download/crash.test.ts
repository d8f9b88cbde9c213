/**
 * kill -9 in the middle of an HTTP download: a child process (test/fixtures/download-child.ts,
 * compiled to dist/ by `tsc -p tsconfig.json`) downloads from a server this test runs, which sends
 * part of the body and then holds the response, so the kill always lands mid-body. The test then
 * opens the same data directory itself: the job resumes with a ranged GET from the durable offset
 * and the result is byte-identical.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { JobStore } from '../../../src/store/job-store.js';
import { expectSameBytes, openManager, randomContent, startFileServer, tempFilesIn, waitForState, workDir } from './helpers.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const childScript = join(root, 'dist/test/fixtures/download-child.js');

describe('kill -9 mid-download', () => {
  it('the reopened queue resumes the GET at the durable offset; the result is byte-identical', async () => {
    if (!existsSync(childScript)) throw new Error(`${childScript} is missing: build with "npx tsc -p tsconfig.json" first`);
    const dir = await workDir();
    const dataDir = join(dir, 'data');
    const destination = join(dir, 'big.bin');
    const server = await startFileServer();
    const content = server.put('/big.bin', randomContent(2_000_000));
    server.holdNext('/big.bin', 600_000);

    const child = spawn(process.execPath, [childScript, dataDir, `${server.url}/big.bin`, destination], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let line: string;
    try {
      line = await new Promise<string>((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => reject(new Error('the child never reported progress')), 20_000);
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes('\n')) {
            clearTimeout(timer);
            resolve(out.trim());
          }
        });
        child.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`the child exited early (${code})`));
        });
      });
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    const [, jobId, reported] = line.split(' ') as [string, string, string];

    // The crash image: a job caught TRANSFERRING, with a durable offset inside the file.
    const store = JobStore.open({ dataDir, now: Date.now() });
    const crashed = store.getJob(jobId);
    const [file] = store.getFiles(jobId);
    store.close();
    expect(crashed?.state).toBe('TRANSFERRING');
    const durable = file?.bytesTransferred ?? 0;
    expect(durable).toBeGreaterThanOrEqual(Number(reported));
    expect(durable).toBeGreaterThan(0);
    expect(durable).toBeLessThanOrEqual(600_000);
    expect((await stat(file?.tempName as string)).size).toBeGreaterThanOrEqual(durable);
    expect(server.log('GET', '/big.bin').map((r) => r.headers.range)).toEqual(['bytes=0-']);

    const before = server.requests.length;
    const mgr = await openManager(dir);
    const job = await mgr.getJob(jobId);
    await waitForState(job, 'TRANSFERRED');
    // One GET from the durable offset, with If-Range naming the version the stored bytes came from.
    const resumed = server.requests.slice(before).map((r) => `${r.method} ${r.headers.range ?? ''} ${String(r.headers['if-range'])}`);
    expect(resumed).toEqual([`GET bytes=${durable}- ${server.files.get('/big.bin')?.etag}`]);
    expect(await job.complete()).toBe('S_OK');
    expectSameBytes(await readFile(destination), content);
    expect(await tempFilesIn(dir)).toEqual([]);
  });
});
