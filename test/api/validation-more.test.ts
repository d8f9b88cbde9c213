/**
 * The validation refusals validation.test.ts does not reach: each asserts the documented HRESULT,
 * a message that says what to fix, and that the failed call persisted nothing (values read back,
 * and the store reopened).
 */
import { execFile } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BackgroundCopyManager, BitsError, FakeClock, HRESULTS, JOB_PROPERTIES } from '../../src/index.js';
import type { BackgroundCopyFile, BackgroundCopyJob, JobPropertyName, PropertyValue } from '../../src/index.js';
import type { AccessProbeResult } from '../helpers/access-probe.js';
import { spawnUnprivileged } from '../helpers/unprivileged.js';
import { ScriptedEngine } from '../helpers/scripted-engine.js';
import { tempDir } from '../helpers/temp.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

let dir: string;
let dataDir: string;
let clock: FakeClock;
let engine: ScriptedEngine;
let mgr: BackgroundCopyManager;

async function open(): Promise<BackgroundCopyManager> {
  return BackgroundCopyManager.open({ dataDir, clock, engines: [engine] });
}

/** Closes and reopens the manager (a new process would see the same): the job as stored. */
async function reopened(job: BackgroundCopyJob): Promise<BackgroundCopyJob> {
  await mgr.close();
  mgr = await open();
  return mgr.getJob(job.id);
}

beforeEach(async () => {
  dir = await tempDir();
  dataDir = join(dir, 'data');
  clock = new FakeClock();
  engine = new ScriptedEngine('http:');
  mgr = await open();
});

afterEach(async () => {
  await mgr.close();
});

async function fails(p: Promise<unknown>, code: string, message: RegExp): Promise<BitsError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(BitsError);
    const e = err as BitsError;
    expect(e.code).toBe(code);
    expect(e.hresult).toBe(HRESULTS[code as keyof typeof HRESULTS].value);
    expect(e.message).toMatch(message);
    return e;
  }
  throw new Error(`expected ${code}`);
}

async function remoteNames(job: BackgroundCopyJob): Promise<string[]> {
  return Promise.all((await job.enumFiles()).map((f) => f.getRemoteName()));
}

describe('addFile: a download directory the caller cannot write to is E_ACCESSDENIED', () => {
  function checkProbe(result: AccessProbeResult, locked: string, writable: string): void {
    expect(result.error?.code).toBe('E_ACCESSDENIED');
    expect(result.error?.hresult).toBe(0x80070005);
    expect(result.error?.message).toContain(locked);
    expect(result.error?.message).toMatch(/cannot write/i);
    // The failed call changed nothing (not even the modification time); the next call worked.
    expect(result.filesAfterFailure).toBe(0);
    expect(result.modifiedAfterFailure).toBe(result.modifiedBefore);
    expect(result.localNamesAtEnd).toEqual([join(writable, 'out')]);
  }

  it('checked in a child process for which permission bits apply (as root: without CAP_DAC_OVERRIDE)', async () => {
    const base = await tempDir();
    const locked = join(base, 'locked');
    const writable = join(base, 'open');
    const probeData = join(base, 'data');
    await mkdir(locked);
    await mkdir(writable);
    await chmod(locked, 0o555);
    let result: AccessProbeResult;
    try {
      const child = spawnUnprivileged(join(root, 'dist/test/fixtures/access-denied-child.js'), [probeData, locked, writable]);
      child.stdin.end();
      let out = '';
      let err = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code, err).toBe(0);
      result = JSON.parse(out) as AccessProbeResult;
    } finally {
      await chmod(locked, 0o755);
    }
    checkProbe(result, locked, writable);
    // And on disk: the store holds the one file that was accepted.
    const again = await BackgroundCopyManager.open({ dataDir: probeData, engines: [] });
    try {
      const job = await again.getJob(result.jobId);
      expect(await Promise.all((await job.enumFiles()).map((f) => f.getLocalName()))).toEqual([join(writable, 'out')]);
    } finally {
      await again.close();
    }
  });
});

