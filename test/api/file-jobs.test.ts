/**
 * file:// jobs end to end: Complete, partial Complete, a failed rename, Cancel deleting temp files
 * (and reporting when it cannot), plus the events and their notify flags.
 */
import { lstat, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BackgroundCopyManager, BitsError, NOTIFY } from '../../src/index.js';
import type { BackgroundCopyJob } from '../../src/index.js';
import { tempDir, waitFor } from '../helpers/temp.js';

let dir: string;
let out: string;
let mgr: BackgroundCopyManager;

beforeEach(async () => {
  dir = await tempDir();
  out = join(dir, 'out');
  await mkdir(out);
  mgr = await BackgroundCopyManager.open({ dataDir: join(dir, 'data') });
});

afterEach(async () => {
  await mgr.close();
});

async function src(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return pathToFileURL(path).href;
}

async function settle(job: BackgroundCopyJob): Promise<string> {
  let state = '';
  for await (const ev of job.watch()) state = ev.state;
  return state;
}

describe('file:// jobs', () => {
  it('files are transferred strictly in order, and getProgress adds them up', async () => {
    const job = await mgr.createJob('ordered', 'DOWNLOAD');
    await job.setNotifyFlags(NOTIFY.FILE_TRANSFERRED | NOTIFY.JOB_TRANSFERRED);
    const order: string[] = [];
    job.on('file:transferred', (e) => order.push(e.localName));
    await job.addFile(await src('1', 'one'), join(out, '1'));
    await job.addFile(await src('2', 'two!'), join(out, '2'));
    await job.addFile(await src('3', 'three'), join(out, '3'));
    await job.resume();
    expect(await settle(job)).toBe('TRANSFERRED');
    expect(order).toEqual([join(out, '1'), join(out, '2'), join(out, '3')]);
    expect(await job.getProgress()).toEqual({ bytesTotal: 12, bytesTransferred: 12, filesTotal: 3, filesTransferred: 3 });
    // Downloads become "completed" only once Complete makes them visible.
    expect((await (await job.enumFiles())[0]?.getProgress())?.completed).toBe(false);
    expect(await readdir(out)).toHaveLength(3); // only BIT*.tmp files so far
    expect((await readdir(out)).every((n) => /^BIT[0-9A-F]{8}\.tmp$/.test(n))).toBe(true);
    await job.complete();
    expect(await readdir(out)).toEqual(['1', '2', '3']);
  });

  it('partial Complete keeps the finished files, drops the rest: BG_S_PARTIAL_COMPLETE', async () => {
    const job = await mgr.createJob('partial', 'DOWNLOAD');
    await job.addFile(await src('ok', 'fine'), join(out, 'ok'));
    await job.addFile(pathToFileURL(join(dir, 'missing')).href, join(out, 'missing'));
    await job.resume();
    expect(await settle(job)).toBe('ERROR');
    const error = await job.getError();
    expect(error).toMatchObject({ code: 'ERROR_FILE_NOT_FOUND', context: 'REMOTE_FILE', file: { localName: join(out, 'missing') }, protocol: 'file' });
    expect(await job.getErrorCount()).toBe(1);
    expect(await job.complete()).toBe('BG_S_PARTIAL_COMPLETE');
    expect(await readdir(out)).toEqual(['ok']);
    expect(await readFile(join(out, 'ok'), 'utf8')).toBe('fine');
  });

  it('a failed rename leaves the job TRANSFERRED; Complete can be called again', async () => {
    const job = await mgr.createJob('rename', 'DOWNLOAD');
    await job.addFile(await src('a', 'aaa'), join(out, 'target'));
    await job.resume();
    expect(await settle(job)).toBe('TRANSFERRED');
    await mkdir(join(out, 'target', 'blocker'), { recursive: true }); // a non-empty directory in the way
    await expect(job.complete()).rejects.toMatchObject({ context: 'LOCAL_FILE' });
    expect(await job.getState()).toBe('TRANSFERRED');
    await (await import('node:fs/promises')).rm(join(out, 'target'), { recursive: true });
    expect(await job.complete()).toBe('S_OK');
    expect(await readFile(join(out, 'target'), 'utf8')).toBe('aaa');
  });

  it('Cancel deletes finished and partial temp files and never creates the destination', async () => {
    const job = await mgr.createJob('cancel', 'DOWNLOAD');
    await job.addFile(await src('a', 'aaa'), join(out, 'a'));
    await job.addFile(pathToFileURL(join(dir, 'missing')).href, join(out, 'b'));
    await job.resume();
    expect(await settle(job)).toBe('ERROR');
    expect(await readdir(out)).toHaveLength(1); // the first file's temp file
    expect(await job.cancel()).toBe('S_OK');
    expect(await readdir(out)).toEqual([]);
  });

  it('Cancel reports BG_S_UNABLE_TO_DELETE_FILES when a temp file cannot be deleted, and still cancels', async () => {
    const job = await mgr.createJob('stuck', 'DOWNLOAD');
    await job.addFile(await src('a', 'aaa'), join(out, 'a'));
    await job.resume();
    await settle(job);
    const [file] = await job.enumFiles();
    const temp = (await file?.getTemporaryName()) as string;
    const fs = await import('node:fs/promises');
    await fs.rm(temp);
    await fs.mkdir(join(temp, 'x'), { recursive: true }); // unlink(2) cannot remove a directory
    expect(await job.cancel()).toBe('BG_S_UNABLE_TO_DELETE_FILES');
    expect(await job.getState()).toBe('CANCELLED');
  });

  it('files added to a TRANSFERRED job are transferred after Resume', async () => {
    const job = await mgr.createJob('more', 'DOWNLOAD');
    await job.addFile(await src('a', 'a'), join(out, 'a'));
    await job.resume();
    expect(await settle(job)).toBe('TRANSFERRED');
    await job.addFile(await src('b', 'bb'), join(out, 'b'));
    expect(await job.getState()).toBe('TRANSFERRED');
    await job.resume();
    expect(await settle(job)).toBe('TRANSFERRED');
    expect((await job.getProgress()).filesTransferred).toBe(2);
  });

  it('a symlink planted at the temp name before the job starts: ERROR BG_E_LOCAL_FILE_CHANGED (LOCAL_FILE), the file it points at is unchanged', async () => {
    const victim = join(dir, 'victim.dat');
    const bytes = Buffer.alloc(39_000, 0x7e);
    await writeFile(victim, bytes);
    const job = await mgr.createJob('planted', 'DOWNLOAD');
    await job.addFile(await src('a', 'x'.repeat(100_000)), join(out, 'a'));
    const temp = (await (await job.enumFiles())[0]?.getTemporaryName()) as string;
    await symlink(victim, temp);
    await job.resume();
    expect(await settle(job)).toBe('ERROR');
    const error = await job.getError();
    expect(error).toMatchObject({ code: 'BG_E_LOCAL_FILE_CHANGED', context: 'LOCAL_FILE', file: { localName: join(out, 'a') } });
    expect(error.message).toContain(temp);
    expect((await readFile(victim)).equals(bytes)).toBe(true);
    expect((await lstat(temp)).isSymbolicLink()).toBe(true);
  });

  it('a source that changes between attempts restarts that file only', async () => {
    const job = await mgr.createJob('changed', 'DOWNLOAD');
    const a = await src('a', 'first');
    await job.addFile(a, join(out, 'a'));
    await job.addFile(pathToFileURL(join(dir, 'late')).href, join(out, 'late'));
    await job.resume();
    expect(await settle(job)).toBe('ERROR');
    await writeFile(join(dir, 'late'), 'now here');
    await job.resume();
    expect(await settle(job)).toBe('TRANSFERRED');
    await job.complete();
    expect(await readFile(join(out, 'late'), 'utf8')).toBe('now here');
    expect(await readFile(join(out, 'a'), 'utf8')).toBe('first');
  });
});

