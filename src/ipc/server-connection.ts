/**
 * One client of the IPC server. It holds the hello exchange, reads frames in order, validates
 * each request before dispatch, and keeps the client's footprint bounded: one frame of input
 * buffered, a fixed number of requests in flight (reading pauses beyond it), a fixed number of
 * subscriptions, and an output limit past which a client that does not read is dropped. Nothing a
 * client sends can throw out of here, so one client can never hurt another.
 */
import { WriteCoalescer } from './write-coalescer.js';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import type { BackgroundCopyManager } from '../api/manager.js';
import { BackgroundCopyJobImpl } from '../api/job.js';
import type { JobEventData } from '../job/events.js';
import { BitsError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { type DaemonHooks, dispatch, type StreamHost } from './dispatch.js';
import type { EventName, MethodName } from './methods.js';
import { type DecodedLine, encodeFrame, FrameDecoder, parseClientFrame, PROTOCOL_VERSION, type RequestId, type ServerFrame, toWireError, validateParams } from './protocol.js';

export interface IpcLimits {
  readonly maxFrameBytes: number;
  readonly maxConnections: number;
  readonly maxInFlight: number;
  readonly maxStreams: number;
  /** Unread output a client may leave queued before it is dropped. */
  readonly maxOutputBytes: number;
  readonly helloTimeoutMs: number;
}

export interface ConnectionDeps {
  readonly id: number;
  readonly manager: BackgroundCopyManager;
  readonly daemon: DaemonHooks | null;
  readonly logger: Logger;
  readonly limits: IpcLimits;
  readonly hello: { readonly server: string; readonly pid: number };
  readonly onClose: () => void;
}

type Stream = { readonly kind: 'events'; readonly off: () => void } | { readonly kind: 'watch'; readonly jobId: string; readonly abort: AbortController; started: boolean };

/** How long a connection we are ending may take to close its side before it is destroyed. */
const LINGER_MS = 1000;

export class ServerConnection implements StreamHost {
  readonly #socket: Socket;
  readonly #out: WriteCoalescer;
  readonly #deps: ConnectionDeps;
  readonly #log: Logger;
  readonly #decoder: FrameDecoder;
  readonly #backlog: DecodedLine[] = [];
  readonly #streams = new Map<number, Stream>();
  #state: 'hello' | 'ready' | 'ending' | 'closed' = 'hello';
  #inFlight = 0;
  #nextStream = 1;
  readonly #helloTimer: NodeJS.Timeout;

  constructor(socket: Socket, deps: ConnectionDeps) {
    this.#socket = socket;
    this.#out = new WriteCoalescer(socket);
    this.#deps = deps;
    this.#log = deps.logger.child({ conn: deps.id });
    this.#decoder = new FrameDecoder(deps.limits.maxFrameBytes);
    this.#helloTimer = setTimeout(() => this.#refuse('hello', new BitsError('BG_E_TIMEOUT', `No hello within ${deps.limits.helloTimeoutMs} ms.`)), deps.limits.helloTimeoutMs);
    socket.on('data', (chunk: Buffer) => {
      if (this.#state === 'ending' || this.#state === 'closed') return;
      this.#backlog.push(...this.#decoder.push(chunk));
      this.#pump();
    });
    socket.on('error', (err) => this.#log.debug('connection error', { error: err }));
    socket.on('close', () => this.#closed());
  }

  /** Ends the connection now (daemon shutdown): streams stop, the socket is destroyed. */
  destroy(): void {
    this.#socket.destroy();
  }

  get idle(): boolean {
    return this.#inFlight === 0;
  }

  // ---- input -----------------------------------------------------------------------------------

  /** Handles buffered frames in order while the in-flight limit allows; pauses reading otherwise. */
  #pump(): void {
    while (this.#backlog.length > 0 && this.#inFlight < this.#deps.limits.maxInFlight && (this.#state === 'hello' || this.#state === 'ready')) {
      this.#line(this.#backlog.shift() as DecodedLine);
    }
    const blocked = this.#backlog.length > 0 || this.#inFlight >= this.#deps.limits.maxInFlight;
    if (blocked && !this.#socket.isPaused()) this.#socket.pause();
    if (!blocked && this.#socket.isPaused()) this.#socket.resume();
  }

  #line(line: DecodedLine): void {
    if (!line.ok) {
      this.#log.debug('bad frame', { fatal: line.fatal, code: line.error.code });
      if (line.fatal || this.#state === 'hello') this.#refuse(this.#state === 'hello' ? 'hello' : 'response', line.error);
      else this.#send({ type: 'response', id: null, ok: false, error: line.error.toJSON() });
      return;
    }
    const frame = parseClientFrame(line.value);
    if (this.#state === 'hello') {
      if (frame.kind !== 'hello') {
        this.#refuse('hello', frame.kind === 'invalid' ? frame.error : new BitsError('E_INVALIDARG', 'The first frame must be {"type":"hello","version":1}.'));
      } else if (frame.version !== PROTOCOL_VERSION) {
        this.#refuse('hello', new BitsError('BG_E_CLIENT_SERVER_PROTOCOL_MISMATCH', `This bitsd speaks IPC version ${PROTOCOL_VERSION}; the client asked for ${frame.version}.`));
      } else {
        clearTimeout(this.#helloTimer);
        this.#state = 'ready';
        this.#send({ type: 'hello', ok: true, version: PROTOCOL_VERSION, server: this.#deps.hello.server, pid: this.#deps.hello.pid });
      }
      return;
    }
    if (frame.kind === 'hello') {
      this.#send({ type: 'response', id: null, ok: false, error: new BitsError('E_INVALIDARG', 'hello was already exchanged on this connection.').toJSON() });
    } else if (frame.kind === 'invalid') {
      this.#send({ type: 'response', id: frame.id, ok: false, error: frame.error.toJSON() });
    } else {
      this.#request(frame.id, frame.method, frame.params);
    }
  }

  #request(id: RequestId, method: MethodName, rawParams: unknown): void {
    const started = Date.now();
    this.#inFlight++;
    // Validation and dispatch start synchronously, so requests take effect in arrival order.
    const work = (async () => dispatch(method, validateParams(method, rawParams), { manager: this.#deps.manager, streams: this, daemon: this.#deps.daemon }))();
    work.then(
      (result) => {
        this.#send({ type: 'response', id, ok: true, result: result ?? null });
        if (method === 'events.watch') this.#startWatch((result as { subscription: number }).subscription);
        this.#log.debug('request', { id, method, params: rawParams, ms: Date.now() - started, ok: true });
      },
      (err: unknown) => {
        const error = toWireError(err);
        this.#send({ type: 'response', id, ok: false, error });
        if (err instanceof BitsError) this.#log.debug('request', { id, method, params: rawParams, ms: Date.now() - started, ok: false, code: error.code });
        else this.#log.error('request failed unexpectedly', { id, method, params: rawParams, error: err, stack: err instanceof Error ? err.stack : undefined });
      },
    )
      .catch((err: unknown) => this.#log.error('answering a request failed', { id, method, error: err }))
      .finally(() => {
        this.#inFlight--;
        this.#pump();
      });
  }

  // ---- output ----------------------------------------------------------------------------------

  #send(frame: ServerFrame): void {
    if (this.#state === 'closed' || this.#socket.destroyed) return;
    let bytes: Buffer;
    try {
      bytes = encodeFrame(frame);
    } catch (err) {
      // Only a bug (a result JSON cannot carry) gets here: answer something rather than nothing.
      this.#log.error('cannot encode a frame', { type: frame.type, error: err });
      if (frame.type !== 'response') return;
      bytes = encodeFrame({ type: 'response', id: frame.id, ok: false, error: toWireError(err) });
    }
    this.#out.write(bytes);
    if (this.#socket.writableLength > this.#deps.limits.maxOutputBytes) {
      this.#log.warn('dropping a client that does not read its answers', { queuedBytes: this.#socket.writableLength });
      this.#socket.destroy();
    }
  }

  /** Answers with an error, then ends the connection (a refused hello, an oversized frame). */
  #refuse(kind: 'hello' | 'response', error: BitsError): void {
    if (this.#state === 'ending' || this.#state === 'closed') return;
    this.#send(kind === 'hello' ? { type: 'hello', ok: false, error: error.toJSON() } : { type: 'response', id: null, ok: false, error: error.toJSON() });
    this.#state = 'ending';
    this.#backlog.length = 0;
    clearTimeout(this.#helloTimer);
    this.#socket.end();
    setTimeout(() => this.#socket.destroy(), LINGER_MS).unref();
  }

  // ---- streams (StreamHost) ----------------------------------------------------------------------

  #reserve(): number {
    if (this.#streams.size >= this.#deps.limits.maxStreams) {
      throw new BitsError('E_OUTOFMEMORY', `This connection already has ${this.#streams.size} subscriptions and watches; the limit is ${this.#deps.limits.maxStreams}.`);
    }
    return this.#nextStream++;
  }

  subscribe(events: readonly EventName[], jobId: string | null): number {
    const id = this.#reserve();
    const offs = [...new Set(events)].map((event) =>
      this.#deps.manager.on(event, (data: JobEventData) => {
        if (jobId === null || data.jobId === jobId) this.#send({ type: 'event', subscription: id, event, data });
      }),
    );
    this.#streams.set(id, { kind: 'events', off: () => offs.forEach((off) => off()) });
    return id;
  }

  watch(jobId: string): number {
    const id = this.#reserve();
    this.#streams.set(id, { kind: 'watch', jobId, abort: new AbortController(), started: false });
    return id;
  }

  unsubscribe(subscription: number): void {
    const stream = this.#streams.get(subscription);
    if (!stream) throw new BitsError('E_INVALIDARG', `params.subscription: there is no subscription ${subscription} on this connection.`);
    this.#streams.delete(subscription);
    if (stream.kind === 'events') stream.off();
    else stream.abort.abort();
  }

  /** Streams a watch once its response is out; waits for the socket to drain between snapshots. */
  #startWatch(id: number): void {
    const stream = this.#streams.get(id);
    if (!stream || stream.kind !== 'watch' || stream.started) return;
    stream.started = true;
    const { signal } = stream.abort;
    const job = new BackgroundCopyJobImpl(this.#deps.manager.queue, stream.jobId);
    void (async () => {
      try {
        for await (const ev of job.watch({ signal })) {
          this.#send({ type: 'event', subscription: id, event: 'watch', data: ev });
          // Backpressure: the in-process watch coalesces while we wait, so a slow reader gets
          // fewer, fresher snapshots instead of a growing queue.
          if (this.#socket.writableNeedDrain) await once(this.#socket, 'drain', { signal });
        }
        if (!signal.aborted) this.#send({ type: 'end', subscription: id });
      } catch (err) {
        if (!signal.aborted) this.#send({ type: 'end', subscription: id, error: toWireError(err) });
      } finally {
        if (this.#streams.get(id) === stream) this.#streams.delete(id);
      }
    })();
  }

  #closed(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    clearTimeout(this.#helloTimer);
    this.#backlog.length = 0;
    for (const stream of this.#streams.values()) {
      if (stream.kind === 'events') stream.off();
      else stream.abort.abort();
    }
    this.#streams.clear();
    this.#deps.onClose();
  }
}
