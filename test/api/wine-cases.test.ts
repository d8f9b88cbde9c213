/**
 * The black-box checks of bits-api.md section (e), ported from Wine's dlls/qmgr/tests (and the
 * candidate expectations after them) to this API. Each test gets a fresh store in a temp dir.
 * Case numbers refer to that section. Cases 18 (HTTP) and 36 (connection refused) need the HTTP
 * download engine and live with its tests.
 *
 * Case 11 (GetNotifyInterface on a new job: S_OK and NULL) has no method to port: bitsd has no
 * SetNotifyInterface, because events (mgr.on / job.on, IPC subscriptions) replace COM callback
 * objects, and like a callback registration they live in the subscribing process and are never
 * persisted. What is ported is what a new job promises about notification: no notification target
 * of its own (NOTIFICATION_CLSID null, no notify command line), and default flags under which a
 * listener hears job:transferred but no job:modification.
 *
 * Case 3 runs twice: two managers in this process, and a real second client process (a fixture
 * run from the compiled tree, dist/test/fixtures/create-job-child.js).
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BackgroundCopyManager, BG_SIZE_UNKNOWN, BitsError, NOTIFY } from '../../src/index.js';
import type { BackgroundCopyJob } from '../../src/index.js';
import { tempDir } from '../helpers/temp.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

let dir: string;
let mgr: BackgroundCopyManager;
let job: BackgroundCopyJob;

beforeEach(async () => {
  dir = await tempDir();
  mgr = await BackgroundCopyManager.open({ dataDir: join(dir, 'data') });
  job = await mgr.createJob('Test', 'DOWNLOAD');
});

afterEach(async () => {
  const state = await job.getState().catch(() => 'GONE');
  if (state !== 'CANCELLED' && state !== 'ACKNOWLEDGED' && state !== 'GONE') await job.cancel();
  await mgr.close();
});

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof BitsError) return err.code;
    throw err;
  }
  throw new Error('expected a BitsError');
}

async function source(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

async function waitTransferred(j: BackgroundCopyJob): Promise<string[]> {
  const seen: string[] = [];
  for await (const ev of j.watch()) seen.push(ev.state);
  return seen;
}

describe('manager (tests/qmgr.c)', () => {
  it('1. createJob returns a job with a brace GUID', () => {
    expect(job.id).toMatch(/^\{[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\}$/);
  });

  it('2/21. enumJobs succeeds, and one more job makes exactly one more entry', async () => {
    const before = (await mgr.enumJobs()).length;
    await mgr.createJob('another', 'DOWNLOAD');
    expect((await mgr.enumJobs()).length).toBe(before + 1);
  });

  it('3. globalness: a job created by another manager on the same store is visible by name', async () => {
    await mgr.close();
    const name = `test_${Date.now()}`;
    const other = await BackgroundCopyManager.open({ dataDir: join(dir, 'data') });
    await other.createJob(name, 'DOWNLOAD');
    await other.close();
    mgr = await BackgroundCopyManager.open({ dataDir: join(dir, 'data') });
    const names = await Promise.all((await mgr.enumJobs()).map((j) => j.getDisplayName()));
    expect(names).toContain(name);
    job = await mgr.getJob(job.id);
  });

  it('3. globalness across processes: a job another client process created (and left) is found by name, unchanged', async () => {
    const name = `test_${Date.now()}`;
    const remote = 'http://h.invalid/from-the-child';
    const local = join(dir, 'from-the-child.out');
    // The child opens the same data directory while this process holds it open too.
    const { stdout } = await run(process.execPath, [join(root, 'dist/test/fixtures/create-job-child.js'), join(dir, 'data'), name, remote, local]);
    const made = JSON.parse(stdout) as { id: string; owner: string; pid: number };
    expect(made.pid).not.toBe(process.pid);

    const byName: BackgroundCopyJob[] = [];
    for (const j of await mgr.enumJobs()) if ((await j.getDisplayName()) === name) byName.push(j);
    expect(byName.map((j) => j.id)).toEqual([made.id]);
    const found = byName[0] as BackgroundCopyJob;
    expect(await found.getType()).toBe('DOWNLOAD');
    expect(await found.getState()).toBe('SUSPENDED');
    expect(await found.getOwner()).toBe(made.owner);
    expect(await found.getDescription()).toBe(`created by pid ${made.pid}`);
    expect(await found.getPriority()).toBe('HIGH');
    expect(await found.getNotifyFlags()).toBe(NOTIFY.JOB_TRANSFERRED | NOTIFY.JOB_ERROR | NOTIFY.JOB_MODIFICATION);
    const files = await found.enumFiles();
    expect(await Promise.all(files.map(async (f) => [await f.getRemoteName(), await f.getLocalName()]))).toEqual([[remote, local]]);
    expect(await found.getProgress()).toEqual({ bytesTotal: BG_SIZE_UNKNOWN, bytesTransferred: 0, filesTotal: 1, filesTransferred: 0 });
    // And a fresh manager (a third client) agrees.
    await mgr.close();
    mgr = await BackgroundCopyManager.open({ dataDir: join(dir, 'data') });
    expect((await mgr.getJob(made.id)).id).toBe(made.id);
    await (await mgr.getJob(made.id)).cancel();
    job = await mgr.getJob(job.id);
  });
});

describe('job basics (tests/job.c)', () => {
  it('4-8. id, type, name, empty progress, SUSPENDED', async () => {
    expect((await mgr.getJob(job.id)).id).toBe(job.id);
    expect(await job.getType()).toBe('DOWNLOAD');
    expect(await job.getDisplayName()).toBe('Test');
    expect(await job.getProgress()).toEqual({ bytesTotal: 0, bytesTransferred: 0, filesTotal: 0, filesTransferred: 0 });
    expect(await job.getState()).toBe('SUSPENDED');
  });

  it('9. resume without files -> BG_E_EMPTY, stays SUSPENDED', async () => {
    expect(await code(job.resume())).toBe('BG_E_EMPTY');
    expect(await job.getState()).toBe('SUSPENDED');
  });

  it('10. default notify flags are TRANSFERRED | ERROR', async () => {
    expect(await job.getNotifyFlags()).toBe(NOTIFY.JOB_TRANSFERRED | NOTIFY.JOB_ERROR);
  });

  it('11 (what ports). a new job has no notification target, and its default flags deliver job:transferred but not job:modification', async () => {
    expect(await job.getProperty('NOTIFICATION_CLSID')).toBeNull();
    expect(await job.getNotifyCmdLine()).toEqual({ program: null, parameters: null });
    const heard: string[] = [];
    job.on('job:transferred', () => heard.push('job:transferred'));
    job.on('job:modification', () => heard.push('job:modification'));
    job.on('file:transferred', () => heard.push('file:transferred'));
    await job.addFile(pathToFileURL(await source('n.src', 'notify')).href, join(dir, 'n.out'));
    await job.resume();
    expect((await waitTransferred(job)).at(-1)).toBe('TRANSFERRED');
    expect(heard).toEqual(['job:transferred']);
    // The flags decide, not the listener: with MODIFICATION set, the same listener hears the next change.
    await job.setNotifyFlags(NOTIFY.JOB_TRANSFERRED | NOTIFY.JOB_MODIFICATION);
    expect(heard).toEqual(['job:transferred', 'job:modification']);
  });

  it('12-14. addFile twice and addFileSet succeed; enumFiles lists them in order (FIFO)', async () => {
    await job.addFile('file:///tmp/a', join(dir, 'a'));
    await job.addFile('file:///tmp/b', join(dir, 'b'));
    await job.addFileSet([
      { remoteName: 'file:///tmp/c', localName: join(dir, 'c') },
      { remoteName: 'file:///tmp/d', localName: join(dir, 'd') },
    ]);
    const files = await job.enumFiles();
    expect(await Promise.all(files.map((f) => f.getRemoteName()))).toEqual(['file:///tmp/a', 'file:///tmp/b', 'file:///tmp/c', 'file:///tmp/d']);
    expect((await job.getProgress()).filesTotal).toBe(4);
  });

  it('15/16. local copy end to end: TRANSFERRED, Complete S_OK, ACKNOWLEDGED, byte-identical', async () => {
    const a = await source('a.src', 'first file\n');
    const b = await source('b.src', 'second file, a bit longer\n');
    await job.addFile(pathToFileURL(a).href, join(dir, 'a.out'));
    await job.addFile(pathToFileURL(b).href, join(dir, 'b.out'));
    await job.resume();
    const seen = await waitTransferred(job);
    for (const s of seen.slice(0, -1)) expect(['QUEUED', 'CONNECTING', 'TRANSFERRING', 'TRANSIENT_ERROR']).toContain(s);
    expect(seen.at(-1)).toBe('TRANSFERRED');
    expect(await job.complete()).toBe('S_OK');
    expect(await job.getState()).toBe('ACKNOWLEDGED');
    expect(await readFile(join(dir, 'a.out'), 'utf8')).toBe('first file\n');
    expect(await readFile(join(dir, 'b.out'), 'utf8')).toBe('second file, a bit longer\n');
  });

  it('17. cancel: CANCELLED, then a second cancel is BG_E_INVALID_STATE', async () => {
    expect(await job.getState()).not.toBe('CANCELLED');
    expect(await job.cancel()).toBe('S_OK');
    expect(await job.getState()).toBe('CANCELLED');
    expect(await code(job.cancel())).toBe('BG_E_INVALID_STATE');
  });

  it('18 (options part). notify flags, custom headers round trip and clear, security flags default 0', async () => {
    await job.setNotifyFlags(0x1 | 0x2 | 0x4 | 0x8 | 0x10);
    expect(await job.getCustomHeaders()).toBeNull();
    await job.setCustomHeaders('Wine: test\r\n');
    expect(await job.getCustomHeaders()).toBe('Wine: test\r\n');
    await job.setCustomHeaders(null);
    expect(await job.getCustomHeaders()).toBeNull();
    expect(await job.getSecurityFlags()).toBe(0);
    await job.setSecurityFlags(0);
  });

  it('18 (lifecycle part). getError after success is BG_E_ERROR_INFORMATION_UNAVAILABLE; second complete refused', async () => {
    await job.addFile(pathToFileURL(await source('s', 'x')).href, join(dir, 'out'));
    await job.resume();
    await waitTransferred(job);
    expect(await code(job.getError())).toBe('BG_E_ERROR_INFORMATION_UNAVAILABLE');
    expect(await job.complete()).toBe('S_OK');
    expect(await job.getState()).toBe('ACKNOWLEDGED');
    expect(await code(job.complete())).toBe('BG_E_INVALID_STATE');
    expect(await code(job.setNotifyFlags(3))).toBe('BG_E_INVALID_STATE');
  });
});

describe('files (tests/file.c)', () => {
  it('19/20. names round trip; a new file has unknown size, nothing transferred, not completed', async () => {
    await job.addFile('file:///tmp/remote', join(dir, 'local'));
    const [file] = await job.enumFiles();
    expect(await file?.getRemoteName()).toBe('file:///tmp/remote');
    expect(await file?.getLocalName()).toBe(join(dir, 'local'));
    expect(await file?.getProgress()).toEqual({ bytesTotal: BG_SIZE_UNKNOWN, bytesTransferred: 0, completed: false });
    expect((await job.getProgress()).bytesTotal).toBe(BG_SIZE_UNKNOWN);
  });

  it('28. a two-file job enumerates two files', async () => {
    await job.addFile('file:///tmp/a', join(dir, 'a'));
    await job.addFile('file:///tmp/b', join(dir, 'b'));
    expect(await job.enumFiles()).toHaveLength(2);
  });
});

describe('candidate expectations (Wine patch-set probe)', () => {
  it('29. getOwner is an owner string; getTimes has creation and modification times', async () => {
    expect(await job.getOwner()).toMatch(/^uid:\d+$/);
    const times = await job.getTimes();
    expect(times.creationTime.getTime()).toBeGreaterThan(0);
    expect(times.modificationTime.getTime()).toBeGreaterThanOrEqual(times.creationTime.getTime());
    expect(times.transferCompletionTime).toBeNull();
  });

  it('30. property round trips; error count 0 on a fresh job', async () => {
    await job.setDisplayName('renamed');
    await job.setPriority('HIGH');
    await job.setMinimumRetryDelay(45);
    await job.setNoProgressTimeout(1234);
    await job.setProxySettings('OVERRIDE', 'proxy.example:8080', '<local>');
    await job.setMaximumDownloadTime(3600);
    expect(await job.getDisplayName()).toBe('renamed');
    expect(await job.getPriority()).toBe('HIGH');
    expect(await job.getMinimumRetryDelay()).toBe(45);
    expect(await job.getNoProgressTimeout()).toBe(1234);
    expect(await job.getProxySettings()).toEqual({ usage: 'OVERRIDE', proxyList: 'proxy.example:8080', bypassList: '<local>' });
    expect(await job.getMaximumDownloadTime()).toBe(3600);
    expect(await job.getErrorCount()).toBe(0);
  });

  it('31. NO_PROXY with a proxy list is E_INVALIDARG', async () => {
    expect(await code(job.setProxySettings('NO_PROXY', 'x:1', null))).toBe('E_INVALIDARG');
  });

  it('32. relative local path and ftp:// remote are E_INVALIDARG (decision: MS docs over the probe)', async () => {
    expect(await code(job.addFile('file:///tmp/a', 'relative/path'))).toBe('E_INVALIDARG');
    expect(await code(job.addFile('ftp://example.com/a', join(dir, 'a')))).toBe('E_INVALIDARG');
  });

  it('33. replaceRemotePrefix rewrites matching remote names; S_FALSE when none match', async () => {
    await job.addFile('http://old.example/a.bin', join(dir, 'a'));
    expect(await job.replaceRemotePrefix('http://old.example', 'https://new.example')).toBe('S_OK');
    expect(await (await job.enumFiles())[0]?.getRemoteName()).toBe('https://new.example/a.bin');
    expect(await job.replaceRemotePrefix('http://nothing', 'http://x')).toBe('S_FALSE');
  });

  it('34. notify command line round trip; completion time set after TRANSFERRED', async () => {
    await job.setNotifyCmdLine('/bin/true', '/bin/true --flag');
    expect(await job.getNotifyCmdLine()).toEqual({ program: '/bin/true', parameters: '/bin/true --flag' });
    await job.addFile(pathToFileURL(await source('s', 'x')).href, join(dir, 'out'));
    await job.resume();
    await waitTransferred(job);
    expect((await job.getTimes()).transferCompletionTime).toBeInstanceOf(Date);
  });

  it('35. suspend after complete is BG_E_INVALID_STATE', async () => {
    await job.complete();
    expect(await code(job.suspend())).toBe('BG_E_INVALID_STATE');
  });
});
