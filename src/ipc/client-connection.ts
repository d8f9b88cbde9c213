/**
 * One client connection to bitsd: connects, says hello, matches responses to requests by id,
 * routes event frames to their subscription, and turns every way the connection can fail (no
 * daemon, refused, timed out, dropped) into a BitsError that says what to do.
 */
import { WriteCoalescer } from './write-coalescer.js';
import { connect, type Socket } from 'node:net';
import { BitsError } from '../shared/errors.js';
import type { MethodName, MethodResults, ParamsOf } from './methods.js';
import { encodeFrame, FrameDecoder, fromWireError, parseServerFrame, PROTOCOL_VERSION, type ClientFrame, type ServerFrame } from './protocol.js';

export const DEFAULT_TIMEOUT_MS = 10_000;

export interface ServerInfo {
  readonly socket: string;
  readonly version: number;
  /** "bitsd 0.1.0". */
  readonly server: string;
  readonly pid: number;
}

/** Receives the frames of one subscription or watch. */
export interface StreamHandler {
  event(name: string, data: unknown): void;
  /** The stream ended: normally (null) or with an error (also when the connection drops). */
  end(error: BitsError | null): void;
}

interface Pending {
  readonly resolve: (result: unknown) => void;
  readonly reject: (err: BitsError) => void;
  readonly timer: NodeJS.Timeout | null;
  /** Runs synchronously with the result, before any later frame is read (stream registration). */
  readonly onResult?: (result: unknown) => void;
}

const HOW_TO_START = 'start it with `bitsd` or `systemctl --user start bitsd`';

function connectError(err: NodeJS.ErrnoException, socket: string): BitsError {
  switch (err.code) {
    case 'ENOENT':
      return new BitsError('BG_E_CONNECT_FAILURE', `bitsd is not running (no socket at ${socket}): ${HOW_TO_START}.`, { cause: err });
    case 'ECONNREFUSED':
      return new BitsError('BG_E_CONNECT_FAILURE', `bitsd is not running (nothing listens on ${socket}; the socket was left by a daemon that stopped): ${HOW_TO_START}.`, { cause: err });
    case 'EACCES':
    case 'EPERM':
      return new BitsError('E_ACCESSDENIED', `Cannot connect to bitsd at ${socket}: permission denied (the socket belongs to another user?).`, { cause: err });
    default:
      return new BitsError('BG_E_CONNECT_FAILURE', `Cannot connect to bitsd at ${socket}: ${err.message}.`, { cause: err });
  }
}

export class IpcConnection {
  readonly info: ServerInfo;
  readonly #socket: Socket;
  readonly #out: WriteCoalescer;
  readonly #timeoutMs: number;
  readonly #pending = new Map<number, Pending>();
  readonly #streams = new Map<number, StreamHandler>();
  readonly #closeListeners = new Set<(err: BitsError) => void>();
  #nextId = 1;
  #closed: BitsError | null = null;

  private constructor(socket: Socket, info: ServerInfo, timeoutMs: number, decoder: FrameDecoder) {
    this.#socket = socket;
    this.#out = new WriteCoalescer(socket);
    this.info = info;
    this.#timeoutMs = timeoutMs;
    socket.on('data', (chunk: Buffer) => {
      for (const line of decoder.push(chunk)) {
        const frame = line.ok ? parseServerFrame(line.value) : null;
        if (!frame) {
          this.#fail(new BitsError('BG_E_INVALID_SERVER_RESPONSE', `bitsd sent a frame this client cannot read: ${line.ok ? 'unknown shape' : line.error.message}`));
          return;
        }
        this.#frame(frame);
      }
    });
    socket.on('close', () => this.#fail(new BitsError('BG_E_CONNECTION_CLOSED', `The connection to bitsd (${info.socket}) closed: the daemon stopped or dropped this client.`)));
    socket.on('error', () => undefined); // 'close' follows and reports
  }

  /** Connects and completes the hello exchange within timeoutMs (retrying while the daemon's accept queue is full). */
  static async open(options: { socket: string; timeoutMs?: number }): Promise<IpcConnection> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    // 0 lifts the limit for answers only: connecting to a daemon that never says hello must end.
    const deadline = Date.now() + (timeoutMs > 0 ? timeoutMs : DEFAULT_TIMEOUT_MS);
    for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
      try {
        return await IpcConnection.#attempt(options.socket, Math.max(1, deadline - Date.now()), timeoutMs);
      } catch (err) {
        // EAGAIN: the daemon's accept queue is full for a moment (a burst of clients); try again.
        const again = err instanceof BitsError && (err.cause as NodeJS.ErrnoException | undefined)?.code === 'EAGAIN';
        if (!again || Date.now() + delay >= deadline) throw err;
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  static #attempt(path: string, timeoutMs: number, requestTimeoutMs: number): Promise<IpcConnection> {
    return new Promise<IpcConnection>((resolve, reject) => {
      const socket = connect({ path });
      const decoder = new FrameDecoder();
      const fail = (err: BitsError): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(err);
      };
      const timer = setTimeout(() => fail(new BitsError('BG_E_TIMEOUT', `bitsd at ${path} did not answer within ${timeoutMs} ms.`)), timeoutMs);
      const onError = (err: NodeJS.ErrnoException): void => fail(connectError(err, path));
      const onClose = (): void => fail(new BitsError('BG_E_CONNECTION_CLOSED', `bitsd at ${path} closed the connection during hello.`));
      const onConnect = (): void => {
        socket.write(encodeFrame({ type: 'hello', version: PROTOCOL_VERSION }));
      };
      socket.once('error', onError);
      socket.once('close', onClose);
      socket.once('connect', onConnect);
      const onData = (chunk: Buffer): void => {
        const [first] = decoder.push(chunk);
        if (!first) return;
        const frame = first.ok ? parseServerFrame(first.value) : null;
        if (!frame || frame.type !== 'hello') {
          fail(new BitsError('BG_E_INVALID_SERVER_RESPONSE', `${path} did not answer hello like bitsd does.`));
          return;
        }
        if (!frame.ok) {
          fail(fromWireError(frame.error));
          return;
        }
        if (frame.version !== PROTOCOL_VERSION) {
          fail(new BitsError('BG_E_CLIENT_SERVER_PROTOCOL_MISMATCH', `bitsd at ${path} speaks IPC version ${frame.version}; this client speaks ${PROTOCOL_VERSION}.`));
          return;
        }
        clearTimeout(timer);
        // Only our own listeners: net.Socket keeps internal ones that must stay.
        socket.off('error', onError);
        socket.off('close', onClose);
        socket.off('connect', onConnect);
        socket.off('data', onData);
        // Hello is always answered alone (the server sends nothing before the client's next frame).
        resolve(new IpcConnection(socket, { socket: path, version: frame.version, server: frame.server, pid: frame.pid }, requestTimeoutMs, decoder));
      };
      socket.on('data', onData);
    });
  }

