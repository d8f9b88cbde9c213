/**
 * The bitsd IPC protocol (docs/ipc.md), pure: newline-delimited JSON frames with a size bound,
 * the hello exchange and its version, the shapes of requests, responses and event frames, and
 * the validation a request passes before it reaches the queue. No I/O.
 *
 *   client → server   {"type":"hello","version":1}
 *   server → client   {"type":"hello","ok":true,"version":1,"server":"bitsd 0.1.0","pid":123}
 *   client → server   {"type":"request","id":1,"method":"job.getState","params":{"job":"{...}"}}
 *   server → client   {"type":"response","id":1,"ok":true,"result":"QUEUED"}
 *                     {"type":"response","id":1,"ok":false,"error":{"hresult":...,"code":...,"context":...,"message":...}}
 *                     {"type":"event","subscription":3,"event":"job:transferred","data":{...}}
 *                     {"type":"end","subscription":3}
 */
import { BitsError } from '../shared/errors.js';
import type { ErrorContext } from '../shared/hresult.js';
import { isMethodName, METHODS, type MethodName, type ParamsOf } from './methods.js';
import { isPlainObject, object, preview } from './schema.js';

export const PROTOCOL_VERSION = 1;
/** Largest frame either side accepts (bytes, newline excluded). */
export const MAX_FRAME_BYTES = 4 * 1024 * 1024;
const MAX_ID_LENGTH = 128;

export type RequestId = number | string;

export interface WireError {
  readonly hresult: number;
  readonly code: string;
  readonly context: ErrorContext;
  readonly message: string;
}

export type ClientFrame =
  | { readonly type: 'hello'; readonly version: number; readonly client?: string }
  | { readonly type: 'request'; readonly id: RequestId; readonly method: string; readonly params?: unknown };

export type ServerFrame =
  | { readonly type: 'hello'; readonly ok: true; readonly version: number; readonly server: string; readonly pid: number }
  | { readonly type: 'hello'; readonly ok: false; readonly error: WireError }
  | { readonly type: 'response'; readonly id: RequestId; readonly ok: true; readonly result: unknown }
  | { readonly type: 'response'; readonly id: RequestId | null; readonly ok: false; readonly error: WireError }
  | { readonly type: 'event'; readonly subscription: number; readonly event: string; readonly data: unknown }
  | { readonly type: 'end'; readonly subscription: number; readonly error?: WireError };

/** One frame as bytes: compact JSON and a newline (JSON escapes every newline inside strings). */
export function encodeFrame(frame: ClientFrame | ServerFrame): Buffer {
  return Buffer.from(`${JSON.stringify(frame)}\n`, 'utf8');
}

export type DecodedLine = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: BitsError; readonly fatal: boolean };

/**
 * Splits a byte stream into JSON frames. It never buffers more than maxBytes: a line that grows
 * past it is reported once (fatal: the stream cannot be trusted to resynchronise) and the decoder
 * stops.
 */
export class FrameDecoder {
  readonly #maxBytes: number;
  #chunks: Buffer[] = [];
  #length = 0;
  #failed = false;

  constructor(maxBytes = MAX_FRAME_BYTES) {
    this.#maxBytes = maxBytes;
  }

  /** Bytes held waiting for a newline. */
  get buffered(): number {
    return this.#length;
  }