describe('events and notify flags', () => {
  it('default flags: job:transferred, no job:modification; a throwing listener breaks nothing', async () => {
    const seen: string[] = [];
    mgr.on('job:transferred', () => {
      throw new Error('listener bug');
    });
    mgr.on('job:transferred', (e) => seen.push(`transferred ${e.displayName}`));
    mgr.on('job:modification', () => seen.push('modification'));
    const job = await mgr.createJob('ev', 'DOWNLOAD');
    await job.addFile(await src('a', 'a'), join(out, 'a'));
    await job.resume();
    await settle(job);
    expect(seen).toEqual(['transferred ev']);
    expect(await job.complete()).toBe('S_OK');
  });

  it('MODIFICATION flag raises job:modification; DISABLE silences everything; ERROR raises job:error', async () => {
    const seen: string[] = [];
    mgr.on('job:modification', (e) => seen.push(`mod ${e.state}`));
    mgr.on('job:error', (e) => seen.push(`error ${e.error.code}`));
    const job = await mgr.createJob('ev', 'DOWNLOAD');
    await job.setNotifyFlags(NOTIFY.JOB_MODIFICATION | NOTIFY.JOB_ERROR);
    seen.length = 0; // setting the flags is itself a modification
    await job.setDescription('x');
    expect(seen).toEqual(['mod SUSPENDED']);
    await job.addFile(pathToFileURL(join(dir, 'missing')).href, join(out, 'm'));
    await job.resume();
    await settle(job);
    expect(seen.at(-1)).toBe('error ERROR_FILE_NOT_FOUND');
    expect(seen.filter((s) => s.startsWith('mod'))).not.toContain('mod ERROR');
    seen.length = 0;
    await job.setNotifyFlags(NOTIFY.DISABLE | NOTIFY.JOB_MODIFICATION);
    await job.setDescription('y');
    expect(seen).toEqual([]);
  });

  it('watch() ends when its signal aborts', async () => {
    const job = await mgr.createJob('w', 'DOWNLOAD');
    await job.addFile('http://unreachable.invalid/x', join(out, 'x'));
    const controller = new AbortController();
    const events: string[] = [];
    const iterate = (async () => {
      for await (const ev of job.watch({ signal: controller.signal })) events.push(ev.state);
    })();
    controller.abort();
    await iterate;
    expect(events).toEqual(['SUSPENDED']);
    await expect(job.watch({ signal: controller.signal }).next()).rejects.toBeDefined();
    expect(job).toBeDefined();
    expect(BitsError).toBeDefined();
  });
});

