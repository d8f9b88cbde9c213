/**
 * The pure half of the server's HTTP/1.1 request reader: bytes → request head. No sockets here,
 * so every malformed input can be tested as plain data.
 *
 * Why not node:http: llhttp answers 400 to the BITS_POST extension method before any handler
 * runs, so the BITS server reads requests itself. The reader is deliberately strict (RFC 9112):
 * CRLF line endings only, no obs-fold, token header names, no whitespace before the colon, one
 * Host, one Content-Length, no Transfer-Encoding (request bodies are Content-Length only).
 */

export interface HttpLimits {
  /** Request line + headers + the blank line, in bytes. */
  readonly maxHeaderBytes: number;
  readonly maxHeaders: number;
  /** One header value, in bytes. */
  readonly maxHeaderValueBytes: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  maxHeaderBytes: 16 * 1024,
  maxHeaders: 100,
  maxHeaderValueBytes: 8 * 1024,
};

export interface RequestHead {
  readonly method: string;
  /** The request-target as sent (origin-form "/a/b?x" or absolute-form "http://h/a"). */
  readonly target: string;
  readonly version: '1.0' | '1.1';
  /** Lower-cased names; repeated headers joined with ", ". */
  readonly headers: ReadonlyMap<string, string>;
  /** Names as sent, in order. */
  readonly rawHeaders: ReadonlyArray<readonly [string, string]>;
  /** undefined when the request has no Content-Length header (and therefore no body). */
  readonly contentLength: number | undefined;
  /** HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with "Connection: keep-alive". */
  readonly keepAlive: boolean;
  readonly expectContinue: boolean;
}

/** Why a head was refused: the status to answer with (the connection is then closed). */
export interface HeadError {
  readonly status: 400 | 417 | 431 | 501 | 505;
  readonly reason: string;
}

export type HeadParseResult =
  | { readonly ok: true; readonly head: RequestHead }
  | { readonly ok: false; readonly error: HeadError };

export type HeadPushResult =
  | { readonly state: 'incomplete' }
  | { readonly state: 'complete'; readonly head: RequestHead; readonly rest: Buffer }
  | { readonly state: 'error'; readonly error: HeadError };

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** field-value: VCHAR, obs-text, SP, HTAB (no CTLs, no DEL). */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** request-target: visible ASCII only (no spaces, CTLs or raw non-ASCII bytes). */
const TARGET = /^[\x21-\x7e]+$/;
const VERSION = /^HTTP\/(\d)\.(\d)$/;

const CR = 13;
const LF = 10;

function fail(status: HeadError['status'], reason: string): HeadParseResult {
  return { ok: false, error: { status, reason } };
}

/**
 * Parses one request head: the bytes up to, not including, the blank line that ends it (leading
 * empty lines already stripped). Latin-1 decoding keeps one char per byte, so every check below
 * is a check on the raw bytes.
 */
export function parseRequestHead(bytes: Buffer, limits: HttpLimits = DEFAULT_HTTP_LIMITS): HeadParseResult {
  const text = bytes.toString('latin1');
  const lines = text.split('\r\n');
  // A lone CR or LF inside a line means bare line endings or smuggling attempts: refuse both.
  if (lines.some((line) => line.includes('\r') || line.includes('\n'))) {
    return fail(400, 'bare CR or LF in the request head');
  }
  const requestLine = lines[0] ?? '';
  const parts = requestLine.split(' ');
  if (parts.length !== 3) return fail(400, 'malformed request line');
  const [method = '', target = '', versionText = ''] = parts;
  if (!TOKEN.test(method)) return fail(400, 'malformed method');
  if (!TARGET.test(target)) return fail(400, 'malformed request-target');
  if (!(target.startsWith('/') || /^https?:\/\//i.test(target))) {
    return fail(400, 'request-target must be origin-form or absolute-form');
  }
  const version = VERSION.exec(versionText);
  if (!version) return fail(400, 'malformed HTTP version');
  if (version[1] !== '1') return fail(505, `HTTP/${version[1]}.${version[2]} is not supported`);
  const minor = version[2] === '0' ? '1.0' : '1.1';

  const headerLines = lines.slice(1);
  if (headerLines.length > limits.maxHeaders) return fail(431, 'too many header fields');
  const rawHeaders: Array<readonly [string, string]> = [];
  const headers = new Map<string, string>();
  const seen = new Map<string, number>();
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    if (colon <= 0) return fail(400, 'header line without a field name');
    const name = line.slice(0, colon);
    // RFC 9112 §5.1: whitespace between name and colon MUST be rejected; TOKEN also refuses
    // a leading SP/HTAB, which is how obs-fold continuation lines look.
    if (!TOKEN.test(name)) return fail(400, `malformed header name ${JSON.stringify(name)}`);
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    if (value.length > limits.maxHeaderValueBytes) return fail(431, `header ${name} is too long`);
    if (!FIELD_VALUE.test(value)) return fail(400, `invalid characters in header ${name}`);
    rawHeaders.push([name, value]);
    const key = name.toLowerCase();
    seen.set(key, (seen.get(key) ?? 0) + 1);
    const prior = headers.get(key);
    headers.set(key, prior === undefined ? value : `${prior}, ${value}`);
  }

  if (minor === '1.1' && !headers.has('host')) return fail(400, 'HTTP/1.1 request without Host');
  if ((seen.get('host') ?? 0) > 1) return fail(400, 'more than one Host header');

  const transferEncoding = headers.get('transfer-encoding');
  const contentLengthText = headers.get('content-length');
  if (transferEncoding !== undefined) {
    // Both framing headers at once is the classic request-smuggling shape: refuse it outright.
    if (contentLengthText !== undefined) return fail(400, 'both Transfer-Encoding and Content-Length');
    return fail(501, 'Transfer-Encoding request bodies are not supported; send Content-Length');
  }
  let contentLength: number | undefined;
  if (contentLengthText !== undefined) {
    // Repeats are joined with ", " above; a repeat of the same value is still refused, because
    // a strict reader gains nothing from tolerating it.
    if (!/^\d{1,16}$/.test(contentLengthText)) return fail(400, 'malformed Content-Length');
    contentLength = Number(contentLengthText);
    if (!Number.isSafeInteger(contentLength)) return fail(400, 'Content-Length too large');
  }

  const connection = new Set(
    (headers.get('connection') ?? '')
      .split(',')
      .map((t) => t.trim().toLowerCase())
      .filter((t) => t !== ''),
  );
  const keepAlive = minor === '1.1' ? !connection.has('close') : connection.has('keep-alive') && !connection.has('close');

  const expect = headers.get('expect');
  let expectContinue = false;
  if (expect !== undefined) {
    if (expect.toLowerCase() !== '100-continue') return fail(417, `unsupported Expect: ${expect}`);
    expectContinue = true;
  }

  return {
    ok: true,
    head: { method, target, version: minor, headers, rawHeaders, contentLength, keepAlive, expectContinue },
  };
}