  push(chunk: Buffer): DecodedLine[] {
    if (this.#failed) return [];
    const out: DecodedLine[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl === -1) break;
      const piece = chunk.subarray(start, nl);
      if (this.#length + piece.length > this.#maxBytes) return this.#fail(out);
      const line = this.#length === 0 ? piece : Buffer.concat([...this.#chunks, piece], this.#length + piece.length);
      this.#chunks = [];
      this.#length = 0;
      start = nl + 1;
      if (line.length === 0 || (line.length === 1 && line[0] === 0x0d)) continue; // blank lines are keep-alives
      out.push(parseLine(line));
    }
    const rest = chunk.subarray(start);
    if (rest.length > 0) {
      if (this.#length + rest.length > this.#maxBytes) return this.#fail(out);
      // Copy: the caller may reuse its buffer.
      this.#chunks.push(Buffer.from(rest));
      this.#length += rest.length;
    }
    return out;
  }

  #fail(out: DecodedLine[]): DecodedLine[] {
    this.#failed = true;
    this.#chunks = [];
    this.#length = 0;
    out.push({ ok: false, fatal: true, error: new BitsError('E_INVALIDARG', `Frame larger than ${this.#maxBytes} bytes; the connection is closed.`) });
    return out;
  }
}

function parseLine(line: Buffer): DecodedLine {
  try {
    return { ok: true, value: JSON.parse(line.toString('utf8')) as unknown };
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return { ok: false, fatal: false, error: new BitsError('E_INVALIDARG', `Malformed JSON frame (${why}); each frame is one JSON object on one line.`) };
  }
}

export type ParsedClientFrame =
  | { readonly kind: 'hello'; readonly version: number }
  | { readonly kind: 'request'; readonly id: RequestId; readonly method: MethodName; readonly params: unknown }
  | { readonly kind: 'invalid'; readonly id: RequestId | null; readonly error: BitsError };

function isRequestId(value: unknown): value is RequestId {
  return (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) || (typeof value === 'string' && value.length > 0 && value.length <= MAX_ID_LENGTH);
}

const invalid = (id: RequestId | null, message: string): ParsedClientFrame => ({ kind: 'invalid', id, error: new BitsError('E_INVALIDARG', message) });

/** Classifies one decoded client frame; never throws. */
export function parseClientFrame(value: unknown): ParsedClientFrame {
  if (!isPlainObject(value)) return invalid(null, `A frame must be a JSON object; got ${preview(value)}.`);
  if (value.type === 'hello') {
    if (typeof value.version !== 'number' || !Number.isSafeInteger(value.version)) return invalid(null, 'hello.version must be an integer.');
    return { kind: 'hello', version: value.version };
  }
  if (value.type !== 'request') return invalid(isRequestId(value.id) ? value.id : null, `Unknown frame type ${preview(value.type)}; expected "hello" or "request".`);
  if (!isRequestId(value.id)) {
    return invalid(null, `request.id must be a non-negative integer or a string of 1-${MAX_ID_LENGTH} characters; got ${preview(value.id)}.`);
  }
  const id = value.id;
  for (const key of Object.keys(value)) {
    if (key !== 'type' && key !== 'id' && key !== 'method' && key !== 'params') return invalid(id, `Unknown request field ${JSON.stringify(key)}.`);
  }
  if (typeof value.method !== 'string') return invalid(id, `request.method must be a string; got ${preview(value.method)}.`);
  if (!isMethodName(value.method)) {
    return { kind: 'invalid', id, error: new BitsError('E_NOTIMPL', `Unknown method ${preview(value.method)}; docs/ipc.md lists the methods.`) };
  }
  return { kind: 'request', id, method: value.method, params: value.params === undefined ? {} : value.params };
}

const paramSchemas = new Map(Object.entries(METHODS).map(([name, spec]) => [name, object(spec.params)]));

/** Checks a request's params against its method's schema: E_INVALIDARG naming the argument. */
export function validateParams<M extends MethodName>(method: M, params: unknown): ParamsOf<M> {
  const schema = paramSchemas.get(method);
  const problem = schema ? schema.check(params, 'params') : `unknown method ${method}`;
  if (problem !== null) throw new BitsError('E_INVALIDARG', `${method}: ${problem}.`);
  return params as ParamsOf<M>;
}

/** The wire form of any thrown value: BitsErrors keep their fields; anything else is E_FAIL. */
export function toWireError(err: unknown): WireError {
  if (err instanceof BitsError) return err.toJSON();
  const message = err instanceof Error ? err.message : String(err);
  return new BitsError('E_FAIL', `bitsd internal error: ${message}`).toJSON();
}

/**
 * Rebuilds a BitsError from the wire, tolerating a malformed error object. The code is derived
 * from the HRESULT (the number is the truth; a BitsError cannot carry a name bitsd does not know).
 */
export function fromWireError(value: unknown): BitsError {
  if (!isPlainObject(value) || typeof value.hresult !== 'number') return new BitsError('E_FAIL', `bitsd sent a malformed error: ${preview(value)}`);
  const message = typeof value.message === 'string' ? value.message : undefined;
  return BitsError.fromJSON({ hresult: value.hresult, ...(typeof value.context === 'string' ? { context: value.context } : {}), ...(message !== undefined ? { message } : {}) });
}

/** Classifies one decoded server frame (client side); null when it is not a valid frame. */
export function parseServerFrame(value: unknown): ServerFrame | null {
  if (!isPlainObject(value)) return null;
  switch (value.type) {
    case 'hello':
      if (value.ok === true && typeof value.version === 'number' && typeof value.server === 'string' && typeof value.pid === 'number') {
        return { type: 'hello', ok: true, version: value.version, server: value.server, pid: value.pid };
      }
      if (value.ok === false) return { type: 'hello', ok: false, error: fromWireError(value.error).toJSON() };
      return null;
    case 'response':
      if (value.ok === true && isRequestId(value.id)) return { type: 'response', id: value.id, ok: true, result: value.result ?? null };
      if (value.ok === false && (isRequestId(value.id) || value.id === null)) return { type: 'response', id: value.id, ok: false, error: fromWireError(value.error).toJSON() };
      return null;
    case 'event':
      if (typeof value.subscription === 'number' && typeof value.event === 'string') {
        return { type: 'event', subscription: value.subscription, event: value.event, data: value.data };
      }
      return null;
    case 'end':
      if (typeof value.subscription !== 'number') return null;
      return value.error === undefined ? { type: 'end', subscription: value.subscription } : { type: 'end', subscription: value.subscription, error: fromWireError(value.error).toJSON() };
    default:
      return null;
  }
}
