/**
 * The shared API suite: behaviour every implementation of BackgroundCopyManagerApi must show,
 * written against the interface only. It runs against the in-process manager, against
 * BitsClient over an in-process IPC server, and against BitsClient talking to a spawned bitsd,
 * so the three cannot drift apart.
 *
 * Subjects may share a queue between tests (a spawned daemon does): tests only look at jobs they
 * created, and the jobs a test leaves behind are cancelled after it.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BitsError } from '../../src/shared/errors.js';
import { hresultOf, type HresultCode } from '../../src/shared/hresult.js';
import type { BackgroundCopyJob, BackgroundCopyManagerApi, WatchEvent } from '../../src/api/types.js';
import type { JobType } from '../../src/job/types.js';
import { tempDir } from '../helpers/temp.js';
import { defineContractFiles } from './contract-files.js';
import { defineContractEvents } from './contract-events.js';

export interface ContractSubject {
  readonly manager: BackgroundCopyManagerApi;
  /** Closes the manager or client. */
  close(): Promise<void>;
}

/** What the parts of the suite share; set up fresh before each test. */
export interface ContractContext {
  readonly mgr: BackgroundCopyManagerApi;
  /** A fresh directory with an empty `out` directory for destinations. */
  readonly dir: string;
  readonly out: string;
  /** createJob, remembering the job so it is cleaned up and recognised by enumJobs checks. */
  job(name?: string, type?: JobType): Promise<BackgroundCopyJob>;
  readonly created: ReadonlySet<string>;
  /** A source file for file:// jobs; returns its URL. */
  source(name: string, content: string | Buffer): Promise<string>;
}

