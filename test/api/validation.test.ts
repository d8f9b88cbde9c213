/**
 * Every validation error of the job API: the documented HRESULT, a message that says what to fix,
 * and nothing persisted by the failed call (checked through a reopen of the store).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BackgroundCopyManager, BitsError, BG_LENGTH_TO_EOF } from '../../src/index.js';
import type { BackgroundCopyJob } from '../../src/index.js';
import { tempDir } from '../helpers/temp.js';

let dir: string;
let mgr: BackgroundCopyManager;
let job: BackgroundCopyJob;

beforeEach(async () => {
  dir = await tempDir();
  mgr = await BackgroundCopyManager.open({ dataDir: join(dir, 'data'), quotas: { jobsPerUser: 5, jobsPerMachine: 8, filesPerJob: 3, rangesPerFile: 4 } });
  job = await mgr.createJob('v', 'DOWNLOAD');
});

afterEach(async () => {
  await mgr.close();
});

async function fails(p: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(BitsError);
    expect((err as BitsError).code).toBe(code);
    if (message) expect((err as BitsError).message).toMatch(message);
    return;
  }
  throw new Error(`expected ${code}`);
}

describe('createJob', () => {
  it('rejects a name over 256 characters and an unknown type with E_INVALIDARG', async () => {
    await fails(mgr.createJob('x'.repeat(257), 'DOWNLOAD'), 'E_INVALIDARG', /257 characters.*256/);
    await fails(mgr.createJob('x', 'FTP' as never), 'E_INVALIDARG', /DOWNLOAD, UPLOAD, UPLOAD_REPLY/);
    expect(await mgr.enumJobs()).toHaveLength(1);
  });

  it('enforces the per-user and per-machine quotas', async () => {
    for (let i = 0; i < 4; i++) await mgr.createJob(`j${i}`, 'DOWNLOAD');
    await fails(mgr.createJob('over', 'DOWNLOAD'), 'BG_E_TOO_MANY_JOBS_PER_USER', /limit per user is 5/);
    await mgr.close();
    mgr = await BackgroundCopyManager.open({ dataDir: join(dir, 'data'), owner: 'uid:other', quotas: { jobsPerUser: 60, jobsPerMachine: 8 } });
    for (let i = 0; i < 3; i++) await mgr.createJob(`o${i}`, 'DOWNLOAD');
    await fails(mgr.createJob('over', 'DOWNLOAD'), 'BG_E_TOO_MANY_JOBS_PER_MACHINE', /limit is 8/);
    // Final jobs stop counting.
    await (await mgr.enumJobs())[0]?.cancel();
    await mgr.createJob('fits again', 'DOWNLOAD');
    job = (await mgr.enumJobs({ allUsers: true }))[0] as BackgroundCopyJob;
  });

  it('getJob: malformed id E_INVALIDARG, unknown BG_E_NOT_FOUND', async () => {
    await fails(mgr.getJob('nope'), 'E_INVALIDARG');
    await fails(mgr.getJob('{00000000-0000-0000-0000-000000000000}'), 'BG_E_NOT_FOUND');
    expect((await mgr.getJob(job.id.slice(1, -1).toLowerCase())).id).toBe(job.id);
  });
});

describe('addFile', () => {
  it.each([
    ['not a url', 'E_INVALIDARG', /not an absolute URL/],
    ['ftp://host/x', 'E_INVALIDARG', /unsupported protocol ftp/],
    [`http://h/${'a'.repeat(2200)}`, 'E_INVALIDARG', /limit is 2200/],
    ['http://h/a\nb', 'E_INVALIDARG', /control characters/],
    ['file:///tmp/*.log', 'E_INVALIDARG', /wildcards/],
    ['http://me:secret@h/x', 'E_INVALIDARG', /use setCredentials/],
  ])('remote %j -> %s', async (remote, code, message) => {
    await fails(job.addFile(remote, join(dir, 'out')), code, message);
    expect(await job.enumFiles()).toHaveLength(0);
  });

  it('local names: relative, directory, missing directory, NUL', async () => {
    await fails(job.addFile('http://h/a', 'out.bin'), 'E_INVALIDARG', /relative/);
    await fails(job.addFile('http://h/a', `${dir}/`), 'E_INVALIDARG', /names a directory/);
    await fails(job.addFile('http://h/a', join(dir, 'missing', 'out')), 'E_INVALIDARG', /does not exist/);
    await fails(job.addFile('http://h/a', `${dir}/a\0b`), 'E_INVALIDARG', /NUL/);
    expect(await job.enumFiles()).toHaveLength(0);
  });

  it('files per job, all or nothing for a set', async () => {
    await job.addFile('http://h/1', join(dir, '1'));
    await fails(
      job.addFileSet([
        { remoteName: 'http://h/2', localName: join(dir, '2') },
        { remoteName: 'http://h/3', localName: join(dir, '3') },
        { remoteName: 'http://h/4', localName: join(dir, '4') },
      ]),
      'BG_E_TOO_MANY_FILES_IN_JOB',
      /limit is 3/,
    );
    await fails(job.addFileSet([{ remoteName: 'http://h/2', localName: join(dir, '2') }, { remoteName: 'bad', localName: join(dir, '3') }]), 'E_INVALIDARG');
    await fails(job.addFileSet([]), 'E_INVALIDARG');
    expect(await job.enumFiles()).toHaveLength(1);
  });

  it('upload jobs hold one file (BG_E_TOO_MANY_FILES); the source must exist; file:// is download-only', async () => {
    const up = await mgr.createJob('up', 'UPLOAD');
    const src = join(dir, 'src');
    await writeFile(src, 'x');
    await fails(up.addFile('http://h/u', join(dir, 'missing-source')), 'ERROR_PATH_NOT_FOUND');
    await fails(up.addFile('file:///tmp/x', src), 'E_INVALIDARG', /DOWNLOAD jobs only/);
    await up.addFile('http://h/u', src);
    await fails(up.addFile('http://h/u2', src), 'BG_E_TOO_MANY_FILES', /exactly one file/);
    expect(await up.enumFiles()).toHaveLength(1);
  });

  it('ranges: validation and limits', async () => {
    const out = join(dir, 'r');
    await fails(job.addFileWithRanges('http://h/r', out, []), 'E_INVALIDARG');
    await fails(job.addFileWithRanges('http://h/r', out, [{ initialOffset: BG_LENGTH_TO_EOF, length: 5 }]), 'BG_E_INVALID_RANGE');
    await fails(job.addFileWithRanges('http://h/r', out, [{ initialOffset: 0, length: 0 }]), 'BG_E_INVALID_RANGE');
    await fails(job.addFileWithRanges('http://h/r', out, [{ initialOffset: 0, length: 10 }, { initialOffset: 5, length: 10 }]), 'BG_E_OVERLAPPING_RANGES');
    await fails(job.addFileWithRanges('http://h/r', out, [{ initialOffset: 0, length: BG_LENGTH_TO_EOF }, { initialOffset: 50, length: 1 }]), 'BG_E_OVERLAPPING_RANGES');
    await fails(job.addFileWithRanges('http://h/r', out, [1, 2, 3, 4, 5].map((i) => ({ initialOffset: i * 10, length: 1 }))), 'BG_E_TOO_MANY_RANGES_IN_FILE');
    const up = await mgr.createJob('up', 'UPLOAD');
    await fails(up.addFileWithRanges('http://h/r', out, [{ initialOffset: 0, length: 1 }]), 'E_NOTIMPL');
    await job.addFileWithRanges('http://h/r', out, [{ initialOffset: 100, length: 10 }, { initialOffset: 0, length: 10 }]);
    expect(await (await job.enumFiles())[0]?.getFileRanges()).toEqual([{ initialOffset: 100, length: 10 }, { initialOffset: 0, length: 10 }]);
  });
});

describe('setters', () => {
  it('strings: display name and description limits', async () => {
    await fails(job.setDisplayName('x'.repeat(257)), 'BG_E_STRING_TOO_LONG');
    await fails(job.setDescription('x'.repeat(1025)), 'BG_E_STRING_TOO_LONG');
    await fails(job.setDisplayName(5 as never), 'E_INVALIDARG');
    expect(await job.getDisplayName()).toBe('v');
    expect(await job.getDescription()).toBe('');
  });

  it('priority, notify flags, seconds', async () => {
    await fails(job.setPriority('URGENT' as never), 'E_NOTIMPL');
    await fails(job.setNotifyFlags(0x40), 'E_NOTIMPL');
    await fails(job.setMinimumRetryDelay(-1), 'E_INVALIDARG');
    await fails(job.setNoProgressTimeout(1.5), 'E_INVALIDARG');
    await fails(job.setMaximumDownloadTime(2 ** 32), 'E_INVALIDARG');
    await job.setMinimumRetryDelay(1);
    expect(await job.getMinimumRetryDelay()).toBe(5); // raised to the 5 s floor
    await job.setNotifyFlags(0x20);
    expect(await job.getNotifyFlags()).toBe(0x20);
  });

  it('proxy settings', async () => {
    await fails(job.setProxySettings('MAGIC' as never), 'E_NOTIMPL');
    await fails(job.setProxySettings('OVERRIDE', null), 'E_INVALIDARG', /needs a proxy list/);
    await fails(job.setProxySettings('PRECONFIG', null, '<local>'), 'E_INVALIDARG');
    await fails(job.setProxySettings('OVERRIDE', 'p'.repeat(4001)), 'BG_E_PROXY_LIST_TOO_LARGE');
    await fails(job.setProxySettings('OVERRIDE', 'p:1', 'b'.repeat(4001)), 'BG_E_PROXY_BYPASS_LIST_TOO_LARGE');
    expect(await job.getProxySettings()).toEqual({ usage: 'PRECONFIG', proxyList: null, bypassList: null });
  });

  it('credentials are validated', async () => {
    await fails(job.setCredentials({ target: 'CLIENT' as never, scheme: 'BASIC', userName: 'u', password: 'p' }), 'BG_E_INVALID_AUTH_TARGET');
    await fails(job.setCredentials({ target: 'SERVER', scheme: 'KERBEROS' as never, userName: 'u', password: 'p' }), 'BG_E_INVALID_AUTH_SCHEME');
    await fails(job.setCredentials({ target: 'SERVER', scheme: 'BASIC', userName: 'u'.repeat(301), password: 'p' }), 'BG_E_USERNAME_TOO_LARGE');
    await fails(job.setCredentials({ target: 'SERVER', scheme: 'BASIC', userName: 'u', password: 'p'.repeat(65_537) }), 'BG_E_PASSWORD_TOO_LARGE');
    await fails(job.setCredentials({ target: 'SERVER', scheme: 'BASIC', userName: null, password: 'p' }), 'E_INVALIDARG');
    await job.setCredentials({ target: 'SERVER', scheme: 'BASIC', userName: 'u', password: 's3cret' });
    await job.removeCredentials('SERVER', 'BASIC');
    await fails(job.removeCredentials('SERVER', 'X' as never), 'BG_E_INVALID_AUTH_SCHEME');
    // That they are never readable back (getters, IPC, bitsadmin) yet still used is
    // test/api/credentials.test.ts.
  });

  it('custom headers: format, size, write-only', async () => {
    await fails(job.setCustomHeaders('NoColon\r\n'), 'E_INVALIDARG');
    await fails(job.setCustomHeaders('A: b\nInjected: yes\r\n'), 'E_INVALIDARG', /bare CR, LF/);
    await fails(job.setCustomHeaders(`A: ${'x'.repeat(16_384)}`), 'BG_E_STRING_TOO_LONG');
    await job.setCustomHeaders('X-Token: abc\r\n');
    await job.makeCustomHeadersWriteOnly();
    await fails(job.getCustomHeaders(), 'E_ACCESSDENIED');
  });

  it('security flags, http method, client certificate', async () => {
    await fails(job.setSecurityFlags(0x1000), 'E_INVALIDARG');
    await fails(job.setSecurityFlags(0x300), 'E_INVALIDARG', /two redirect policies/);
    await fails(job.setHttpMethod('GE T'), 'E_INVALIDARG');
    await fails(job.setClientCertificate({ certFile: join(dir, 'nope.pem'), keyFile: null }), 'ERROR_PATH_NOT_FOUND');
    await job.setHttpMethod('GET');
    expect(await job.getHttpMethod()).toBe('GET');
    await job.setHttpMethod('POST');
    expect(await job.getPriority()).toBe('FOREGROUND');
    await fails(job.setPriority('LOW'), 'BG_E_NOT_SUPPORTED_WITH_CUSTOM_HTTP_METHOD');
    await fails(job.setProperty('DYNAMIC_CONTENT', true), 'BG_E_NOT_SUPPORTED_WITH_CUSTOM_HTTP_METHOD');
  });

  it('notify command line', async () => {
    await fails(job.setNotifyCmdLine(null, 'x'), 'E_INVALIDARG');
    await fails(job.setNotifyCmdLine('notify.sh', null), 'E_INVALIDARG', /relative/);
    await fails(job.setNotifyCmdLine('/bin/true', 'x'.repeat(4001)), 'BG_E_STRING_TOO_LONG');
  });

  it('Job5 properties: ids, job types and read-only rules', async () => {
    await fails(job.setProperty('NOPE' as never, 1), 'BG_E_UNKNOWN_PROPERTY_ID');
    await fails(job.getProperty('NOPE' as never), 'BG_E_UNKNOWN_PROPERTY_ID');
    await fails(job.setProperty('MAX_DOWNLOAD_SIZE', 0), 'BG_E_MAX_DOWNLOAD_SIZE_INVALID_VALUE');
    await fails(job.setProperty('USE_STORED_CREDENTIALS', 'SERVER'), 'BG_E_USE_STORED_CREDENTIALS_NOT_SUPPORTED');
    await fails(job.setProperty('ON_DEMAND_MODE', true), 'E_NOTIMPL');
    const up = await mgr.createJob('up', 'UPLOAD');
    await fails(up.setProperty('DYNAMIC_CONTENT', true), 'BG_E_PROPERTY_SUPPORTED_FOR_DOWNLOAD_JOBS_ONLY');
    await job.addFile('http://h/a', join(dir, 'a'));
    await fails(job.setProperty('HIGH_PERFORMANCE', true), 'BG_E_READ_ONLY_PROPERTY_AFTER_ADDFILE');
    await job.setProperty('MAX_DOWNLOAD_SIZE', 1000);
    await job.setProperty('COST_FLAGS', 0x80000021);
    await job.resume();
    await job.suspend();
    await fails(job.setProperty('MAX_DOWNLOAD_SIZE', 5), 'BG_E_READ_ONLY_PROPERTY_AFTER_RESUME');
    await fails(job.setProperty('DYNAMIC_CONTENT', true), 'BG_E_READ_ONLY_PROPERTY_AFTER_RESUME');
    expect(await job.getProperty('MAX_DOWNLOAD_SIZE')).toBe(1000);
    expect(await job.getProperty('COST_FLAGS')).toBe(0x80000021);
    expect(await job.getProperty('DYNAMIC_CONTENT')).toBe(false);
  });

  it('upload-reply methods on other job types are E_NOTIMPL; reply file name needs an existing directory', async () => {
    await fails(job.getReplyData(), 'E_NOTIMPL');
    await fails(job.setReplyFileName('/tmp/x'), 'E_NOTIMPL');
    const ur = await mgr.createJob('ur', 'UPLOAD_REPLY');
    await fails(ur.setReplyFileName(join(dir, 'nope', 'reply')), 'E_INVALIDARG', /does not exist/);
    await fails(ur.getReplyData(), 'BG_E_INVALID_STATE');
    await mkdir(join(dir, 'replies'));
    await ur.setReplyFileName(join(dir, 'replies', 'r'));
    expect(await ur.getReplyFileName()).toBe(join(dir, 'replies', 'r'));
    expect(await ur.getReplyProgress()).toEqual({ bytesTotal: -1, bytesTransferred: 0 });
  });
});

describe('nothing persisted by a failed call', () => {
  it('a store reopened after a burst of failed calls holds only what succeeded', async () => {
    await job.setDescription('kept');
    await fails(job.setDescription('x'.repeat(2000)), 'BG_E_STRING_TOO_LONG');
    await fails(job.addFileSet([{ remoteName: 'http://h/ok', localName: join(dir, 'ok') }, { remoteName: 'http://h/bad', localName: 'rel' }]), 'E_INVALIDARG');
    await fails(job.setCustomHeaders('bad'), 'E_INVALIDARG');
    await mgr.close();
    mgr = await BackgroundCopyManager.open({ dataDir: join(dir, 'data') });
    job = await mgr.getJob(job.id);
    expect(await job.getDescription()).toBe('kept');
    expect(await job.enumFiles()).toHaveLength(0);
    expect(await job.getCustomHeaders()).toBeNull();
  });
});
