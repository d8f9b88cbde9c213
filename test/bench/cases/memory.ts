/**
 * Case 6: peak RSS (VmHWM) of the bitsd daemon process (the real binary, default settings) while
 * it uploads and downloads one 4 GiB file, against its peak for a 64 MiB transfer. A fresh daemon
 * per transfer, because VmHWM is the peak since the process started; jobs are driven over IPC.
 */
import { join } from 'node:path';
import type { BenchContext, Row } from '../lib/context.js';
import { emptyDir, makeFile } from '../lib/files.js';
import { memoryOf, startDaemon, worker } from '../lib/procs.js';
import { MiB, GiB } from '../lib/stats.js';

const LIMIT = 150 * 1e6;

async function peakOf(ctx: BenchContext, type: 'UPLOAD' | 'DOWNLOAD', file: string, size: number): Promise<{ peak: number; idle: number; mibps: number }> {
  const dataDir = join(ctx.tmp, 'mem-state');
  const out = join(ctx.tmp, 'mem-out');
  emptyDir(dataDir);
  emptyDir(out);
  const socket = join(ctx.tmp, 'mem.sock');
  const d = await startDaemon('bitsd', dataDir, socket);
  try {
    const idle = memoryOf(d.pid).rss;
    const remote = type === 'UPLOAD' ? `${ctx.bits.url}/mem/${file}` : `${ctx.nginx.url}/${file}`;
    const local = type === 'UPLOAD' ? join(ctx.www, file) : join(out, file);
    const res = await worker({ task: 'transfer-ipc', socket, type, jobs: [[{ remote, local }]] });
    const peak = memoryOf(d.pid).peak;
    return { peak, idle, mibps: (size / MiB / res.ms) * 1000 };
  } finally {
    await d.stop();
    emptyDir(out);
    emptyDir(dataDir);
    emptyDir(ctx.bitsRoot);
  }
}

export async function memoryCases(ctx: BenchContext): Promise<Row[]> {
  await makeFile(join(ctx.www, 'm64.bin'), 64 * MiB);
  await makeFile(join(ctx.www, 'big-4g.bin'), 4 * GiB);
  const rows: Row[] = [];
  for (const type of ['UPLOAD', 'DOWNLOAD'] as const) {
    const small = await peakOf(ctx, type, 'm64.bin', 64 * MiB);
    const big = await peakOf(ctx, type, 'big-4g.bin', 4 * GiB);
    const mb = (b: number): number => b / 1e6;
    ctx.log(`${type} peak RSS: 64 MiB ${mb(small.peak).toFixed(0)} MB, 4 GiB ${mb(big.peak).toFixed(0)} MB (idle ${mb(big.idle).toFixed(0)} MB, ${big.mibps.toFixed(0)} MiB/s)`);
    const r = big.peak / small.peak;
    const verb = type === 'UPLOAD' ? 'uploading' : 'downloading';
    rows.push({
      id: type === 'UPLOAD' ? '6a' : '6b',
      what: `bitsd daemon peak RSS ${verb} 4 GiB (64 MiB: ${mb(small.peak).toFixed(0)} MB)`,
      bitsd: mb(big.peak),
      unit: 'MB',
      ratio: r,
      target: '<= 150 MB and <= 1.2 x the 64 MiB peak',
      met: big.peak <= LIMIT && r <= 1.2,
      note: `daemon ${verb} at ${big.mibps.toFixed(0)} MiB/s over IPC; RSS after start ${mb(big.idle).toFixed(0)} MB`,
    });
  }
  return rows;
}
