/**
 * The daemon's parts in process: configuration precedence, the instance lock (kernel lock plus
 * the holder record that names it), and Daemon start/stop ordering (fake pids, so two "daemons"
 * can share this process: the lock refuses a second holder within one process too).
 */
import { spawn } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/daemon/config.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { AlreadyRunningError, InstanceLock, isStoppedPerProc, type LockHolder } from '../../src/daemon/lock.js';
import { DataDirLock } from '../../src/store/instance-lock.js';
import { BitsClient } from '../../src/index.js';
import { createLogger } from '../../src/shared/logger.js';
import { tempDir, waitFor } from '../helpers/temp.js';

const base = { env: {}, uid: 1000, home: '/home/u', cwd: '/work' };

describe('resolveConfig', () => {
  it('flags beat environment beat XDG defaults', () => {
    expect(resolveConfig({ ...base, flags: {} })).toEqual({
      dataDir: '/home/u/.local/share/bitsd',
      socketPath: '/tmp/bitsd-1000/bitsd.sock',
      socketDir: '/tmp/bitsd-1000',
      ownsSocketDir: true,
      lockHolderPath: '/home/u/.local/share/bitsd/bitsd.lock',
      logLevel: 'info',
      logFormat: 'json',
      configFiles: [
        { path: '/etc/bitsd/config.json', role: 'system', required: false },
        { path: '/home/u/.config/bitsd/config.json', role: 'user', required: false },
      ],
    });
    const env = { XDG_DATA_HOME: '/xdg/data', XDG_RUNTIME_DIR: '/run/user/1000', BITSD_LOG_LEVEL: 'debug', BITSD_LOG_FORMAT: 'logfmt' };
    expect(resolveConfig({ ...base, env, flags: {} })).toMatchObject({ dataDir: '/xdg/data/bitsd', socketPath: '/run/user/1000/bitsd/bitsd.sock', ownsSocketDir: true, logLevel: 'debug', logFormat: 'logfmt' });
    const withEnv = { ...env, BITSD_DATA_DIR: '/env/data', BITSD_SOCKET: '/env/s.sock' };
    expect(resolveConfig({ ...base, env: withEnv, flags: {} })).toMatchObject({ dataDir: '/env/data', socketPath: '/env/s.sock', ownsSocketDir: false });
    expect(resolveConfig({ ...base, env: withEnv, flags: { dataDir: 'rel/data', socket: '/f/s.sock', logLevel: 'warn', logFormat: 'json' } })).toMatchObject({
      dataDir: '/work/rel/data',
      socketPath: '/f/s.sock',
      socketDir: '/f',
      logLevel: 'warn',
      logFormat: 'json',
    });
    expect(resolveConfig({ ...base, env: { XDG_DATA_HOME: 'relative' }, flags: {} }).dataDir).toBe('/home/u/.local/share/bitsd');
  });

  it('refuses unknown levels and formats, and socket paths too long for sun_path', () => {
    expect(() => resolveConfig({ ...base, flags: { logLevel: 'trace' } })).toThrow(/Unknown log level "trace"/);
    expect(() => resolveConfig({ ...base, flags: { logFormat: 'xml' } })).toThrow(/Unknown log format "xml"/);
    expect(() => resolveConfig({ ...base, flags: { socket: `/${'s'.repeat(110)}` } })).toThrow(/allow 107/);
  });
});

