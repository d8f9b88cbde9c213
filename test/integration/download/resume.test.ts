/**
 * Resuming DOWNLOAD jobs: after a connection reset mid-body (by Resume, and by the retry delay
 * under a FakeClock), after the remote file changed (that file restarts, earlier files are not
 * touched), always from the durable offset and never from zero.
 */
import { readFile, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BackgroundCopyManager, FakeClock } from '../../../src/index.js';
import type { BackgroundCopyFile, BackgroundCopyJob } from '../../../src/index.js';
import type { FaultRule } from '../../../src/server/index.js';
import { expectSameBytes, httpEngine, onCleanup, openManager, randomContent, startFileServer, startReferenceServer, tempFilesIn, waitForState, workDir } from './helpers.js';

/** A `get` rule that changes nothing (the reference server's `get` list also counts HEADs). */
const PASS: FaultRule = { kind: 'omit-header', header: 'x-nothing' };

function rangeStart(range: string | undefined): number {
  const m = /^bytes=(\d+)-$/.exec(range ?? '');
  if (!m) throw new Error(`not an open-ended range: ${range}`);
  return Number(m[1]);
}

describe('resume after a dropped connection', () => {
  it('Resume: TRANSIENT_ERROR, then the next GET continues at the durable offset', async () => {
    const dir = await workDir();
    const root = join(dir, 'root');
    // No HEAD: the first GET is the one cut off.
    const server = await startReferenceServer({ root, faults: { get: [{ kind: 'reset', afterBodyBytes: 1_000_000 }] } });
    const content = randomContent(3_000_000);
    await writeFile(join(root, 'big.bin'), content);
    const mgr = await openManager(dir);
    const job = await mgr.createJob('reset', 'DOWNLOAD');
    await job.addFile(`${server.url}/big.bin`, join(dir, 'big.bin'));
    await job.resume();

    await waitForState(job, 'TRANSIENT_ERROR');
    const error = await job.getError();
    expect(['ERROR_WINHTTP_CONNECTION_ERROR', 'BG_E_INVALID_SERVER_RESPONSE']).toContain(error.code);
    expect(error.file?.remoteName).toBe(`${server.url}/big.bin`);
    expect(await job.getErrorCount()).toBe(1);
    const kept = (await job.getProgress()).bytesTransferred;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(1_000_000);
    expect((await job.getProgress()).bytesTotal).toBe(content.length);

    await job.resume();
    await waitForState(job, 'TRANSFERRED');
    // One request per attempt: the resume's GET carries If-Range, so no HEAD is needed.
    expect(server.requests.map((r) => r.method)).toEqual(['GET', 'GET']);
    const gets = server.requests.filter((r) => r.method === 'GET');
    expect(gets.map((g) => g.outcome)).toEqual(['reset', 206]);
    expect(rangeStart(gets[0]?.range)).toBe(0);
    // Resumed exactly where the durable bytes end: nothing downloaded twice, nothing skipped.
    expect(rangeStart(gets[1]?.range)).toBe(kept);
    expect(await job.complete()).toBe('S_OK');
    expectSameBytes(await readFile(join(dir, 'big.bin')), content);
  });

  it('FakeClock: the retry delay brings the job back by itself, resuming at the durable offset', async () => {
    const dir = await workDir();
    const root = join(dir, 'root');
    const server = await startReferenceServer({ root, faults: { get: [{ kind: 'reset', afterBodyBytes: 700_000 }] } });
    const content = randomContent(2_000_000);
    await writeFile(join(root, 'f.bin'), content);
    const clock = new FakeClock();
    const mgr = await openManager(dir, { clock });
    const job = await mgr.createJob('retry', 'DOWNLOAD');
    await job.addFile(`${server.url}/f.bin`, join(dir, 'f.bin'));
    await job.setMinimumRetryDelay(60);
    await job.resume();
    await waitForState(job, 'TRANSIENT_ERROR');
    const kept = (await job.getProgress()).bytesTransferred;
    expect(kept).toBeGreaterThan(0);

    // Real time passing does nothing; only the job's clock brings it back.
    await new Promise((r) => setTimeout(r, 200));
    expect(await job.getState()).toBe('TRANSIENT_ERROR');
    await clock.advance(59_999);
    expect(await job.getState()).toBe('TRANSIENT_ERROR');
    expect(server.requests.filter((r) => r.method === 'GET')).toHaveLength(1);
    await clock.advance(1);
    await waitForState(job, 'TRANSFERRED');
    expect(server.requests.map((r) => r.method)).toEqual(['GET', 'GET']);
    const gets = server.requests.filter((r) => r.method === 'GET');
    expect(gets.map((g) => rangeStart(g.range))).toEqual([0, kept]);
    expect(await job.complete()).toBe('S_OK');
    expectSameBytes(await readFile(join(dir, 'f.bin')), content);
  });
});

