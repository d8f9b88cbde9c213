/**
 * Shared pieces of the DOWNLOAD integration tests: a manager on a fresh data directory with the
 * real HTTP download engine (undici transport), a node:http file server on 127.0.0.1:0 with
 * precise control (ranges, validators, held and dropped bodies, a request log with headers, and
 * an intercept hook for 503s, 401s and redirects), state polling and clean-up after each test.
 */
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { afterEach, expect } from 'vitest';
import { BackgroundCopyManager, BitsError, type Clock, HttpDownloadEngine, type JobState, UndiciTransport } from '../../../src/index.js';
import type { BackgroundCopyJob } from '../../../src/index.js';
import { type BitsServer, type BitsServerOptions, startBitsServer } from '../../../src/server/index.js';
import { startServer, type TestServer } from '../../transport/helpers.js';
import { tempDir } from '../../helpers/temp.js';

// ---- clean-up ----------------------------------------------------------------------------------

const closers: Array<() => Promise<void>> = [];

/** Runs `close` after the test (last registered, first closed: managers before their servers). */
export function onCleanup(close: () => Promise<void>): void {
  closers.push(close);
}

afterEach(async () => {
  while (closers.length > 0) {
    const close = closers.pop() as () => Promise<void>;
    await close().catch(() => undefined);
  }
});

// ---- the manager -------------------------------------------------------------------------------

export interface ManagerSetup {
  readonly clock?: Clock;
  /** Default: a fresh UndiciTransport. */
  readonly transport?: UndiciTransport;
  /** Durable progress at least every this many bytes (default 64 KiB, so progress shows up in small files). */
  readonly progressBytes?: number;
  /** Response headers / between body chunks (default 10 s). */
  readonly timeoutMs?: number;
  /** Draws for retry jitter (default always 0: retries fall exactly at the retry delay). */
  readonly random?: () => number;
  /** A background fdatasync every this many bytes (default the engine's, 16 MiB). */
  readonly syncBytes?: number;
  /** The boot the manager runs in (default the kernel's boot id). */
  readonly bootId?: string;
}

export function httpEngine(setup: ManagerSetup = {}): HttpDownloadEngine {
  return new HttpDownloadEngine({
    transport: setup.transport ?? new UndiciTransport(),
    progressBytes: setup.progressBytes ?? 64 * 1024,
    timeoutMs: setup.timeoutMs ?? 10_000,
    connectTimeoutMs: 5_000,
    // PRECONFIG reads no proxy variables from the test environment: loopback traffic stays direct.
    env: {},
    ...(setup.syncBytes !== undefined ? { syncBytes: setup.syncBytes } : {}),
  });
}

/** A manager on `<dir>/data`, closed after the test. */
export async function openManager(dir: string, setup: ManagerSetup = {}): Promise<BackgroundCopyManager> {
  const mgr = await BackgroundCopyManager.open({
    dataDir: join(dir, 'data'),
    engines: [httpEngine(setup)],
    ...(setup.clock ? { clock: setup.clock } : {}),
    random: setup.random ?? (() => 0),
    ...(setup.bootId !== undefined ? { bootId: () => setup.bootId as string } : {}),
  });
  onCleanup(() => mgr.close());
  return mgr;
}

export async function workDir(): Promise<string> {
  return tempDir('bitsd-dl-it-');
}

// ---- assertions ----------------------------------------------------------------------------------

/** The BitsError code a call fails with; fails the test if it succeeds or throws anything else. */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof BitsError) return err.code;
    throw err;
  }
  throw new Error('expected the call to fail with a BitsError');
}

async function describeJob(job: BackgroundCopyJob, state: JobState): Promise<string> {
  if (state !== 'ERROR' && state !== 'TRANSIENT_ERROR') return state;
  const e = await job.getError();
  return `${state} (${e.code} ${e.context}: ${e.message})`;
}

/**
 * Polls the job (real time) until it is in one of `states`. Entering ERROR when it was not asked
 * for fails at once with the error, which makes failures readable.
 */
export async function waitForState(job: BackgroundCopyJob, states: JobState | readonly JobState[], timeoutMs = 15_000): Promise<JobState> {
  const wanted: readonly JobState[] = typeof states === 'string' ? [states] : states;
  const deadline = Date.now() + timeoutMs;
  let last: JobState = await job.getState();
  for (;;) {
    if (wanted.includes(last)) return last;
    if (last === 'ERROR' || last === 'ACKNOWLEDGED' || last === 'CANCELLED') {
      throw new Error(`Job reached ${await describeJob(job, last)} while waiting for ${wanted.join('/')}`);
    }
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${wanted.join('/')}; job is ${await describeJob(job, last)}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
    last = await job.getState();
  }
}

/** BIT*.tmp files left in a directory. */
export async function tempFilesIn(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => /^BIT[0-9A-F]+\.tmp$/.test(n));
}

