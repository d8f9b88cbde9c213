/**
 * Case 8, inside a private network namespace (`unshare -n`, started by cases/background.ts):
 * loopback shaped to 80 Mbit/s with tbf, nginx serving the files, and bitsd (an in-process
 * manager, yielding on, as the daemon runs) beside curl and aria2c. One round measures:
 *   solo            curl alone: a 40 MB download (the link as an application sees it)
 *   ariaSolo        aria2c alone, the same file
 *   normalAlone     a NORMAL bitsd job alone, its rate over 2 s after 1.5 s of warm-up
 *   besideNormal    curl beside that NORMAL job
 *   besideForeground curl beside a FOREGROUND job
 *   besideAria      curl beside aria2c downloading a big file
 *   capBitsd/capCurl/capAria  a 10 MiB download capped at 2 MiB/s: bitsd's NORMAL cap,
 *                   curl --limit-rate, aria2c --max-download-limit (start to finish)
 * Prints one JSON line per round (bytes per second).
 *
 *   node background-child.js '{"curl":"/usr/bin/curl","aria2c":"...","nginx":"...","rounds":3}'
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackgroundCopyManager, HttpDownloadEngine, UndiciTransport } from '../../src/index.js';
import type { BackgroundCopyJob } from '../../src/api/types.js';
import { mergeConfig, PolicyHolder, validateConfig } from '../../src/policy/index.js';
import { procLinkProbe } from '../../src/shared/net-counters.js';
import { makeFile } from './lib/files.js';
import { startNginx } from './lib/peers.js';
import { run } from './lib/procs.js';

const MB = 1_000_000;
const MIB = 1024 * 1024;
const CURL_BYTES = 40 * MB;
const CAP = 2 * MIB;
const CAP_BYTES = 10 * MIB;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Args {
  readonly curl: string;
  readonly aria2c: string;
  readonly nginx: string;
  readonly rounds: number;
}

const ARIA = ['-x1', '-s1', '--file-allocation=none', '--allow-overwrite=true', '--auto-file-renaming=false', '--console-log-level=error', '--summary-interval=0', '--download-result=hide'];

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as Args;
  execFileSync('ip', ['link', 'set', 'lo', 'up']);
  execFileSync('tc', ['qdisc', 'add', 'dev', 'lo', 'root', 'tbf', 'rate', '80mbit', 'burst', '256kb', 'latency', '50ms']);
  const dir = mkdtempSync(join(tmpdir(), 'bitsd-bench-bg-'));
  // nginx's workers run as an unprivileged user when started as root: they must reach the files.
  chmodSync(dir, 0o755);
  const www = join(dir, 'www');
  const out = join(dir, 'out');
  mkdirSync(www);
  mkdirSync(out);
  const nginx = await startNginx(args.nginx, www, join(dir, 'nginx'));
  let mgr: BackgroundCopyManager | null = null;
  try {
    await makeFile(join(www, 'curl.bin'), CURL_BYTES);
    await makeFile(join(www, 'cap.bin'), CAP_BYTES);
    // Longer than any phase can read at 80 Mbit/s: sparse, so it costs no disk.
    writeFileSync(join(www, 'big.bin'), '');
    await truncate(join(www, 'big.bin'), 2000 * MB);
    const url = (name: string): string => `${nginx.url}/${name}`;

    const curl = async (extra: readonly string[] = [], name = 'curl.bin', bytes = CURL_BYTES): Promise<number> => {
      const done = await run(args.curl, ['-sS', '-f', '-o', '/dev/null', '--max-time', '120', ...extra, url(name)], 150_000);
      return (bytes * 1000) / done.ms;
    };
    const aria = async (extra: readonly string[] = [], name = 'curl.bin', bytes = CURL_BYTES): Promise<number> => {
      const done = await run(args.aria2c, [...ARIA, ...extra, '-d', out, '-o', name, url(name)], 150_000);
      rmSync(join(out, name), { force: true });
      return (bytes * 1000) / done.ms;
    };

    const policy = new PolicyHolder(mergeConfig(validateConfig({}, 'bench')));
    const manager = await BackgroundCopyManager.open({
      dataDir: join(dir, 'data'),
      policy,
      link: procLinkProbe,
      engines: [new HttpDownloadEngine({ transport: new UndiciTransport(), progressBytes: 256 * 1024, progressIntervalMs: 100, env: {} })],
    });
    mgr = manager;
    const start = async (priority: 'NORMAL' | 'FOREGROUND', name: string, local: string): Promise<BackgroundCopyJob> => {
      const job = await manager.createJob(`bench ${priority}`, 'DOWNLOAD');
      await job.setPriority(priority);
      await job.addFile(url(name), join(out, local));
      await job.resume();
      return job;
    };

    for (let round = 0; round < args.rounds; round++) {
      const f: Record<string, number> = {};
      f.solo = await curl();
      f.ariaSolo = await aria();

      const normal = await start('NORMAL', 'big.bin', 'n.bin');
      await sleep(1500);
      f.normalAlone = await rate(normal, 2000);
      f.besideNormal = await curl();
      await normal.cancel();

      const foreground = await start('FOREGROUND', 'big.bin', 'f.bin');
      await sleep(1500);
      f.besideForeground = await curl();
      await foreground.cancel();

      const other = spawn(args.aria2c, [...ARIA, '-d', out, '-o', 'a.bin', url('big.bin')], { stdio: 'ignore' });
      await sleep(1500);
      f.besideAria = await curl();
      other.kill('SIGKILL');
      await new Promise((resolve) => other.once('exit', resolve));
      rmSync(join(out, 'a.bin'), { force: true });

      policy.replace(mergeConfig(validateConfig({ bandwidth: { normal: '2 MiB/s' } }, 'bench')));
      const capped = await start('NORMAL', 'cap.bin', 'c.bin');
      const t0 = performance.now();
      while ((await capped.getState()) !== 'TRANSFERRED') {
        if (performance.now() - t0 > 60_000) throw new Error(`the capped job is ${await capped.getState()} after 60 s`);
        await sleep(20);
      }
      f.capBitsd = (CAP_BYTES * 1000) / (performance.now() - t0);
      await capped.cancel();
      policy.replace(mergeConfig(validateConfig({}, 'bench')));
      f.capCurl = await curl(['--limit-rate', `${CAP}`], 'cap.bin', CAP_BYTES);
      f.capAria = await aria([`--max-download-limit=${CAP}`], 'cap.bin', CAP_BYTES);
      process.stdout.write(`${JSON.stringify(f)}\n`);
    }
  } finally {
    await mgr?.close();
    await nginx.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The job's rate over `ms`, from its committed progress. */
async function rate(job: BackgroundCopyJob, ms: number): Promise<number> {
  const a = { bytes: (await job.getProgress()).bytesTransferred, at: performance.now() };
  await sleep(ms);
  const b = { bytes: (await job.getProgress()).bytesTransferred, at: performance.now() };
  return ((b.bytes - a.bytes) * 1000) / (b.at - a.at);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
