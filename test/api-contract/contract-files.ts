/**
 * The shared API suite, part 2: files and the job lifecycle (resume → TRANSFERRED → complete,
 * suspend, cancel, errors).
 */
import { access, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { ContractContext } from './contract.js';
import { rejectsWith, settle } from './contract.js';

export function defineContractFiles(ctx: ContractContext): void {
  describe('files', () => {
    it('addFile, addFileSet and addFileWithRanges; enumFiles and every file getter', async () => {
      const job = await ctx.job();
      await job.addFile('http://example.invalid/a', join(ctx.out, 'a'));
      await job.addFileSet([
        { remoteName: 'http://example.invalid/b', localName: join(ctx.out, 'b') },
        { remoteName: 'https://example.invalid/c', localName: join(ctx.out, 'c') },
      ]);
      await job.addFileWithRanges('http://example.invalid/d', join(ctx.out, 'd'), [
        { initialOffset: 0, length: 10 },
        { initialOffset: 100, length: -1 },
      ]);
      const files = await job.enumFiles();
      expect(files.map((f) => f.index)).toEqual([0, 1, 2, 3]);
      const [a, , , d] = files;
      expect(await a?.getRemoteName()).toBe('http://example.invalid/a');
      expect(await a?.getLocalName()).toBe(join(ctx.out, 'a'));
      expect(await a?.getProgress()).toEqual({ bytesTotal: -1, bytesTransferred: 0, completed: false });
      expect(await a?.getTemporaryName()).toMatch(new RegExp(`^${ctx.out}/BIT[0-9A-F]{8}\\.tmp$`));
      expect(await a?.getFileRanges()).toEqual([]);
      expect(await d?.getFileRanges()).toEqual([
        { initialOffset: 0, length: 10 },
        { initialOffset: 100, length: -1 },
      ]);
      await a?.setRemoteName('http://example.invalid/a2');
      expect(await a?.getRemoteName()).toBe('http://example.invalid/a2');
      expect(await job.getProgress()).toMatchObject({ filesTotal: 4, filesTransferred: 0 });
      expect(await job.replaceRemotePrefix('http://example.invalid/', 'http://mirror.invalid/')).toBe('S_OK');
      expect(await job.replaceRemotePrefix('ftp://', 'http://')).toBe('S_FALSE');
      expect(await a?.getRemoteName()).toBe('http://mirror.invalid/a2');
    });

    it('bad files are refused with the documented codes', async () => {
      const job = await ctx.job();
      await rejectsWith(job.addFile('http://example.invalid/x', 'relative/path'), 'E_INVALIDARG', /relative/);
      await rejectsWith(job.addFile('not a url', join(ctx.out, 'x')), 'E_INVALIDARG');
      await rejectsWith(job.addFile('gopher://example.invalid/x', join(ctx.out, 'x')), 'E_INVALIDARG', /gopher/);
      await rejectsWith(job.addFile('http://example.invalid/x', join(ctx.dir, 'missing', 'x')), 'E_INVALIDARG', /does not exist/);
      await rejectsWith(job.addFileSet([]), 'E_INVALIDARG');
      await rejectsWith(job.addFileWithRanges('http://example.invalid/x', join(ctx.out, 'x'), [{ initialOffset: 0, length: 0 }]), 'BG_E_INVALID_RANGE');
      await rejectsWith(
        job.addFileWithRanges('http://example.invalid/x', join(ctx.out, 'x'), [
          { initialOffset: 0, length: 10 },
          { initialOffset: 5, length: 10 },
        ]),
        'BG_E_OVERLAPPING_RANGES',
      );
      const upload = await ctx.job('up', 'UPLOAD');
      const src = join(ctx.dir, 'up.bin');
      await rejectsWith(upload.addFile('http://example.invalid/up', src), 'ERROR_PATH_NOT_FOUND');
      await rejectsWith(upload.addFileWithRanges('http://example.invalid/up', src, [{ initialOffset: 0, length: 1 }]), 'E_NOTIMPL');
      expect(await job.enumFiles()).toEqual([]);
      await job.addFile('http://example.invalid/ok', join(ctx.out, 'ok'));
      const [file] = await job.enumFiles();
      if (!file) throw new Error('no file');
      await rejectsWith(file.setRemoteName('nonsense'), 'E_INVALIDARG');
    });

    it('resume → TRANSFERRED → complete copies file:// sources byte for byte', async () => {
      const job = await ctx.job('copy');
      const big = Buffer.alloc(3 * 1024 * 1024, 7);
      await job.addFile(await ctx.source('one', 'first file'), join(ctx.out, 'one'));
      await job.addFile(await ctx.source('two', big), join(ctx.out, 'two'));
      await job.resume();
      const events = await settle(job);
      expect(events.at(-1)?.state).toBe('TRANSFERRED');
      expect(await job.getState()).toBe('TRANSFERRED');
      expect(await job.getProgress()).toEqual({ bytesTotal: 10 + big.length, bytesTransferred: 10 + big.length, filesTotal: 2, filesTransferred: 2 });
      const times = await job.getTimes();
      expect(times.transferCompletionTime).toBeInstanceOf(Date);
      const files = await job.enumFiles();
      expect(await files[1]?.getProgress()).toEqual({ bytesTotal: big.length, bytesTransferred: big.length, completed: false });
      expect(await job.complete()).toBe('S_OK');
      expect((await readdir(ctx.out)).sort()).toEqual(['one', 'two']);
      expect(await readFile(join(ctx.out, 'one'), 'utf8')).toBe('first file');
      expect((await readFile(join(ctx.out, 'two'))).equals(big)).toBe(true);
    });

    it('resume needs files (BG_E_EMPTY); suspend stops a queued job', async () => {
      const job = await ctx.job();
      await rejectsWith(job.resume(), 'BG_E_EMPTY');
      await job.addFile('http://127.0.0.1:9/never', join(ctx.out, 'never'));
      await job.setProxySettings('NO_PROXY');
      await job.setPriority('LOW');
      await job.resume();
      expect(['QUEUED', 'CONNECTING', 'TRANSFERRING', 'TRANSIENT_ERROR']).toContain(await job.getState());
      await job.suspend();
      expect(await job.getState()).toBe('SUSPENDED');
      await job.suspend(); // suspending a suspended job is allowed
    });

    it('cancel removes temp files and ends the job; later calls get BG_E_INVALID_STATE', async () => {
      const job = await ctx.job();
      await job.addFile(await ctx.source('c', 'cancel me'), join(ctx.out, 'c'));
      await job.resume();
      await settle(job);
      const [file] = await job.enumFiles();
      if (!file) throw new Error('no file');
      const temp = await file.getTemporaryName();
      await access(temp);
      expect(await job.cancel()).toBe('S_OK');
      expect(await job.getState()).toBe('CANCELLED');
      expect(await readdir(ctx.out)).toEqual([]);
      await rejectsWith(job.resume(), 'BG_E_INVALID_STATE');
      await rejectsWith(job.cancel(), 'BG_E_INVALID_STATE');
      await rejectsWith(ctx.mgr.getJob(job.id), 'BG_E_NOT_FOUND');
    });

    it('getError: unavailable until the job fails; then the file, context and codes', async () => {
      const job = await ctx.job();
      await rejectsWith(job.getError(), 'BG_E_ERROR_INFORMATION_UNAVAILABLE');
      const missing = join(ctx.dir, 'missing-source');
      await job.addFile(pathToFileURL(missing).href, join(ctx.out, 'm'));
      await job.resume();
      expect((await settle(job)).at(-1)?.state).toBe('ERROR');
      const error = await job.getError();
      expect(error).toMatchObject({
        hresult: 0x80070002,
        code: 'ERROR_FILE_NOT_FOUND',
        context: 'REMOTE_FILE',
        file: { remoteName: pathToFileURL(missing).href, localName: join(ctx.out, 'm') },
        protocol: 'file',
      });
      expect(error.description).toBe('The system cannot find the file specified.');
      expect(error.contextDescription).toMatch(/remote file/);
      expect(error.message).toContain(missing);
      expect(await job.getErrorCount()).toBe(1);
      expect(await job.complete()).toBe('BG_S_PARTIAL_COMPLETE');
    });
  });
}
