/**
 * `npm run demo` (in-process edition): starts the reference server on loopback, then runs a
 * download job through the in-process API with live progress, completes it and checks the bytes.
 * Everything it creates lives in a temporary directory that is removed at the end.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackgroundCopyManager, formatHresult } from '../index.js';
import { startBitsServer } from '../server/index.js';

const work = await mkdtemp(join(tmpdir(), 'bitsd-demo-'));
const served = join(work, 'served');
await mkdir(served);
const server = await startBitsServer({ root: served });
try {
  const payload = randomBytes(16 * 1024 * 1024);
  await writeFile(join(served, 'payload.bin'), payload);
  const mgr = await BackgroundCopyManager.open({ dataDir: join(work, 'data') });
  const job = await mgr.createJob('demo download', 'DOWNLOAD');
  await job.setPriority('FOREGROUND');
  await job.addFile(`${server.url}/payload.bin`, join(work, 'payload.copy'));
  await job.resume();
  let last = '';
  for await (const ev of job.watch()) {
    const { bytesTransferred, bytesTotal } = ev.progress;
    const line = `${ev.state} ${bytesTransferred}`;
    if (line === last) continue;
    last = line;
    const pct = bytesTotal > 0 ? ((100 * bytesTransferred) / bytesTotal).toFixed(0) : '?';
    process.stdout.write(`  ${ev.state.padEnd(15)} ${bytesTransferred}/${bytesTotal < 0 ? 'UNKNOWN' : bytesTotal} bytes (${pct}%)\n`);
  }
  const state = await job.getState();
  if (state !== 'TRANSFERRED') {
    const err = await job.getError();
    throw new Error(`job ended ${state}: ${formatHresult(err.hresult)} ${err.code} ${err.message}`);
  }
  console.log(`complete: ${await job.complete()}`);
  const copy = await readFile(join(work, 'payload.copy'));
  const same = createHash('sha256').update(copy).digest('hex') === createHash('sha256').update(payload).digest('hex');
  console.log(`downloaded ${copy.length} bytes from ${server.url}: ${same ? 'byte-identical' : 'MISMATCH'}`);
  await mgr.close();
  if (!same) process.exitCode = 1;
} finally {
  await server.close();
  await rm(work, { recursive: true, force: true });
}
