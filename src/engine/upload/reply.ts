/**
 * UPLOAD_REPLY: fetches the reply (BITS-Reply-URL) with plain GETs into a temp file, resuming with
 * a Range request after an interruption ([MC-BUP] §3.1.5.1.8 leaves the method to the client).
 * Progress is reported only for bytes flushed to disk, and persisted so a restart resumes.
 */
import { open, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { BitsError } from '../../shared/errors.js';
import { httpErrorCode } from '../../shared/hresult.js';
import { SECURITY } from '../../job/types.js';
import type { ConnectOptions, HttpResponse, HttpTransport } from '../../transport/types.js';
import { parseByteCount } from '../../protocol/ranges.js';
import { abortedError, localFileError, transportError } from './errors.js';
import type { ReplyState } from './state.js';

export interface ReplyEnvironment {
  readonly transport: HttpTransport;
  readonly connectOptions: (origin: string) => ConnectOptions;
  /** Job headers for a request to `url` (credentials only for the upload's own origin). */
  readonly headersFor: (url: URL) => Record<string, string>;
  readonly securityFlags: number;
  readonly signal: AbortSignal;
  readonly timeoutMs: number;
  /** Persists the reply state and reports it (GetReplyProgress). */
  readonly update: (reply: ReplyState) => void;
}

const MAX_REDIRECTS = 5;
/** Bytes between flush + progress report: bounded work lost on a crash, bounded store writes. */
const SYNC_INTERVAL = 1024 * 1024;

function statusError(status: number, url: URL): BitsError {
  // Same classification BITS applies to download answers: 5xx transient except 501/505, 408 and
  // 429 say "later", every other status repeats itself on retry.
  const transient = (status >= 500 && status !== 501 && status !== 505) || status === 408 || status === 429;
  return new BitsError(httpErrorCode(status), `Fetching the reply ${url.origin}${url.pathname} failed with HTTP ${status}.`, {
    context: 'REMOTE_FILE',
    transient,
    details: { status },
  });
}

/** "bytes a-b/c" or "bytes a-b/*": the start and the total (-1 when "*"). */
function parseContentRange(value: string | undefined): { first: number; total: number } | null {
  const m = /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(value ?? '');
  if (!m || m[1] === undefined || m[3] === undefined) return null;
  const first = parseByteCount(m[1]);
  const total = m[3] === '*' ? -1 : parseByteCount(m[3]);
  return first === undefined || total === undefined ? null : { first, total };
}

/** The unsatisfied-range form "bytes * /c" of a 416: the resource's size. */
function parseUnsatisfiedTotal(value: string | undefined): number | null {
  const m = /^\s*bytes\s+\*\/(\d+)\s*$/i.exec(value ?? '');
  return m?.[1] === undefined ? null : (parseByteCount(m[1]) ?? null);
}

/** Bytes of the temp file that are usable: what was recorded, if the file still holds them. */
async function usableOffset(reply: ReplyState): Promise<number> {
  try {
    const st = await stat(reply.tempName);
    return Math.min(st.size, reply.bytesReceived);
  } catch {
    return 0;
  }
}

export async function fetchReply(initial: ReplyState, env: ReplyEnvironment): Promise<ReplyState> {
  let reply: ReplyState = { ...initial, bytesReceived: await usableOffset(initial) };
  env.update(reply);
  let url = new URL(reply.url);
  for (let hop = 0; ; hop++) {
    if (env.signal.aborted) throw abortedError(env.signal);
    const offset = reply.bytesReceived;
    const connection = env.transport.connect(env.connectOptions(url.origin));
    let response: HttpResponse;
    try {
      response = await connection.request({
        method: 'GET',
        path: `${url.pathname}${url.search}`,
        headers: { ...env.headersFor(url), ...(offset > 0 ? { range: `bytes=${offset}-` } : {}) },
        signal: env.signal,
        timeoutMs: env.timeoutMs,
      });
    } catch (err) {
      await connection.destroy().catch(() => undefined);
      if (env.signal.aborted) throw abortedError(env.signal);
      throw transportError(err);
    }
    try {
      const { status, headers } = response;
      if (status >= 300 && status < 400 && headers['location'] !== undefined && status !== 304) {
        url = redirectTarget(url, headers['location'], status, env.securityFlags);
        if (hop >= MAX_REDIRECTS) throw new BitsError('ERROR_WINHTTP_REDIRECT_FAILED', 'The reply URL redirects too often.', { context: 'REMOTE_FILE', transient: false });
        continue;
      }
      if (status === 416 && offset > 0) {
        // Nothing past our offset: either the reply is complete, or it shrank and we restart.
        const size = parseUnsatisfiedTotal(headers['content-range']);
        reply = size === offset ? { ...reply, bytesTotal: offset } : { ...reply, bytesReceived: 0, bytesTotal: -1 };
        if (size === offset) {
          env.update(reply);
          return reply;
        }
        continue;
      }
      let start: number;
      let total: number;
      if (status === 200) {
        start = 0;
        const length = parseByteCount(headers['content-length'] ?? '');
        total = length ?? -1;
      } else if (status === 206) {
        const range = parseContentRange(headers['content-range']);
        if (range === null || range.first !== offset) {
          // Not the range we asked for: start over without one.
          reply = { ...reply, bytesReceived: 0, bytesTotal: -1 };
          continue;
        }
        start = offset;
        total = range.total;
      } else {
        throw statusError(status, url);
      }
      reply = { ...reply, bytesReceived: start, bytesTotal: total };
      env.update(reply);
      reply = await writeBody(response, reply, env);
      if (reply.bytesTotal >= 0 && reply.bytesReceived !== reply.bytesTotal) {
        throw new BitsError('BG_E_CONNECTION_CLOSED', 'The reply download ended early.', { context: 'GENERAL_TRANSPORT', transient: true });
      }
      reply = { ...reply, bytesTotal: reply.bytesReceived };
      env.update(reply);
      return reply;
    } finally {
      response.body.destroy();
      await connection.destroy().catch(() => undefined);
    }
  }
}

function redirectTarget(from: URL, location: string, status: number, securityFlags: number): URL {
  const policy = securityFlags & SECURITY.REDIRECT_POLICY_MASK;
  let to: URL;
  try {
    to = new URL(location, from);
  } catch {
    throw new BitsError(httpErrorCode(status), `The reply URL redirects to an invalid location.`, { context: 'REMOTE_FILE', transient: false });
  }
  const downgrade = from.protocol === 'https:' && to.protocol === 'http:' && (securityFlags & SECURITY.ALLOW_HTTPS_TO_HTTP) === 0;
  if (policy === SECURITY.REDIRECT_POLICY_DISALLOW || downgrade || (to.protocol !== 'http:' && to.protocol !== 'https:')) {
    throw new BitsError('ERROR_WINHTTP_REDIRECT_FAILED', `The reply URL redirect to ${to.origin} is not allowed.`, { context: 'REMOTE_FILE', transient: false });
  }
  return to;
}

async function writeBody(response: HttpResponse, initial: ReplyState, env: ReplyEnvironment): Promise<ReplyState> {
  let handle: FileHandle;
  try {
    // 'w' truncates for a fresh download; 'r+' keeps the bytes before the resume offset.
    handle = await open(initial.tempName, initial.bytesReceived === 0 ? 'w' : 'r+', 0o600);
  } catch (err) {
    throw localFileError(err, initial.tempName);
  }
  let reply = initial;
  let position = initial.bytesReceived;
  let synced = position;
  try {
    if (initial.bytesReceived > 0) await handle.truncate(initial.bytesReceived);
    try {
      for await (const chunk of response.body as AsyncIterable<Buffer>) {
        await handle.write(chunk, 0, chunk.length, position);
        position += chunk.length;
        if (position - synced >= SYNC_INTERVAL) {
          await handle.datasync();
          synced = position;
          reply = { ...reply, bytesReceived: position };
          env.update(reply);
        }
      }
    } catch (err) {
      if (env.signal.aborted) throw abortedError(env.signal);
      if (err instanceof BitsError) throw err;
      const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
      // A write failure (disk full, permissions) is local; anything else is the connection.
      if (typeof code === 'string' && /^E(NOSPC|ACCES|PERM|ROFS|IO|DQUOT)$/.test(code)) throw localFileError(err, initial.tempName);
      throw transportError(err);
    }
    await handle.datasync();
    return { ...reply, bytesReceived: position };
  } finally {
    await handle.close().catch(() => undefined);
  }
}
