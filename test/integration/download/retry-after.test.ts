/**
 * Retry-After end to end: bits-server's fault plan answers a download's first request with 503 or
 * 429 and a Retry-After; the job waits at least that long on the fake clock (longer than its
 * retry delay), then downloads the file. HTTP is real, the timers fake, jitter fixed at 0.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../src/index.js';
import { expectSameBytes, openManager, randomContent, startReferenceServer, waitForState, workDir } from './helpers.js';

const SEC = 1000;

async function pollUntil(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function setUp(): Promise<{ dir: string; root: string; content: Buffer; clock: FakeClock }> {
  const dir = await workDir();
  const root = join(dir, 'root');
  const content = randomContent(300_000);
  const clock = new FakeClock();
  return { dir, root, content, clock };
}

describe('Retry-After from the server', () => {
  it('503 with Retry-After: 900 on the first GET: the job waits 900 s (not its 60 s retry delay), then completes', async () => {
    const { dir, root, content, clock } = await setUp();
    const server = await startReferenceServer({ root, faults: { get: [{ kind: 'status', status: 503, headers: { 'Retry-After': '900' } }] } });
    await writeFile(join(root, 'f.bin'), content);
    const mgr = await openManager(dir, { clock });
    const job = await mgr.createJob('retry-after', 'DOWNLOAD');
    await job.addFile(`${server.url}/f.bin`, join(dir, 'f.bin'));
    await job.setMinimumRetryDelay(60);
    await job.resume();
    await waitForState(job, 'TRANSIENT_ERROR');
    expect(await job.getError()).toMatchObject({ code: 'BG_E_HTTP_ERROR_503', context: 'REMOTE_FILE' });
    expect(server.requests.map((r) => `${r.method} ${String(r.outcome)}`)).toEqual(['GET 503']);

    // The retry delay passes, and much more: still waiting, nothing sent.
    await clock.advance(900 * SEC - 1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await job.getState()).toBe('TRANSIENT_ERROR');
    expect(server.requests).toHaveLength(1);

    await clock.advance(1);
    await waitForState(job, 'TRANSFERRED');
    expect(server.requests.map((r) => `${r.method} ${String(r.outcome)}`)).toEqual(['GET 503', 'GET 206']);
    expect(await job.complete()).toBe('S_OK');
    expectSameBytes(await readFile(join(dir, 'f.bin')), content);
  });

  it('429 with an HTTP-date on the resumed ranged GET: the job waits until that date, then resumes and completes', async () => {
    const { dir, root, content, clock } = await setUp();
    // The first GET is cut after 100,000 bytes; the one that resumes after the retry delay gets the 429.
    const until = new Date(clock.now() + 60 * SEC + 30 * 60 * SEC).toUTCString();
    const server = await startReferenceServer({
      root,
      faults: { get: [{ kind: 'reset', afterBodyBytes: 100_000 }, { kind: 'status', status: 429, headers: { 'Retry-After': until } }] },
    });
    await writeFile(join(root, 'g.bin'), content);
    const mgr = await openManager(dir, { clock });
    const job = await mgr.createJob('retry-after date', 'DOWNLOAD');
    await job.addFile(`${server.url}/g.bin`, join(dir, 'g.bin'));
    await job.setMinimumRetryDelay(60);
    await job.resume();
    await waitForState(job, 'TRANSIENT_ERROR');
    const kept = (await job.getProgress()).bytesTransferred;
    expect(kept).toBeGreaterThan(0);
    await clock.advance(60 * SEC);
    await pollUntil(async () => server.requests.length === 2 && (await job.getState()) === 'TRANSIENT_ERROR');
    expect(await job.getError()).toMatchObject({ code: 'BG_E_HTTP_ERROR_429', hresult: 0x801901ad });
    expect(server.requests.map((r) => `${r.method} ${r.range ?? ''} ${String(r.outcome)}`)).toEqual(['GET bytes=0- reset', `GET bytes=${kept}- 429`]);

    await clock.advance(30 * 60 * SEC - 1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await job.getState()).toBe('TRANSIENT_ERROR');
    expect(server.requests).toHaveLength(2);

    await clock.advance(1);
    await waitForState(job, 'TRANSFERRED');
    expect(server.requests.map((r) => `${r.range ?? ''} ${String(r.outcome)}`).at(-1)).toBe(`bytes=${kept}- 206`);
    expect(await job.complete()).toBe('S_OK');
    expectSameBytes(await readFile(join(dir, 'g.bin')), content);
  });
});