export async function rejectsWith(promise: Promise<unknown>, code: HresultCode, message?: RegExp): Promise<BitsError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected ${code}`).toBeInstanceOf(BitsError);
  const err = caught as BitsError;
  expect({ code: err.code, hresult: err.hresult }).toEqual({ code, hresult: hresultOf(code) });
  if (message) expect(err.message).toMatch(message);
  return err;
}

/** Follows watch() to its end; returns every event. */
export async function settle(job: BackgroundCopyJob): Promise<WatchEvent[]> {
  const seen: WatchEvent[] = [];
  for await (const ev of job.watch()) seen.push(ev);
  return seen;
}

export function defineApiContract(name: string, factory: () => Promise<ContractSubject>): void {
  describe(`API contract: ${name}`, () => {
    let subject: ContractSubject;
    const created = new Set<string>();
    const ctx = {} as { -readonly [K in keyof ContractContext]: ContractContext[K] };

    beforeEach(async () => {
      created.clear();
      subject = await factory();
      const dir = await tempDir('bitsd-contract-');
      const out = join(dir, 'out');
      await mkdir(out);
      Object.assign(ctx, {
        mgr: subject.manager,
        dir,
        out,
        created,
        async job(jobName = 'contract', type: JobType = 'DOWNLOAD') {
          const job = await subject.manager.createJob(jobName, type);
          created.add(job.id);
          return job;
        },
        async source(file: string, content: string | Buffer) {
          const path = join(dir, file);
          await writeFile(path, content);
          return pathToFileURL(path).href;
        },
      } satisfies ContractContext);
    });

    afterEach(async () => {
      for (const id of created) {
        try {
          await (await subject.manager.getJob(id)).cancel();
        } catch {
          // already completed or cancelled
        }
      }
      await subject.close();
    });

    describe('manager', () => {
      it('createJob makes a SUSPENDED job that getJob and enumJobs find, oldest first', async () => {
        const a = await ctx.job('first');
        const b = await ctx.job('second', 'UPLOAD');
        expect(a.id).toMatch(/^\{[0-9A-F]{8}(-[0-9A-F]{4}){3}-[0-9A-F]{12}\}$/);
        expect(await a.getState()).toBe('SUSPENDED');
        expect(await a.getDisplayName()).toBe('first');
        expect(await b.getType()).toBe('UPLOAD');
        const again = await ctx.mgr.getJob(a.id.toLowerCase().slice(1, -1));
        expect(again.id).toBe(a.id);
        expect(await again.getDisplayName()).toBe('first');
        const listed = (await ctx.mgr.enumJobs()).map((j) => j.id).filter((id) => created.has(id));
        expect(listed).toEqual([a.id, b.id]);
        expect((await ctx.mgr.enumJobs({ allUsers: true })).map((j) => j.id)).toEqual(expect.arrayContaining([a.id, b.id]));
      });

      it('getJob: BG_E_NOT_FOUND for an unknown id, E_INVALIDARG for a malformed one', async () => {
        await rejectsWith(ctx.mgr.getJob('{00000000-0000-0000-0000-000000000001}'), 'BG_E_NOT_FOUND');
        await rejectsWith(ctx.mgr.getJob('not-a-guid'), 'E_INVALIDARG', /job id/);
      });

      it('createJob validates its arguments', async () => {
        await rejectsWith(ctx.mgr.createJob('x', 'SIDEWAYS' as JobType), 'E_INVALIDARG', /SIDEWAYS/);
        await rejectsWith(ctx.mgr.createJob('x'.repeat(300), 'DOWNLOAD'), 'E_INVALIDARG');
        await rejectsWith(ctx.mgr.createJob(42 as unknown as string, 'DOWNLOAD'), 'E_INVALIDARG');
      });

      it('getErrorDescription describes known, HTTP and unknown HRESULTs; non-integers are refused', async () => {
        expect(await ctx.mgr.getErrorDescription(0x80200001)).toBe('The requested job was not found.');
        expect(await ctx.mgr.getErrorDescription(0x80190194)).toMatch(/does not exist/);
        expect(await ctx.mgr.getErrorDescription(0x8badf00d)).toBe('Unknown error 0x8badf00d.');
        await rejectsWith(ctx.mgr.getErrorDescription(1.5), 'E_INVALIDARG');
      });

      it('listPendingCancellations has nothing for download jobs', async () => {
        const job = await ctx.job();
        await job.cancel();
        expect((await ctx.mgr.listPendingCancellations()).filter((p) => p.jobId === job.id)).toEqual([]);
      });
    });

    describe('job properties', () => {
      it('a new job has the BITS defaults', async () => {
        const job = await ctx.job();
        expect(await job.getPriority()).toBe('NORMAL');
        expect(await job.getNotifyFlags()).toBe(0x3);
        expect(await job.getNotifyCmdLine()).toEqual({ program: null, parameters: null });
        expect(await job.getMinimumRetryDelay()).toBe(600);
        expect(await job.getNoProgressTimeout()).toBe(1_209_600);
        expect(await job.getMaximumDownloadTime()).toBe(7_776_000);
        expect(await job.getProxySettings()).toEqual({ usage: 'PRECONFIG', proxyList: null, bypassList: null });
        expect(await job.getCustomHeaders()).toBeNull();
        expect(await job.getSecurityFlags()).toBe(0);
        expect(await job.getClientCertificate()).toBeNull();
        expect(await job.getHttpMethod()).toBe('GET');
        expect(await job.getDescription()).toBe('');
        expect(await job.getErrorCount()).toBe(0);
        expect(await job.getOwner()).toMatch(/^uid:\d+$/);
        expect(await job.getProgress()).toMatchObject({ bytesTransferred: 0, filesTotal: 0, filesTransferred: 0 });
        const times = await job.getTimes();
        expect(times.creationTime).toBeInstanceOf(Date);
        expect(Math.abs(times.creationTime.getTime() - Date.now())).toBeLessThan(60_000);
        expect(times.transferCompletionTime).toBeNull();
        expect(await job.getProperty('MAX_DOWNLOAD_SIZE')).toBe(0);
        expect(await job.getProperty('DYNAMIC_CONTENT')).toBe(false);
      });

      it('every setter round-trips through its getter', async () => {
        const job = await ctx.job();
        const cert = join(ctx.dir, 'client.pem');
        await writeFile(cert, 'not really a certificate');
        await job.setDisplayName('renamed');
        await job.setDescription('what it is for');
        await job.setPriority('LOW');
        await job.setNotifyFlags(0x1f);
        await job.setNotifyCmdLine('/bin/true', '/bin/true --flag');
        await job.setMinimumRetryDelay(30);
        await job.setNoProgressTimeout(120);
        await job.setMaximumDownloadTime(3600);
        await job.setProxySettings('OVERRIDE', 'proxy.invalid:8080', '<local>');
        await job.setCustomHeaders('X-One: 1\r\nX-Two: 2');
        await job.setSecurityFlags(0x100);
        await job.setClientCertificate({ certFile: cert, keyFile: null });
        await job.setProperty('COST_FLAGS', 0x1);
        await job.setProperty('NOTIFICATION_CLSID', '{11111111-2222-3333-4444-555555555555}');
        await job.setProperty('MINIMUM_NOTIFICATION_INTERVAL_MS', 1000);
        expect(await job.getDisplayName()).toBe('renamed');
        expect(await job.getDescription()).toBe('what it is for');
        expect(await job.getPriority()).toBe('LOW');
        expect(await job.getNotifyFlags()).toBe(0x1f);
        expect(await job.getNotifyCmdLine()).toEqual({ program: '/bin/true', parameters: '/bin/true --flag' });
        expect(await job.getMinimumRetryDelay()).toBe(30);
        expect(await job.getNoProgressTimeout()).toBe(120);
        expect(await job.getMaximumDownloadTime()).toBe(3600);
        expect(await job.getProxySettings()).toEqual({ usage: 'OVERRIDE', proxyList: 'proxy.invalid:8080', bypassList: '<local>' });
        expect(await job.getCustomHeaders()).toBe('X-One: 1\r\nX-Two: 2');
        expect(await job.getSecurityFlags()).toBe(0x100);
        expect(await job.getClientCertificate()).toEqual({ certFile: cert, keyFile: null });
        expect(await job.getProperty('COST_FLAGS')).toBe(0x1);
        expect(await job.getProperty('NOTIFICATION_CLSID')).toBe('{11111111-2222-3333-4444-555555555555}');
        expect(await job.getProperty('MINIMUM_NOTIFICATION_INTERVAL_MS')).toBe(1000);
        await job.setProxySettings('NO_PROXY');
        expect(await job.getProxySettings()).toEqual({ usage: 'NO_PROXY', proxyList: null, bypassList: null });
        await job.removeClientCertificate();
        expect(await job.getClientCertificate()).toBeNull();
        await job.setHttpMethod('POST');
        expect(await job.getHttpMethod()).toBe('POST');
        expect(await job.getPriority()).toBe('FOREGROUND');
        expect((await job.getTimes()).modificationTime.getTime()).toBeGreaterThanOrEqual((await job.getTimes()).creationTime.getTime());
      });

      it('invalid values are refused with BITS codes, and nothing changes', async () => {
        const job = await ctx.job();
        await rejectsWith(job.setPriority('URGENT' as never), 'E_NOTIMPL', /URGENT/);
        await rejectsWith(job.setDisplayName('x'.repeat(257)), 'BG_E_STRING_TOO_LONG');
        await rejectsWith(job.setMinimumRetryDelay(-1), 'E_INVALIDARG');
        await rejectsWith(job.setNotifyFlags(0x40), 'E_NOTIMPL');
        await rejectsWith(job.setProxySettings('OVERRIDE', null), 'E_INVALIDARG', /proxy list/);
        await rejectsWith(job.setCredentials({ target: 'NOWHERE' as never, scheme: 'BASIC', userName: 'u', password: 'p' }), 'BG_E_INVALID_AUTH_TARGET');
        await rejectsWith(job.setCredentials({ target: 'SERVER', scheme: 'ROT13' as never, userName: 'u', password: 'p' }), 'BG_E_INVALID_AUTH_SCHEME');
        await rejectsWith(job.removeCredentials('SERVER', 'ROT13' as never), 'BG_E_INVALID_AUTH_SCHEME');
        await rejectsWith(job.getProperty('NOPE' as never), 'BG_E_UNKNOWN_PROPERTY_ID');
        await rejectsWith(job.setProperty('MAX_DOWNLOAD_SIZE', 0), 'BG_E_MAX_DOWNLOAD_SIZE_INVALID_VALUE');
        await rejectsWith(job.setCustomHeaders('X-Bad: 1\nX-Worse: 2'), 'E_INVALIDARG');
        await rejectsWith(job.setSecurityFlags(0x300), 'E_INVALIDARG');
        await rejectsWith(job.setHttpMethod('NOT A TOKEN'), 'E_INVALIDARG');
        await rejectsWith(job.setClientCertificate({ certFile: join(ctx.dir, 'missing.pem'), keyFile: null }), 'ERROR_PATH_NOT_FOUND');
        // Wrong types are E_INVALIDARG too, wherever they are caught.
        await rejectsWith(job.setDescription(42 as never), 'E_INVALIDARG');
        await rejectsWith(job.setNotifyFlags('3' as never), 'E_INVALIDARG');
        expect(await job.getPriority()).toBe('NORMAL');
        expect(await job.getDisplayName()).toBe('contract');
        expect(await job.getNotifyFlags()).toBe(0x3);
      });

      it('credentials can be set and removed; custom headers can be made write-only', async () => {
        const job = await ctx.job();
        await job.setCredentials({ target: 'SERVER', scheme: 'BASIC', userName: 'alice', password: 'pa55word' });
        await job.removeCredentials('SERVER', 'BASIC');
        await job.setCustomHeaders('Authorization: Bearer abc');
        await job.makeCustomHeadersWriteOnly();
        await rejectsWith(job.getCustomHeaders(), 'E_ACCESSDENIED');
        await job.setCustomHeaders(null);
      });

      it('upload-reply properties belong to UPLOAD_REPLY jobs; Job5 rules hold', async () => {
        const download = await ctx.job();
        await rejectsWith(download.getReplyFileName(), 'E_NOTIMPL');
        await rejectsWith(download.getReplyProgress(), 'E_NOTIMPL');
        await rejectsWith(download.getReplyData(), 'E_NOTIMPL');
        const reply = await ctx.job('reply', 'UPLOAD_REPLY');
        expect(await reply.getReplyFileName()).toBeNull();
        await reply.setReplyFileName(join(ctx.out, 'reply.bin'));
        expect(await reply.getReplyFileName()).toBe(join(ctx.out, 'reply.bin'));
        expect(await reply.getReplyProgress()).toEqual({ bytesTotal: -1, bytesTransferred: 0 });
        await rejectsWith(reply.getReplyData(), 'BG_E_INVALID_STATE');
        await rejectsWith(reply.setProperty('DYNAMIC_CONTENT', true), 'BG_E_PROPERTY_SUPPORTED_FOR_DOWNLOAD_JOBS_ONLY');
        await rejectsWith(reply.setHttpMethod('POST'), 'BG_E_PROPERTY_SUPPORTED_FOR_DOWNLOAD_JOBS_ONLY');
      });
    });

    defineContractFiles(ctx);
    defineContractEvents(ctx);

    it('a job object keeps answering after complete(), but the manager no longer lists it', async () => {
      const job = await ctx.job();
      await job.addFile(await ctx.source('s', 'bytes'), join(ctx.out, 'd'));
      await job.resume();
      await settle(job);
      expect(await job.complete()).toBe('S_OK');
      expect(await job.getState()).toBe('ACKNOWLEDGED');
      await rejectsWith(ctx.mgr.getJob(job.id), 'BG_E_NOT_FOUND');
      expect((await ctx.mgr.enumJobs()).map((j) => j.id)).not.toContain(job.id);
      await rejectsWith(job.resume(), 'BG_E_INVALID_STATE');
      expect(await readdir(ctx.out)).toEqual(['d']);
      expect(await readFile(join(ctx.out, 'd'), 'utf8')).toBe('bytes');
    });
  });
}
