/**
 * Cases 2c-2f: downloads through a real bitsd daemon (the binary, default settings) with
 * `bitsadmin /transfer`: create, add, resume, follow the job to TRANSFERRED, Complete. The figure
 * is the wall time of the bitsadmin process, start-up included, as a user sees it.
 *
 * A TRANSFERRED job's bytes are on the disk; curl's and aria2c's may still be in the page cache
 * when they exit. So the fair limit is a peer followed by an fdatasync of its file, and the
 * fastest way to do that is `sync -d FILE` (coreutils: open, fdatasync, exit; a node script doing
 * the same would add its start-up, ~40 ms). Both forms are reported. Before every timed run a
 * plain `sync` (not timed) writes out what earlier runs left dirty, so no run pays for another.
 *
 * 2f: a 1 KiB /transfer against `bitsadmin /list` on the same (empty) daemon: what following a
 * job to its end costs beyond one request, start-up included on both sides.
 */
import { spawnSync } from 'node:child_process';
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { alternate, type Runner } from '../lib/alternate.js';
import type { BenchContext, Row } from '../lib/context.js';
import { emptyDir, makeFile } from '../lib/files.js';
import { BIN_DIST, run, startDaemon } from '../lib/procs.js';
import { GiB, MiB, ratio, summarize, type Summary } from '../lib/stats.js';

const BITSADMIN = join(BIN_DIST, 'bitsadmin.js');

/** Writes out every dirty page of earlier runs (not timed). */
function settle(): void {
  spawnSync('sync', { stdio: 'ignore' });
}

/** The wall time of the steps in sequence, each a process run to its exit. */
async function timed(...steps: Array<() => Promise<unknown>>): Promise<number> {
  settle();
  const t0 = performance.now();
  for (const step of steps) await step();
  return performance.now() - t0;
}

