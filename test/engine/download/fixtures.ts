/**
 * A loopback file server with configurable HTTP behaviour (ranges, sizes, drops, auth, redirects),
 * and a hand-made TransferContext that records every callback the engine makes, acting as the
 * runner would (persisting progress and state between transfer() calls).
 */
import { readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { expect } from 'vitest';
import type { EngineState, TransferContext, TransferFile, TransferJob } from '../../../src/engine/types.js';
import type { FileRange } from '../../../src/job/types.js';
import { systemClock } from '../../../src/shared/clock.js';
import { startServer, type TestServer } from '../../transport/helpers.js';

export interface FileBehaviour {
  content: Buffer;
  lastModified: string;
  etag: string | null;
  /** Honour Range and send Accept-Ranges. */
  ranges: boolean;
  /** Send Content-Length (else chunked). */
  sendLength: boolean;
  /** Destroy the socket after this many body bytes of the next GET (then reset to null). */
  dropAfter: number | null;
  /** Answer every request to the file with this status. */
  status: number | null;
  /** Require Basic auth with this "user:password". */
  basicAuth: string | null;
  /** Path -> [status, Location]. */
  redirects: Record<string, [number, string]>;
}

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
}

export interface FileServer extends TestServer {
  readonly file: FileBehaviour;
  readonly requests: RecordedRequest[];
}

export function content(size: number): Buffer {
  const buf = Buffer.alloc(size);
  for (let i = 0; i < size; i++) buf[i] = (i * 31 + 7) % 251;
  return buf;
}

function serveFile(file: FileBehaviour, req: IncomingMessage, res: ServerResponse): void {
  const size = file.content.length;
  const common: Record<string, string> = { 'last-modified': file.lastModified };
  if (file.etag !== null) common.etag = file.etag;
  if (file.ranges) common['accept-ranges'] = 'bytes';
  const range = req.headers.range;
  const ifRange = req.headers['if-range'];
  const validatorOk = ifRange === undefined || ifRange === file.etag || ifRange === file.lastModified;
  let start = 0;
  let end = size - 1;
  let status = 200;
  if (file.ranges && range !== undefined && validatorOk) {
    const m = /^bytes=(\d+)-(\d*)$/.exec(range);
    if (m) {
      start = Number(m[1]);
      end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
      if (start >= size) {
        res.writeHead(416, { ...common, 'content-range': `bytes */${size}` });
        res.end();
        return;
      }
      status = 206;
      common['content-range'] = `bytes ${start}-${end}/${size}`;
    }
  }
  const body = file.content.subarray(start, end + 1);
  if (file.sendLength) common['content-length'] = String(body.length);
  res.writeHead(status, common);
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  if (file.dropAfter !== null) {
    const n = file.dropAfter;
    file.dropAfter = null;
    res.write(body.subarray(0, n), () => setTimeout(() => res.socket?.destroy(), 20));
    return;
  }
  res.end(body);
}

export async function startFileServer(initial: Partial<FileBehaviour> = {}): Promise<FileServer> {
  const file: FileBehaviour = {
    content: content(100_000),
    lastModified: new Date(Date.UTC(2025, 5, 1, 12, 0, 0)).toUTCString(),
    etag: '"v1"',
    ranges: true,
    sendLength: true,
    dropAfter: null,
    status: null,
    basicAuth: null,
    redirects: {},
    ...initial,
  };
  const requests: RecordedRequest[] = [];
  const server = await startServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const redirect = file.redirects[req.url ?? ''];
    if (redirect) {
      res.writeHead(redirect[0], { location: redirect[1], 'content-length': '0' });
      res.end();
      return;
    }
    if (file.basicAuth !== null) {
      const expected = `Basic ${Buffer.from(file.basicAuth).toString('base64')}`;
      if (req.headers.authorization !== expected) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="files"', 'content-length': '0' });
        res.end();
        return;
      }
    }
    if (file.status !== null) {
      res.writeHead(file.status, { 'content-length': '0' });
      res.end();
      return;
    }
    serveFile(file, req, res);
  });
  return Object.assign(server, { file, requests });
}

export function baseJob(overrides: Partial<TransferJob> = {}): TransferJob {
  return {
    id: 'job-1',
    type: 'DOWNLOAD',
    priority: 'FOREGROUND',
    customHeaders: null,
    credentials: [],
    proxy: { usage: 'NO_PROXY', proxyList: null, bypassList: null },
    securityFlags: 0,
    clientCertificate: null,
    httpMethod: null,
    dynamicContent: false,
    highPerformance: false,
    maxDownloadSize: null,
    replyFileName: null,
    minimumRetryDelaySec: 600,
    noProgressTimeoutSec: 1_209_600,
    ...overrides,
  };
}

/** Plays the runner: keeps the file's persisted fields and records every callback. */
export class FakeRunner {
  job: TransferJob;
  file: { -readonly [K in keyof TransferFile]: TransferFile[K] };
  readonly calls: string[] = [];
  readonly progress: number[] = [];
  readonly remoteNames: string[] = [];
  /** Expected bytes of the temp file, checked against the disk at every progress report. */
  expected: Buffer | null = null;

  constructor(job: TransferJob, file: { remoteName: string; tempName: string; ranges?: readonly FileRange[] | null; bytesTransferred?: number; bytesTotal?: number; engineState?: EngineState }) {
    this.job = job;
    this.file = {
      index: 0,
      remoteName: file.remoteName,
      localName: file.tempName.replace(/BIT[^/]*\.tmp$/, 'out.bin'),
      tempName: file.tempName,
      bytesTotal: file.bytesTotal ?? -1,
      bytesTransferred: file.bytesTransferred ?? 0,
      ranges: file.ranges ?? null,
      engineState: file.engineState ?? {},
    };
  }

  context(signal: AbortSignal = new AbortController().signal): TransferContext {
    return {
      job: this.job,
      file: { ...this.file },
      signal,
      clock: systemClock,
      connected: () => this.calls.push('connected'),
      setTotal: (n) => {
        this.calls.push(`setTotal ${n}`);
        if (n !== this.file.bytesTotal) this.file.bytesTransferred = 0;
        this.file.bytesTotal = n;
      },
      progress: (n, state) => {
        this.calls.push(`progress ${n}`);
        this.checkDurable(n);
        this.progress.push(n);
        this.file.bytesTransferred = n;
        if (state !== undefined) this.file.engineState = state;
      },
      saveState: (state) => {
        this.calls.push('saveState');
        this.file.engineState = state;
      },
      setRemoteName: (url) => {
        this.calls.push(`setRemoteName ${url}`);
        this.remoteNames.push(url);
        this.file.remoteName = url;
      },
      replyProgress: () => this.calls.push('replyProgress'),
    };
  }

  /** Progress must never run ahead of the bytes on disk, and those bytes must be right. */
  checkDurable(n: number): void {
    if (this.file.tempName.startsWith('/dev/')) return;
    expect(statSync(this.file.tempName).size).toBeGreaterThanOrEqual(n);
    if (this.expected !== null && n > 0) {
      const onDisk = readFileSync(this.file.tempName).subarray(0, n);
      expect(onDisk.equals(this.expected.subarray(0, n))).toBe(true);
    }
  }
}
