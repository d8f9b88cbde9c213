/**
 * The daemon's config files: where they are (resolveConfigFiles, pure), how they are read
 * (loadConfigFiles, on real files in a temp directory), and the daemon's config state across
 * reloads (DaemonPolicy): a bad file on reload changes nothing.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BackgroundCopyManager } from '../../src/api/manager.js';
import { type ConfigFileSpec, resolveConfig, resolveConfigFiles } from '../../src/daemon/config.js';
import { type ConfigManagerOptions, Daemon } from '../../src/daemon/daemon.js';
import { BitsClient } from '../../src/index.js';
import { ScriptedEngine } from '../helpers/scripted-engine.js';
import { ConfigFileError, loadConfigFiles, MAX_CONFIG_BYTES } from '../../src/daemon/config-file.js';
import { DaemonPolicy } from '../../src/daemon/daemon-policy.js';
import { createLogger } from '../../src/shared/logger.js';
import { tempDir, waitFor } from '../helpers/temp.js';

const base = { env: {}, home: '/home/u', cwd: '/work', flags: {} };

describe('resolveConfigFiles', () => {
  it('by default: /etc/bitsd/config.json, then ~/.config/bitsd/config.json over it; both optional', () => {
    expect(resolveConfigFiles(base)).toEqual([
      { path: '/etc/bitsd/config.json', role: 'system', required: false },
      { path: '/home/u/.config/bitsd/config.json', role: 'user', required: false },
    ]);
  });

  it('XDG_CONFIG_HOME moves the user file (a relative one is ignored); BITSD_SYSTEM_CONFIG moves the system file', () => {
    expect(resolveConfigFiles({ ...base, env: { XDG_CONFIG_HOME: '/xdg', BITSD_SYSTEM_CONFIG: 'sys/c.json' } })).toEqual([
      { path: '/work/sys/c.json', role: 'system', required: false },
      { path: '/xdg/bitsd/config.json', role: 'user', required: false },
    ]);
    expect(resolveConfigFiles({ ...base, env: { XDG_CONFIG_HOME: 'relative' } })[1]?.path).toBe('/home/u/.config/bitsd/config.json');
  });

  it('--config (or BITSD_CONFIG) names the only file, which must exist; the flag wins', () => {
    const only = [{ path: '/work/my.json', role: 'given', required: true }];
    expect(resolveConfigFiles({ ...base, flags: { config: 'my.json' }, env: { BITSD_CONFIG: '/env.json', XDG_CONFIG_HOME: '/xdg' } })).toEqual(only);
    expect(resolveConfigFiles({ ...base, env: { BITSD_CONFIG: '/env.json', BITSD_SYSTEM_CONFIG: '/s.json' } })).toEqual([{ path: '/env.json', role: 'given', required: true }]);
    // An empty BITSD_CONFIG is unset; an empty --config is a usage error.
    expect(resolveConfigFiles({ ...base, env: { BITSD_CONFIG: '' } })).toHaveLength(2);
    expect(() => resolveConfigFiles({ ...base, flags: { config: '' } })).toThrow('--config needs a file name.');
  });
});

async function files(dir: string, system: string | null, user: string | null): Promise<ConfigFileSpec[]> {
  const specs: ConfigFileSpec[] = [
    { path: join(dir, 'system.json'), role: 'system', required: false },
    { path: join(dir, 'user.json'), role: 'user', required: false },
  ];
  if (system !== null) await writeFile(specs[0]!.path, system);
  if (user !== null) await writeFile(specs[1]!.path, user);
  return specs;
}

async function refusal(specs: readonly ConfigFileSpec[]): Promise<ConfigFileError> {
  const err = await loadConfigFiles(specs).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ConfigFileError);
  expect((err as ConfigFileError).code).toBe('E_INVALIDARG');
  return err as ConfigFileError;
}

describe('loadConfigFiles', () => {
  it('missing optional files give the defaults and are reported as not found', async () => {
    const dir = await tempDir();
    const loaded = await loadConfigFiles(await files(dir, null, null));
    expect(loaded.config.bandwidth).toMatchObject({ background: null, normal: null, yield: true, schedule: [] });
    expect(loaded.files).toEqual([
      { path: join(dir, 'system.json'), role: 'system', found: false },
      { path: join(dir, 'user.json'), role: 'user', found: false },
    ]);
    expect(loaded.loadedAt).toBeInstanceOf(Date);
  });

  it('the user file overrides the system file key by key; an empty file (or a BOM) sets nothing', async () => {
    const dir = await tempDir();
    const specs = await files(dir, '{"bandwidth": {"background": "10 MB/s", "normal": "1 MB/s"}, "concurrency": {"background": 2}}', '\uFEFF{"bandwidth": {"normal": "unlimited"}}');
    const loaded = await loadConfigFiles(specs);
    expect(loaded.config).toMatchObject({ concurrency: { background: 2 }, bandwidth: { background: 10_000_000, normal: null } });
    expect(loaded.files.map((f) => f.found)).toEqual([true, true]);
    await writeFile(specs[1]!.path, '  \n');
    expect((await loadConfigFiles(specs)).config.bandwidth.normal).toBe(1_000_000);
  });

  it('a bad value names the file, the key and what is allowed', async () => {
    const dir = await tempDir();
    const specs = await files(dir, '{}', '{"bandwidth": {"schedule": [{"days": "mon", "from": "08:00", "to": "17:00"}, {"days": "sun", "from": "8:00", "to": "17:00"}]}}');
    const err = await refusal(specs);
    expect(err.file).toBe(specs[1]!.path);
    expect(err.message).toBe(`${specs[1]!.path}: bandwidth.schedule[1].from is "8:00"; use "HH:MM", 00:00 to 23:59.`);
  });

  it('invalid JSON names the file and where the parser stopped', async () => {
    const dir = await tempDir();
    const specs = await files(dir, '{\n  "bandwidth": {"normal": "1 MB/s",}\n}', null);
    const err = await refusal(specs);
    expect(err.message).toMatch(new RegExp(`^${specs[0]!.path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: not valid JSON \\(.*line 2 column 36.*\\)\\.$`));
  });

  it('a --config file that does not exist, a directory, and an oversized file are refused, naming the path', async () => {
    const dir = await tempDir();
    const missing = await refusal([{ path: join(dir, 'nope.json'), role: 'given', required: true }]);
    expect(missing.message).toBe(`${join(dir, 'nope.json')}: no such config file (named by --config or BITSD_CONFIG).`);
    await mkdir(join(dir, 'adir'));
    expect((await refusal([{ path: join(dir, 'adir'), role: 'given', required: true }])).message).toBe(`${join(dir, 'adir')}: a config file must be a regular file.`);
    await writeFile(join(dir, 'big.json'), Buffer.alloc(MAX_CONFIG_BYTES + 1, 0x20));
    expect((await refusal([{ path: join(dir, 'big.json'), role: 'user', required: false }])).message).toBe(`${join(dir, 'big.json')}: the config file is ${MAX_CONFIG_BYTES + 1} bytes; at most ${MAX_CONFIG_BYTES} are allowed.`);
  });

  it('a file that cannot be opened is refused with the OS error', async () => {
    const dir = await tempDir();
    // A path through a regular file: ENOTDIR, whoever runs the test (root reads any mode).
    await writeFile(join(dir, 'plain'), '{}');
    const err = await refusal([{ path: join(dir, 'plain', 'config.json'), role: 'user', required: false }]);
    expect(err.message).toBe(`${join(dir, 'plain', 'config.json')}: the config file cannot be read (ENOTDIR); fix its permissions or its path.`);
  });
});

describe('DaemonPolicy', () => {
  it('reloads a good file, refuses a bad one without changing anything, and keeps concurrency until restart', async () => {
    const dir = await tempDir();
    const lines: string[] = [];
    const log = createLogger({ level: 'info', write: (l) => lines.push(l) });
    const specs = await files(dir, '{"bandwidth": {"normal": "1 MB/s"}, "concurrency": {"background": 2}}', null);
    const policy = await DaemonPolicy.load(specs, log);
    const seen: Array<number | null> = [];
    policy.source.onChange((c) => seen.push(c.bandwidth.normal));
    expect(policy.report().limits.normal).toBe(1_000_000);
    await writeFile(specs[1]!.path, '{"bandwidth": {"normal": "2 MB/s"}, "concurrency": {"background": 4}}');
    const good = await policy.reload('test');
    expect(good).toMatchObject({ limits: { normal: 2_000_000 }, concurrency: { background: 2, configured: 4 } });
    expect(seen).toEqual([2_000_000]);
    const loadedAt = good.loadedAt;
    await writeFile(specs[1]!.path, '{"bandwidth": {"normal": "fast"}}');
    const err = await policy.reload('test').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigFileError);
    expect((err as Error).message).toMatch(/user\.json: bandwidth\.normal is "fast"; use .* Nothing was reloaded: the policy in force stays\.$/);
    expect(seen).toEqual([2_000_000]);
    expect(policy.source.current().bandwidth.normal).toBe(2_000_000);
    expect(policy.report()).toMatchObject({ limits: { normal: 2_000_000 }, loadedAt });
    const messages = lines.map((l) => JSON.parse(l) as { msg: string; level: string });
    expect(messages.map((m) => m.msg)).toEqual([
      'config loaded',
      'config reloaded',
      'concurrency.background changed; it takes effect at the next start',
      'config reload refused; the policy in force stays',
    ]);
  });

  it('concurrent reloads run one after the other', async () => {
    const dir = await tempDir();
    const specs = await files(dir, '{}', null);
    const policy = await DaemonPolicy.load(specs, createLogger({ level: 'error', write: () => undefined }));
    await writeFile(specs[1]!.path, '{"bandwidth": {"low": "1 KB/s"}}');
    const results = await Promise.all([policy.reload('a'), policy.reload('b'), policy.reload('c')]);
    expect(results.map((r) => r.limits.low)).toEqual([1000, 1000, 1000]);
    // The system file broken after start-up: refused like a bad user file.
    await writeFile(specs[0]!.path, '[');
    await expect(policy.reload('d')).rejects.toBeInstanceOf(ConfigFileError);
    expect(policy.source.current().bandwidth.low).toBe(1000);
  });
});

describe('Daemon in process with a config file', () => {
  it('concurrency.background sets the queue at start-up (a reload of it waits for the restart); policy reaches the manager', async () => {
    const dir = await tempDir();
    const configFile = join(dir, 'config.json');
    await writeFile(configFile, JSON.stringify({ concurrency: { background: 2 }, bandwidth: { low: '1 KB/s' } }));
    const uid = process.getuid?.() ?? 0;
    const config = resolveConfig({ flags: { dataDir: join(dir, 'data'), socket: join(dir, 'run', 's.sock'), config: configFile }, env: {}, uid, home: dir, cwd: dir });
    const engine = new ScriptedEngine('http:');
    const given: ConfigManagerOptions[] = [];
    const daemon = new Daemon({
      config,
      logger: createLogger({ level: 'error', write: () => undefined }),
      pid: 4242,
      uid,
      version: 'test',
      isProcessAlive: () => false,
      openManager: (dataDir, fromConfig) => {
        given.push(fromConfig);
        return BackgroundCopyManager.open({ dataDir, engines: [engine], ...fromConfig });
      },
    });
    await daemon.start();
    const client = await BitsClient.connect({ socket: config.socketPath });
    try {
      expect(given).toHaveLength(1);
      expect(given[0]!.concurrency).toEqual({ background: 2 });
      expect(given[0]!.policy.current().bandwidth.low).toBe(1000);
      for (const name of ['a', 'b', 'c']) {
        const job = await client.createJob(name, 'DOWNLOAD');
        await job.addFile(`http://127.0.0.1:9/${name}`, join(dir, name));
        await job.resume();
      }
      await engine.waitForAttempts(2);
      // Two at once, not three: the third waits its turn.
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(engine.live).toHaveLength(2);
      await writeFile(configFile, JSON.stringify({ concurrency: { background: 3 }, bandwidth: { low: '2 KB/s' } }));
      const report = await client.reloadPolicy();
      expect(report).toMatchObject({ concurrency: { background: 2, configured: 3 }, limits: { low: 2000 } });
      expect(given[0]!.policy.current().bandwidth.low).toBe(2000);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(engine.live).toHaveLength(2);
      // Finishing one lets the third run: the queue still takes two at once.
      engine.live[0]!.progress(1, 1);
      engine.live[0]!.succeed();
      await engine.waitForAttempts(3);
      await waitFor(() => engine.live.length === 2, 5000, 'two live attempts');
    } finally {
      await client.close();
      await daemon.stop('test');
    }
  });
});
