/**
 * One authenticated connection to a message bus: method calls with their replies, signals and
 * method calls coming in, replies and signals going out. Enough for a client that reads and
 * follows properties, and for the test fixture's services; not a general D-Bus library (no
 * file descriptors, no introspection, no object tree).
 *
 * The socket does not keep the process alive while the connection is idle, as the clock's
 * timers do not: it is held (ref'd) only while a call waits for its reply, so a program can
 * always await a call, and a daemon that forgot to close a watcher can still exit.
 */
import type { Socket } from 'node:net';
import type { Clock } from '../../shared/clock.js';
import { BitsError } from '../../shared/errors.js';
import { decodeMessage, encodeMessage, type Message, MESSAGE_FLAG, MESSAGE_TYPE, messageLength, type OutgoingMessage } from './message.js';
import type { DBusValue } from './signature.js';

/** A message as received, numbered in the order it arrived (replies and signals alike). */
export interface Incoming extends Message {
  readonly sequence: number;
}

export interface MethodCall {
  readonly destination: string;
  readonly path: string;
  readonly interface: string;
  readonly member: string;
  readonly signature?: string;
  readonly body?: readonly DBusValue[];
  /** Do not let the bus start the destination's service to answer (MESSAGE_FLAG.NO_AUTO_START). */
  readonly noAutoStart?: boolean;
}

/** What a method handler answers: a body, or throw dbusError(...) for an error reply. */
export interface MethodResult {
  readonly signature: string;
  readonly body: readonly DBusValue[];
}

export type MethodHandler = (call: Incoming) => MethodResult;

interface Pending {
  resolve(message: Incoming): void;
  reject(err: BitsError): void;
  timer: { cancel(): void };
}

/** A D-Bus error reply as a BitsError; its D-Bus name is in details.dbusError. */
export function dbusError(name: string, text: string): BitsError {
  return new BitsError('E_FAIL', `${name}: ${text}`, { details: { dbusError: name } });
}

/** The D-Bus error name of an error reply, or undefined for any other error. */
export function dbusErrorName(err: unknown): string | undefined {
  if (!(err instanceof BitsError)) return undefined;
  const name = err.details?.['dbusError'];
  return typeof name === 'string' ? name : undefined;
}

export class BusConnection {
  readonly #socket: Socket;
  readonly #clock: Clock;
  readonly #callTimeoutMs: number;
  readonly #pending = new Map<number, Pending>();
  readonly #listeners = new Set<(message: Incoming) => void>();
  readonly #closeListeners = new Set<(reason: BitsError) => void>();
  #handler: MethodHandler | null = null;
  #serial = 0;
  #received = 0;
  #buffer: Buffer;
  #uniqueName = '';
  #closed: BitsError | null = null;
  readonly #closedPromise: Promise<void>;