describe('setHttpMethod after the first resume', () => {
  it('is BG_E_READ_ONLY_PROPERTY_AFTER_RESUME and leaves the method and the priority alone', async () => {
    const job = await mgr.createJob('verb', 'DOWNLOAD');
    await job.addFile('http://h.invalid/a', join(dir, 'a'));
    await job.resume();
    await engine.waitForAttempts(1);
    await job.suspend();
    await fails(job.setHttpMethod('POST'), 'BG_E_READ_ONLY_PROPERTY_AFTER_RESUME', /only before the job is first resumed/);
    // The default verb is a no-op, so it is still accepted.
    await job.setHttpMethod('GET');
    expect(await job.getHttpMethod()).toBe('GET');
    expect(await job.getPriority()).toBe('NORMAL'); // the refused call would have forced FOREGROUND
    const again = await reopened(job);
    expect(await again.getHttpMethod()).toBe('GET');
    expect(await again.getPriority()).toBe('NORMAL');
  });
});

describe('setReplyFileName once the reply download has started', () => {
  it('is BG_E_INVALID_STATE; before that (even mid-upload) it is accepted', async () => {
    const source = join(dir, 'upload.bin');
    await writeFile(source, 'payload');
    await mkdir(join(dir, 'replies'));
    const job = await mgr.createJob('reply', 'UPLOAD_REPLY');
    await job.addFile('http://h.invalid/upload', source);
    await job.resume();
    const attempt = await engine.waitForAttempts(1);
    attempt.progress(7, 7);
    // The upload is running, the reply has not started: the name may still change.
    await job.setReplyFileName(join(dir, 'replies', 'first'));
    attempt.ctx.sink.replyProgress({ url: 'http://h.invalid/reply/1', tempName: join(dir, 'replies', 'BITREPLY.tmp'), bytesTotal: 100, bytesTransferred: 10, syncedBytes: 10, tempIdentity: null });
    expect(await job.getReplyProgress()).toEqual({ bytesTotal: 100, bytesTransferred: 10 });
    await fails(job.setReplyFileName(join(dir, 'replies', 'second')), 'BG_E_INVALID_STATE', /reply download has started/);
    await fails(job.setReplyFileName(null), 'BG_E_INVALID_STATE', /reply download has started/);
    expect(await job.getReplyFileName()).toBe(join(dir, 'replies', 'first'));
    await job.suspend();
    expect(await (await reopened(job)).getReplyFileName()).toBe(join(dir, 'replies', 'first'));
  });
});

describe('remote-name changes', () => {
  it('replaceRemotePrefix and file.setRemoteName are E_NOTIMPL on upload jobs', async () => {
    const source = join(dir, 'up.bin');
    await writeFile(source, 'x');
    for (const type of ['UPLOAD', 'UPLOAD_REPLY'] as const) {
      const job = await mgr.createJob(type, type);
      await job.addFile('http://h.invalid/up', source);
      await fails(job.replaceRemotePrefix('http://h.invalid', 'http://other.invalid'), 'E_NOTIMPL', /download jobs only/);
      const file = (await job.enumFiles())[0] as BackgroundCopyFile;
      await fails(file.setRemoteName('http://other.invalid/up'), 'E_NOTIMPL', /download jobs only/);
      expect(await remoteNames(job)).toEqual(['http://h.invalid/up']);
      expect(await remoteNames(await reopened(job))).toEqual(['http://h.invalid/up']);
    }
  });

  it('replaceRemotePrefix: an empty prefix is E_INVALIDARG; a result that is no valid URL changes no file', async () => {
    const job = await mgr.createJob('prefix', 'DOWNLOAD');
    await job.addFile('http://old.invalid/a', join(dir, 'a'));
    await job.addFile('http://old.invalid/b', join(dir, 'b'));
    await fails(job.replaceRemotePrefix('', 'http://new.invalid'), 'E_INVALIDARG', /non-empty/);
    await fails(job.replaceRemotePrefix('http://old.invalid', ''), 'E_INVALIDARG', /non-empty/);
    await fails(job.replaceRemotePrefix('http://old.invalid', 'ftp://new.invalid'), 'E_INVALIDARG', /unsupported protocol ftp/);
    expect(await remoteNames(await reopened(job))).toEqual(['http://old.invalid/a', 'http://old.invalid/b']);
  });
});

