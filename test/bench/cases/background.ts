/**
 * Case 8, background transfers on a shaped link: curl's share of an 80 Mbit/s link beside a
 * NORMAL bitsd job, beside a FOREGROUND one and beside aria2c ("foreground share"); the NORMAL
 * job's share of the link when alone ("idle use"); and how close a 2 MiB/s cap comes, beside
 * curl's --limit-rate and aria2c's --max-download-limit. The measuring runs in a private network
 * namespace (background-child.ts); it needs root (unshare -n, tc), and is left out otherwise.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { BenchContext, Row } from '../lib/context.js';
import { BENCH_DIST, run } from '../lib/procs.js';
import { ratio, summarize } from '../lib/stats.js';

function missing(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (unshare -n, tc)';
  for (const tool of ['unshare', 'tc', 'ip']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `needs ${tool}`;
    }
  }
  return null;
}

type Round = Record<'solo' | 'ariaSolo' | 'normalAlone' | 'besideNormal' | 'besideForeground' | 'besideAria' | 'capBitsd' | 'capCurl' | 'capAria', number>;

const CAP = 2 * 1024 * 1024;

export async function backgroundCases(ctx: BenchContext): Promise<Row[]> {
  const why = missing();
  if (why !== null) {
    ctx.log(`case 8 left out: ${why}`);
    return [];
  }
  const rounds = Math.max(1, ctx.bigReps);
  const args = JSON.stringify({ curl: ctx.tools.curl, aria2c: ctx.tools.aria2c, nginx: ctx.tools.nginx, rounds });
  const done = await run('unshare', ['-n', process.execPath, join(BENCH_DIST, 'background-child.js'), args], rounds * 180_000);
  const all = done.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Round);
  for (const [i, r] of all.entries()) {
    ctx.log(`background round ${i + 1}: ${Object.entries(r).map(([k, v]) => `${k} ${(v / 1e6).toFixed(2)} MB/s`).join(', ')}`);
  }
  const share = (key: keyof Round, of: keyof Round | number) => summarize(all.map((r) => r[key] / (typeof of === 'number' ? of : r[of])));
  const beside = { normal: share('besideNormal', 'solo'), foreground: share('besideForeground', 'solo'), aria: share('besideAria', 'solo') };
  const idle = { bitsd: share('normalAlone', 'solo'), aria: share('ariaSolo', 'solo') };
  const cap = { bitsd: share('capBitsd', CAP), curl: share('capCurl', CAP), aria: share('capAria', CAP) };
  const solo = summarize(all.map((r) => r.solo / 1e6));
  const within = (m: number): boolean => Math.abs(m - 1) <= 0.1;
  return [
    {
      id: '8a', what: "Foreground share: curl's 40 MB download beside a NORMAL bitsd job, as a share of curl alone (80 Mbit/s tbf link)",
      bitsd: beside.normal, unit: 'x solo', peer: { name: 'curl beside aria2c', value: beside.aria }, ratio: ratio(beside.normal.median, beside.aria.median),
      target: '>= 0.8 x solo (aim 0.9)', met: beside.normal.median >= 0.8,
      note: `curl alone: ${solo.median.toFixed(2)} MB/s (${solo.min.toFixed(2)}–${solo.max.toFixed(2)}); bitsd yields (bandwidth.yield, the default)`,
    },
    {
      id: '8b', what: 'Foreground share: curl beside a FOREGROUND bitsd job (competes like any application)',
      bitsd: beside.foreground, unit: 'x solo', peer: { name: 'curl beside aria2c', value: beside.aria }, ratio: ratio(beside.foreground.median, beside.aria.median),
      target: 'reported (FOREGROUND does not yield)', met: null,
    },
    {
      id: '8c', what: "Idle use: a NORMAL bitsd job alone on the link, as a share of curl's throughput alone",
      bitsd: idle.bitsd, unit: 'x link', peer: { name: 'aria2c alone', value: idle.aria }, ratio: ratio(idle.bitsd.median, idle.aria.median),
      target: '>= 0.8 x link', met: idle.bitsd.median >= 0.8,
    },
    {
      id: '8d', what: 'Cap accuracy: a 10 MiB download capped at 2 MiB/s (bitsd: bandwidth.normal; curl: --limit-rate), start to finish, as a share of the cap',
      bitsd: cap.bitsd, unit: 'x cap', peer: { name: 'curl --limit-rate', value: cap.curl }, ratio: ratio(cap.bitsd.median, cap.curl.median),
      target: 'within ±10% of the cap', met: within(cap.bitsd.median),
    },
    {
      id: "8d'", what: 'Cap accuracy, the same beside aria2c --max-download-limit',
      bitsd: cap.bitsd, unit: 'x cap', peer: { name: 'aria2c --max-download-limit', value: cap.aria }, ratio: ratio(cap.bitsd.median, cap.aria.median),
      target: 'within ±10% of the cap', met: within(cap.bitsd.median),
    },
  ];
}