  /** Wraps an authenticated socket (see connectBus); `leftover` is what came after the handshake. */
  constructor(socket: Socket, options: { clock: Clock; callTimeoutMs: number; leftover: Buffer }) {
    this.#socket = socket;
    this.#clock = options.clock;
    this.#callTimeoutMs = options.callTimeoutMs;
    this.#buffer = options.leftover;
    this.#closedPromise = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    let socketError: Error | null = null;
    socket.on('error', (err) => (socketError = err));
    socket.on('close', () => this.#shutdown(new BitsError('E_FAIL', `the D-Bus connection closed${socketError ? `: ${socketError.message}` : ''}`, { cause: socketError ?? undefined })));
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.unref();
    if (this.#buffer.length > 0) queueMicrotask(() => this.#onData(Buffer.alloc(0)));
  }

  /** The bus's name for this connection (":1.42"), set by Hello. */
  get uniqueName(): string {
    return this.#uniqueName;
  }

  get closed(): boolean {
    return this.#closed !== null;
  }

  /** Says hello to the bus: the first call on every connection; answers the unique name. */
  async hello(): Promise<string> {
    const reply = await this.call({ destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'Hello' });
    const [name] = reply.body;
    if (typeof name !== 'string') throw new BitsError('E_FAIL', 'the bus answered Hello without a name');
    this.#uniqueName = name;
    return name;
  }

  /** Calls a method; resolves with the reply, rejects with its error (dbusErrorName) or a timeout. */
  call(call: MethodCall, timeoutMs = this.#callTimeoutMs): Promise<Incoming> {
    if (this.#closed !== null) return Promise.reject(this.#closed);
    const { noAutoStart, signature, body, ...address } = call;
    const serial = this.#send({ ...address, type: MESSAGE_TYPE.METHOD_CALL, flags: noAutoStart === true ? MESSAGE_FLAG.NO_AUTO_START : 0, signature: signature ?? '', body: body ?? [] });
    return new Promise<Incoming>((resolve, reject) => {
      const timer = this.#clock.at(this.#clock.now() + timeoutMs, () => {
        this.#settle(serial);
        reject(new BitsError('E_FAIL', `${call.interface}.${call.member} got no reply within ${timeoutMs} ms`));
      });
      this.#pending.set(serial, { resolve, reject, timer });
      this.#socket.ref();
    });
  }

  /** Emits a signal from this connection. */
  emitSignal(signal: { path: string; interface: string; member: string; signature: string; body: readonly DBusValue[] }): void {
    if (this.#closed !== null) throw this.#closed;
    this.#send({ ...signal, type: MESSAGE_TYPE.SIGNAL });
  }

  /** Answers incoming method calls (one handler; without one, every call gets UnknownMethod). */
  handleMethodCalls(handler: MethodHandler): void {
    this.#handler = handler;
  }

  /** Calls `listener` with every signal this connection receives; returns the unsubscribe. */
  onSignal(listener: (message: Incoming) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Calls `listener` once when the connection closes, from either side. */
  onClose(listener: (reason: BitsError) => void): () => void {
    this.#closeListeners.add(listener);
    return () => this.#closeListeners.delete(listener);
  }

  /** Closes the socket; resolves once it is closed. */
  async close(): Promise<void> {
    this.#socket.destroy();
    await this.#closedPromise;
  }

  #send(message: OutgoingMessage): number {
    this.#serial = this.#serial >= 0xffffffff ? 1 : this.#serial + 1;
    this.#socket.write(encodeMessage(message, this.#serial));
    return this.#serial;
  }

  #onData(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    try {
      for (;;) {
        const length = messageLength(this.#buffer);
        if (length === null || this.#buffer.length < length) return;
        const message = decodeMessage(this.#buffer.subarray(0, length));
        this.#buffer = this.#buffer.subarray(length);
        this.#dispatch({ ...message, sequence: ++this.#received });
        if (this.#closed !== null) return;
      }
    } catch (err) {
      // The bus checks every message it routes, so this is a broken stream: start over.
      this.#socket.destroy(err instanceof Error ? err : new Error(String(err)));
    }
  }

  #dispatch(message: Incoming): void {
    if (message.type === MESSAGE_TYPE.METHOD_RETURN || message.type === MESSAGE_TYPE.ERROR) {
      const pending = message.replySerial === undefined ? undefined : this.#settle(message.replySerial);
      if (pending === undefined) return;
      if (message.type === MESSAGE_TYPE.METHOD_RETURN) pending.resolve(message);
      else pending.reject(dbusError(message.errorName ?? 'org.freedesktop.DBus.Error.Failed', typeof message.body[0] === 'string' ? message.body[0] : 'no message'));
    } else if (message.type === MESSAGE_TYPE.SIGNAL) {
      for (const listener of [...this.#listeners]) {
        try {
          listener(message);
        } catch {
          // A listener answers for its own errors; one that throws must not cut the stream.
        }
      }
    } else {
      this.#answer(message);
    }
  }

  #answer(call: Incoming): void {
    const wantsReply = (call.flags & MESSAGE_FLAG.NO_REPLY_EXPECTED) === 0 && call.sender !== undefined;
    let result: MethodResult;
    try {
      if (this.#handler === null) throw dbusError('org.freedesktop.DBus.Error.UnknownMethod', `no method ${call.interface ?? ''}.${call.member ?? ''} here`);
      result = this.#handler(call);
    } catch (err) {
      if (!wantsReply) return;
      const name = dbusErrorName(err) ?? 'org.freedesktop.DBus.Error.Failed';
      const text = err instanceof Error ? err.message.replace(`${name}: `, '') : String(err);
      this.#send({ type: MESSAGE_TYPE.ERROR, destination: call.sender as string, replySerial: call.serial, errorName: name, signature: 's', body: [text] });
      return;
    }
    if (wantsReply) this.#send({ type: MESSAGE_TYPE.METHOD_RETURN, destination: call.sender as string, replySerial: call.serial, ...result });
  }

  #settle(serial: number): Pending | undefined {
    const pending = this.#pending.get(serial);
    if (pending === undefined) return undefined;
    this.#pending.delete(serial);
    pending.timer.cancel();
    if (this.#pending.size === 0) this.#socket.unref();
    return pending;
  }

  #shutdown(reason: BitsError): void {
    if (this.#closed !== null) return;
    this.#closed = reason;
    for (const serial of [...this.#pending.keys()]) this.#settle(serial)?.reject(reason);
    for (const listener of [...this.#closeListeners]) listener(reason);
    this.#closeListeners.clear();
    this.#listeners.clear();
  }
}