describe('addFileWithRanges on a DYNAMIC_CONTENT job', () => {
  it('is E_INVALIDARG and adds nothing', async () => {
    const job = await mgr.createJob('dynamic', 'DOWNLOAD');
    await job.setProperty('DYNAMIC_CONTENT', true);
    await fails(job.addFileWithRanges('http://h.invalid/r', join(dir, 'r'), [{ initialOffset: 0, length: 10 }]), 'E_INVALIDARG', /DYNAMIC_CONTENT.*byte ranges/);
    expect(await job.enumFiles()).toHaveLength(0);
    const again = await reopened(job);
    expect(await again.enumFiles()).toHaveLength(0);
    expect(await again.getProperty('DYNAMIC_CONTENT')).toBe(true);
  });
});

describe('upload sources that are not regular files', () => {
  it('a directory and a FIFO are E_INVALIDARG naming the path', async () => {
    const fifo = join(dir, 'pipe');
    await run('mkfifo', [fifo]);
    const sub = join(dir, 'a-directory');
    await mkdir(sub);
    const job = await mgr.createJob('up', 'UPLOAD');
    for (const source of [sub, fifo]) {
      const e = await fails(job.addFile('http://h.invalid/up', source), 'E_INVALIDARG', /is not a regular file/);
      expect(e.message).toContain(source);
    }
    expect(await (await reopened(job)).enumFiles()).toHaveLength(0);
  });
});

describe('names and paths', () => {
  it.each([
    ['http:///file', /has no host; write it as http:\/\/host\/path/],
    ['https:///file', /has no host; write it as https:\/\/host\/path/],
    ['http:host/file', /has no host/],
    ['http:/host/file', /has no host/],
    ['http://', /not an absolute URL/],
  ])('a remote name with no host (%j) is E_INVALIDARG', async (remote, message) => {
    const job = await mgr.createJob('nohost', 'DOWNLOAD');
    await fails(job.addFile(remote, join(dir, 'out')), 'E_INVALIDARG', message);
    expect(await job.enumFiles()).toHaveLength(0);
  });

  it('local paths are limited to 4,095 bytes (PATH_MAX counts the NUL): the longest accepted one is usable', async () => {
    // A real directory tree deep enough for a path of exactly 4,095 bytes.
    let deep = dir;
    while (deep.length < 4095 - 210) deep = join(deep, 'd'.repeat(200));
    await mkdir(deep, { recursive: true });
    const longest = join(deep, 'f'.repeat(4095 - deep.length - 1));
    expect(longest).toHaveLength(4095);
    const job = await mgr.createJob('paths', 'DOWNLOAD');
    await fails(job.addFile('http://h.invalid/a', `${longest}x`), 'E_INVALIDARG', /4096 bytes long; Linux paths are limited to 4095 bytes/);
    // Characters are not bytes: 1,400 three-byte characters are 4,200 bytes.
    await fails(job.addFile('http://h.invalid/a', `/${'€'.repeat(1400)}`), 'E_INVALIDARG', /4201 bytes long/);
    expect(await job.enumFiles()).toHaveLength(0);
    await job.addFile('http://h.invalid/a', longest);
    await writeFile(longest, 'the kernel takes it'); // what the limit promises
    expect(await Promise.all((await (await reopened(job)).enumFiles()).map((f) => f.getLocalName()))).toEqual([longest]);
  });

  it('the notify program is limited to 4,095 bytes too (BG_E_STRING_TOO_LONG) and nothing changes', async () => {
    const job = await mgr.createJob('notify', 'DOWNLOAD');
    await job.setNotifyCmdLine('/bin/true', 'kept');
    await fails(job.setNotifyCmdLine(`/${'p'.repeat(4095)}`, null), 'BG_E_STRING_TOO_LONG', /4096 bytes long; the limit is 4095/);
    await fails(job.setNotifyCmdLine(`/${'é'.repeat(2048)}`, null), 'BG_E_STRING_TOO_LONG', /4097 bytes long/);
    // At the limit the length is fine; what is checked next is that the path is absolute.
    await fails(job.setNotifyCmdLine('p'.repeat(4095), null), 'E_INVALIDARG', /relative; give an absolute path/);
    expect(await (await reopened(job)).getNotifyCmdLine()).toEqual({ program: '/bin/true', parameters: 'kept' });
  });
});

