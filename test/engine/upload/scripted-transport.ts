/**
 * A scripted HttpTransport for conversation tests (tus-js-client's TestHttpStack, bitsd-style):
 * the test awaits `nextRequest()`, asserts method, path and every header, then answers with
 * `respondWith({status, headers})` or `fail(error)`.
 */
import { Readable } from 'node:stream';
import type { ConnectOptions, HttpConnection, HttpRequest, HttpResponse, HttpTransport } from '../../../src/transport/types.js';

export interface ScriptedResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Uint8Array;
  /** Sends no Content-Length (a close-delimited body, as some small BITS servers answer errors). */
  readonly unframed?: boolean;
}

export class PendingRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly origin: string;
  readonly connectionId: number;
  readonly timeoutMs: number | undefined;
  readonly #body: Promise<Buffer>;
  readonly #resolve: (res: HttpResponse) => void;
  readonly #reject: (err: unknown) => void;

  constructor(req: HttpRequest, origin: string, connectionId: number, resolve: (res: HttpResponse) => void, reject: (err: unknown) => void) {
    this.method = req.method;
    this.path = req.path;
    this.headers = req.headers;
    this.origin = origin;
    this.connectionId = connectionId;
    this.timeoutMs = req.timeoutMs;
    this.#resolve = resolve;
    this.#reject = reject;
    // Like a real transport: read the whole body before the answer (errors are the engine's problem).
    this.#body = readBody(req.body ?? null);
    // The engine may destroy the body (a failed attempt); that is not the test's failure.
    this.#body.catch(() => undefined);
  }

  body(): Promise<Buffer> {
    return this.#body;
  }

  /** Answers after the body was read, as a server does. */
  async respondWith(response: ScriptedResponse): Promise<void> {
    await this.#body.catch(() => undefined);
    const payload = typeof response.body === 'string' ? Buffer.from(response.body) : Buffer.from(response.body ?? new Uint8Array(0));
    const headers: Record<string, string> = response.unframed ? {} : { 'content-length': String(payload.length) };
    for (const [k, v] of Object.entries(response.headers ?? {})) headers[k.toLowerCase()] = v;
    const body = Readable.from(payload.length > 0 ? [payload] : []);
    this.#resolve({
      status: response.status,
      headers,
      body,
      async text() {
        return payload.toString('utf8');
      },
      async dump() {
        body.resume();
      },
    });
  }

  /** Rejects the request (connection reset, timeout, ...). */
  fail(error: unknown): void {
    this.#reject(error);
  }
}

async function readBody(body: Uint8Array | Readable | null): Promise<Buffer> {
  if (body === null) return Buffer.alloc(0);
  if (body instanceof Uint8Array) return Buffer.from(body);
  const chunks: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

export class ScriptedTransport implements HttpTransport {
  readonly connects: ConnectOptions[] = [];
  readonly destroyed: number[] = [];
  readonly closed: number[] = [];
  #queue: PendingRequest[] = [];
  #waiters: Array<(req: PendingRequest) => void> = [];
  #nextId = 0;

  connect(options: ConnectOptions): HttpConnection {
    this.connects.push(options);
    const id = this.#nextId++;
    let dead = false;
    return {
      request: (req) =>
        new Promise<HttpResponse>((resolve, reject) => {
          if (dead) {
            reject(new Error('request on a destroyed connection'));
            return;
          }
          const pending = new PendingRequest(req, options.origin, id, resolve, reject);
          if (req.signal) {
            const onAbort = (): void => reject(req.signal?.reason ?? new Error('aborted'));
            if (req.signal.aborted) onAbort();
            else req.signal.addEventListener('abort', onAbort, { once: true });
          }
          const waiter = this.#waiters.shift();
          if (waiter) waiter(pending);
          else this.#queue.push(pending);
        }),
      close: async () => {
        this.closed.push(id);
        dead = true;
      },
      destroy: async () => {
        this.destroyed.push(id);
        dead = true;
      },
    };
  }

  /** The next request the engine sends; fails the test after `timeoutMs` without one. */
  nextRequest(timeoutMs = 2000): Promise<PendingRequest> {
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`no request within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (req: PendingRequest): void => {
        clearTimeout(timer);
        resolve(req);
      };
      this.#waiters.push(waiter);
    });
  }

  /** Requests sent but not yet taken by nextRequest (for "nothing more was sent" checks). */
  get queued(): number {
    return this.#queue.length;
  }
}
