/**
 * DOWNLOAD jobs end to end through the public API against real loopback servers: multi-file jobs
 * in order, Complete (full and partial), Cancel mid-download, custom headers, and the Wine HTTP
 * case (bits-api.md (e) 18).
 */
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BG_SIZE_UNKNOWN, FakeClock, NOTIFY } from '../../../src/index.js';
import type { FileEventData, JobEventData } from '../../../src/index.js';
import { codeOf, expectSameBytes, openManager, randomContent, startFileServer, startReferenceServer, tempFilesIn, waitForState, workDir } from './helpers.js';

describe('multi-file download jobs', () => {
  it('transfers the files strictly in order, then Complete makes them byte-identical (S_OK)', async () => {
    const dir = await workDir();
    const root = join(dir, 'root');
    const server = await startReferenceServer({ root });
    const contents = [randomContent(300_000), randomContent(1), randomContent(700_123)];
    await Promise.all(contents.map((c, i) => writeFile(join(root, `f${i}.bin`), c)));
    const out = join(dir, 'out');
    await mkdir(out);

    const mgr = await openManager(dir);
    const job = await mgr.createJob('three files', 'DOWNLOAD');
    await job.setNotifyFlags(NOTIFY.JOB_TRANSFERRED | NOTIFY.JOB_ERROR | NOTIFY.FILE_TRANSFERRED);
    await job.addFileSet(contents.map((_, i) => ({ remoteName: `${server.url}/f${i}.bin`, localName: join(out, `f${i}.bin`) })));
    const fileEvents: FileEventData[] = [];
    const transferred: JobEventData[] = [];
    job.on('file:transferred', (e) => fileEvents.push(e));
    job.on('job:transferred', (e) => transferred.push(e));
    expect(await job.getProgress()).toEqual({ bytesTotal: BG_SIZE_UNKNOWN, bytesTransferred: 0, filesTotal: 3, filesTransferred: 0 });

    await job.resume();
    await waitForState(job, 'TRANSFERRED');

    // Strictly in order: every request for file i comes before any request for file i + 1.
    const order = server.requests.map((r) => Number(/\/f(\d)\.bin/.exec(r.target)?.[1]));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect([...new Set(order)]).toEqual([0, 1, 2]);
    expect(fileEvents.map((e) => e.fileIndex)).toEqual([0, 1, 2]);
    expect(transferred).toHaveLength(1);
    const total = contents.reduce((n, c) => n + c.length, 0);
    expect(await job.getProgress()).toEqual({ bytesTotal: total, bytesTransferred: total, filesTotal: 3, filesTransferred: 3 });
    // Nothing is visible under the local names before Complete.
    for (let i = 0; i < 3; i++) await expect(stat(join(out, `f${i}.bin`))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await tempFilesIn(out)).toHaveLength(3);

    expect(await job.complete()).toBe('S_OK');
    expect(await job.getState()).toBe('ACKNOWLEDGED');
    for (let i = 0; i < 3; i++) {
      const local = join(out, `f${i}.bin`);
      expectSameBytes(await readFile(local), contents[i] as Buffer);
      // BITS copies the server's modification time (Last-Modified, whole seconds).
      const remoteTime = Math.floor((await stat(join(root, `f${i}.bin`))).mtimeMs / 1000);
      expect(Math.floor((await stat(local)).mtimeMs / 1000)).toBe(remoteTime);
    }
    expect(await tempFilesIn(out)).toEqual([]);
    const files = await job.enumFiles();
    expect(await Promise.all(files.map(async (f) => (await f.getProgress()).completed))).toEqual([true, true, true]);
    expect(await codeOf(mgr.getJob(job.id))).toBe('BG_E_NOT_FOUND');
  });

  it('Complete on a job in ERROR keeps the files transferred before the failure (BG_S_PARTIAL_COMPLETE)', async () => {
    const dir = await workDir();
    const server = await startFileServer();
    const first = server.put('/first', randomContent(200_000));
    const mgr = await openManager(dir);
    const job = await mgr.createJob('partial', 'DOWNLOAD');
    await job.addFile(`${server.url}/first`, join(dir, 'first'));
    await job.addFile(`${server.url}/missing`, join(dir, 'missing'));
    await job.addFile(`${server.url}/first`, join(dir, 'never'));
    await job.resume();
    await waitForState(job, 'ERROR');
    const error = await job.getError();
    expect(error.hresult).toBe(0x80190194);
    expect(error.file).toEqual({ remoteName: `${server.url}/missing`, localName: join(dir, 'missing') });
    // The failing file blocks the rest: the third file was never requested.
    expect(server.requests.map((r) => `${r.method} ${r.url}`)).toEqual(['GET /first', 'GET /missing']);
    expect((await job.getProgress()).filesTransferred).toBe(1);

    expect(await job.complete()).toBe('BG_S_PARTIAL_COMPLETE');
    expect(await job.getState()).toBe('ACKNOWLEDGED');
    expectSameBytes(await readFile(join(dir, 'first')), first);
    await expect(stat(join(dir, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(stat(join(dir, 'never'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await tempFilesIn(dir)).toEqual([]);
  });

  it('Complete while the second file is still downloading keeps the first and drops the second', async () => {
    const dir = await workDir();
    const server = await startFileServer();
    const first = server.put('/a', randomContent(150_000));
    server.put('/b', randomContent(1_000_000));
    server.holdNext('/b', 300_000);
    const mgr = await openManager(dir);
    const job = await mgr.createJob('complete early', 'DOWNLOAD');
    await job.addFile(`${server.url}/a`, join(dir, 'a'));
    await job.addFile(`${server.url}/b`, join(dir, 'b'));
    await job.resume();
    const [, second] = await job.enumFiles();
    // Wait until part of the second file is durable in its temp file.
    const deadline = Date.now() + 10_000;
    while ((await second?.getProgress())?.bytesTransferred === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect((await second?.getProgress())?.bytesTransferred).toBeGreaterThan(0);
    expect(await job.getState()).toBe('TRANSFERRING');
    const secondTemp = await second?.getTemporaryName();
    expect((await stat(secondTemp as string)).size).toBeGreaterThan(0);

    expect(await job.complete()).toBe('BG_S_PARTIAL_COMPLETE');
    expect(await job.getState()).toBe('ACKNOWLEDGED');
    expectSameBytes(await readFile(join(dir, 'a')), first);
    await expect(stat(join(dir, 'b'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await tempFilesIn(dir)).toEqual([]);
    // The transfer of the second file was stopped, not left running.
    await waitForRequestClosed(server.log('GET', '/b')[0]);
  });
});

describe('Complete racing the scheduler', () => {
  it('a retry falling due while Complete moves files does not start a transfer of the acknowledged job', async () => {
    const dir = await workDir();
    const server = await startFileServer();
    const files = Array.from({ length: 20 }, (_, i) => server.put(`/small${i}`, randomContent(1_000 + i)));
    server.put('/last', randomContent(400_000));
    server.dropNext('/last', 100_000);
    const clock = new FakeClock();
    const mgr = await openManager(dir, { clock });
    const job = await mgr.createJob('complete vs retry', 'DOWNLOAD');
    await job.addFileSet([
      ...files.map((_, i) => ({ remoteName: `${server.url}/small${i}`, localName: join(dir, `small${i}`) })),
      { remoteName: `${server.url}/last`, localName: join(dir, 'last') },
    ]);
    await job.setMinimumRetryDelay(5);
    await job.resume();
    await waitForState(job, 'TRANSIENT_ERROR');
    expect((await job.getProgress()).filesTransferred).toBe(20);
    const before = server.requests.length;

    // Complete renames 20 files (many event-loop turns); the retry delay ends meanwhile.
    const completing = job.complete();
    await clock.advance(5_000);
    expect(await completing).toBe('BG_S_PARTIAL_COMPLETE');
    expect(await job.getState()).toBe('ACKNOWLEDGED');
    await new Promise((r) => setTimeout(r, 300));
    expect(server.requests.slice(before).map((r) => `${r.method} ${r.url}`)).toEqual([]);
    expect(await tempFilesIn(dir)).toEqual([]);
    for (let i = 0; i < 20; i++) expectSameBytes(await readFile(join(dir, `small${i}`)), files[i] as Buffer);
    await expect(stat(join(dir, 'last'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

async function waitForRequestClosed(entry: { closedEarly: boolean } | undefined): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (entry && !entry.closedEarly && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  expect(entry?.closedEarly).toBe(true);
}

describe('empty files', () => {
  it('a 0-byte remote file transfers without a GET and completes as an empty local file', async () => {
    const dir = await workDir();
    const root = join(dir, 'root');
    const server = await startReferenceServer({ root });
    await writeFile(join(root, 'empty'), '');
    await writeFile(join(root, 'one'), 'x');
    const mgr = await openManager(dir);
    const job = await mgr.createJob('empty', 'DOWNLOAD');
    await job.addFile(`${server.url}/empty`, join(dir, 'empty'));
    await job.addFile(`${server.url}/one`, join(dir, 'one'));
    await job.resume();
    await waitForState(job, 'TRANSFERRED');
    expect(await job.getProgress()).toEqual({ bytesTotal: 1, bytesTransferred: 1, filesTotal: 2, filesTransferred: 2 });
    expect(await job.complete()).toBe('S_OK');
    expect((await stat(join(dir, 'empty'))).size).toBe(0);
    expect(await readFile(join(dir, 'one'), 'utf8')).toBe('x');
  });
});

describe('Cancel', () => {
  it('Cancel mid-download stops the transfer and deletes every temp file', async () => {
    const dir = await workDir();
    const server = await startFileServer();
    server.put('/a', randomContent(100_000));
    server.put('/b', randomContent(2_000_000));
    server.holdNext('/b', 500_000);
    const mgr = await openManager(dir);
    const job = await mgr.createJob('cancel me', 'DOWNLOAD');
    await job.addFile(`${server.url}/a`, join(dir, 'a'));
    await job.addFile(`${server.url}/b`, join(dir, 'b'));
    await job.resume();
    const files = await job.enumFiles();
    const deadline = Date.now() + 10_000;
    while ((await files[1]?.getProgress())?.bytesTransferred === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const temps = await Promise.all(files.map((f) => f.getTemporaryName()));
    for (const t of temps) expect((await stat(t)).size).toBeGreaterThan(0);
    expect(await tempFilesIn(dir)).toHaveLength(2);

    expect(await job.cancel()).toBe('S_OK');
    expect(await job.getState()).toBe('CANCELLED');
    expect(await tempFilesIn(dir)).toEqual([]);
    await expect(stat(join(dir, 'a'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(stat(join(dir, 'b'))).rejects.toMatchObject({ code: 'ENOENT' });
    await waitForRequestClosed(server.log('GET', '/b')[0]);
    expect(await codeOf(job.cancel())).toBe('BG_E_INVALID_STATE');
    expect(await codeOf(job.resume())).toBe('BG_E_INVALID_STATE');
  });
});

describe('custom headers', () => {
  it('are sent on every request: each GET, the retry after a drop, a redirect hop and the 401 answer', async () => {
    const dir = await workDir();
    const server = await startFileServer();
    const content = server.put('/file', randomContent(400_000));
    server.dropNext('/file', 150_000);
    const auth = `Basic ${Buffer.from('u:p').toString('base64')}`;
    server.intercept = (req, res) => {
      if (req.url === '/start') {
        res.writeHead(302, { location: '/file', 'content-length': '0' });
        res.end();
        return true;
      }
      if (req.headers.authorization !== auth) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="x"', 'content-length': '0' });
        res.end();
        return true;
      }
      return false;
    };
    const mgr = await openManager(dir);
    const job = await mgr.createJob('headers', 'DOWNLOAD');
    await job.addFile(`${server.url}/start`, join(dir, 'out'));
    await job.setCustomHeaders('X-Custom: one\r\nX-Other: two, three\r\nUser-Agent: custom-agent/1\r\n');
    await job.setCredentials({ target: 'SERVER', scheme: 'BASIC', userName: 'u', password: 'p' });
    await job.resume();
    await waitForState(job, 'TRANSIENT_ERROR');
    await job.resume();
    await waitForState(job, 'TRANSFERRED');
    expect(await job.complete()).toBe('S_OK');
    expectSameBytes(await readFile(join(dir, 'out')), content);

    // Each run: the redirect hop, the challenged GET, and the answered one (dropped, then complete).
    const seen = server.requests.map((r) => `${r.method} ${r.url} ${r.headers.authorization === undefined ? '-' : 'auth'}`);
    expect(seen).toEqual(['GET /start -', 'GET /file -', 'GET /file auth', 'GET /start -', 'GET /file -', 'GET /file auth']);
    for (const r of server.requests) {
      expect(r.headers['x-custom']).toBe('one');
      expect(r.headers['x-other']).toBe('two, three');
      expect(r.headers['user-agent']).toBe('custom-agent/1');
    }
  });
});

describe('Wine black-box cases (bits-api.md (e))', () => {
  it('18. http job with all notify flags, custom headers, security flags 0: TRANSFERRED, then Complete once', async () => {
    const dir = await workDir();
    const server = await startFileServer();
    const content = server.put('/wine.txt', Buffer.from('Hello from the loopback winehq stand-in\n'));
    const mgr = await openManager(dir);
    const job = await mgr.createJob('Test', 'DOWNLOAD');
    const all = NOTIFY.JOB_TRANSFERRED | NOTIFY.JOB_ERROR | NOTIFY.DISABLE | NOTIFY.JOB_MODIFICATION | NOTIFY.FILE_TRANSFERRED;
    expect(all).toBe(0x1f);
    await job.setNotifyFlags(all);
    expect(await job.getNotifyFlags()).toBe(0x1f);
    await job.addFile(`${server.url}/wine.txt`, join(dir, 'wine.txt'));
    expect(await job.getCustomHeaders()).toBeNull();
    await job.setCustomHeaders('Wine: test\r\n');
    expect(await job.getCustomHeaders()).toBe('Wine: test\r\n');
    await job.setCustomHeaders(null);
    expect(await job.getCustomHeaders()).toBeNull();
    await job.setCustomHeaders('Wine: test\r\n');
    expect(await job.getSecurityFlags()).toBe(0);
    await job.setSecurityFlags(0);
    // DISABLE (0x4) is among the flags: no callbacks at all.
    const events: string[] = [];
    job.on('job:transferred', () => events.push('transferred'));
    job.on('file:transferred', () => events.push('file'));

    const started = Date.now();
    await job.resume();
    await waitForState(job, 'TRANSFERRED', 30_000);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(events).toEqual([]);
    expect(server.requests.every((r) => r.headers.wine === 'test')).toBe(true);
    expect(await codeOf(job.getError())).toBe('BG_E_ERROR_INFORMATION_UNAVAILABLE');
    expect(await job.complete()).toBe('S_OK');
    expect(await job.getState()).toBe('ACKNOWLEDGED');
    expect(await codeOf(job.complete())).toBe('BG_E_INVALID_STATE');
    expect(await codeOf(job.setNotifyFlags(0x3))).toBe('BG_E_INVALID_STATE');
    expectSameBytes(await readFile(join(dir, 'wine.txt')), content);
  });
});
