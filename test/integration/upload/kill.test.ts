/**
 * kill -9 of the process mid-upload, then reopen: the upload continues in the same session from
 * the server's received range, and the server's file is byte-identical.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { BackgroundCopyManager, BitsUploadEngine, UndiciTransport } from '../../../src/index.js';
import { type BitsServer, startBitsServer } from '../../../src/server/index.js';
import { JobStore } from '../../../src/store/job-store.js';
import { KIB, MIB, content, digest, digestOf, fragmentBytes, packetsOf, waitState } from './helpers.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const FRAGMENT = 256 * KIB;

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()?.();
});

/** Spawns the child and resolves with its "JOB <id> <bytes>" line. */
function runChild(args: readonly string[]): Promise<{ line: string; kill: () => Promise<void> }> {
  const child = spawn(process.execPath, [join(root, 'dist/test/fixtures/upload-child.js'), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  cleanup.push(kill);
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('child never reported progress')), 20_000);
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolve({ line: out.trim(), kill });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`child exited early (${String(code)})`));
    });
  });
}

describe('kill -9 mid-upload', () => {
  it('reopen continues the same session from the server received range, byte-identical', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bitsd-upload-kill-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    // Every fragment waits 200 ms before the server takes it: the kill lands mid-upload.
    const server: BitsServer = await startBitsServer({ root: join(dir, 'server'), faults: { fragment: [{ kind: 'stall', delayMs: 200, times: 'forever' }] } });
    cleanup.push(() => server.close());
    const dataDir = join(dir, 'data');
    const local = join(dir, 'upload.bin');
    const data = content(8 * MIB);
    await writeFile(local, data);

    const { line, kill } = await runChild([dataDir, local, `${server.url}/up/upload.bin`, String(FRAGMENT)]);
    await kill();
    const [, jobId, reported] = line.split(' ') as [string, string, string];
    server.setFaults({});

    // What the crash left: a job caught mid-transfer, with a durable offset and an open session.
    const store = JobStore.open({ dataDir, now: Date.now() });
    const crashed = store.getJob(jobId);
    const [file] = store.getFiles(jobId);
    store.close();
    expect(crashed?.state).toBe('TRANSFERRING');
    expect(file?.bytesTransferred).toBeGreaterThanOrEqual(Number(reported));
    expect(file?.bytesTransferred).toBeLessThan(data.length);
    const sessionId = file?.engineState['sessionId'];
    expect(typeof sessionId).toBe('string');
    expect(server.sessions().map((s) => s.id)).toEqual([sessionId]);
    // The fragment in flight at the kill may still be settling on the server.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const before = server.packets.length;

    const mgr = await BackgroundCopyManager.open({ dataDir, engines: [new BitsUploadEngine({ transport: new UndiciTransport(), fragmentSize: FRAGMENT })] });
    cleanup.push(() => mgr.close());
    const job = await mgr.getJob(jobId);
    await waitState(job, 'TRANSFERRED', 20_000);

    const resumed = packetsOf(server, 'fragment', before);
    // No new session: the stored one continued, from the durable offset (the Ack corrects it).
    expect(packetsOf(server, 'create-session', before)).toHaveLength(0);
    expect(resumed.every((p) => p.sessionId === sessionId)).toBe(true);
    expect(resumed[0]?.range).toMatchObject({ first: file?.bytesTransferred });
    expect(server.stats).toMatchObject({ sessionsCreated: 1, sessionsCompleted: 1, sessionsClosed: 1 });
    expect(server.stats.bytesStored).toBe(data.length);
    // At most the fragment in flight at the kill crossed the wire twice.
    expect(fragmentBytes(server)).toBeLessThanOrEqual(data.length + FRAGMENT);
    expect(await digestOf(join(server.root, 'up', 'upload.bin'))).toBe(digest(data));
    expect(await job.complete()).toBe('S_OK');
  }, 45_000);
});
