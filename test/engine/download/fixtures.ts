/**
 * A loopback file server with configurable HTTP behaviour (ranges, sizes, drops, auth, redirects),
 * and a hand-made TransferContext that records every callback the engine makes, acting as the
 * runner would (persisting progress and state between transfer() calls).
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { expect } from 'vitest';
import type { EngineState, ProgressSink, TransferContext, TransferFile, TransferJob } from '../../../src/engine/types.js';
import type { FileRange } from '../../../src/job/types.js';
import { systemClock } from '../../../src/shared/clock.js';
import { BitsError } from '../../../src/shared/errors.js';
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
  /** Runs before the file is served; returns true when it answered the request itself (a 401). */
  authorize: ((req: IncomingMessage, res: ServerResponse) => boolean) | null;
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
    authorize: null,
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
    if (file.authorize?.(req, res)) return;
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
  /** The synced offset of each progress report (same order as `progress`). */
  readonly synced: number[] = [];
  readonly remoteNames: string[] = [];
  /** Expected bytes of the temp file, checked against the disk at every progress report. */
  expected: Buffer | null = null;

  constructor(
    job: TransferJob,
    file: { remoteName: string; tempName: string; ranges?: readonly FileRange[] | null; bytesTransferred?: number; syncedBytes?: number; bytesTotal?: number; engineState?: EngineState },
  ) {
    this.job = job;
    this.file = {
      index: 0,
      remoteName: file.remoteName,
      localName: file.tempName.replace(/BIT[^/]*\.tmp$/, 'out.bin'),
      tempName: file.tempName,
      bytesTotal: file.bytesTotal ?? -1,
      bytesTransferred: file.bytesTransferred ?? 0,
      syncedBytes: file.syncedBytes ?? file.bytesTransferred ?? 0,
      ranges: file.ranges ?? null,
      engineState: file.engineState ?? {},
      tempIdentity: null,
    };
  }

  context(signal: AbortSignal = new AbortController().signal): TransferContext {
    return {
      job: this.job,
      file: { ...this.file },
      signal,
      clock: systemClock,
      sink: this.sink(),
    };
  }

  sink(): ProgressSink {
    return {
      connected: () => this.calls.push('connected'),
      setTotal: (n) => {
        this.calls.push(`setTotal ${n}`);
        if (n !== this.file.bytesTotal) {
          this.file.bytesTransferred = 0;
          this.file.syncedBytes = 0;
        }
        this.file.bytesTotal = n;
      },
      progress: (n, state, synced = n) => {
        this.calls.push(`progress ${n}`);
        this.checkDurable(n);
        expect(synced).toBeLessThanOrEqual(n);
        this.progress.push(n);
        this.synced.push(synced);
        this.file.bytesTransferred = n;
        this.file.syncedBytes = synced;
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
      tempCreated: (identity) => {
        this.calls.push('tempCreated');
        this.file.tempIdentity = identity;
      },
      replyProgress: () => this.calls.push('replyProgress'),
    };
  }

  /**
   * Progress must never run ahead of the bytes in the temp file (written, in the page cache at
   * least), and those bytes must be right.
   */
  checkDurable(n: number): void {
    expect(statSync(this.file.tempName).size).toBeGreaterThanOrEqual(n);
    if (this.expected !== null && n > 0) {
      const onDisk = readFileSync(this.file.tempName).subarray(0, n);
      expect(onDisk.equals(this.expected.subarray(0, n))).toBe(true);
    }
  }
}

// ---- a Digest server (RFC 7616 / RFC 2617 / RFC 2069), written independently of src/ --------------

export type DigestAlgorithm = 'MD5' | 'MD5-sess' | 'SHA-256' | 'SHA-256-sess';

export interface DigestServerOptions {
  readonly realm: string;
  readonly userName: string;
  readonly password: string;
  readonly algorithm: DigestAlgorithm;
  /** Offer qop="auth" (RFC 2617/7616); false: an RFC 2069 challenge without qop. */
  readonly qop: boolean;
  /** Send the algorithm parameter (RFC 2069 challenges have none; MD5 is then implied). */
  readonly sendAlgorithm?: boolean;
  /** Also offer Basic in the same WWW-Authenticate header (before Digest). */
  readonly alsoBasic?: boolean;
}