describe('Job5 property values', () => {
  const defaults = async (job: BackgroundCopyJob): Promise<Record<string, PropertyValue>> => {
    const out: Record<string, PropertyValue> = {};
    for (const name of Object.keys(JOB_PROPERTIES) as JobPropertyName[]) out[name] = await job.getProperty(name);
    return out;
  };

  it.each([
    ['COST_FLAGS', 'cheap', /32-bit unsigned integer/],
    ['COST_FLAGS', -1, /32-bit unsigned integer/],
    ['COST_FLAGS', 1.5, /32-bit unsigned integer/],
    ['COST_FLAGS', 2 ** 32, /32-bit unsigned integer/],
    ['MINIMUM_NOTIFICATION_INTERVAL_MS', true, /32-bit unsigned integer/],
    ['MINIMUM_NOTIFICATION_INTERVAL_MS', null, /32-bit unsigned integer/],
    ['MAX_DOWNLOAD_SIZE', -5, /positive byte count/],
    ['MAX_DOWNLOAD_SIZE', 2.5, /positive byte count/],
    ['MAX_DOWNLOAD_SIZE', '100', /positive byte count/],
    ['DYNAMIC_CONTENT', 1, /true or false/],
    ['HIGH_PERFORMANCE', 'yes', /true or false/],
    ['ON_DEMAND_MODE', 0, /true or false/],
    ['USE_STORED_CREDENTIALS', 'BOTH', /"PROXY" or null/],
    ['NOTIFICATION_CLSID', 'not-a-guid', /GUID string/],
    ['NOTIFICATION_CLSID', '{12345678-1234-1234-1234-1234567890AB', /GUID string/],
    ['NOTIFICATION_CLSID', '12345678-1234-1234-1234-1234567890AB}', /GUID string/],
    ['NOTIFICATION_CLSID', '{12345678-1234-1234-1234-1234567890ABC}', /GUID string/],
    ['NOTIFICATION_CLSID', 42, /GUID string/],
  ] as const)('%s = %j is E_INVALIDARG and changes nothing', async (name, value, message) => {
    const job = await mgr.createJob('props', 'DOWNLOAD');
    const before = await defaults(job);
    await fails(job.setProperty(name, value as PropertyValue), 'E_INVALIDARG', message);
    expect(await defaults(job)).toEqual(before);
    expect(await defaults(await reopened(job))).toEqual(before);
  });

  it('well-formed CLSIDs are accepted with both braces or none; GUID_NULL clears', async () => {
    const job = await mgr.createJob('clsid', 'DOWNLOAD');
    await job.setProperty('NOTIFICATION_CLSID', '{12345678-1234-1234-1234-1234567890AB}');
    expect(await job.getProperty('NOTIFICATION_CLSID')).toBe('{12345678-1234-1234-1234-1234567890AB}');
    await job.setProperty('NOTIFICATION_CLSID', '12345678-1234-1234-1234-1234567890ab');
    expect(await job.getProperty('NOTIFICATION_CLSID')).toBe('12345678-1234-1234-1234-1234567890ab');
    await job.setProperty('NOTIFICATION_CLSID', '{00000000-0000-0000-0000-000000000000}');
    expect(await job.getProperty('NOTIFICATION_CLSID')).toBeNull();
  });
});