describe('notify command line', () => {
  it('runs the program (no shell) when the job is TRANSFERRED, and again after the retry delay while it fails', async () => {
    const marker = join(dir, 'ran.txt');
    const job = await mgr.createJob('cmd', 'DOWNLOAD');
    // The script fails the first time (no marker yet) and succeeds the second time.
    const script = `echo run >> ${marker}; test $(wc -l < ${marker}) -ge 2`;
    await job.setNotifyCmdLine('/bin/sh', `/bin/sh -c "${script}"`);
    await job.setMinimumRetryDelay(5);
    const results: Array<number | null> = [];
    mgr.queue.events.on('notify-command', (r) => results.push(r.exitCode));
    await job.addFile(await src('a', 'a'), join(out, 'a'));
    await job.resume();
    expect(await settle(job)).toBe('TRANSFERRED');
    await waitFor(() => results.length >= 2, 15_000, 'the command to run twice');
    expect(results).toEqual([1, 0]);
    expect((await readFile(marker, 'utf8')).trim().split('\n')).toHaveLength(2);
  });

  it('a program that cannot start is reported, not fatal', async () => {
    const job = await mgr.createJob('cmd', 'DOWNLOAD');
    await job.setNotifyCmdLine(join(dir, 'no-such-program'), null);
    const results: Array<string | null> = [];
    mgr.queue.events.on('notify-command', (r) => results.push(r.error));
    await job.addFile(await src('a', 'a'), join(out, 'a'));
    await job.resume();
    expect(await settle(job)).toBe('TRANSFERRED');
    await waitFor(() => results.length >= 1, 5000, 'the failure report');
    expect(results[0]).toMatch(/ENOENT/);
    expect(await job.complete()).toBe('S_OK');
  });
});
