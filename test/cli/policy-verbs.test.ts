/**
 * /policy and /reload through the real binaries: dist/src/bin/bitsadmin.js processes talking to a
 * spawned bitsd whose config files live in a temp directory (BITSD_SYSTEM_CONFIG, XDG_CONFIG_HOME).
 * The schedule is built from the current local time, so one entry is in force while the test
 * runs; the text and --json forms are checked against it. Without a daemon (runCli on an
 * in-process manager) both verbs say E_NOTIMPL.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatTime } from '../../src/cli/format.js';
import { DAY_NAMES } from '../../src/policy/schedule.js';
import { cleanEnv, runBitsadmin, spawnDaemon, type SpawnedDaemon } from '../daemon/spawn.js';
import { tempDir } from '../helpers/temp.js';
import { CliHarness } from './helpers.js';

interface Setup {
  readonly dir: string;
  readonly system: string;
  readonly user: string;
  readonly env: NodeJS.ProcessEnv;
  start(): Promise<SpawnedDaemon>;
}

async function setup(): Promise<Setup> {
  const dir = await tempDir('bitsd-policy-');
  await mkdir(join(dir, 'xdg', 'bitsd'), { recursive: true });
  const env = cleanEnv({ XDG_CONFIG_HOME: join(dir, 'xdg'), BITSD_SYSTEM_CONFIG: join(dir, 'system.json') });
  return {
    dir,
    system: join(dir, 'system.json'),
    user: join(dir, 'xdg', 'bitsd', 'config.json'),
    env,
    start: () => spawnDaemon({ dataDir: join(dir, 'data'), socket: join(dir, 'run', 'bitsd.sock'), env }),
  };
}

async function bitsadmin(d: SpawnedDaemon, ...args: string[]) {
  return runBitsadmin(['--socket', d.socket, ...args]);
}

const hhmm = (minutes: number): string => `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;

describe('/policy', () => {
  it('shows the schedule entry in force now, each limit, the next change and the files, in text and --json', async () => {
    const s = await setup();
    const now = new Date();
    const minute = now.getHours() * 60 + now.getMinutes();
    const from = hhmm((minute + 1440 - 60) % 1440);
    const to = hhmm((minute + 60) % 1440);
    // Entry 0 has the same hours on a day that is neither today nor yesterday: never in force now.
    const otherDay = DAY_NAMES[(now.getDay() + 3) % 7] as string;
    await writeFile(
      s.system,
      JSON.stringify({
        bandwidth: {
          background: '10 MB/s',
          high: '1 MiB/s',
          yield: false,
          schedule: [
            { days: otherDay, from, to, normal: '5 MB/s' },
            { days: 'daily', from, to, normal: 0, foreground: '4 Mbit/s', background: 'unlimited' },
          ],
        },
      }),
    );
    // The entry ends at `to`: an hour after this minute began (the Date constructor rolls over midnight).
    const nextChange = new Date(now.getFullYear(), now.getMonth(), now.getDate(), now.getHours(), now.getMinutes() + 60).toISOString();
    const d = await s.start();

    const text = await bitsadmin(d, '/policy');
    expect(text.code, text.stderr).toBe(0);
    expect(text.stderr).toBe('');
    const lines = text.stdout.split('\n');
    expect(lines[0]).toMatch(/^BANDWIDTH POLICY AT \d{1,2}\/\d{1,2}\/\d{4} \d{1,2}:\d{2}:\d{2} [AP]M$/);
    expect(lines.slice(1)).toEqual([
      `SCHEDULE ENTRY: bandwidth.schedule[1] (daily ${from}-${to})`,
      `NEXT CHANGE: ${formatTime(nextChange)}`,
      'LIMITS:',
      '  FOREGROUND: 500 KB/s',
      '  HIGH: 1 MiB/s',
      '  NORMAL: 0 (jobs held)',
      '  LOW: unlimited',
      '  ALL BACKGROUND JOBS TOGETHER: unlimited',
      'YIELD TO OTHER TRAFFIC: no',
      'BACKGROUND JOBS AT ONCE: 1',
      'METERED: auto (as NetworkManager says)',
      "DEFAULT TRANSFER POLICY: none (each job's own)",
      'PAUSE ON BATTERY: no',
      'CONFIG FILES:',
      `  ${s.system} (system): read`,
      `  ${s.user} (user): not found`,
      expect.stringMatching(/^READ AT: \d{1,2}\/\d{1,2}\/\d{4} /),
      '',
    ]);

    const json = await bitsadmin(d, '--json', '/policy');
    expect(json.code, json.stderr).toBe(0);
    const doc = JSON.parse(json.stdout) as Record<string, unknown>;
    expect(doc).toEqual({
      at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
      limits: { foreground: 500_000, background: null, high: 1024 * 1024, normal: 0, low: null },
      source: 'schedule',
      entry: { index: 1, days: 'daily', from, to },
      nextChangeAt: nextChange,
      yield: false,
      concurrency: { background: 1, configured: 1 },
      network: { metered: 'auto', transferPolicy: {} },
      power: { pauseOnBattery: false },
      files: [
        { path: s.system, role: 'system', found: true },
        { path: s.user, role: 'user', found: false },
      ],
      loadedAt: expect.stringMatching(/Z$/),
    });
    expect(Math.abs(Date.parse(doc.at as string) - Date.now())).toBeLessThan(60_000);
    expect((await d.stop()).code).toBe(0);
  });

  it('outside every entry: "none: the defaults", and the next change is when an entry starts', async () => {
    const s = await setup();
    const now = new Date();
    const minute = now.getHours() * 60 + now.getMinutes();
    // Starts in two hours (today or, past 22:00, tomorrow) and lasts an hour.
    const start = new Date(now.getFullYear(), now.getMonth(), now.getDate(), now.getHours(), now.getMinutes() + 120);
    await writeFile(s.user, JSON.stringify({ bandwidth: { low: '2 MB/s', schedule: [{ days: 'daily', from: hhmm((minute + 120) % 1440), to: hhmm((minute + 180) % 1440), low: 0 }] } }));
    const d = await s.start();
    const text = await bitsadmin(d, '/policy');
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain('\nSCHEDULE ENTRY: none: the defaults\n');
    expect(text.stdout).toContain(`\nNEXT CHANGE: ${formatTime(start.toISOString())}\n`);
    expect(text.stdout).toContain('\n  LOW: 2 MB/s\n');
    expect(text.stdout).toContain('\nYIELD TO OTHER TRAFFIC: yes\n');
    const doc = JSON.parse((await bitsadmin(d, '--json', '/policy')).stdout) as Record<string, unknown>;
    expect(doc).toMatchObject({ source: 'default', entry: null, nextChangeAt: start.toISOString(), limits: { low: 2_000_000 } });
    expect((await d.stop()).code).toBe(0);
  });
});

describe('/reload', () => {
  it('a good file takes effect; a bad one is refused, the CLI says why (exit 1) and nothing changes', async () => {
    const s = await setup();
    await writeFile(s.system, '{"bandwidth": {"normal": "1 MB/s"}}');
    const d = await s.start();
    await writeFile(s.user, '{"bandwidth": {"normal": "8 Mbit/s"}}');
    const good = await bitsadmin(d, '/reload');
    expect(good).toMatchObject({ code: 0, stderr: '' });
    expect(good.stdout).toBe(['Config reloaded.', 'CONFIG FILES:', `  ${s.system} (system): read`, `  ${s.user} (user): read`, ''].join('\n'));
    expect((await bitsadmin(d, '/policy')).stdout).toContain('\n  NORMAL: 1 MB/s\n');

    await writeFile(s.user, '{"bandwidth": {"normal": "fast"}}');
    const bad = await bitsadmin(d, '/reload');
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(/^ERROR: 0x80070057 E_INVALIDARG - The parameter is incorrect\. \(/);
    expect(bad.stderr).toContain(`${s.user}: bandwidth.normal is "fast"; use "unlimited", 0, or a number with a unit`);
    expect(bad.stderr).toContain('Nothing was reloaded: the policy in force stays.)');
    const badJson = await bitsadmin(d, '--json', '/reload');
    expect(badJson.code).toBe(1);
    expect(JSON.parse(badJson.stdout)).toMatchObject({ error: { code: 'E_INVALIDARG', hresult: 0x80070057, message: expect.stringContaining(`${s.user}: bandwidth.normal is "fast"`) } });
    const after = JSON.parse((await bitsadmin(d, '--json', '/policy')).stdout) as { limits: { normal: number } };
    expect(after.limits.normal).toBe(1_000_000);
    expect(d.child.exitCode).toBeNull();
    expect((await d.stop()).code).toBe(0);
  });

  it('concurrency.background: a reload reports it for the next start, /policy shows both, a restart applies it', async () => {
    const s = await setup();
    const d = await s.start();
    await writeFile(s.user, '{"concurrency": {"background": 3}}');
    const r = await bitsadmin(d, '--json', '/reload');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ reloaded: true, policy: { concurrency: { background: 1, configured: 3 } } });
    const text = await bitsadmin(d, '/reload');
    expect(text.stdout).toContain('\nconcurrency.background 3 takes effect at the next start of bitsd (1 in force).\n');
    expect((await bitsadmin(d, '/policy')).stdout).toContain('\nBACKGROUND JOBS AT ONCE: 1 (the config says 3: takes effect at the next start of bitsd)\n');
    expect((await d.stop()).code).toBe(0);
    const again = await s.start();
    expect((await bitsadmin(again, '/policy')).stdout).toContain('\nBACKGROUND JOBS AT ONCE: 3\n');
    expect((await again.stop()).code).toBe(0);
  });
});

describe('/info of a job the policy holds', () => {
  it('says what holds it and until when (the schedule edge that lifts it), in text, --json and /list /verbose', async () => {
    const s = await setup();
    const now = new Date();
    const minute = now.getHours() * 60 + now.getMinutes();
    // NORMAL is held for an hour from a minute ago; the hour after, a later entry keeps it held at
    // another limit key (background 0), so the hold lifts only when that one ends, two hours on.
    await writeFile(
      s.user,
      JSON.stringify({
        bandwidth: {
          schedule: [
            { days: 'daily', from: hhmm((minute + 1439) % 1440), to: hhmm((minute + 60) % 1440), normal: 0 },
            { days: 'daily', from: hhmm((minute + 60) % 1440), to: hhmm((minute + 120) % 1440), background: 0 },
          ],
        },
      }),
    );
    const lifts = new Date(now.getFullYear(), now.getMonth(), now.getDate(), now.getHours(), now.getMinutes() + 120).toISOString();
    const d = await s.start();
    const created = await bitsadmin(d, '/rawreturn', '/create', 'held');
    expect(created.code, created.stderr).toBe(0);
    const id = created.stdout.trim();
    expect((await bitsadmin(d, '/addfile', id, 'http://127.0.0.1:9/never', join(s.dir, 'never.bin'))).code).toBe(0);
    expect((await bitsadmin(d, '/resume', id)).code).toBe(0);

    const waiting = `WAITING: the bandwidth policy holds NORMAL at 0 until ${formatTime(lifts)}`;
    const info = await bitsadmin(d, '/info', id);
    expect(info.code, info.stderr).toBe(0);
    expect(info.stdout.split('\n')).toEqual([
      expect.stringMatching(/^GUID: /),
      expect.stringMatching(/ STATE: QUEUED /),
      expect.stringMatching(/^PRIORITY: NORMAL /),
      waiting,
      '',
    ]);
    expect((await bitsadmin(d, '/list', '/verbose')).stdout.split('\n')).toContain(waiting);
    const doc = JSON.parse((await bitsadmin(d, '--json', '/info', id)).stdout) as Record<string, unknown>;
    expect(doc.transfer).toEqual({
      bytesPerSecond: 0,
      limit: null,
      waiting: { reason: 'BANDWIDTH_POLICY', since: null, until: lifts, by: 'normal', ahead: null, error: null, attempts: null },
    });

    // Held by a top-level 0, no schedule entry lifts it: only a new config will.
    await writeFile(s.user, JSON.stringify({ bandwidth: { background: 0 } }));
    expect((await bitsadmin(d, '/reload')).code).toBe(0);
    expect((await bitsadmin(d, '/info', id)).stdout).toContain('\nWAITING: the bandwidth policy holds all background jobs together at 0 until the config changes (no schedule entry lifts it)\n');
    expect((await bitsadmin(d, '/cancel', id)).code).toBe(0);
    expect((await d.stop()).code).toBe(0);
  });
});

describe('without a daemon', () => {
  it('/policy and /reload say E_NOTIMPL when bitsadmin runs on an in-process manager', async () => {
    const h = await CliHarness.open();
    try {
      for (const verb of ['/policy', '/reload']) {
        const r = await h.run([verb]);
        expect(r.code).toBe(1);
        expect(r.stderr).toContain(`E_NOTIMPL`);
        expect(r.stderr).toContain(`${verb} talks to the bitsd daemon; this bitsadmin runs without one.`);
      }
      expect((await h.run(['/policy', 'extra'])).code).toBe(2);
    } finally {
      await h.close();
    }
  });
});
