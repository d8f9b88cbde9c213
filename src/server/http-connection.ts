/**
 * The socket half of the server's HTTP/1.1 stack: one request at a time per connection,
 * keep-alive, pipelined bytes held until the current request is answered, and request bodies
 * streamed to the handler with backpressure (a multi-GiB fragment never sits in memory).
 *
 * Life of a request: head bytes → RequestHeadReader → handler(req, res) runs while the body
 * (exactly Content-Length bytes) is fed to req.body; when the handler has returned AND the body
 * has been read or drained, the next request is parsed (keep-alive) or the socket is ended.
 * A malformed head gets its 4xx/5xx answer and the connection is closed.
 */
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { DEFAULT_HTTP_LIMITS, type HeadError, type HttpLimits, type RequestHead, RequestHeadReader } from './http-reader.js';
import { formatResponseHead, ResponseWriter } from './http-response.js';

/** Which TCP connection a request came over (for logs: keep-alive and reconnect checks). */
export interface ConnectionInfo {
  /** Per listener, from 1, in accept order. */
  readonly id: number;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
}

export interface IncomingRequest {
  readonly method: string;
  readonly target: string;
  readonly head: RequestHead;
  /** Lower-cased header names. */
  readonly headers: ReadonlyMap<string, string>;
  /** Exactly Content-Length bytes (empty when there is no Content-Length). */
  readonly body: Readable;
  readonly connection: ConnectionInfo;
}

export type RequestHandler = (req: IncomingRequest, res: ResponseWriter) => Promise<void>;

export interface ConnectionOptions {
  readonly limits?: HttpLimits;
  /** Destroy a connection idle for this long (also applies to stalled answers). */
  readonly idleTimeoutMs?: number;
  /** Called for handler exceptions (the request is answered 500). */
  readonly onError?: (err: unknown) => void;
}

/** How long a closing connection keeps draining the peer's bytes so our answer is not lost to a RST. */
const LINGER_MS = 2_000;
const DEFAULT_IDLE_TIMEOUT_MS = 120_000;

interface BodyState {
  readonly stream: Readable;
  remaining: number;
  /** The consumer asked us to stop (push() returned false). */
  waiting: boolean;
  /** The handler is done: the rest of the body is read and thrown away. */
  discarding: boolean;
}

/** Ids for connections served without a listener-assigned one (direct serveConnection calls). */
let unlistenedIds = 0;

export function serveConnection(socket: Socket, handler: RequestHandler, options: ConnectionOptions = {}, id?: number): void {
  const info: ConnectionInfo = { id: id ?? ++unlistenedIds, remoteAddress: socket.remoteAddress, remotePort: socket.remotePort };
  new HttpConnection(socket, handler, options, info).start();
}

class HttpConnection {
  readonly #socket: Socket;
  readonly #handler: RequestHandler;
  readonly #options: ConnectionOptions;
  readonly #info: ConnectionInfo;
  readonly #reader: RequestHeadReader;
  #pending: Buffer[] = [];
  #phase: 'head' | 'request' | 'closed' = 'head';
  #body: BodyState | undefined;
  #response: ResponseWriter | undefined;
  #handlerDone = false;
  #peerEnded = false;
  #pumping = false;
  #pumpAgain = false;

  constructor(socket: Socket, handler: RequestHandler, options: ConnectionOptions, info: ConnectionInfo) {
    this.#socket = socket;
    this.#handler = handler;
    this.#options = options;
    this.#info = info;
    this.#reader = new RequestHeadReader(options.limits ?? DEFAULT_HTTP_LIMITS);
  }

  start(): void {
    const socket = this.#socket;
    socket.setNoDelay(true);
    socket.setTimeout(this.#options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS, () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      if (this.#phase === 'closed') return; // lingering: drop what the peer still sends
      this.#pending.push(chunk);
      this.#pump();
    });
    socket.on('end', () => this.#onPeerEnd());
    socket.on('close', () => this.#onClose());
    // 'close' follows every error; the handler sees it through req.body.
    socket.on('error', () => undefined);
  }

  #pump(): void {
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#pumpAgain = false;
        this.#pumpOnce();
      } while (this.#pumpAgain);
    } finally {
      this.#pumping = false;
    }
    // Unconsumed bytes mean the current request cannot take more yet: stop reading the socket.
    if (this.#phase === 'closed' || this.#pending.length === 0) this.#socket.resume();
    else this.#socket.pause();
  }

