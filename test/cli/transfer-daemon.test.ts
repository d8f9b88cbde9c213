/**
 * /transfer through a real bitsd, following the job's events over IPC: the server stalls the body
 * half way until the test releases it; meanwhile other bitsadmin processes suspend and resume the
 * job. /transfer shows the suspension and keeps waiting, goes on with the resumed job, and ends
 * when the released body completes it.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ServerResponse } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type RunResult, runBitsadmin, spawnDaemon, type SpawnedDaemon } from '../daemon/spawn.js';
import { tempDir, waitFor } from '../helpers/temp.js';
import { startServer, type TestServer } from '../transport/helpers.js';

const SIZE = 256 * 1024;
const content = randomBytes(SIZE);
const LAST_MODIFIED = new Date(Date.UTC(2025, 0, 2)).toUTCString();

/** Serves `content` with ranges; every GET sends half of what it owes, then waits for release(). */
function stallingServer(): Promise<TestServer & { stalled: Array<() => void>; seen: { gets: number } }> {
  const stalled: Array<() => void> = [];
  const seen = { gets: 0 };
  const answer = (method: string, range: string | undefined, res: ServerResponse): void => {
    const m = range === undefined ? null : /^bytes=(\d+)-(\d*)$/.exec(range);
    const start = m ? Number(m[1]) : 0;
    const body = content.subarray(start);
    res.writeHead(m ? 206 : 200, {
      'content-length': String(body.length),
      'accept-ranges': 'bytes',
      'last-modified': LAST_MODIFIED,
      etag: '"v1"',
      ...(m ? { 'content-range': `bytes ${start}-${SIZE - 1}/${SIZE}` } : {}),
    });
    if (method === 'HEAD') {
      res.end();
      return;
    }
    seen.gets++;
    const half = Math.floor(body.length / 2);
    res.write(body.subarray(0, half));
    stalled.push(() => res.end(body.subarray(half)));
  };
  return startServer((req, res) => answer(req.method ?? 'GET', req.headers.range, res)).then((server) => Object.assign(server, { stalled, seen }));
}

let dir: string;
let daemon: SpawnedDaemon;
let server: Awaited<ReturnType<typeof stallingServer>>;

beforeEach(async () => {
  dir = await tempDir('bitsd-transfer-daemon-');
  await mkdir(join(dir, 'out'));
  // Debug: the log has a line per request, with its connection.
  daemon = await spawnDaemon({ dataDir: join(dir, 'data'), socket: join(dir, 'run', 'bitsd.sock'), logLevel: 'debug' });
  server = await stallingServer();
});

afterEach(async () => {
  // Unblock anything still stalled so the server can close.
  for (const release of server.stalled.splice(0)) release();
  await server.close();
  await daemon.stop('SIGTERM');
});

const admin = (...args: string[]): Promise<RunResult> => runBitsadmin(['--socket', daemon.socket, ...args]);

describe('/transfer against a real bitsd', () => {
  it('follows a stalled download through a suspension by another client, and ends when the server is released', async () => {
    const local = join(dir, 'out', 'stalled.bin');
    let stdout = '';
    const transfer = runBitsadmin(['--socket', daemon.socket, '/transfer', 'stalled', `${server.url}/stalled.bin`, local], {
      timeoutMs: 60_000,
      onStdout: (text) => (stdout = text),
    });
    await waitFor(() => server.seen.gets === 1 && stdout.includes('STATE: TRANSFERRING'), 15_000, 'the first GET, stalled');
    const id = /JOB: (\{[0-9A-F-]{36}\})/.exec(stdout)?.[1];
    if (!id) throw new Error(`no job id in ${stdout}`);

    // Another client suspends the job: /transfer says so and does not end.
    expect((await admin('/suspend', id)).code).toBe(0);
    await waitFor(() => stdout.includes('Waiting: suspended; /resume to go on\n'), 15_000, 'the suspension on /transfer');
    expect(stdout).toMatch(/STATE: SUSPENDED FILES: 0 \/ 1 BYTES: \d+ \/ (262144|UNKNOWN)/);
    expect((await admin('/rawreturn', '/getstate', id)).stdout).toBe('SUSPENDED');

    // ... and resumes it: a new GET, stalled too, until the test lets the body finish.
    expect((await admin('/resume', id)).code).toBe(0);
    await waitFor(() => server.seen.gets === 2, 15_000, 'the second GET');
    const release = server.stalled.at(-1);
    release?.();

    const r = await transfer;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(stdout.endsWith(`STATE: TRANSFERRED FILES: 1 / 1 BYTES: ${SIZE} / ${SIZE} (100%)\nTransfer complete.\n`)).toBe(true);
    expect(stdout.match(/Waiting: suspended/g)).toHaveLength(1);
    expect((await readFile(local)).equals(content)).toBe(true);
    expect(JSON.parse((await admin('--json', '/list')).stdout)).toEqual({ jobs: [] });

    // What /transfer asked the daemon, start to end: set-up, watches, one subscription, Complete.
    // No state, progress or status reads: every snapshot came to it.
    const requests = daemon.logs().filter((l) => l.msg === 'request');
    const conn = requests.find((l) => l.method === 'manager.createJob' && (l.params as { displayName?: string }).displayName === 'stalled')?.conn;
    const methods = new Set(requests.filter((l) => l.conn === conn).map((l) => l.method as string));
    expect([...methods].sort()).toEqual(
      ['events.subscribe', 'events.watch', 'job.addFileSet', 'job.complete', 'job.getPriority', 'job.resume', 'manager.createJob'].concat(methods.has('events.unsubscribe') ? ['events.unsubscribe'] : []).sort(),
    );
  });
});