describe('remote file changed', () => {
  it('changed while the job waits: that file restarts from zero, the earlier file is not downloaded again', async () => {
    const dir = await workDir();
    const root = join(dir, 'root');
    // GET a passes; the GET of b is cut off.
    const server = await startReferenceServer({ root, faults: { get: [PASS, { kind: 'reset', afterBodyBytes: 400_000 }] } });
    const a = randomContent(250_000);
    const oldB = randomContent(1_000_000);
    await writeFile(join(root, 'a.bin'), a);
    await writeFile(join(root, 'b.bin'), oldB);
    const mgr = await openManager(dir);
    const job = await mgr.createJob('changing', 'DOWNLOAD');
    await job.addFile(`${server.url}/a.bin`, join(dir, 'a.bin'));
    await job.addFile(`${server.url}/b.bin`, join(dir, 'b.bin'));
    await job.resume();
    await waitForState(job, 'TRANSIENT_ERROR');
    const [fa, fb] = await job.enumFiles();
    const kept = (await fb?.getProgress())?.bytesTransferred ?? 0;
    expect(kept).toBeGreaterThan(0);
    const aTemp = await fa?.getTemporaryName();
    const aMtime = (await stat(aTemp as string)).mtimeMs;

    // The server's copy of b is replaced by another version (other size and date).
    const newB = randomContent(900_000);
    await writeFile(join(root, 'b.bin'), newB);
    await utimes(join(root, 'b.bin'), new Date(Date.UTC(2024, 1, 1)), new Date(Date.UTC(2024, 1, 1)));
    server.clearLog();
    await job.resume();
    await waitForState(job, 'TRANSFERRED');

    // Only b was fetched again, in one request: the resumed GET's If-Range named the old version,
    // so the server answered with the whole new one (200), which became the file from byte 0.
    expect(server.requests.every((r) => r.target === '/b.bin')).toBe(true);
    expect(server.requests.map((r) => `${r.method} ${rangeStart(r.range)} ${r.outcome}`)).toEqual([`GET ${kept} 200`]);
    expect(await fa?.getProgress()).toEqual({ bytesTotal: a.length, bytesTransferred: a.length, completed: false });
    expect(await fb?.getProgress()).toEqual({ bytesTotal: newB.length, bytesTransferred: newB.length, completed: false });
    expect((await stat(aTemp as string)).mtimeMs).toBe(aMtime);
    expect(await job.complete()).toBe('S_OK');
    expectSameBytes(await readFile(join(dir, 'a.bin')), a);
    expectSameBytes(await readFile(join(dir, 'b.bin')), newB);
    expect(await tempFilesIn(dir)).toEqual([]);
  });

  it('changed just before the resumed GET: If-Range catches it, and the 200 with the new version restarts the file in the same request', async () => {
    const dir = await workDir();
    const server = await startFileServer();
    const a = server.put('/a', randomContent(100_000));
    server.put('/b', randomContent(800_000));
    server.dropNext('/b', 300_000);
    const mgr = await openManager(dir);
    const job = await mgr.createJob('if-range', 'DOWNLOAD');
    await job.addFile(`${server.url}/a`, join(dir, 'a'));
    await job.addFile(`${server.url}/b`, join(dir, 'b'));
    await job.resume();
    await waitForState(job, 'TRANSIENT_ERROR');
    const [, fb] = await job.enumFiles();
    const kept = (await fb?.getProgress())?.bytesTransferred ?? 0;
    expect(kept).toBeGreaterThan(0);

    // The new version appears just as the resumed GET (Range + If-Range of the old one) arrives.
    const newB = randomContent(800_000); // same size: only the validators tell them apart
    let swapped = false;
    server.intercept = (req) => {
      if (!swapped && req.method === 'GET' && req.url === '/b') {
        swapped = true;
        server.put('/b', newB, new Date(Date.UTC(2025, 6, 1)));
      }
      return false;
    };
    const before = server.requests.length;
    await job.resume();
    await waitForState(job, 'TRANSFERRED');
    const after = server.requests.slice(before).map((r) => `${r.method} ${r.url} ${r.headers.range ?? ''}`);
    expect(after).toEqual([`GET /b bytes=${kept}-`]);
    expect(await job.complete()).toBe('S_OK');
    expectSameBytes(await readFile(join(dir, 'a')), a);
    expectSameBytes(await readFile(join(dir, 'b')), newB);
  });
});

