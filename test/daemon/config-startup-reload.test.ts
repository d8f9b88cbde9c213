/**
 * The config file through the real bitsd (dist/, built by `npx tsc -p tsconfig.json`): a bad file
 * stops it at start-up (exit 2, the message naming the file, the key and what is allowed, nothing
 * created), and SIGHUP re-reads the files: a good file takes effect, a bad one is refused and
 * changes nothing. Each daemon gets its own system and XDG config paths in a temp directory.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BitsClient } from '../../src/index.js';
import { tempDir } from '../helpers/temp.js';
import { cleanEnv, runBitsd, spawnDaemon, type SpawnedDaemon } from './spawn.js';

interface Setup {
  readonly dir: string;
  readonly dataDir: string;
  readonly socket: string;
  readonly system: string;
  readonly user: string;
  readonly env: NodeJS.ProcessEnv;
}

async function setup(): Promise<Setup> {
  const dir = await tempDir('bitsd-config-');
  await mkdir(join(dir, 'xdg', 'bitsd'), { recursive: true });
  return {
    dir,
    dataDir: join(dir, 'data'),
    socket: join(dir, 'run', 'bitsd.sock'),
    system: join(dir, 'system.json'),
    user: join(dir, 'xdg', 'bitsd', 'config.json'),
    env: cleanEnv({ XDG_CONFIG_HOME: join(dir, 'xdg'), BITSD_SYSTEM_CONFIG: join(dir, 'system.json') }),
  };
}

/** Runs bitsd expecting it to refuse to start; checks that it created nothing. */
async function refused(s: Setup, extra: readonly string[] = [], env: NodeJS.ProcessEnv = s.env): Promise<string> {
  const run = await runBitsd(['--data-dir', s.dataDir, '--socket', s.socket, ...extra], env);
  expect(run.code, run.stderr).toBe(2);
  expect(existsSync(s.dataDir)).toBe(false);
  expect(existsSync(s.socket)).toBe(false);
  return run.stderr;
}

async function policyOf(d: SpawnedDaemon): Promise<Awaited<ReturnType<BitsClient['getPolicy']>>> {
  const client = await BitsClient.connect({ socket: d.socket });
  try {
    return await client.getPolicy();
  } finally {
    await client.close();
  }
}

describe('a bad config file stops bitsd at start-up', () => {
  it('a bad value in --config: exit 2, naming the file, the key path and what is allowed', async () => {
    const s = await setup();
    const file = join(s.dir, 'given.json');
    await writeFile(file, JSON.stringify({ bandwidth: { schedule: [{ days: 'mon-fri', from: '08:00', to: '17:00' }, { days: 'sat', from: '25:00', to: '06:00', normal: 0 }] } }));
    const stderr = await refused(s, ['--config', file]);
    expect(stderr).toContain(`${file}: bandwidth.schedule[1].from is \\"25:00\\"; use \\"HH:MM\\", 00:00 to 23:59.`);
  });

  it('an unknown key in the user file, invalid JSON in the system file, a missing --config file: each exit 2', async () => {
    const s = await setup();
    await writeFile(s.system, '{"bandwidth": {"normal": "1 MB/s"}}');
    await writeFile(s.user, '{"bandwidth": {"foreground": "1 MB/s"}}');
    expect(await refused(s)).toContain(`${s.user}: bandwidth.foreground is allowed only inside a schedule entry`);
    await writeFile(s.user, '{}');
    await writeFile(s.system, '{"concurrency": {"background": 0}}');
    expect(await refused(s)).toContain(`${s.system}: concurrency.background is 0; use an integer from 1 to 1000`);
    await writeFile(s.system, '{"bandwidth": ');
    expect(await refused(s)).toContain(`${s.system}: not valid JSON (`);
    expect(await refused(s, ['--config', join(s.dir, 'missing.json')])).toContain(`${join(s.dir, 'missing.json')}: no such config file (named by --config or BITSD_CONFIG).`);
    expect(await refused(s, [], { ...s.env, BITSD_CONFIG: join(s.dir, 'missing.json') })).toContain('no such config file');
  });
});

describe('the config in force', () => {
  it('--config (or BITSD_CONFIG) is the only file read; without it the user file overrides the system file', async () => {
    const s = await setup();
    await writeFile(s.system, '{"bandwidth": {"normal": "1 MB/s", "low": "1 KB/s"}, "concurrency": {"background": 2}}');
    await writeFile(s.user, '{"bandwidth": {"normal": "2 MB/s"}}');
    const both = await spawnDaemon({ dataDir: s.dataDir, socket: s.socket, env: s.env });
    const p = await policyOf(both);
    expect(p.limits).toMatchObject({ normal: 2_000_000, low: 1000 });
    expect(p.concurrency).toEqual({ background: 2, configured: 2 });
    expect(p.files).toEqual([
      { path: s.system, role: 'system', found: true },
      { path: s.user, role: 'user', found: true },
    ]);
    expect((await both.stop()).code).toBe(0);
    const given = join(s.dir, 'given.json');
    await writeFile(given, '{"bandwidth": {"high": "8 Mbit/s"}}');
    const only = await spawnDaemon({ dataDir: s.dataDir, socket: s.socket, env: { ...s.env, BITSD_CONFIG: given } });
    const q = await policyOf(only);
    expect(q.limits).toEqual({ foreground: null, background: null, high: 1_000_000, normal: null, low: null });
    expect(q.files).toEqual([{ path: given, role: 'given', found: true }]);
    expect(q.concurrency.background).toBe(1);
    expect((await only.stop()).code).toBe(0);
  });

  it('SIGHUP re-reads the files: a good file takes effect, a bad one is refused, logged, and changes nothing', async () => {
    const s = await setup();
    await writeFile(s.system, '{"bandwidth": {"normal": "1 MB/s"}}');
    const d = await spawnDaemon({ dataDir: s.dataDir, socket: s.socket, env: s.env });
    expect((await policyOf(d)).limits.normal).toBe(1_000_000);
    await writeFile(s.user, '{"bandwidth": {"normal": "3 MB/s", "yield": false}}');
    d.child.kill('SIGHUP');
    await d.waitForLog((l) => l.msg === 'config reloaded' && l.reason === 'SIGHUP', 10_000, 'the reload');
    const after = await policyOf(d);
    expect(after).toMatchObject({ limits: { normal: 3_000_000 }, yield: false });
    expect(after.files[1]).toEqual({ path: s.user, role: 'user', found: true });

    await writeFile(s.user, '{"bandwidth": {"normal": "3 MB/s", "yeld": false}}');
    d.child.kill('SIGHUP');
    const refusal = await d.waitForLog((l) => l.msg === 'config reload refused; the policy in force stays', 10_000, 'the refusal');
    expect(refusal).toMatchObject({ level: 'warn', reason: 'SIGHUP', file: s.user });
    expect(refusal.error).toBe(`${s.user}: bandwidth.yeld is not a known key; allowed here: background, high, normal, low, yield, schedule.`);
    const still = await policyOf(d);
    expect(still).toMatchObject({ limits: { normal: 3_000_000 }, yield: false, loadedAt: after.loadedAt });
    // The daemon is alive and serving after both signals.
    expect(d.child.exitCode).toBeNull();
    expect((await d.stop()).code).toBe(0);
  });
});