/**
 * Accumulates bytes until a whole head has arrived, then parses it. The head is copied into one
 * fixed buffer of maxHeaderBytes, so a head that trickles in byte by byte costs O(n), and the
 * search for the blank line resumes where it stopped.
 */
export class RequestHeadReader {
  readonly #limits: HttpLimits;
  readonly #buffer: Buffer;
  #length = 0;
  /** Where the blank-line search resumes. */
  #scanFrom = 0;

  constructor(limits: HttpLimits = DEFAULT_HTTP_LIMITS) {
    this.#limits = limits;
    this.#buffer = Buffer.alloc(limits.maxHeaderBytes);
  }

  /** True when some bytes of a head have arrived (used to tell an idle close from a truncated one). */
  get hasPartial(): boolean {
    return this.#length > 0;
  }

  reset(): void {
    this.#length = 0;
    this.#scanFrom = 0;
  }

  push(chunk: Buffer): HeadPushResult {
    const room = this.#buffer.length - this.#length;
    const copied = Math.min(room, chunk.length);
    const start = this.#length;
    chunk.copy(this.#buffer, start, 0, copied);
    this.#length += copied;

    // RFC 9112 §2.2: a server SHOULD ignore empty lines (CRLF) before the request-line; clients
    // sometimes send one after a body.
    let headStart = 0;
    while (
      headStart + 1 < this.#length &&
      this.#buffer[headStart] === CR &&
      this.#buffer[headStart + 1] === LF
    ) {
      headStart += 2;
    }
    const from = Math.max(headStart, this.#scanFrom - 3);
    const view = this.#buffer.subarray(0, this.#length);
    const end = view.indexOf('\r\n\r\n', from, 'latin1');
    const scanEnd = end === -1 ? this.#length : end + 4;
    // Only head bytes are checked: the rest of the chunk is body or the next request.
    // Bare line endings are refused as soon as they arrive: a head with only LFs would
    // otherwise never complete and the client would wait for an answer that never comes.
    for (let i = start; i < scanEnd; i++) {
      const byte = this.#buffer[i];
      const before = i > 0 ? this.#buffer[i - 1] : undefined;
      if ((byte === LF && before !== CR) || (before === CR && byte !== LF)) {
        this.reset();
        return { state: 'error', error: { status: 400, reason: 'bare CR or LF in the request head' } };
      }
    }

    if (end === -1) {
      this.#scanFrom = this.#length;
      if (this.#length >= this.#buffer.length) {
        return { state: 'error', error: { status: 431, reason: 'request head too large' } };
      }
      return { state: 'incomplete' };
    }
    const headEnd = end + 4;
    const parsed = parseRequestHead(Buffer.from(view.subarray(headStart, end)), this.#limits);
    // Bytes of this chunk after the head belong to the body or the next pipelined request.
    const rest = chunk.subarray(headEnd - start);
    this.reset();
    if (!parsed.ok) return { state: 'error', error: parsed.error };
    return { state: 'complete', head: parsed.head, rest };
  }
}
