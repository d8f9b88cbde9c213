/**
 * Progress is persisted at a bounded rate, not once per network chunk (docs/download-engine.md,
 * "Durability": the written offset at most every 8 MiB or 1 s, the synced one after a background
 * fdatasync every 16 MiB or 5 s), never ahead of the bytes in the temp file, and the synced
 * offset never ahead of the written one. The server writes its body in 16 KiB pieces; the engine
 * runs on a FakeClock that only the test moves, so which rule fires is decided by the test, not
 * by the machine's speed.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PROGRESS_BYTES, SYNC_BYTES, SYNC_INTERVAL_MS } from '../../../src/engine/download/body-writer.js';
import { HttpDownloadEngine, type HttpDownloadEngineOptions } from '../../../src/engine/download/http-download-engine.js';
import { tempFileFlushes } from '../../../src/engine/download/temp-file.js';
import { FakeClock } from '../../../src/shared/clock.js';
import { UndiciTransport } from '../../../src/transport/undici-transport.js';
import { startServer, type TestServer } from '../../transport/helpers.js';
import { baseJob, content, FakeRunner } from './fixtures.js';

const PIECE = 16 * 1024;
const LAST_MODIFIED = new Date(Date.UTC(2025, 5, 1, 12, 0, 0)).toUTCString();

interface ChunkedServer extends TestServer {
  /** res.write calls of body pieces, over all GETs. */
  readonly stats: { writes: number };
}

/**
 * Serves `body` (HEAD, then `Range: bytes=0-` as a 206) in PIECE-sized writes. `beforeWrite` runs
 * before each piece after the first and may wait (the pacing of the time-rule test).
 */
async function startChunkedServer(body: Buffer, beforeWrite: (sent: number) => Promise<void> = async () => undefined): Promise<ChunkedServer> {
  const common = { 'last-modified': LAST_MODIFIED, etag: '"big"', 'accept-ranges': 'bytes' };
  const stats = { writes: 0 };
  const writePiece = (res: ServerResponse, piece: Buffer): Promise<void> =>
    new Promise((resolve) => {
      stats.writes += 1;
      if (res.write(piece)) {
        resolve();
        return;
      }
      res.once('drain', resolve);
      res.once('close', resolve);
    });
  const server = await startServer((req, res) => {
    if (req.method === 'HEAD') {
      res.writeHead(200, { ...common, 'content-length': String(body.length) });
      res.end();
      return;
    }
    if (req.headers.range !== 'bytes=0-') {
      res.writeHead(400, { 'content-length': '0' });
      res.end();
      return;
    }
    res.writeHead(206, { ...common, 'content-length': String(body.length), 'content-range': `bytes 0-${body.length - 1}/${body.length}` });
    void (async () => {
      try {
        for (let sent = 0; sent < body.length && !res.destroyed; sent += PIECE) {
          if (sent > 0) await beforeWrite(sent);
          await writePiece(res, body.subarray(sent, sent + PIECE));
        }
        res.end();
      } catch {
        // The pacing gave up (the engine stopped writing): cut the body, so the transfer fails.
        res.destroy();
      }
    })();
  });
  return Object.assign(server, { stats });
}

interface Report {
  readonly offset: number;
  readonly synced: number;
  /** Size of the temp file on disk when the progress call was made. */
  readonly onDisk: number;
}

/**
 * Inside the body: the reports after a background fdatasync (they moved the synced offset, and
 * carry the written one too), and the others that moved the written offset (the progress rate).
 */
function split(reports: readonly Report[], size: number): { written: number[]; synced: number[] } {
  const written: number[] = [];
  const synced: number[] = [];
  let last = { offset: 0, synced: 0 };
  for (const r of reports) {
    if (r.synced > 0 && r.synced < size && r.synced !== last.synced) synced.push(r.synced);
    else if (r.offset > 0 && r.offset < size && r.offset !== last.offset) written.push(r.offset);
    last = r;
  }
  return { written, synced };
}