  get closed(): boolean {
    return this.#closed !== null;
  }

  /** Sends one request; resolves with its result or rejects with the daemon's BitsError. */
  call<M extends MethodName>(method: M, params: ParamsOf<M>): Promise<MethodResults[M]> {
    return this.#request(method, params) as Promise<MethodResults[M]>;
  }

  /**
   * Starts a subscription or watch. The handler is registered as the response is read, so no
   * event that follows the response is lost.
   */
  async stream<M extends 'events.subscribe' | 'events.watch'>(method: M, params: ParamsOf<M>, handler: StreamHandler): Promise<number> {
    const result = await this.#request(method, params, (value) => {
      this.#streams.set((value as MethodResults[M]).subscription, handler);
    });
    return (result as MethodResults[M]).subscription;
  }

  /** Ends a stream without waiting; a dropped connection ends it anyway. */
  unsubscribe(subscription: number): void {
    if (!this.#streams.delete(subscription) || this.#closed) return;
    this.#request('events.unsubscribe', { subscription }).catch(() => undefined);
  }

  onClose(listener: (err: BitsError) => void): () => void {
    this.#closeListeners.add(listener);
    return () => this.#closeListeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    const done = new Promise<void>((resolve) => this.#socket.once('close', () => resolve()));
    this.#fail(new BitsError('BG_E_INVALID_STATE', 'The bitsd client is closed.'));
    await done;
  }

  #request(method: MethodName, params: unknown, onResult?: (result: unknown) => void): Promise<unknown> {
    if (this.#closed) return Promise.reject(this.#closed);
    const id = this.#nextId++;
    let bytes: Buffer;
    try {
      bytes = encodeFrame({ type: 'request', id, method, params } satisfies ClientFrame);
    } catch (err) {
      return Promise.reject(new BitsError('E_INVALIDARG', `${method}: the arguments cannot be sent as JSON (${err instanceof Error ? err.message : String(err)}).`));
    }
    return new Promise<unknown>((resolve, reject) => {
      const timer =
        this.#timeoutMs > 0
          ? setTimeout(() => {
              this.#pending.delete(id);
              reject(new BitsError('BG_E_TIMEOUT', `bitsd did not answer ${method} within ${this.#timeoutMs} ms (the call may still take effect).`));
            }, this.#timeoutMs)
          : null;
      this.#pending.set(id, { resolve, reject, timer, ...(onResult ? { onResult } : {}) });
      this.#out.write(bytes);
    });
  }

  #frame(frame: ServerFrame): void {
    switch (frame.type) {
      case 'response': {
        const pending = typeof frame.id === 'number' ? this.#pending.get(frame.id) : undefined;
        if (!pending) {
          // id null: the server could not read a frame of ours; that is a bug in this client.
          if (frame.id === null && !frame.ok) this.#fail(fromWireError(frame.error));
          return; // a late answer to a request that timed out
        }
        this.#pending.delete(frame.id as number);
        if (pending.timer) clearTimeout(pending.timer);
        if (frame.ok) {
          pending.onResult?.(frame.result);
          pending.resolve(frame.result);
        } else {
          pending.reject(fromWireError(frame.error));
        }
        return;
      }
      case 'event':
        this.#streams.get(frame.subscription)?.event(frame.event, frame.data);
        return;
      case 'end': {
        const handler = this.#streams.get(frame.subscription);
        this.#streams.delete(frame.subscription);
        handler?.end(frame.error ? fromWireError(frame.error) : null);
        return;
      }
      case 'hello':
        this.#fail(new BitsError('BG_E_INVALID_SERVER_RESPONSE', 'bitsd sent a second hello.'));
        return;
    }
  }

  #fail(err: BitsError): void {
    if (this.#closed) return;
    this.#closed = err;
    this.#socket.destroy();
    for (const [, p] of this.#pending) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(err);
    }
    this.#pending.clear();
    const streams = [...this.#streams.values()];
    this.#streams.clear();
    for (const s of streams) s.end(err);
    for (const l of this.#closeListeners) l(err);
  }
}