async function waitForBytes(job: BackgroundCopyJob, atLeast: number): Promise<number> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { bytesTransferred } = await job.getProgress();
    if (bytesTransferred >= atLeast) return bytesTransferred;
    if (Date.now() > deadline) throw new Error(`progress stayed at ${bytesTransferred} (< ${atLeast})`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('stopping and starting mid-body', () => {
  it('Suspend mid-body keeps the durable bytes; Resume continues from them', async () => {
    const dir = await workDir();
    const server = await startFileServer();
    const content = server.put('/f', randomContent(1_500_000));
    server.holdNext('/f', 500_000);
    const mgr = await openManager(dir);
    const job = await mgr.createJob('suspend', 'DOWNLOAD');
    await job.addFile(`${server.url}/f`, join(dir, 'f'));
    await job.resume();
    await waitForBytes(job, 64 * 1024);
    await job.suspend();
    expect(await job.getState()).toBe('SUSPENDED');
    const kept = (await job.getProgress()).bytesTransferred;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(500_000);
    await new Promise((r) => setTimeout(r, 50));
    expect(await job.getState()).toBe('SUSPENDED');

    await job.resume();
    await waitForState(job, 'TRANSFERRED');
    expect(server.log('GET', '/f').map((r) => rangeStart(r.headers.range))).toEqual([0, kept]);
    expect(await job.complete()).toBe('S_OK');
    expectSameBytes(await readFile(join(dir, 'f')), content);
  });

  it('close() of the manager mid-body, then reopen: the job is requeued and continues from the durable offset', async () => {
    const dir = await workDir();
    const server = await startFileServer();
    const content = server.put('/f', randomContent(1_000_000));
    server.holdNext('/f', 400_000);
    const first = await BackgroundCopyManager.open({ dataDir: join(dir, 'data'), engines: [httpEngine()] });
    onCleanup(() => first.close()); // idempotent: only matters if the test fails before its own close()
    const job = await first.createJob('restart', 'DOWNLOAD');
    await job.addFile(`${server.url}/f`, join(dir, 'f'));
    await job.resume();
    const kept = await waitForBytes(job, 64 * 1024);
    await first.close();

    const mgr = await openManager(dir);
    const again = await mgr.getJob(job.id);
    await waitForState(again, 'TRANSFERRED');
    const starts = server.log('GET', '/f').map((r) => rangeStart(r.headers.range));
    expect(starts).toHaveLength(2);
    expect(starts[0]).toBe(0);
    expect(starts[1]).toBeGreaterThanOrEqual(kept);
    expect(await again.complete()).toBe('S_OK');
    expectSameBytes(await readFile(join(dir, 'f')), content);
  });

  it('a HIGH job preempts a NORMAL one mid-body; the NORMAL job later resumes where it stopped', async () => {
    const dir = await workDir();
    const server = await startFileServer();
    const low = server.put('/low', randomContent(1_200_000));
    const high = server.put('/high', randomContent(100_000));
    server.holdNext('/low', 400_000);
    const mgr = await openManager(dir);
    const a = await mgr.createJob('normal', 'DOWNLOAD');
    await a.addFile(`${server.url}/low`, join(dir, 'low'));
    await a.resume();
    await waitForBytes(a, 64 * 1024);
    const b = await mgr.createJob('high', 'DOWNLOAD');
    await b.setPriority('HIGH');
    await b.addFile(`${server.url}/high`, join(dir, 'high'));
    await b.resume();
    await waitForState(b, 'TRANSFERRED');
    await waitForState(a, 'TRANSFERRED');
    const starts = server.log('GET', '/low').map((r) => rangeStart(r.headers.range));
    expect(starts).toHaveLength(2);
    expect(starts[1]).toBeGreaterThan(0);
    // The preempted GET was cut off, and the high job ran while the normal one waited.
    expect(server.log('GET', '/low')[0]?.closedEarly).toBe(true);
    const order = server.requests.map((r) => `${r.method} ${r.url}`);
    expect(order.indexOf('GET /high')).toBeLessThan(order.lastIndexOf('GET /low'));
    expect(await a.complete()).toBe('S_OK');
    expect(await b.complete()).toBe('S_OK');
    expectSameBytes(await readFile(join(dir, 'low')), low);
    expectSameBytes(await readFile(join(dir, 'high')), high);
  });

  it('a range download cut off mid-range resumes inside that range', async () => {
    const dir = await workDir();
    const root = join(dir, 'root');
    // The first range passes (its 206 gives the size: no HEAD); the second range's GET is cut after 100,000 bytes.
    const server = await startReferenceServer({ root, faults: { get: [PASS, { kind: 'reset', afterBodyBytes: 100_000 }] } });
    const content = randomContent(1_000_000);
    await writeFile(join(root, 'r.bin'), content);
    const mgr = await openManager(dir);
    const job = await mgr.createJob('ranges resume', 'DOWNLOAD');
    await job.addFileWithRanges(`${server.url}/r.bin`, join(dir, 'r.bin'), [
      { initialOffset: 900_000, length: 50_000 },
      { initialOffset: 100_000, length: 300_000 },
      { initialOffset: 0, length: 10 },
    ]);
    await job.resume();
    await waitForState(job, 'TRANSIENT_ERROR');
    const kept = (await job.getProgress()).bytesTransferred;
    expect(kept).toBeGreaterThan(50_000);
    await job.resume();
    await waitForState(job, 'TRANSFERRED');
    const inSecond = kept - 50_000;
    expect(server.requests.filter((r) => r.method === 'GET').map((r) => r.range)).toEqual([
      'bytes=900000-949999',
      'bytes=100000-399999',
      `bytes=${100_000 + inSecond}-399999`,
      'bytes=0-9',
    ]);
    expect(await job.complete()).toBe('S_OK');
    expectSameBytes(
      await readFile(join(dir, 'r.bin')),
      Buffer.concat([content.subarray(900_000, 950_000), content.subarray(100_000, 400_000), content.subarray(0, 10)]),
    );
  });
});

describe('a server that stops sending', () => {
  it('a body stalled past the timeout: TRANSIENT_ERROR ERROR_WINHTTP_TIMEOUT, bytes kept, Resume continues', async () => {
    const dir = await workDir();
    const server = await startFileServer();
    const content = server.put('/f', randomContent(900_000));
    server.holdNext('/f', 300_000);
    const mgr = await openManager(dir, { timeoutMs: 500 });
    const job = await mgr.createJob('stalled', 'DOWNLOAD');
    await job.addFile(`${server.url}/f`, join(dir, 'f'));
    await job.resume();
    await waitForState(job, 'TRANSIENT_ERROR');
    expect(await job.getError()).toMatchObject({ code: 'ERROR_WINHTTP_TIMEOUT', context: 'GENERAL_TRANSPORT' });
    const kept = (await job.getProgress()).bytesTransferred;
    // Everything that arrived before the stall was kept, not just the last 64 KiB boundary.
    expect(kept).toBe(300_000);
    await job.resume();
    await waitForState(job, 'TRANSFERRED');
    expect(server.log('GET', '/f').map((r) => rangeStart(r.headers.range))).toEqual([0, 300_000]);
    expect(await job.complete()).toBe('S_OK');
    expectSameBytes(await readFile(join(dir, 'f')), content);
  });
});

describe('temp file lost between runs', () => {
  it('a temp file deleted while the job waits: the file restarts from byte 0 and still completes byte-identical', async () => {
    const dir = await workDir();
    const server = await startFileServer();
    const content = server.put('/f', randomContent(600_000));
    server.dropNext('/f', 250_000);
    const mgr = await openManager(dir);
    const job = await mgr.createJob('lost temp', 'DOWNLOAD');
    await job.addFile(`${server.url}/f`, join(dir, 'f'));
    await job.resume();
    await waitForState(job, 'TRANSIENT_ERROR');
    expect((await job.getProgress()).bytesTransferred).toBeGreaterThan(0);
    await unlink(await ((await job.enumFiles())[0] as BackgroundCopyFile).getTemporaryName());
    await job.resume();
    await waitForState(job, 'TRANSFERRED');
    expect(server.log('GET', '/f').map((r) => rangeStart(r.headers.range))).toEqual([0, 0]);
    expect(await job.complete()).toBe('S_OK');
    expectSameBytes(await readFile(join(dir, 'f')), content);
  });
});