describe('InstanceLock', () => {
  const holder = (pid: number, socket = '/nowhere.sock'): LockHolder => ({ pid, socket, startedAt: 'then' });
  const options = (dir: string, self: LockHolder) => ({ dataDir: dir, holderPath: join(dir, 'bitsd.lock'), self, isProcessAlive: () => true, isProcessStopped: async () => false });

  it('is exclusive (kernel lock) and names its holder from the record; released, it can be taken again', async () => {
    const dir = await tempDir();
    const path = join(dir, 'bitsd.lock');
    const lock = await InstanceLock.acquire(options(dir, holder(100, '/s100.sock')));
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual(holder(100, '/s100.sock'));
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const started = Date.now();
    const err = await InstanceLock.acquire(options(dir, holder(200))).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(500); // a live holder's record: no waiting
    expect(err).toBeInstanceOf(AlreadyRunningError);
    expect(err).toMatchObject({ code: 'BG_E_INVALID_STATE', holder: holder(100, '/s100.sock'), stopped: false });
    expect((err as Error).message).toBe(`bitsd is already running for ${dir} (pid 100, socket /s100.sock). Stop it first (kill 100 or systemctl --user stop bitsd), or use another --data-dir.`);
    // The refusal left the holder's record alone.
    expect(JSON.parse(await readFile(path, 'utf8')).pid).toBe(100);
    await lock.release();
    await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' });
    const again = await InstanceLock.acquire(options(dir, holder(200)));
    await again.release();
  });

  it('says when the holder is stopped, and how to continue it', async () => {
    const dir = await tempDir();
    const lock = await InstanceLock.acquire(options(dir, holder(100)));
    const stoppedAsked: number[] = [];
    const err = await InstanceLock.acquire({ ...options(dir, holder(200)), isProcessStopped: async (pid) => (stoppedAsked.push(pid), true) }).catch((e: unknown) => e);
    expect(stoppedAsked).toEqual([100]);
    expect(err).toMatchObject({ stopped: true, holder: holder(100) });
    expect((err as Error).message).toContain(`bitsd is already running for ${dir} (pid 100, socket /nowhere.sock) and is stopped (SIGSTOP); continue it with kill -CONT 100.`);
    await lock.release();
  });

  it.each([
    ['a record of a dead pid', JSON.stringify(holder(100)), 100],
    ['garbage', 'garbage', undefined],
  ])('a leftover record (%s) does not block; it is replaced and reported', async (_what, content, previousPid) => {
    const dir = await tempDir();
    const path = join(dir, 'bitsd.lock');
    await writeFile(path, content);
    const leftovers: (LockHolder | null)[] = [];
    const lock = await InstanceLock.acquire({ ...options(dir, holder(200)), isProcessAlive: (pid) => pid !== 100, onLeftoverRecord: (p) => leftovers.push(p) });
    expect(leftovers.map((p) => p?.pid)).toEqual([previousPid]);
    expect(JSON.parse(await readFile(path, 'utf8')).pid).toBe(200);
    await lock.release();
  });

  it('a holder without a live record (still starting, or a leftover of a dead pid) is refused without a name', async () => {
    const dir = await tempDir();
    const raw = DataDirLock.acquire(dir); // the lock, but no record: a daemon between the two steps
    try {
      const none = await InstanceLock.acquire({ ...options(dir, holder(200)), recordWaitMs: 100 }).catch((e: unknown) => e);
      expect(none).toBeInstanceOf(AlreadyRunningError);
      expect(none).toMatchObject({ holder: null, stopped: false });
      expect((none as Error).message).toBe(
        `bitsd is already running for ${dir}: another process holds ${join(dir, 'bitsd.lock.sqlite')} and has not recorded its pid yet (it may be starting; fuser -v ${join(dir, 'bitsd.lock.sqlite')} names it). Stop it first, or use another --data-dir.`,
      );
      await writeFile(join(dir, 'bitsd.lock'), JSON.stringify(holder(100)));
      const dead = await InstanceLock.acquire({ ...options(dir, holder(200)), isProcessAlive: () => false, recordWaitMs: 100 }).catch((e: unknown) => e);
      expect(dead).toMatchObject({ holder: null });
      // A record appearing while the refused daemon waits is used.
      const waiting = InstanceLock.acquire({ ...options(dir, holder(200)), isProcessAlive: (pid) => pid === 300, recordWaitMs: 5000 }).catch((e: unknown) => e);
      await writeFile(join(dir, 'bitsd.lock'), JSON.stringify(holder(300)));
      expect(await waiting).toMatchObject({ holder: holder(300) });
    } finally {
      raw.release();
    }
  });

  it('isStoppedPerProc reads the state of a real process', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      const pid = child.pid as number;
      expect(await isStoppedPerProc(pid)).toBe(false);
      child.kill('SIGSTOP');
      await waitFor(() => isStoppedPerProc(pid), 5000, 'the child to be stopped');
      child.kill('SIGCONT');
      await waitFor(async () => !(await isStoppedPerProc(pid)), 5000, 'the child to run again');
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    expect(await isStoppedPerProc(2 ** 22 + 1)).toBe(false); // above pid_max: no such process
  });
});

describe('Daemon in process', () => {
  it('starts, serves, refuses a second instance for the data directory, and stops cleanly', async () => {
    const dir = await tempDir();
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', write: (l) => lines.push(l) });
    const config = resolveConfig({ ...base, uid: process.getuid?.() ?? 0, flags: { dataDir: join(dir, 'data'), socket: join(dir, 'run', 's.sock') } });
    const deps = { config, logger, uid: process.getuid?.() ?? 0, version: '9.9.9', isProcessAlive: () => true, isProcessStopped: async () => false };
    const first = new Daemon({ ...deps, pid: 1111 });
    await first.start();
    expect(first.state).toBe('running');
    const client = await BitsClient.connect({ socket: config.socketPath });
    expect(client.server).toMatchObject({ server: 'bitsd 9.9.9', pid: 1111 });
    const second = new Daemon({ ...deps, pid: 2222 });
    await expect(second.start()).rejects.toBeInstanceOf(AlreadyRunningError);
    expect(second.state).toBe('stopped');
    expect((await client.createJob('still served', 'DOWNLOAD')).id).toMatch(/^\{/);
    await Promise.all([first.stop('test'), first.stop('again')]);
    expect(first.state).toBe('stopped');
    expect(client.closed).toBe(true);
    await expect(stat(config.socketPath)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(stat(config.lockHolderPath)).rejects.toMatchObject({ code: 'ENOENT' });
    const messages = lines.map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(messages).toEqual(expect.arrayContaining(['starting', 'ready', 'stopping', 'stopped']));
    await client.close();
    // The stop released the kernel lock: another daemon in this process takes the directory.
    const third = new Daemon({ ...deps, pid: 3333 });
    await third.start();
    expect(third.state).toBe('running');
    await third.stop('test');
  });
});