export async function daemonTransferCases(ctx: BenchContext): Promise<Row[]> {
  const out = join(ctx.tmp, 'daemon-dl');
  const dataDir = join(ctx.tmp, 'daemon-state');
  const socket = join(ctx.tmp, 'daemon.sock');
  emptyDir(dataDir);
  const daemon = await startDaemon('bitsd', dataDir, socket);
  ctx.log(`bitsd daemon pid ${daemon.pid} ready in ${daemon.readyMs.toFixed(0)} ms`);
  try {
    const admin = (...args: string[]) => run(process.execPath, [BITSADMIN, '--socket', socket, ...args]);
    const local = join(out, 'file.bin');

    /** The competitors for one file of `size` bytes at nginx's `name`; each starts from an empty directory. */
    const competitors = (name: string, size: number): Record<string, Runner> => {
      const url = `${ctx.nginx.url}/${name}`;
      const curl = () => run(ctx.tools.curl, ['-sS', '-f', '-o', local, url]);
      const aria2c = () =>
        run(ctx.tools.aria2c, [
          '-x1', '-s1', '--file-allocation=none', '--allow-overwrite=true', '--auto-file-renaming=false',
          '--console-log-level=error', '--summary-interval=0', '--download-result=hide', '-d', out, '-o', 'file.bin', url,
        ]);
      const fdatasync = () => run('sync', ['-d', local]);
      const fresh = (steps: Array<() => Promise<unknown>>) => async (): Promise<number> => {
        emptyDir(out);
        const ms = await timed(...steps);
        // A run that did not land the whole file is no figure.
        if (statSync(local).size !== size) throw new Error(`${local} is ${statSync(local).size} bytes, not ${size}`);
        return ms;
      };
      return {
        bitsd: fresh([() => admin('/transfer', 'bench', url, local)]),
        curl: fresh([curl]),
        'curl + sync -d': fresh([curl, fdatasync]),
        'aria2c -x1': fresh([aria2c]),
        'aria2c -x1 + sync -d': fresh([aria2c, fdatasync]),
      };
    };
    const speeds = (size: number, runs: Record<string, number[]>): Record<string, Summary> =>
      Object.fromEntries(Object.entries(runs).map(([k, ms]) => [k, summarize(ms.map((m) => (size / MiB / m) * 1000))]));
    const describe = (size: number) => (ms: number) => `${((size / MiB / ms) * 1000).toFixed(0)} MiB/s (${(ms / 1000).toFixed(2)} s)`;

    // ---- 2c, 2d: 1 GiB ----
    await makeFile(join(ctx.www, 'big-1g.bin'), GiB);
    const big = speeds(GiB, await alternate(ctx, 'daemon 1 GiB', competitors('big-1g.bin', GiB), { rounds: ctx.bigReps, describe: describe(GiB) }));

    // ---- 2e: 200 MiB ----
    const mid = 200 * MiB;
    await makeFile(join(ctx.www, 'mid-200m.bin'), mid);
    const all200 = competitors('mid-200m.bin', mid);
    const runners200 = { bitsd: all200.bitsd as Runner, curl: all200.curl as Runner, 'curl + sync -d': all200['curl + sync -d'] as Runner };
    const m = speeds(mid, await alternate(ctx, 'daemon 200 MiB', runners200, { rounds: ctx.bigReps, describe: describe(mid) }));

    // ---- 2f: 1 KiB /transfer against /list ----
    await makeFile(join(ctx.www, 'tiny-1k.bin'), 1024);
    const small: Record<string, Runner> = {
      '/transfer 1 KiB': async () => {
        emptyDir(out);
        return timed(() => admin('/transfer', 'tiny', `${ctx.nginx.url}/tiny-1k.bin`, local));
      },
      '/list': () => timed(() => admin('/list')),
    };
    // One untimed run of each first: the binaries' files in the page cache for both.
    for (const runner of Object.values(small)) await runner();
    const tiny = await alternate(ctx, 'daemon 1 KiB', small, { rounds: ctx.smallReps, describe: (ms) => `${ms.toFixed(0)} ms` });
    const t = summarize(tiny['/transfer 1 KiB'] ?? []);
    const l = summarize(tiny['/list'] ?? []);

    const b = big.bitsd as Summary;
    const what = 'Download 1 GiB from nginx through the bitsd daemon: `bitsadmin /transfer` (create, wait, complete), wall time';
    const vs = (peer: string, s: Record<string, Summary>, bitsd: Summary): { peer: { name: string; value: Summary }; ratio: number } => {
      const value = s[peer] as Summary;
      return { peer: { name: peer, value }, ratio: ratio(bitsd.median, value.median) };
    };
    const c = vs('curl + sync -d', big, b);
    const a = vs('aria2c -x1', big, b);
    const as = vs('aria2c -x1 + sync -d', big, b);
    const mb = m.bitsd as Summary;
    const mc = vs('curl + sync -d', m, mb);
    const plainCurl = (s: Record<string, Summary>): string => `curl alone ${(s.curl as Summary).median.toFixed(0)} MiB/s`;
    return [
      { id: '2c', what, bitsd: b, unit: 'MiB/s', ...c, target: '>= 0.9 x curl + fdatasync', met: c.ratio >= 0.9, note: 'fdatasync: `sync -d FILE` once the peer exits; a `sync` (not timed) before every run of every client' },
      { id: "2c'", what: 'The same, against curl alone (its bytes may still be in the page cache)', bitsd: b, unit: 'MiB/s', ...vs('curl', big, b), target: 'reported', met: null },
      { id: '2d', what: 'The same, against aria2c with one connection', bitsd: b, unit: 'MiB/s', ...a, target: '>= 1.0 x aria2c -x1', met: a.ratio >= 1.0 },
      { id: "2d'", what: 'The same, against aria2c -x1 followed by an fdatasync of its file', bitsd: b, unit: 'MiB/s', ...as, target: '>= 1.0 x aria2c -x1 + fdatasync', met: as.ratio >= 1.0 },
      { id: '2e', what: 'Download 200 MiB from nginx through the bitsd daemon (`bitsadmin /transfer`)', bitsd: mb, unit: 'MiB/s', ...mc, target: '>= 0.9 x curl + fdatasync', met: mc.ratio >= 0.9, note: plainCurl(m) },
      {
        id: '2f', what: 'A 1 KiB `bitsadmin /transfer` through the daemon, against `bitsadmin /list` on the same daemon (wall time, start-up included)',
        bitsd: t, unit: 'ms', peer: { name: 'bitsadmin /list', value: l }, ratio: ratio(t.median, l.median), target: '<= 1.5 x bitsadmin /list', met: t.median <= 1.5 * l.median,
      },
    ];
  } finally {
    await daemon.stop();
    rmSync(out, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  }
}
