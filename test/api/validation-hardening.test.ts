/**
 * Validation added by the security review: proxy URLs with user:password@, two files of a job with
 * one local name, and error messages that never quote a custom header line back. Each refusal is
 * E_INVALIDARG with a message saying what to do, and persists nothing (checked after a reopen).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BackgroundCopyManager, BitsError } from '../../src/index.js';
import type { BackgroundCopyJob } from '../../src/index.js';
import { checkDistinctLocalNames, normalizeAbsolutePath } from '../../src/job/validate.js';
import { tempDir } from '../helpers/temp.js';

let dir: string;
let mgr: BackgroundCopyManager;
let job: BackgroundCopyJob;

beforeEach(async () => {
  dir = await tempDir();
  mgr = await BackgroundCopyManager.open({ dataDir: join(dir, 'data') });
  job = await mgr.createJob('v', 'DOWNLOAD');
});

afterEach(async () => {
  await mgr.close();
});

async function refusal(p: Promise<unknown>): Promise<BitsError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(BitsError);
    return err as BitsError;
  }
  throw new Error('expected the call to be refused');
}

/** The same job after closing and reopening the store: what was really persisted. */
async function reopened(): Promise<BackgroundCopyJob> {
  await mgr.close();
  mgr = await BackgroundCopyManager.open({ dataDir: join(dir, 'data') });
  return mgr.getJob(job.id);
}

describe('proxy lists with a user name or password', () => {
  const secret = 'Pr0xy-pw';
  const lists = [
    `http://alice:${secret}@proxy.example:8080`,
    `alice:${secret}@proxy.example:8080`,
    `proxy1:3128 https=https://bob:${secret}@proxy2:443`,
    `;http=carol@proxy3:80`,
    `dave:${secret}/x@proxy4`,
  ];
  for (const list of lists) {
    it(`refuses ${JSON.stringify(list.replace(secret, '***'))} with E_INVALIDARG pointing to setCredentials PROXY`, async () => {
      await job.setProxySettings('OVERRIDE', 'proxy0:3128', '<local>');
      const err = await refusal(job.setProxySettings('OVERRIDE', list, null));
      expect(err.code).toBe('E_INVALIDARG');
      expect(err.message).toMatch(/user name or password.*setCredentials.*PROXY.*\/setcredentials JOB PROXY/);
      expect(err.message).not.toContain(secret);
      expect(await (await reopened()).getProxySettings()).toEqual({ usage: 'OVERRIDE', proxyList: 'proxy0:3128', bypassList: '<local>' });
    });
  }

  it('names the offending entry by its position', async () => {
    expect((await refusal(job.setProxySettings('OVERRIDE', ` p1:1  p2:2 u:${secret}@p3:3`, null))).message).toMatch(/entry 3 /);
  });

  it('still accepts the list forms without credentials', async () => {
    await job.setProxySettings('OVERRIDE', 'http=http://p1:8080; https=p2:3128 p3', '*.corp;<local>');
    expect(await job.getProxySettings()).toEqual({ usage: 'OVERRIDE', proxyList: 'http=http://p1:8080; https=p2:3128 p3', bypassList: '*.corp;<local>' });
  });
});

describe('custom header errors', () => {
  it('name the line by number and never quote it (it may be an API key)', async () => {
    const secret = 'sk-live-0123456789';
    for (const headers of [`X-Ok: 1\r\nBearer ${secret}\r\n`, `X-Ok: 1\r\nBad Name ${secret}: x\r\n`, `X-Ok: 1\r\nX-Key: ${secret}\nX-B: 2\r\n`]) {
      const err = await refusal(job.setCustomHeaders(headers));
      expect(err.code).toBe('E_INVALIDARG');
      expect(err.message).toMatch(/line 2 /);
      expect(err.message).not.toContain(secret);
    }
    expect(await (await reopened()).getCustomHeaders()).toBeNull();
  });
});

describe('two files with one local name', () => {
  it('normalises absolute paths as path.posix.normalize does', () => {
    expect(normalizeAbsolutePath('/d//x/./y/../a')).toBe('/d/x/a');
    expect(normalizeAbsolutePath('/../a')).toBe('/a');
    expect(normalizeAbsolutePath('/d/a')).toBe('/d/a');
    expect(() => checkDistinctLocalNames(['/d/a', '/d/b'], ['/d/c', '/e/a'])).not.toThrow();
    expect(() => checkDistinctLocalNames([], ['/d/a', '/d/A'])).not.toThrow();
  });

  it('AddFile refuses a local name another file already has, also when spelled differently', async () => {
    const d = join(dir, 'd');
    await mkdir(join(d, 'x'), { recursive: true });
    await job.addFile('http://127.0.0.1:9/a', join(d, 'a'));
    for (const same of [join(d, 'a'), `${d}/./a`, `${d}//a`, `${d}/x/../a`]) {
      const err = await refusal(job.addFile('http://127.0.0.1:9/other', same));
      expect(err.code).toBe('E_INVALIDARG');
      expect(err.message).toContain(JSON.stringify(same));
      expect(err.message).toMatch(/already the local name of another file of this job/);
    }
    await job.addFile('http://127.0.0.1:9/b', join(d, 'b'));
    const files = await (await reopened()).enumFiles();
    expect(await Promise.all(files.map((f) => f.getLocalName()))).toEqual([join(d, 'a'), join(d, 'b')]);
  });

  it('AddFileSet refuses two files of one call with one local name, and adds none of them', async () => {
    await job.addFile('http://127.0.0.1:9/a', join(dir, 'a'));
    const err = await refusal(
      job.addFileSet([
        { remoteName: 'http://127.0.0.1:9/b', localName: join(dir, 'b') },
        { remoteName: 'http://127.0.0.1:9/c', localName: join(dir, 'c') },
        { remoteName: 'http://127.0.0.1:9/b2', localName: `${dir}/./b` },
      ]),
    );
    expect(err.code).toBe('E_INVALIDARG');
    expect(err.message).toMatch(/file 3 of this call is given twice/);
    // One against the job's existing files too.
    expect((await refusal(job.addFileSet([{ remoteName: 'http://127.0.0.1:9/x', localName: join(dir, 'a') }]))).message).toMatch(/another file of this job/);
    expect(await (await reopened()).enumFiles()).toHaveLength(1);
  });
});
