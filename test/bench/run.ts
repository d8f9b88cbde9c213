/**
 * npm run bench: bitsd side by side with curl and aria2c, one run on this machine.
 *
 *   node dist/test/bench/run.js [--cases throughput,daemon,many,scale,memory,background] [--scale N] [--quick] [--out FILE]
 *
 * Starts nginx (nginx-light) and bits-server on 127.0.0.1, creates the data in a temp directory,
 * runs the cases, stops everything it started, deletes the temp directory and writes the figures
 * to bench/RESULTS.md (a partial or --quick run writes bench/RESULTS.partial.md instead).
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { backgroundCases } from './cases/background.js';
import { daemonTransferCases } from './cases/daemon-transfer.js';
import { manyFileCases } from './cases/many-files.js';
import { memoryCases } from './cases/memory.js';
import { scaleCases } from './cases/scale.js';
import { throughputCases } from './cases/throughput.js';
import type { BenchContext, Row } from './lib/context.js';
import { ensureTools, type Peer, startBitsServerProcess, startNginx, toolVersion } from './lib/peers.js';
import { BENCH_DIST, BIN_DIST } from './lib/procs.js';
import { cpuTicks, printRows, renderResults } from './lib/report.js';

const CASES = { throughput: throughputCases, daemon: daemonTransferCases, many: manyFileCases, scale: scaleCases, memory: memoryCases, background: backgroundCases } as const;
type CaseName = keyof typeof CASES;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { cases: { type: 'string' }, scale: { type: 'string' }, quick: { type: 'boolean' }, out: { type: 'string' } },
    strict: true,
  });
  const names = (values.cases ?? Object.keys(CASES).join(',')).split(',') as CaseName[];
  for (const n of names) if (!(n in CASES)) throw new Error(`unknown case ${n}; use ${Object.keys(CASES).join(', ')}`);
  const full = values.cases === undefined && !values.quick && values.scale === undefined;
  const repo = resolve(BENCH_DIST, '..', '..', '..');
  const outFile = values.out ?? join(repo, 'bench', full ? 'RESULTS.md' : 'RESULTS.partial.md');

  const tools = ensureTools();
  const started = new Date();
  const ticksAtStart = cpuTicks();
  const tmp = mkdtempSync(join(process.env.BENCH_TMPDIR ?? tmpdir(), 'bitsd-bench-'));
  const log = (m: string): void => {
    process.stderr.write(`[${((Date.now() - started.getTime()) / 1000).toFixed(0).padStart(4)} s] ${m}\n`);
  };
  // nginx's workers run as an unprivileged user when started as root: they must reach the files.
  chmodSync(tmp, 0o755);
  log(`temp dir ${tmp}`);
  const peers: Peer[] = [];
  const rows: Row[] = [];
  try {
    const www = join(tmp, 'www');
    const bitsRoot = join(tmp, 'bits-root');
    mkdirSync(www, { recursive: true });
    mkdirSync(bitsRoot, { recursive: true });
    const nginx = await startNginx(tools.nginx, www, join(tmp, 'nginx'));
    peers.push(nginx);
    const bits = await startBitsServerProcess(join(BIN_DIST, 'bits-server.js'), bitsRoot);
    peers.push(bits);
    log(`nginx ${nginx.url}, bits-server ${bits.url}`);
    const ctx: BenchContext = {
      tmp, tools, www, nginx, bitsRoot, bits, log,
      bigReps: values.quick ? 1 : 3,
      smallReps: values.quick ? 1 : 3,
      scaleJobs: values.scale !== undefined ? Number(values.scale) : values.quick ? 10_000 : 100_000,
    };
    for (const name of names) {
      log(`case group ${name}`);
      const got = await CASES[name](ctx);
      printRows(got);
      rows.push(...got);
    }
  } finally {
    for (const p of peers.reverse()) await p.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const info = {
    started,
    minutes: (Date.now() - started.getTime()) / 60_000,
    stolen: stolenSince(ticksAtStart),
    tmp: process.env.BENCH_TMPDIR ?? tmpdir(),
    command,
    tools: {
      curl: toolVersion(tools.curl, ['--version']).split(' ').slice(0, 2).join(' '),
      aria2c: toolVersion(tools.aria2c, ['--version']),
      nginx: toolVersion(tools.nginx, ['-v']),
    },
  };
  mkdirSync(resolve(outFile, '..'), { recursive: true });
  const order = ['1', "1'", '2a', '2b', '2c', "2c'", '2d', "2d'", '2e', '2f', '3a', '3b', '4', '5a', "5a'", '5b', "5b'", '5c', "5c'", '5d', '5e', '6a', '6b', '7a', '7b', '8a', '8b', '8c', '8d', "8d'"];
  rows.sort((a, b) => order.indexOf(a.id) - order.indexOf(b.id));
  writeFileSync(outFile, renderResults(rows, info));
  log(`wrote ${outFile}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});

function stolenSince(start: [number, number] | null): number | null {
  const end = cpuTicks();
  if (start === null || end === null || end[0] <= start[0]) return null;
  return (end[1] - start[1]) / (end[0] - start[0]);
}
