/**
 * Cases 3 and 4: 2,000 files of 16 KiB from nginx, as 2,000 single-file jobs and as 10 jobs of
 * 200 files, against aria2c at the same concurrency (10 transfers at once: bitsd's background
 * concurrency 10, aria2c -j 10 -x 1); and 1,000 single-file upload jobs of 16 KiB to bits-server.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchContext, Row } from '../lib/context.js';
import { emptyDir, makeSmallFiles } from '../lib/files.js';
import type { FileSpec } from '../lib/jobs.js';
import { run, worker } from '../lib/procs.js';
import { ratio, summarize } from '../lib/stats.js';

const FILES = 2000;
const UPLOADS = 1000;
const SIZE = 16 * 1024;
const CONCURRENCY = 10;

export async function manyFileCases(ctx: BenchContext): Promise<Row[]> {
  const names = makeSmallFiles(join(ctx.www, 'small'), FILES, SIZE);
  const out = join(ctx.tmp, 'small-out');
  const files: FileSpec[] = names.map((n) => ({ remote: `${ctx.nginx.url}/small/${n}`, local: join(out, n) }));
  const single = files.map((f) => [f]);
  const grouped = Array.from({ length: FILES / 200 }, (_, j) => files.slice(j * 200, (j + 1) * 200));
  const list = join(ctx.tmp, 'aria2-input.txt');
  writeFileSync(list, files.map((f) => `${f.remote}\n  out=${f.local.slice(out.length + 1)}\n`).join(''));

  const bitsdRun = async (jobs: FileSpec[][]): Promise<number> => {
    emptyDir(out);
    const state = join(ctx.tmp, 'state-small');
    const res = await worker({ task: 'transfer', dataDir: state, background: CONCURRENCY, type: 'DOWNLOAD', jobs });
    rmSync(state, { recursive: true, force: true });
    return res.ms;
  };
  const ariaRun = async (): Promise<number> => {
    emptyDir(out);
    return (
      await run(ctx.tools.aria2c, [
        `-j${CONCURRENCY}`, '-x1', '-s1', '--file-allocation=none', '--allow-overwrite=true', '--auto-file-renaming=false',
        '--console-log-level=error', '--summary-interval=0', '--download-result=hide', '-d', out, '-i', list,
      ])
    ).ms;
  };

  const runs = { single: [] as number[], grouped: [] as number[], aria: [] as number[] };
  const order: Array<[keyof typeof runs, () => Promise<number>]> = [
    ['single', () => bitsdRun(single)],
    ['grouped', () => bitsdRun(grouped)],
    ['aria', ariaRun],
  ];
  for (let r = 0; r < ctx.smallReps; r++) {
    for (let k = 0; k < order.length; k++) {
      const [name, fn] = order[(k + r) % order.length] as [keyof typeof runs, () => Promise<number>];
      const ms = await fn();
      runs[name].push(ms);
      ctx.log(`2,000 x 16 KiB run ${r + 1}: ${name} ${((FILES / ms) * 1000).toFixed(0)} files/s`);
    }
  }
  emptyDir(out);

  // ---- case 4: 1,000 uploads ----
  const uploads = names.slice(0, UPLOADS).map((n, i) => [{ remote: `${ctx.bits.url}/up-small/${i}.bin`, local: join(ctx.www, 'small', n) }]);
  const up: number[] = [];
  for (let r = 0; r < ctx.smallReps; r++) {
    const state = join(ctx.tmp, 'state-up-small');
    const res = await worker({ task: 'transfer', dataDir: state, background: CONCURRENCY, type: 'UPLOAD', jobs: uploads });
    rmSync(state, { recursive: true, force: true });
    emptyDir(ctx.bitsRoot);
    up.push(res.ms);
    ctx.log(`1,000 uploads run ${r + 1}: ${((UPLOADS / res.ms) * 1000).toFixed(0)} jobs/s`);
  }

  const perSec = (n: number, ms: number[]): ReturnType<typeof summarize> => summarize(ms.map((m) => (n / m) * 1000));
  const single2 = perSec(FILES, runs.single);
  const grouped2 = perSec(FILES, runs.grouped);
  const aria = perSec(FILES, runs.aria);
  const upl = perSec(UPLOADS, up);
  return [
    { id: '3a', what: '2,000 x 16 KiB from nginx, 2,000 single-file jobs (10 at once)', bitsd: single2, unit: 'files/s', peer: { name: 'aria2c -j10', value: aria }, ratio: ratio(single2.median, aria.median), target: '>= 1.0 x aria2c', met: single2.median >= aria.median },
    { id: '3b', what: '2,000 x 16 KiB from nginx, 10 jobs of 200 files', bitsd: grouped2, unit: 'files/s', peer: { name: 'aria2c -j10', value: aria }, ratio: ratio(grouped2.median, aria.median), target: '>= 1.0 x aria2c', met: grouped2.median >= aria.median },
    { id: '4', what: '1,000 upload jobs of 16 KiB to bits-server (10 at once)', bitsd: upl, unit: 'jobs/s', target: 'reported (aim >= 200/s)', met: upl.median >= 200 },
  ];
}