describe('combinations that would silently drop byte ranges are refused, in either order', () => {
  it('DYNAMIC_CONTENT on a job with ranged files: E_INVALIDARG, nothing changed', async () => {
    const job = await mgr.createJob('ranged', 'DOWNLOAD');
    await job.addFileWithRanges('http://h/a', join(dir, 'a'), [{ initialOffset: 0, length: 10 }]);
    await fails(job.setProperty('DYNAMIC_CONTENT', true), 'E_INVALIDARG', /byte-range files.*downloaded whole/);
    expect(await (await reopened(job)).getProperty('DYNAMIC_CONTENT')).toBe(false);
  });

  it('a custom HTTP method on a job with ranged files, and ranges on a custom-method job: BG_E_NOT_SUPPORTED_WITH_CUSTOM_HTTP_METHOD', async () => {
    const ranged = await mgr.createJob('ranged', 'DOWNLOAD');
    await ranged.addFileWithRanges('http://h/a', join(dir, 'a'), [{ initialOffset: 0, length: 10 }]);
    await fails(ranged.setHttpMethod('POST'), 'BG_E_NOT_SUPPORTED_WITH_CUSTOM_HTTP_METHOD', /byte-range files/);
    const post = await mgr.createJob('post', 'DOWNLOAD');
    await post.setHttpMethod('POST');
    await fails(post.addFileWithRanges('http://h/b', join(dir, 'b'), [{ initialOffset: 0, length: 10 }]), 'BG_E_NOT_SUPPORTED_WITH_CUSTOM_HTTP_METHOD', /POST cannot download byte ranges/);
    expect(await (await reopened(ranged)).getHttpMethod()).toBe('GET');
    expect(await (await mgr.getJob(post.id)).enumFiles()).toHaveLength(0);
  });
});

describe('paths Linux cannot hold are refused at AddFile, not at transfer time', () => {
  it('a path component over 255 bytes (NAME_MAX)', async () => {
    const job = await mgr.createJob('long', 'DOWNLOAD');
    await fails(job.addFile('http://h/a', join(dir, 'x'.repeat(256))), 'E_INVALIDARG', /component of 256 bytes.*255 bytes/);
    expect(await job.enumFiles()).toHaveLength(0);
  });

  it('a directory so deep that the temp file BITxxxxxxxx.tmp beside the file would not fit', async () => {
    const job = await mgr.createJob('deep', 'DOWNLOAD');
    // Build a real directory whose path leaves room for the file name but not for the temp name.
    // 4,085 bytes: "/f" fits (4,087), "/BITxxxxxxxx.tmp" (4,101) does not.
    let deep = dir;
    while (Buffer.byteLength(deep) < 4085) deep = join(deep, 'd'.repeat(Math.min(200, 4085 - Buffer.byteLength(deep) - 1)));
    expect(Buffer.byteLength(deep)).toBe(4085);
    await mkdir(deep, { recursive: true });
    const local = join(deep, 'f');
    expect(Buffer.byteLength(local)).toBeLessThanOrEqual(4095);
    await fails(job.addFile('http://h/a', local), 'E_INVALIDARG', /too deep for the download's temp file/);
    expect(await job.enumFiles()).toHaveLength(0);
  });
});

describe('a job object outlives its manager', () => {
  it('calls after close() are BG_E_INVALID_STATE with a message, not a raw database error', async () => {
    const job = await mgr.createJob('orphan', 'DOWNLOAD');
    const files = await job.enumFiles();
    expect(files).toHaveLength(0);
    await job.addFile('http://h/a', join(dir, 'a'));
    const [file] = await job.enumFiles();
    await mgr.close();
    for (const call of [job.getState(), job.getProgress(), job.setDescription('x'), job.resume(), job.enumFiles(), file!.getRemoteName(), file!.setRemoteName('http://h/b')]) {
      await fails(call, 'BG_E_INVALID_STATE', /manager is closed/);
    }
    mgr = await open();
    expect(await (await mgr.getJob(job.id)).getDescription()).toBe('');
  });
});
