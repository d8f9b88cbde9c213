/**
 * One daemon per data directory, with the real bitsd: the kernel lock is kept by a stopped
 * daemon (a second one is refused at once, and still after 30 s, naming the first as stopped),
 * dropped by a killed one (the next starts without delay), and a leftover holder record decides
 * nothing. Build first (npx tsc -p tsconfig.json).
 */
import { spawn } from 'node:child_process';
import { lstat, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BitsClient } from '../../src/index.js';
import { isStoppedPerProc } from '../../src/daemon/lock.js';
import { tempDir, waitFor } from '../helpers/temp.js';
import { runBitsadmin, runBitsd, spawnDaemon, type SpawnedDaemon } from './spawn.js';

async function paths(): Promise<{ dir: string; dataDir: string; socket: string }> {
  const dir = await tempDir('bitsd-lock-');
  return { dir, dataDir: join(dir, 'data'), socket: join(dir, 'run', 'bitsd.sock') };
}

async function stopAndWait(d: SpawnedDaemon): Promise<void> {
  d.child.kill('SIGSTOP');
  await waitFor(() => isStoppedPerProc(d.pid), 5000, `bitsd ${d.pid} to be stopped`);
}

/** A pid that was just used and is now free (its process exited). */
async function deadPid(): Promise<number> {
  const child = spawn('true', { stdio: 'ignore' });
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid as number;
}

describe('a stopped daemon keeps its data directory', () => {
  it('a second bitsd is refused at once and after 30 s, naming the stopped one; after SIGCONT it serves; after kill -9 the next starts at once', async () => {
    const p = await paths();
    const first = await spawnDaemon({ dataDir: p.dataDir, socket: p.socket });
    const client = await BitsClient.connect({ socket: p.socket });
    const job = await client.createJob('kept while stopped', 'DOWNLOAD');
    await client.close();
    try {
      await stopAndWait(first);
      const stoppedMessage = `bitsd is already running for ${p.dataDir} (pid ${first.pid}, socket ${p.socket}) and is stopped (SIGSTOP); continue it with kill -CONT ${first.pid}.`;

      const atOnce = await runBitsd(['--data-dir', p.dataDir, '--socket', p.socket]);
      expect(atOnce.code).toBe(3);
      expect(atOnce.ms).toBeLessThan(5000);
      expect(atOnce.stderr).toContain(stoppedMessage);
      // Through another socket too: the data directory is what is locked, not the socket.
      const otherSocket = await runBitsd(['--data-dir', p.dataDir, '--socket', join(p.dir, 'run', 'other.sock')]);
      expect(otherSocket.code).toBe(3);
      expect(otherSocket.stderr).toContain(stoppedMessage);
      await expect(lstat(join(p.dir, 'run', 'other.sock'))).rejects.toMatchObject({ code: 'ENOENT' });

      // Far past any grace period a probe-based lock would allow a silent holder.
      await new Promise((resolve) => setTimeout(resolve, 30_000));
      expect(await isStoppedPerProc(first.pid)).toBe(true);
      const later = await runBitsd(['--data-dir', p.dataDir, '--socket', p.socket]);
      expect(later.code).toBe(3);
      expect(later.ms).toBeLessThan(5000);
      expect(later.stderr).toContain(stoppedMessage);
      expect((await lstat(p.socket)).isSocket()).toBe(true); // the refused daemons left the socket alone
    } finally {
      first.child.kill('SIGCONT');
    }

    // Continued, the first daemon serves as before, through the API and the CLI.
    await waitFor(async () => !(await isStoppedPerProc(first.pid)), 5000, 'bitsd to run again');
    const again = await BitsClient.connect({ socket: p.socket });
    expect(again.server.pid).toBe(first.pid);
    expect(await (await again.getJob(job.id)).getDisplayName()).toBe('kept while stopped');
    await again.close();
    const list = await runBitsadmin(['--socket', p.socket, '/list']);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(job.id);
    expect(first.logs().filter((l) => l.level === 'error')).toEqual([]);

    // Killed, its lock goes with it: the next daemon starts at once on the same directory.
    await first.stop('SIGKILL');
    const started = Date.now();
    const next = await spawnDaemon({ dataDir: p.dataDir, socket: p.socket });
    expect(Date.now() - started).toBeLessThan(10_000);
    const messages = next.logs().map((l) => l.msg);
    expect(messages).toContain('replaced the lock holder record of a daemon that did not stop cleanly');
    expect(messages).toContain('removed a stale socket left by a daemon that did not stop cleanly');
    expect(next.logs().find((l) => l.msg.startsWith('replaced the lock holder record'))?.previousPid).toBe(first.pid);
    const after = await BitsClient.connect({ socket: p.socket });
    expect(after.server.pid).toBe(next.pid);
    expect(await (await after.getJob(job.id)).getDisplayName()).toBe('kept while stopped');
    await after.close();
    expect(await next.stop()).toMatchObject({ code: 0 });
  }, 90_000);
});

describe('the holder record decides nothing', () => {
  it.each([
    ['a dead pid', async () => JSON.stringify({ pid: await deadPid(), socket: '/gone.sock', startedAt: 'then' })],
    ['a live process that is not bitsd (this test runner)', async () => JSON.stringify({ pid: process.pid, socket: '/nobody.sock', startedAt: 'then' })],
    ['garbage', async () => '{"pid": "not a pid"'],
    ['an empty file', async () => ''],
  ])('a leftover bitsd.lock naming %s does not stop a new daemon', async (_what, content) => {
    const p = await paths();
    await mkdir(p.dataDir, { recursive: true, mode: 0o700 });
    await writeFile(join(p.dataDir, 'bitsd.lock'), await content());
    const started = Date.now();
    const d = await spawnDaemon({ dataDir: p.dataDir, socket: p.socket });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(d.logs().map((l) => l.msg)).toContain('replaced the lock holder record of a daemon that did not stop cleanly');
    expect(JSON.parse(await readFile(join(p.dataDir, 'bitsd.lock'), 'utf8'))).toMatchObject({ pid: d.pid, socket: p.socket });
    expect((await stat(join(p.dataDir, 'bitsd.lock'))).mode & 0o777).toBe(0o600);
    expect(await d.stop()).toMatchObject({ code: 0 });
    await expect(lstat(join(p.dataDir, 'bitsd.lock'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('two daemons started together on one data directory: exactly one runs, the other names it', async () => {
    const p = await paths();
    const a = await spawnDaemon({ dataDir: p.dataDir, socket: join(p.dir, 'run', 'a.sock'), waitReady: false });
    const b = await spawnDaemon({ dataDir: p.dataDir, socket: join(p.dir, 'run', 'b.sock'), waitReady: false });
    const outcome = async (d: SpawnedDaemon): Promise<'ready' | number | null> =>
      Promise.race([d.waitForLog((l) => l.msg === 'ready', 15_000, 'the ready line').then(() => 'ready' as const), d.exited.then((e) => e.code)]);
    const [ra, rb] = await Promise.all([outcome(a), outcome(b)]);
    expect([ra, rb].sort()).toEqual([3, 'ready'].sort());
    const [winner, loser] = ra === 'ready' ? [a, b] : [b, a];
    expect(loser.stderr()).toContain(`bitsd is already running for ${p.dataDir} (pid ${winner.pid}, socket ${winner.socket})`);
    expect(await winner.stop()).toMatchObject({ code: 0 });
  });
});