describe('HttpDownloadEngine: progress rate', () => {
  let server: ChunkedServer | undefined;
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'bitsd-dl-rate-'));
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Runs one transfer with the engine defaults (8 MiB / 1 s, syncs every 16 MiB / 5 s) or `options`
   * on `clock`; returns every progress call and the fdatasync calls made.
   */
  async function download(url: string, clock: FakeClock, options: Partial<HttpDownloadEngineOptions> = {}): Promise<{ reports: Report[]; runner: FakeRunner; flushes: number }> {
    const engine = new HttpDownloadEngine({ transport: new UndiciTransport(), timeoutMs: 10_000, ...options });
    const runner = new FakeRunner(baseJob(), { remoteName: url, tempName: join(dir, 'BITRATE.tmp') });
    const base = runner.context();
    const reports: Report[] = [];
    const flushesBefore = tempFileFlushes();
    await engine.transfer({
      ...base,
      clock,
      sink: {
        ...base.sink,
        progress: (n, state, synced = n) => {
          reports.push({ offset: n, synced, onDisk: statSync(runner.file.tempName).size });
          base.sink.progress(n, state, synced);
        },
      },
    });
    return { reports, runner, flushes: tempFileFlushes() - flushesBefore };
  }

  it('48 MiB in 16 KiB writes, clock standing still: progress about every 8 MiB, never per chunk, never ahead of the disk', async () => {
    const size = 48 * 1024 * 1024;
    const body = content(size);
    server = await startChunkedServer(body);
    const { reports, runner, flushes } = await download(`${server.url}/big`, new FakeClock());

    expect(server.stats.writes).toBe(size / PIECE); // 3,072 pieces on the wire
    expect(reports.at(-1)).toMatchObject({ offset: size, synced: size });
    expect(runner.file.bytesTransferred).toBe(size);
    for (const r of reports) expect(r.offset).toBeLessThanOrEqual(r.onDisk);
    // The reports made while the body streamed (not the restart-to-0 with the validators, not the end).
    const { written: during, synced } = split(reports, size);
    expect(during.length).toBeGreaterThanOrEqual(1);
    // The clock stands still: only the 16 MiB rule syncs in the background, one flush at a time
    // (so at 16 and 32 MiB, or later), each synced offset at least 16 MiB past the one before;
    // then the final fdatasync, before the file counts as transferred.
    expect(synced.length).toBeGreaterThanOrEqual(1);
    expect(synced.length).toBeLessThanOrEqual(size / SYNC_BYTES - 1);
    let lastSynced = 0;
    for (const n of synced) {
      expect(n - lastSynced).toBeGreaterThanOrEqual(SYNC_BYTES);
      lastSynced = n;
    }
    for (const r of reports) expect(r.synced).toBeLessThanOrEqual(r.offset);
    expect(flushes).toBe(synced.length + 1);
    let previous = 0;
    for (const n of during) {
      expect(n - previous).toBeGreaterThanOrEqual(PROGRESS_BYTES);
      previous = n;
    }
    // At most one report per 8 MiB and one per background sync, plus the validators' report at 0
    // and the final ones.
    expect(reports.length).toBeLessThanOrEqual(size / PROGRESS_BYTES + 3 + synced.length);
    const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
    expect(sha(readFileSync(runner.file.tempName))).toBe(sha(body));
  });

  it('4 MiB in 16 KiB writes, 50 ms of clock per write: the 1 s rule reports about every 20 writes, not per chunk', async () => {
    const size = 4 * 1024 * 1024; // below 8 MiB: only the time rule can fire while the body streams
    const body = content(size);
    const clock = new FakeClock();
    const tempName = join(dir, 'BITRATE.tmp');
    // Each piece is sent only once the previous one is in the temp file (so the engine saw it
    // at the current time); then the clock moves on 50 ms.
    server = await startChunkedServer(body, async (sent) => {
      const deadline = Date.now() + 10_000;
      for (;;) {
        let onDisk = 0;
        try {
          onDisk = statSync(tempName).size;
        } catch {
          // not created yet
        }
        if (onDisk >= sent) break;
        if (Date.now() > deadline) throw new Error(`the engine never wrote byte ${sent}`);
        await new Promise((r) => setImmediate(r));
      }
      clock.set(clock.now() + 50);
    });
    const start = clock.now();
    const { reports, flushes } = await download(`${server.url}/paced`, clock);

    const writes = size / PIECE; // 256
    expect(server.stats.writes).toBe(writes);
    const elapsedSec = (clock.now() - start) / 1000; // 12.75 s of clock
    expect(elapsedSec).toBeCloseTo(((writes - 1) * 50) / 1000, 5);
    for (const r of reports) expect(r.offset).toBeLessThanOrEqual(r.onDisk);
    const { written: during, synced } = split(reports, size);
    // The 5 s rule synced in the background twice (at ~5 s and ~10 s of clock), each report of a
    // synced offset behind the written one; then the final fdatasync.
    const syncs = Math.floor((elapsedSec * 1000) / SYNC_INTERVAL_MS);
    expect(synced.length).toBe(syncs);
    expect(flushes).toBe(syncs + 1);
    for (const r of reports) expect(r.synced).toBeLessThanOrEqual(r.offset);
    // The time rule fired (the byte rule cannot below 8 MiB) ...
    expect(during.length).toBeGreaterThanOrEqual(1);
    // ... at most once per second of clock: about every 20 writes of 50 ms, never per write.
    expect(during.length).toBeLessThanOrEqual(Math.floor(elapsedSec) + 1);
    for (let i = 1; i < during.length; i++) {
      expect((during[i] as number) - (during[i - 1] as number)).toBeGreaterThanOrEqual(19 * PIECE);
    }
    expect(reports.length).toBeLessThanOrEqual(Math.floor(elapsedSec) + 4 + syncs);
    expect(reports.at(-1)).toMatchObject({ offset: size, synced: size });
  });

  it('48 MiB with the sync cadence out of reach: no fdatasync in the body, one before the file counts as transferred', async () => {
    const size = 48 * 1024 * 1024;
    const body = content(size);
    server = await startChunkedServer(body);
    const { reports, flushes } = await download(`${server.url}/big`, new FakeClock(), { syncBytes: 2 ** 40 });

    expect(split(reports, size).synced).toEqual([]);
    for (const r of reports) {
      if (r.offset < size) expect(r.synced).toBe(0);
      expect(r.offset).toBeLessThanOrEqual(r.onDisk);
    }
    expect(flushes).toBe(1);
    expect(reports.at(-1)).toMatchObject({ offset: size, synced: size });
  });
});
