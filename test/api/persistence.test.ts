/**
 * Everything survives close/reopen and a kill -9: jobs, files, settings and byte progress; jobs
 * cut off while CONNECTING/TRANSFERRING go back to QUEUED and resume from the durable offset.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BackgroundCopyManager, FileEngine } from '../../src/index.js';
import { JobStore } from '../../src/store/job-store.js';
import { tempDir } from '../helpers/temp.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

describe('persistence', () => {
  it('close and reopen keep every job, file and setting, without duplicates', async () => {
    const dir = await tempDir();
    const dataDir = join(dir, 'data');
    let mgr = await BackgroundCopyManager.open({ dataDir });
    const a = await mgr.createJob('a', 'DOWNLOAD');
    await a.addFile('http://h.invalid/1', join(dir, '1'));
    await a.addFile('http://h.invalid/2', join(dir, '2'));
    await a.setDescription('described');
    await a.setPriority('LOW');
    await a.setCustomHeaders('X-A: 1\r\n');
    await a.setNotifyFlags(0x1f);
    const b = await mgr.createJob('b', 'UPLOAD');
    await mgr.close();

    mgr = await BackgroundCopyManager.open({ dataDir });
    const jobs = await mgr.enumJobs();
    expect(jobs.map((j) => j.id)).toEqual([a.id, b.id]);
    const again = await mgr.getJob(a.id);
    expect(await again.getDescription()).toBe('described');
    expect(await again.getPriority()).toBe('LOW');
    expect(await again.getCustomHeaders()).toBe('X-A: 1\r\n');
    expect(await again.getNotifyFlags()).toBe(0x1f);
    expect(await Promise.all((await again.enumFiles()).map((f) => f.getRemoteName()))).toEqual(['http://h.invalid/1', 'http://h.invalid/2']);
    expect(await (await mgr.getJob(b.id)).getType()).toBe('UPLOAD');
    await mgr.close();
  });

  it('kill -9 mid-copy: the job is requeued and resumes from its durable offset, result byte-identical', async () => {
    const dir = await tempDir();
    const dataDir = join(dir, 'data');
    const source = join(dir, 'source.bin');
    const destination = join(dir, 'copy.bin');
    const content = randomBytes(48 * 1024 * 1024);
    await writeFile(source, content);

    const child = spawn(process.execPath, [join(root, 'dist/test/fixtures/copy-child.js'), dataDir, source, destination], { stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error('child never reported progress')), 20_000);
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('\n')) {
          clearTimeout(timer);
          resolve(out.trim());
        }
      });
      child.on('exit', (code) => reject(new Error(`child exited early (${code})`)));
    });
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    const [, jobId, reported] = line.split(' ') as [string, string, string];

    // What the crash left on disk: a job caught mid-transfer with a durable offset.
    const store = JobStore.open({ dataDir, now: Date.now() });
    const crashed = store.getJob(jobId);
    const [file] = store.getFiles(jobId);
    store.close();
    expect(crashed?.state).toBe('TRANSFERRING');
    expect(file?.bytesTransferred).toBe(Number(reported));
    expect(file?.bytesTransferred).toBeGreaterThan(0);
    expect(file?.bytesTransferred).toBeLessThan(content.length);
    expect((await stat(file?.tempName as string)).size).toBeGreaterThanOrEqual(file?.bytesTransferred as number);

    const mgr = await BackgroundCopyManager.open({ dataDir, engines: [new FileEngine()] });
    const job = await mgr.getJob(jobId);
    const seen: number[] = [];
    for await (const ev of job.watch()) seen.push(ev.progress.bytesTransferred);
    expect(await job.getState()).toBe('TRANSFERRED');
    // It never went back to zero: resumed at (or after) the durable offset.
    expect(Math.min(...seen)).toBeGreaterThanOrEqual(Number(reported));
    expect(await job.complete()).toBe('S_OK');
    expect(sha256(await readFile(destination))).toBe(sha256(content));
    expect(await mgr.enumJobs()).toHaveLength(0);
    await mgr.close();
  });

  it('a job requeued at open is dispatched again without any call', async () => {
    const dir = await tempDir();
    const dataDir = join(dir, 'data');
    const src = join(dir, 's');
    await writeFile(src, 'abc');
    // Simulate a crash image: a job recorded as TRANSFERRING with no process behind it.
    let mgr = await BackgroundCopyManager.open({ dataDir });
    const job = await mgr.createJob('x', 'DOWNLOAD');
    await job.addFile(pathToFileURL(src).href, join(dir, 'd'));
    await mgr.close();
    const store = JobStore.open({ dataDir, now: Date.now() });
    store.writeTransition(job.id, { state: 'TRANSFERRING', activeSince: Date.now() - 1000 });
    store.close();
    mgr = await BackgroundCopyManager.open({ dataDir });
    const again = await mgr.getJob(job.id);
    for await (const ev of again.watch()) void ev;
    expect(await again.getState()).toBe('TRANSFERRED');
    await mgr.close();
  });
});