export interface DigestServer {
  readonly challenge: string;
  readonly nonce: string;
  readonly opaque: string;
  /** Requests whose Authorization verified, and those refused with a 401. */
  verified: number;
  rejected: number;
  /** Why the last refused Authorization failed ("missing" when there was none). */
  lastReason: string;
  /**
   * Checks the request's Authorization: true when it is a correct Digest response for this
   * server's credentials, nonce, the request's method and URI (and, with qop, a nonce count
   * higher than any seen before). Otherwise answers 401 with the challenge and returns false.
   */
  guard(req: IncomingMessage, res: ServerResponse): boolean;
}

/** Parses `Digest a="x", b=y` into lower-cased names and unquoted values. */
function digestParams(header: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of header.matchAll(/([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
    out[(m[1] ?? '').toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '');
  }
  return out;
}

export function digestServer(o: DigestServerOptions): DigestServer {
  const nonce = randomBytes(12).toString('base64');
  const opaque = randomBytes(6).toString('hex');
  const hashName = o.algorithm.startsWith('SHA-256') ? 'sha256' : 'md5';
  const H = (s: string): string => createHash(hashName).update(s, 'utf8').digest('hex');
  const sess = o.algorithm.endsWith('-sess');
  const parts = [`realm="${o.realm}"`, `nonce="${nonce}"`];
  if (o.qop) parts.push('qop="auth"');
  if (o.sendAlgorithm ?? true) parts.push(`algorithm=${o.algorithm}`);
  parts.push(`opaque="${opaque}"`);
  const challenge = `${o.alsoBasic ? `Basic realm="${o.realm}", ` : ''}Digest ${parts.join(', ')}`;
  let highestNc = 0;
  const server: DigestServer = {
    challenge,
    nonce,
    opaque,
    verified: 0,
    rejected: 0,
    lastReason: '',
    guard(req, res) {
      const reason = check(req.headers.authorization, req.method ?? '', req.url ?? '');
      if (reason === null) {
        server.verified += 1;
        return true;
      }
      server.rejected += 1;
      server.lastReason = reason;
      res.writeHead(401, { 'www-authenticate': challenge, 'content-length': '0' });
      res.end();
      return false;
    },
  };
  /** null when valid, else why not. */
  function check(header: string | undefined, method: string, uri: string): string | null {
    if (header === undefined) return 'missing';
    if (!/^Digest\s/i.test(header)) return `not Digest: ${header.split(' ')[0] ?? ''}`;
    const p = digestParams(header.slice(7));
    if (p.username !== o.userName) return `username ${p.username}`;
    if (p.realm !== o.realm) return `realm ${p.realm}`;
    if (p.nonce !== nonce) return `nonce ${p.nonce}`;
    if (p.opaque !== opaque) return `opaque ${p.opaque}`;
    if (p.uri !== uri) return `uri ${p.uri} for ${uri}`;
    if ((p.algorithm ?? 'MD5').toLowerCase() !== ((o.sendAlgorithm ?? true) ? o.algorithm : 'MD5').toLowerCase()) return `algorithm ${p.algorithm}`;
    if (sess && (p.cnonce === undefined || p.cnonce === '')) return 'no cnonce for a -sess algorithm';
    let ha1 = H(`${o.userName}:${o.realm}:${o.password}`);
    if (sess) ha1 = H(`${ha1}:${nonce}:${p.cnonce ?? ''}`);
    const ha2 = H(`${method}:${uri}`);
    let expected: string;
    if (o.qop) {
      if (p.qop !== 'auth') return `qop ${p.qop}`;
      if (!/^[0-9a-f]{8}$/i.test(p.nc ?? '')) return `nc ${p.nc}`;
      if (p.cnonce === undefined || p.cnonce === '') return 'no cnonce';
      const nc = Number.parseInt(p.nc ?? '', 16);
      if (nc <= highestNc) return `nc ${nc} replayed (highest ${highestNc})`;
      expected = H(`${ha1}:${nonce}:${p.nc ?? ''}:${p.cnonce}:auth:${ha2}`);
      if (p.response !== expected) return 'wrong response';
      highestNc = nc;
      return null;
    }
    if (p.qop !== undefined || p.nc !== undefined) return 'qop/nc sent to a challenge without qop';
    expected = H(`${ha1}:${nonce}:${ha2}`);
    return p.response === expected ? null : 'wrong response';
  }
  return server;
}

/** The BitsError a transfer fails with (anything else, or success, fails the test). */
export async function failure(p: Promise<unknown>): Promise<BitsError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof BitsError) return err;
    throw err;
  }
  throw new Error('expected the transfer to fail');
}
