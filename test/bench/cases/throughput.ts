/**
 * Cases 1, 2 and 7: one 1 GiB file up to bits-server (bitsd vs curl to the raw sink) and down
 * from nginx (bitsd vs curl vs aria2c with one connection), runs alternating; and the SQLite
 * writes bitsd made per transferred GiB in those runs.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { alternate as alternateRuns, type Runner } from '../lib/alternate.js';
import type { BenchContext, Row } from '../lib/context.js';
import { emptyDir, makeFile } from '../lib/files.js';
import { run, worker } from '../lib/procs.js';
import { GiB, ratio, summarize } from '../lib/stats.js';

const SIZE = GiB;
/** undici hands the body over in chunks of at most 64 KiB (the socket read size). */
const NETWORK_CHUNK = 64 * 1024;

const mibps = (ms: number): number => (SIZE / 2 ** 20 / ms) * 1000;

/** Each competitor ctx.bigReps times, alternating (lib/alternate.ts). */
function alternate(ctx: BenchContext, label: string, runners: Record<string, Runner>): Promise<Record<string, number[]>> {
  return alternateRuns(ctx, label, runners, { rounds: ctx.bigReps, describe: (ms) => `${mibps(ms).toFixed(0)} MiB/s` });
}

export async function throughputCases(ctx: BenchContext): Promise<Row[]> {
  const src = join(ctx.www, 'big-1g.bin');
  await makeFile(src, SIZE);
  const out = join(ctx.tmp, 'dl');
  const writes = { upload: [] as number[], download: [] as number[], uploadStmts: [] as number[], downloadStmts: [] as number[], downloadFlushes: [] as number[] };

  // ---- case 1: upload ----
  // Both sides send to bits-server's sinks (bitsd: the BITS protocol to /__sink/..., whose
  // fragments are acknowledged but not stored; curl: one PUT to /__sink), so the comparison is of
  // the clients, not of this machine's disk. The stored upload is measured once more below.
  const uploadTo = async (remote: string): Promise<number> => {
      const res = await worker({
        task: 'transfer',
        dataDir: join(ctx.tmp, 'state-up'),
        background: 1,
        type: 'UPLOAD',
        jobs: [[{ remote, local: src }]],
      });
      rmSync(join(ctx.tmp, 'state-up'), { recursive: true, force: true });
      emptyDir(ctx.bitsRoot);
      writes.upload.push(res.writes?.commits ?? 0);
      writes.uploadStmts.push(res.writes?.statements ?? 0);
      return res.ms;
  };
  const up = await alternate(ctx, 'upload 1 GiB', {
    bitsd: () => uploadTo(`${ctx.bits.url}/__sink/big.bin`),
    curl: async () => (await run(ctx.tools.curl, ['-sS', '-f', '-o', '/dev/null', '-H', 'Expect:', '-T', src, `${ctx.bits.url}/__sink`])).ms,
  });
  const stored = summarize([await uploadTo(`${ctx.bits.url}/up/big.bin`)].map(mibps));

  // ---- case 2: download ----
  const down = await alternate(ctx, 'download 1 GiB', {
    bitsd: async () => {
      emptyDir(out);
      const res = await worker({
        task: 'transfer',
        dataDir: join(ctx.tmp, 'state-down'),
        background: 1,
        type: 'DOWNLOAD',
        jobs: [[{ remote: `${ctx.nginx.url}/big-1g.bin`, local: join(out, 'big.bin') }]],
      });
      rmSync(join(ctx.tmp, 'state-down'), { recursive: true, force: true });
      writes.download.push(res.writes?.commits ?? 0);
      writes.downloadStmts.push(res.writes?.statements ?? 0);
      writes.downloadFlushes.push(res.flushes ?? 0);
      return res.ms;
    },
    curl: async () => {
      emptyDir(out);
      return (await run(ctx.tools.curl, ['-sS', '-f', '-o', join(out, 'big.bin'), `${ctx.nginx.url}/big-1g.bin`])).ms;
    },
    aria2c: async () => {
      emptyDir(out);
      return (
        await run(ctx.tools.aria2c, [
          '-x1', '-s1', '--file-allocation=none', '--allow-overwrite=true', '--auto-file-renaming=false',
          '--console-log-level=error', '--summary-interval=0', '--download-result=hide', '-d', out, '-o', 'big.bin',
          `${ctx.nginx.url}/big-1g.bin`,
        ])
      ).ms;
    },
  });
  emptyDir(out);

  const s = (ms: number[]): ReturnType<typeof summarize> => summarize(ms.map(mibps));
  const upB = s(up.bitsd ?? []);
  const upC = s(up.curl ?? []);
  const dnB = s(down.bitsd ?? []);
  const dnC = s(down.curl ?? []);
  const dnA = s(down.aria2c ?? []);
  const chunksPerGiB = GiB / NETWORK_CHUNK;
  const upW = summarize(writes.upload).median;
  const dnW = summarize(writes.download).median;
  return [
    { id: '1', what: 'Upload 1 GiB to bits-server, not stored (bitsd: BITS to /__sink/...; curl: PUT to /__sink)', bitsd: upB, unit: 'MiB/s', peer: { name: 'curl', value: upC }, ratio: ratio(upB.median, upC.median), target: '>= 0.9 x curl', met: upB.median >= 0.9 * upC.median },
    { id: "1'", what: 'Upload 1 GiB to bits-server, stored on disk (once)', bitsd: stored, unit: 'MiB/s', target: 'reported (bounded by the disk)', met: true },
    { id: '2a', what: 'Download 1 GiB from nginx', bitsd: dnB, unit: 'MiB/s', peer: { name: 'curl', value: dnC }, ratio: ratio(dnB.median, dnC.median), target: '>= 0.9 x curl', met: dnB.median >= 0.9 * dnC.median },
    { id: '2b', what: 'Download 1 GiB from nginx', bitsd: dnB, unit: 'MiB/s', peer: { name: 'aria2c -x1', value: dnA }, ratio: ratio(dnB.median, dnA.median), target: '>= 1.0 x aria2c', met: dnB.median >= dnA.median },
    { id: '7a', what: 'SQLite commits per GiB uploaded', bitsd: upW, unit: 'commits/GiB', target: `reported; independent of network chunks (${chunksPerGiB}/GiB)`, met: upW < chunksPerGiB / 4, note: `${summarize(writes.uploadStmts).median} write statements; one progress commit per acknowledged fragment (1 MiB growing to 16 MiB)` },
    { id: '7b', what: 'SQLite commits per GiB downloaded', bitsd: dnW, unit: 'commits/GiB', target: `reported; independent of network chunks (${chunksPerGiB}/GiB)`, met: dnW < chunksPerGiB / 4, note: `${summarize(writes.downloadStmts).median} write statements; progress of the written offset every 8 MiB or 1 s, no fdatasync before it; ${summarize(writes.downloadFlushes).median} fdatasync calls per GiB (in the background every 16 MiB or 5 s, and one at the end)` },
  ];
}