  #pumpOnce(): void {
    while (this.#pending.length > 0) {
      if (this.#phase === 'closed') {
        this.#pending = [];
        return;
      }
      if (this.#phase === 'head') {
        const chunk = this.#pending.shift() as Buffer;
        const result = this.#reader.push(chunk);
        if (result.state === 'incomplete') continue;
        if (result.state === 'error') {
          this.#refuse(result.error);
          return;
        }
        if (result.rest.length > 0) this.#pending.unshift(result.rest);
        this.#begin(result.head);
        continue;
      }
      const body = this.#body;
      if (body === undefined || body.remaining === 0 || body.waiting) return;
      const chunk = this.#pending.shift() as Buffer;
      const take = Math.min(body.remaining, chunk.length);
      if (take < chunk.length) this.#pending.unshift(chunk.subarray(take));
      body.remaining -= take;
      if (!body.discarding) {
        if (!body.stream.push(chunk.subarray(0, take))) body.waiting = true;
        if (body.remaining === 0) body.stream.push(null);
      }
      if (body.remaining === 0) this.#maybeFinish();
    }
  }

  #begin(head: RequestHead): void {
    this.#phase = 'request';
    this.#handlerDone = false;
    const length = head.contentLength ?? 0;
    const body: BodyState = {
      stream: new Readable({
        highWaterMark: 64 * 1024,
        read: () => {
          if (!body.waiting) return;
          body.waiting = false;
          this.#pump();
        },
      }),
      remaining: length,
      waiting: false,
      discarding: false,
    };
    if (length === 0) body.stream.push(null);
    this.#body = body;
    const res = new ResponseWriter(this.#socket, head.method, head.keepAlive && !this.#peerEnded);
    this.#response = res;
    if (head.expectContinue && length > 0) this.#socket.write('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');
    const req: IncomingRequest = { method: head.method, target: head.target, head, headers: head.headers, body: body.stream, connection: this.#info };
    void this.#run(req, res);
  }

  async #run(req: IncomingRequest, res: ResponseWriter): Promise<void> {
    try {
      await this.#handler(req, res);
    } catch (err) {
      this.#options.onError?.(err);
      if (res.state === 'open') {
        res.requestClose();
        res.send(500, { 'Content-Type': 'text/plain' }, 'internal server error\n');
      }
    }
    if (res.state === 'open') {
      // A handler that returns without answering is a bug; answer rather than hang the client.
      res.send(500, { 'Content-Type': 'text/plain' }, 'no response\n');
    }
    this.#handlerDone = true;
    const body = this.#body;
    if (body !== undefined && body.remaining > 0 && !body.discarding) {
      // The handler did not read the whole body: drain it so the peer's next request (or our
      // answer) is not lost to a reset.
      body.discarding = true;
      body.waiting = false;
      if (!body.stream.destroyed) body.stream.destroy();
    }
    this.#maybeFinish();
    this.#pump();
  }

  #maybeFinish(): void {
    const res = this.#response;
    const body = this.#body;
    if (!this.#handlerDone || res === undefined || body === undefined || body.remaining > 0) return;
    if (this.#phase !== 'request') return;
    if (res.state === 'held') return; // a stall: never answered, nothing more is read
    if (res.state === 'reset' || this.#socket.destroyed) {
      // The request was abandoned (client gone, or a deliberate reset): nothing more to say.
      this.#phase = 'closed';
      this.#socket.destroy();
      return;
    }
    this.#body = undefined;
    this.#response = undefined;
    if (res.closeAfter || this.#peerEnded) {
      this.#closeGracefully();
      return;
    }
    this.#phase = 'head';
    this.#reader.reset();
  }

  #refuse(error: HeadError): void {
    const text = `${error.reason}\n`;
    const head = formatResponseHead(error.status, [
      ['Content-Type', 'text/plain'],
      ['Date', new Date().toUTCString()],
      ['Content-Length', String(Buffer.byteLength(text))],
      ['Connection', 'close'],
    ]);
    if (!this.#socket.destroyed) this.#socket.write(head + text, 'latin1');
    this.#closeGracefully();
  }

  #closeGracefully(): void {
    this.#phase = 'closed';
    this.#pending = [];
    if (this.#socket.destroyed) return;
    this.#socket.end();
    this.#socket.resume();
    const timer = setTimeout(() => this.#socket.destroy(), LINGER_MS);
    timer.unref();
    this.#socket.once('close', () => clearTimeout(timer));
  }

  #onPeerEnd(): void {
    this.#peerEnded = true;
    if (this.#phase === 'head') {
      // A FIN between requests is an ordinary close; a FIN inside a head leaves nothing to answer.
      this.#closeGracefully();
      return;
    }
    const body = this.#body;
    if (this.#phase === 'request' && body !== undefined && body.remaining > 0) {
      body.remaining = 0;
      if (!body.stream.destroyed) body.stream.destroy(new Error('the client closed the connection before the whole body arrived'));
      this.#response?.requestClose();
      this.#maybeFinish();
    }
  }

  #onClose(): void {
    const body = this.#body;
    // A body that arrived whole stays readable: the handler may still finish its work.
    if (body !== undefined && body.remaining > 0 && !body.stream.destroyed) {
      body.stream.destroy(new Error('connection closed before the whole body arrived'));
    }
    this.#response?.markGone();
    this.#phase = 'closed';
    this.#pending = [];
  }
}
