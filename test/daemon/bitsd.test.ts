/**
 * The real bitsd process: command line, one daemon per data directory, stale leftovers of a
 * kill -9, the default paths from the environment, and socket permissions.
 */
import { chmod, chown, lstat, mkdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BitsClient } from '../../src/index.js';
import { tempDir } from '../helpers/temp.js';
import { cleanEnv, runBitsd, spawnDaemon } from './spawn.js';

const uid = process.getuid?.() ?? 0;

async function paths(): Promise<{ dir: string; dataDir: string; socket: string }> {
  const dir = await tempDir('bitsd-daemon-');
  return { dir, dataDir: join(dir, 'data'), socket: join(dir, 'run', 'bitsd.sock') };
}

describe('bitsd command line', () => {
  it('--help and --version print and exit 0; unknown flags and bad values exit 2', async () => {
    const help = await runBitsd(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: bitsd \[options\]/);
    expect(help.stdout).toContain('--data-dir DIR');
    const version = await runBitsd(['-V']);
    expect(version).toMatchObject({ code: 0, stdout: 'bitsd 0.1.0\n' });
    const unknown = await runBitsd(['--bogus']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^bitsd: Unknown option '--bogus'.*\nTry 'bitsd --help'\.\n$/s);
    const positional = await runBitsd(['start']);
    expect(positional.code).toBe(2);
    const level = await runBitsd(['--log-level', 'loud']);
    expect(level.code).toBe(2);
    expect(level.stderr).toContain('Unknown log level "loud"; use one of error, warn, info, debug.');
    const long = await runBitsd(['--socket', `/tmp/${'x'.repeat(120)}.sock`]);
    expect(long.code).toBe(2);
    expect(long.stderr).toMatch(/Unix sockets allow 107/);
  });
});

