/**
 * Retry-After end to end: bits-server's fault plan answers a download's first request with 503 or
 * 429 and a Retry-After; the job waits at least that long on the fake clock (longer than its
 * retry delay), then downloads the file. HTTP is real, the timers fake, jitter fixed at 0.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../src/index.js';
import type { FaultRule } from '../../../src/server/index.js';
import { expectSameBytes, openManager, randomContent, startReferenceServer, waitForState, workDir } from './helpers.js';

const SEC = 1000;
/** A rule that serves the request normally (leaves out a header nobody sends). */
const PASS: FaultRule = { kind: 'omit-header', header: 'x-nothing' };

async function setUp(): Promise<{ dir: string; root: string; content: Buffer; clock: FakeClock }> {
  const dir = await workDir();
  const root = join(dir, 'root');
  const content = randomContent(300_000);
  const clock = new FakeClock();
  return { dir, root, content, clock };
}

describe('Retry-After from the server', () => {
  it('503 with Retry-After: 900 on the HEAD: the job waits 900 s (not its 60 s retry delay), then completes', async () => {
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
    expect(server.requests.map((r) => `${r.method} ${String(r.outcome)}`)).toEqual(['HEAD 503']);

    // The retry delay passes, and much more: still waiting, nothing sent.
    await clock.advance(900 * SEC - 1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await job.getState()).toBe('TRANSIENT_ERROR');
    expect(server.requests).toHaveLength(1);

    await clock.advance(1);
    await waitForState(job, 'TRANSFERRED');
    expect(server.requests.length).toBeGreaterThan(1);
    expect(await job.complete()).toBe('S_OK');
    expectSameBytes(await readFile(join(dir, 'f.bin')), content);
  });

  it('429 with an HTTP-date on a ranged GET: the job waits until that date, then resumes and completes', async () => {
    const { dir, root, content, clock } = await setUp();
    const until = new Date(clock.now() + 30 * 60 * SEC).toUTCString();
    // The HEAD is served; the first GET gets the 429.
    const server = await startReferenceServer({ root, faults: { get: [PASS, { kind: 'status', status: 429, headers: { 'Retry-After': until } }] } });
    await writeFile(join(root, 'g.bin'), content);
    const mgr = await openManager(dir, { clock });
    const job = await mgr.createJob('retry-after date', 'DOWNLOAD');
    await job.addFile(`${server.url}/g.bin`, join(dir, 'g.bin'));
    await job.setMinimumRetryDelay(60);
    await job.resume();
    await waitForState(job, 'TRANSIENT_ERROR');
    expect(await job.getError()).toMatchObject({ code: 'BG_E_HTTP_ERROR_429', hresult: 0x801901ad });
    expect(server.requests.map((r) => `${r.method} ${String(r.outcome)}`)).toEqual(['HEAD 200', 'GET 429']);

    await clock.advance(30 * 60 * SEC - 1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await job.getState()).toBe('TRANSIENT_ERROR');
    expect(server.requests).toHaveLength(2);

    await clock.advance(1);
    await waitForState(job, 'TRANSFERRED');
    expect(await job.complete()).toBe('S_OK');
    expectSameBytes(await readFile(join(dir, 'g.bin')), content);
  });
});