export function expectSameBytes(actual: Buffer, expected: Buffer): void {
  expect(actual.length).toBe(expected.length);
  expect(actual.equals(expected)).toBe(true);
}

// ---- the file server -----------------------------------------------------------------------------

export interface ServedFile {
  content: Buffer;
  lastModified: string;
  /** Strong ETag, or null to send none. */
  etag: string | null;
}

export interface LoggedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  /** The response was cut off (client went away, or a scripted drop/hold ended by a close). */
  closedEarly: boolean;
}

/** Handles a request itself (true) or lets the file server answer it (false). */
export type Intercept = (req: IncomingMessage, res: ServerResponse, entry: LoggedRequest) => boolean;

export interface FileServer extends TestServer {
  readonly files: Map<string, ServedFile>;
  readonly requests: LoggedRequest[];
  /** Honour Range and send Accept-Ranges (default true). */
  ranges: boolean;
  intercept: Intercept | null;
  /** The next GET of `path` sends `afterBytes` of its body, then nothing more (until the socket closes). */
  holdNext(path: string, afterBytes: number): void;
  /** The next GET of `path` sends `afterBytes` of its body, then the connection is destroyed. */
  dropNext(path: string, afterBytes: number): void;
  /** Requests of one method and path, in order. */
  log(method: string, path: string): LoggedRequest[];
  /** Serves a file at `path` and returns its content. */
  put(path: string, content: Buffer, lastModified?: Date): Buffer;
}

export function randomContent(size: number): Buffer {
  return randomBytes(size);
}

let etagSeq = 0;

function serve(server: FileServer, cut: Map<string, { bytes: number; mode: 'hold' | 'drop' }>, req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  const file = server.files.get(path);
  if (!file) {
    res.writeHead(404, { 'content-length': '0' });
    res.end();
    return;
  }
  const size = file.content.length;
  const headers: Record<string, string> = { 'last-modified': file.lastModified };
  if (file.etag !== null) headers.etag = file.etag;
  if (server.ranges) headers['accept-ranges'] = 'bytes';
  const range = req.headers.range;
  const ifRange = req.headers['if-range'];
  const sameVersion = ifRange === undefined || ifRange === file.etag || ifRange === file.lastModified;
  let start = 0;
  let end = size - 1;
  let status = 200;
  const m = server.ranges && sameVersion && range !== undefined ? /^bytes=(\d+)-(\d*)$/.exec(range) : null;
  if (m) {
    start = Number(m[1]);
    end = m[2] === '' || m[2] === undefined ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (start >= size) {
      res.writeHead(416, { ...headers, 'content-range': `bytes */${size}`, 'content-length': '0' });
      res.end();
      return;
    }
    status = 206;
    headers['content-range'] = `bytes ${start}-${end}/${size}`;
  }
  const body = file.content.subarray(start, end + 1);
  headers['content-length'] = String(body.length);
  res.writeHead(status, headers);
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const plan = cut.get(path);
  if (plan && req.method === 'GET') {
    cut.delete(path);
    res.write(body.subarray(0, plan.bytes), () => {
      if (plan.mode === 'drop') setTimeout(() => res.socket?.destroy(), 20);
    });
    return;
  }
  res.end(body);
}

export async function startFileServer(): Promise<FileServer> {
  const cut = new Map<string, { bytes: number; mode: 'hold' | 'drop' }>();
  const requests: LoggedRequest[] = [];
  const files = new Map<string, ServedFile>();
  let self: FileServer | undefined;
  const base = await startServer((req, res) => {
    const entry: LoggedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, closedEarly: false };
    requests.push(entry);
    res.on('close', () => {
      if (!res.writableFinished) entry.closedEarly = true;
    });
    const server = self as FileServer;
    if (server.intercept?.(req, res, entry)) return;
    serve(server, cut, req, res);
  });
  self = Object.assign(base, {
    files,
    requests,
    ranges: true,
    intercept: null,
    holdNext: (path: string, bytes: number) => void cut.set(path, { bytes, mode: 'hold' }),
    dropNext: (path: string, bytes: number) => void cut.set(path, { bytes, mode: 'drop' }),
    log: (method: string, path: string) => requests.filter((r) => r.method === method && (r.url.split('?')[0] ?? '') === path),
    put: (path: string, content: Buffer, lastModified = new Date(Date.UTC(2025, 0, 2, 3, 4, 5))) => {
      etagSeq += 1;
      files.set(path, { content, lastModified: lastModified.toUTCString(), etag: `"v${etagSeq}"` });
      return content;
    },
  }) as FileServer;
  onCleanup(() => base.close());
  return self;
}

// ---- the reference server --------------------------------------------------------------------------

/** src/server's reference server (GET/HEAD with Range, fault plans), closed after the test. */
export async function startReferenceServer(options: BitsServerOptions): Promise<BitsServer> {
  const server = await startBitsServer({ ...options, port: 0 });
  onCleanup(() => server.close());
  return server;
}