describe('one daemon per data directory', () => {
  it('a second daemon exits at once, non-zero, naming the running one; the first keeps serving', async () => {
    const p = await paths();
    const first = await spawnDaemon({ dataDir: p.dataDir, socket: p.socket });
    const second = await runBitsd(['--data-dir', p.dataDir, '--socket', p.socket]);
    expect(second.code).toBe(3);
    expect(second.ms).toBeLessThan(5000);
    expect(second.stderr).toContain(`bitsd is already running for ${p.dataDir} (pid ${first.pid}, socket ${p.socket})`);
    // Same data directory through another socket: still refused (the lock is per data directory).
    const otherSocket = await runBitsd(['--data-dir', p.dataDir, '--socket', join(p.dir, 'run', 'other.sock')]);
    expect(otherSocket.code).toBe(3);
    expect(otherSocket.stderr).toContain(`pid ${first.pid}`);
    // Another data directory on the same socket: refused without touching the socket.
    const otherData = await runBitsd(['--data-dir', join(p.dir, 'data2'), '--socket', p.socket]);
    expect(otherData.code).toBe(3);
    expect(otherData.stderr).toContain(`Another bitsd (pid ${first.pid}) is listening on ${p.socket}`);
    const client = await BitsClient.connect({ socket: p.socket });
    expect(client.server.pid).toBe(first.pid);
    await client.close();
    expect(await first.stop()).toMatchObject({ code: 0 });
  });

  it('after kill -9, the stale socket and lock holder record are detected and replaced', async () => {
    const p = await paths();
    const crashed = await spawnDaemon({ dataDir: p.dataDir, socket: p.socket });
    const client = await BitsClient.connect({ socket: p.socket });
    const job = await client.createJob('survivor', 'DOWNLOAD');
    await client.close();
    await crashed.stop('SIGKILL');
    expect((await lstat(p.socket)).isSocket()).toBe(true);
    await stat(join(p.dataDir, 'bitsd.lock'));
    const next = await spawnDaemon({ dataDir: p.dataDir, socket: p.socket });
    const messages = next.logs().map((l) => l.msg);
    expect(messages).toContain('replaced the lock holder record of a daemon that did not stop cleanly');
    expect(messages).toContain('removed a stale socket left by a daemon that did not stop cleanly');
    const again = await BitsClient.connect({ socket: p.socket });
    expect(again.server.pid).toBe(next.pid);
    expect(await (await again.getJob(job.id)).getDisplayName()).toBe('survivor');
    await again.close();
    expect(await next.stop()).toMatchObject({ code: 0 });
    // A clean stop leaves neither behind; the lock file itself stays (deleting it would let a
    // daemon that still holds it run beside one that locks a new file of the same name).
    await expect(lstat(p.socket)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(lstat(join(p.dataDir, 'bitsd.lock'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await stat(join(p.dataDir, 'bitsd.lock.sqlite'))).mode & 0o777).toBe(0o600);
  });
});

describe('signals', () => {
  it('a second signal during the stop exits at once with 128+signal; the leftovers are replaced at the next start', async () => {
    const p = await paths();
    const d = await spawnDaemon({ dataDir: p.dataDir, socket: p.socket });
    // Two different signals are never merged by the kernel, and both reach the daemon before its stop can finish.
    d.child.kill('SIGTERM');
    d.child.kill('SIGINT');
    const exit = await d.exited;
    expect([130, 143]).toContain(exit.code);
    expect(d.logs().map((l) => l.msg)).toContain('second signal: exiting at once');
    const next = await spawnDaemon({ dataDir: p.dataDir, socket: p.socket });
    expect(await next.stop('SIGINT')).toMatchObject({ code: 0 });
  });
});

describe('paths and permissions', () => {
  it('the socket directory is created 0700 and the socket is 0600', async () => {
    const p = await paths();
    const d = await spawnDaemon({ dataDir: p.dataDir, socket: p.socket });
    expect((await stat(join(p.dir, 'run'))).mode & 0o777).toBe(0o700);
    expect((await lstat(p.socket)).mode & 0o777).toBe(0o600);
    expect((await stat(p.dataDir)).mode & 0o777).toBe(0o700);
    await d.stop();
  });

  it('defaults: $XDG_RUNTIME_DIR/bitsd/bitsd.sock and $XDG_DATA_HOME/bitsd; env overrides', async () => {
    const dir = await tempDir('bitsd-xdg-');
    const env = cleanEnv({ XDG_RUNTIME_DIR: join(dir, 'xdg-run'), XDG_DATA_HOME: join(dir, 'xdg-data') });
    await mkdir(join(dir, 'xdg-run'), { mode: 0o700 });
    const d = await spawnDaemon({ dataDir: join(dir, 'xdg-data', 'bitsd'), socket: join(dir, 'xdg-run', 'bitsd', 'bitsd.sock'), env, useFlags: false });
    const ready = d.logs().find((l) => l.msg === 'ready');
    expect(ready).toMatchObject({ socket: join(dir, 'xdg-run', 'bitsd', 'bitsd.sock'), dataDir: join(dir, 'xdg-data', 'bitsd') });
    expect((await stat(join(dir, 'xdg-run', 'bitsd'))).mode & 0o777).toBe(0o700);
    await d.stop();
    const overridden = cleanEnv({ XDG_RUNTIME_DIR: join(dir, 'xdg-run'), BITSD_SOCKET: join(dir, 'env.sock'), BITSD_DATA_DIR: join(dir, 'env-data') });
    const e = await spawnDaemon({ dataDir: join(dir, 'env-data'), socket: join(dir, 'env.sock'), env: overridden, useFlags: false });
    expect(e.logs().find((l) => l.msg === 'ready')).toMatchObject({ socket: join(dir, 'env.sock'), dataDir: join(dir, 'env-data') });
    await e.stop();
  });

  it('without XDG_RUNTIME_DIR the socket goes to <TMPDIR>/bitsd-<uid>/, created 0700 (and tightened if looser)', async () => {
    const dir = await tempDir('bitsd-fallback-');
    const env = cleanEnv({ TMPDIR: dir, XDG_DATA_HOME: join(dir, 'data') });
    delete env.XDG_RUNTIME_DIR;
    const socketDir = join(dir, `bitsd-${uid}`);
    await mkdir(socketDir, { mode: 0o755 });
    await chmod(socketDir, 0o755);
    const d = await spawnDaemon({ dataDir: join(dir, 'data', 'bitsd'), socket: join(socketDir, 'bitsd.sock'), env, useFlags: false });
    expect(d.logs().find((l) => l.msg === 'ready')?.socket).toBe(join(socketDir, 'bitsd.sock'));
    expect(d.logs().map((l) => l.msg)).toContain('tightened the socket directory to 0700');
    expect((await stat(socketDir)).mode & 0o777).toBe(0o700);
    await d.stop();
  });

  it.each([
    { label: '0777', mode: 0o777, message: /writable by others \(mode 0777\).*chmod 700/ },
    { label: '0770', mode: 0o770, message: /writable by its group \(mode 0770\)/ },
  ])('refuses a socket directory with mode $label, exit 4, socket untouched', async ({ mode, message }) => {
    const p = await paths();
    await mkdir(join(p.dir, 'run'));
    await chmod(join(p.dir, 'run'), mode);
    const r = await runBitsd(['--data-dir', p.dataDir, '--socket', p.socket]);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(message);
    await expect(lstat(p.socket)).rejects.toMatchObject({ code: 'ENOENT' });
    // And the refusal released the lock: a daemon with a sane socket starts.
    const ok = await spawnDaemon({ dataDir: p.dataDir, socket: join(p.dir, 'ok', 's.sock') });
    await ok.stop();
  });

  it('refuses a symlinked socket directory, and a non-socket file where the socket goes', async () => {
    const p = await paths();
    await mkdir(join(p.dir, 'real'), { mode: 0o700 });
    await symlink(join(p.dir, 'real'), join(p.dir, 'run'));
    const linked = await runBitsd(['--data-dir', p.dataDir, '--socket', p.socket]);
    expect(linked.code).toBe(4);
    expect(linked.stderr).toMatch(/is a symbolic link/);
    const file = join(p.dir, 'real', 'not-a-socket');
    await writeFile(file, 'precious');
    const blocked = await runBitsd(['--data-dir', p.dataDir, '--socket', file]);
    expect(blocked.code).toBe(4);
    expect(blocked.stderr).toMatch(/exists and is not a socket/);
    expect((await stat(file)).isFile()).toBe(true);
  });

  it.runIf(uid === 0)('refuses a socket directory owned by another user', async () => {
    const p = await paths();
    await mkdir(join(p.dir, 'run'), { mode: 0o700 });
    await chown(join(p.dir, 'run'), 12345, 12345);
    const r = await runBitsd(['--data-dir', p.dataDir, '--socket', p.socket]);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/owned by uid 12345, not by you/);
  });
});
