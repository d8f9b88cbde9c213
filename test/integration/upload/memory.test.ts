/**
 * Memory stays bounded whatever the file size (issue 3: "a 4 GiB upload must not grow the
 * heap"): a child process uploads a sparse 1 GiB file (truncate: no disk used) through the public
 * API to bits-server's BITS sink (/__sink/..., fragments acknowledged and counted, not stored),
 * and its peak RSS must stay under 300 MB and within 64 MB of the same child uploading 64 MiB.
 * A property of boundedness, not a speed test: nothing is asserted about time. Uses
 * dist/test/fixtures/upload-memory-child.js (build with `npx tsc -p tsconfig.json`).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BitsServer, startBitsServer } from '../../../src/server/index.js';
import { MIB } from './helpers.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const CHILD = join(root, 'dist/test/fixtures/upload-memory-child.js');
const MB = 1_000_000;
const GIB = 1024 * MIB;
const CHILD_TIMEOUT_MS = 60_000;

let dir: string;
let server: BitsServer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bitsd-upload-memory-'));
  server = await startBitsServer({ root: join(dir, 'server') });
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

/** A sparse file of `size` zero bytes: it costs no disk. */
async function sparse(name: string, size: number): Promise<string> {
  const path = join(dir, name);
  const handle = await open(path, 'w');
  try {
    await handle.truncate(size);
  } finally {
    await handle.close();
  }
  return path;
}

interface ChildResult {
  readonly state: string;
  readonly bytes: number;
  readonly maxRssBytes: number;
}

/** Runs the child to completion (bounded: killed past the limit) and parses its report. */
function upload(name: string, size: number): Promise<ChildResult> {
  return (async () => {
    const local = await sparse(name, size);
    const args = [CHILD, join(dir, `data-${name}`), local, `${server.url}/__sink/${name}`, String(CHILD_TIMEOUT_MS)];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS + 10_000);
    try {
      const code = await new Promise<number | null>((resolve, reject) => {
        child.once('error', reject);
        child.once('exit', (c) => resolve(c));
      });
      if (code !== 0) throw new Error(`memory child for ${name} exited ${String(code)}: ${out.trim()}`);
      return JSON.parse(out.trim()) as ChildResult;
    } finally {
      clearTimeout(killer);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  })();
}

describe('memory bounded for large uploads', () => {
  it('peak RSS uploading 1 GiB stays under 300 MB and within 64 MB of the 64 MiB baseline', async () => {
    // One after the other: two uploads at once would share 2 cores and blur nothing but time.
    const baseline = await upload('baseline-64m.bin', 64 * MIB);
    const receivedAfterBaseline = server.stats.bytesStored;
    const large = await upload('large-1g.bin', GIB);
    expect(baseline).toMatchObject({ state: 'TRANSFERRED', bytes: 64 * MIB });
    expect(large).toMatchObject({ state: 'TRANSFERRED', bytes: GIB });
    // The server received every byte of both, once (the BITS sink counts them, it does not store).
    expect(receivedAfterBaseline).toBe(64 * MIB);
    expect(server.stats.bytesStored).toBe(64 * MIB + GIB);
    expect(server.stats.completedUploads).toEqual(['__sink/baseline-64m.bin', '__sink/large-1g.bin']);
    console.info(`peak RSS: 64 MiB upload ${(baseline.maxRssBytes / MB).toFixed(1)} MB, 1 GiB upload ${(large.maxRssBytes / MB).toFixed(1)} MB`);
    expect(large.maxRssBytes).toBeLessThan(300 * MB);
    expect(large.maxRssBytes).toBeLessThanOrEqual(baseline.maxRssBytes + 64 * MB);
  }, 150_000);
});
