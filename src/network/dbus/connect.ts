/**
 * Opening a bus connection: try each unix socket of the address in turn, authenticate, say
 * Hello. Every step is bounded in time and can be cancelled, and a failure leaves no socket open.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { type Clock, systemClock } from '../../shared/clock.js';
import { BitsError } from '../../shared/errors.js';
import { errnoOf } from '../../shared/os-errors.js';
import { parseBusAddresses, type UnixBusAddress } from './address.js';
import { authenticate } from './auth.js';
import { BusConnection } from './connection.js';

export interface ConnectOptions {
  readonly clock?: Clock;
  /** Bound on connecting, authenticating and Hello together (default 5 s). */
  readonly timeoutMs?: number;
  /** Bound on each method call's reply (default 10 s). */
  readonly callTimeoutMs?: number;
  /** Cancels an attempt in progress (the socket is destroyed, the promise rejects with E_ABORT). */
  readonly signal?: AbortSignal;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/**
 * Connects to the bus at `address` (D-Bus address syntax). Rejects with a BitsError naming every
 * socket tried and why each failed; details.errno is the first socket's errno (ENOENT: no bus).
 */
export async function connectBus(address: string, options: ConnectOptions = {}): Promise<BusConnection> {
  const clock = options.clock ?? systemClock;
  const timeoutMs = options.timeoutMs ?? 5_000;
  const parsed = parseBusAddresses(address, options.env ?? process.env);
  const failures: string[] = [...parsed.skipped];
  let firstErrno: string | undefined;
  for (const target of parsed.addresses) {
    if (isAborted(options.signal)) throw aborted();
    let socket: Socket | null = null;
    try {
      socket = await openSocket(target, clock, timeoutMs, options.signal);
      const leftover = await withAbort(socket, options.signal, authenticate(socket, { uid: process.getuid?.() ?? 0, guid: target.guid, clock, timeoutMs }));
      const connection = new BusConnection(socket, { clock, callTimeoutMs: options.callTimeoutMs ?? 10_000, leftover });
      await withAbort(socket, options.signal, connection.hello());
      return connection;
    } catch (err) {
      socket?.destroy();
      if (isAborted(options.signal)) throw aborted();
      if (!(err instanceof BitsError)) firstErrno ??= errnoOf(err);
      failures.push(`${target.text}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (parsed.addresses.length === 0 && failures.length === 0) failures.push('the address names no socket');
  throw new BitsError('E_FAIL', `cannot connect to the D-Bus bus (${failures.join('; ')})`, { details: { errno: firstErrno, address } });
}

function openSocket(target: UnixBusAddress, clock: Clock, timeoutMs: number, signal: AbortSignal | undefined): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const socket = netConnect({ path: target.socketPath });
    const done = (err: Error | null): void => {
      timer.cancel();
      signal?.removeEventListener('abort', onAbort);
      socket.off('error', done);
      if (err === null) return resolve(socket);
      socket.destroy();
      reject(err);
    };
    const onAbort = (): void => done(aborted());
    const timer = clock.at(clock.now() + timeoutMs, () => done(new Error(`no connection within ${timeoutMs} ms`)));
    socket.once('connect', () => done(null));
    socket.once('error', done);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Runs `step`, destroying the socket (which fails the step) if the signal fires meanwhile. */
async function withAbort<T>(socket: Socket, signal: AbortSignal | undefined, step: Promise<T>): Promise<T> {
  if (signal === undefined) return step;
  const onAbort = (): void => void socket.destroy();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await step;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/** A function, so that TypeScript does not take the flag as fixed between two reads. */
function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

function aborted(): BitsError {
  return new BitsError('E_ABORT', 'the D-Bus connection attempt was cancelled');
}
