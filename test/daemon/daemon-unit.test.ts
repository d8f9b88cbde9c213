/**
 * The daemon's parts in process: configuration precedence, the instance lock's stale-holder
 * rules, and Daemon start/stop ordering (fake pids, so two "daemons" can share this process).
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/daemon/config.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { AlreadyRunningError, InstanceLock, type LockHolder } from '../../src/daemon/lock.js';
import { BitsClient } from '../../src/index.js';
import { createLogger } from '../../src/shared/logger.js';
import { tempDir } from '../helpers/temp.js';

const base = { env: {}, uid: 1000, home: '/home/u', cwd: '/work' };

describe('resolveConfig', () => {
  it('flags beat environment beat XDG defaults', () => {
    expect(resolveConfig({ ...base, flags: {} })).toEqual({
      dataDir: '/home/u/.local/share/bitsd',
      socketPath: '/tmp/bitsd-1000/bitsd.sock',
      socketDir: '/tmp/bitsd-1000',
      ownsSocketDir: true,
      lockPath: '/home/u/.local/share/bitsd/bitsd.lock',
      logLevel: 'info',
      logFormat: 'json',
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

  it('is exclusive while the holder is alive and answers; released, it can be taken again', async () => {
    const dir = await tempDir();
    const path = join(dir, 'bitsd.lock');
    const deps = { path, dataDir: dir, isProcessAlive: () => true, probe: async () => ({ socket: '/s', version: 1, server: 'bitsd', pid: 100 }) };
    const lock = await InstanceLock.acquire({ ...deps, self: holder(100) });
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual(holder(100));
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const err = await InstanceLock.acquire({ ...deps, self: holder(200) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AlreadyRunningError);
    expect((err as AlreadyRunningError).holder.pid).toBe(100);
    await lock.release();
    const again = await InstanceLock.acquire({ ...deps, self: holder(200) });
    await again.release();
  });

  it.each([
    ['the holder process is gone', { isProcessAlive: () => false }, /process 100 is gone/],
    ['the holder is alive but nothing answers (pid reused)', { isProcessAlive: () => true }, /alive but no bitsd answers/],
  ])('takes over a stale lock when %s', async (_what, overrides, reason) => {
    const dir = await tempDir();
    const path = join(dir, 'bitsd.lock');
    await writeFile(path, JSON.stringify(holder(100)));
    const stale: string[] = [];
    const lock = await InstanceLock.acquire({ path, dataDir: dir, self: holder(200), probe: async () => null, startupGraceMs: 50, onStale: (_h, why) => stale.push(why), ...overrides });
    expect(stale).toEqual([expect.stringMatching(reason)]);
    expect(JSON.parse(await readFile(path, 'utf8')).pid).toBe(200);
    await lock.release();
  });

  it('an unreadable lock file is stale; release never removes someone else\'s lock', async () => {
    const dir = await tempDir();
    const path = join(dir, 'bitsd.lock');
    await writeFile(path, 'garbage');
    const lock = await InstanceLock.acquire({ path, dataDir: dir, self: holder(300), isProcessAlive: () => true, probe: async () => null });
    await writeFile(path, JSON.stringify(holder(400)));
    await lock.release();
    expect(JSON.parse(await readFile(path, 'utf8')).pid).toBe(400);
  });
});

describe('Daemon in process', () => {
  it('starts, serves, refuses a second instance for the data directory, and stops cleanly', async () => {
    const dir = await tempDir();
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', write: (l) => lines.push(l) });
    const config = resolveConfig({ ...base, uid: process.getuid?.() ?? 0, flags: { dataDir: join(dir, 'data'), socket: join(dir, 'run', 's.sock') } });
    const deps = { config, logger, uid: process.getuid?.() ?? 0, version: '9.9.9', isProcessAlive: () => true };
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
    await expect(stat(config.lockPath)).rejects.toMatchObject({ code: 'ENOENT' });
    const messages = lines.map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(messages).toEqual(expect.arrayContaining(['starting', 'ready', 'stopping', 'stopped']));
    await client.close();
  });
});
