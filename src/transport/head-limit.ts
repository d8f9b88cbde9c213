/**
 * A bound on the response head: the bytes a server may send from the moment a request goes out
 * until its final (non-1xx) status line and headers are complete. undici's maxHeaderSize counts
 * header names and values only: a megabyte-long status line, or an endless run of 1xx interim
 * responses, was read in full. WinHTTP refuses heads over 64 KiB (WINHTTP_OPTION_MAX_RESPONSE_HEADER_SIZE)
 * with ERROR_WINHTTP_HEADER_SIZE_OVERFLOW; bitsd does the same.
 *
 * One HeadLimit serves one connection, which carries one request at a time: request() calls
 * start() before dispatching and end() from the response callback, which undici runs
 * synchronously while parsing the chunk that completes the head. Each socket the connection opens
 * counts the bytes handed to undici's parser; the check runs on the next tick, after undici has
 * parsed the chunk, so body bytes that arrive in the same chunk as the end of the head are never
 * counted against it. The overshoot is therefore at most one socket read (64 KiB).
 */
import type { Socket } from 'node:net';
import type { buildConnector } from 'undici';
import { BitsError } from '../shared/errors.js';

export const MAX_RESPONSE_HEAD_BYTES = 64 * 1024;

/** The error of an oversized head (also used for undici's own header overflow). */
export function headTooLarge(limit: number, origin: string | null, cause?: unknown): BitsError {
  return new BitsError(
    'ERROR_WINHTTP_HEADER_SIZE_OVERFLOW',
    `The server${origin === null ? '' : ` ${origin}`} sent a response head (status line, headers and any 1xx interim responses) of more than ${limit} bytes; bitsd stops reading there.`,
    { context: 'GENERAL_TRANSPORT', transient: true, details: { limit }, ...(cause === undefined ? {} : { cause }) },
  );
}

type ConnectCallback = Parameters<buildConnector.connector>[1];

export class HeadLimit {
  readonly #limit: number;
  readonly #origin: string;
  #awaiting = false;
  #bytes = 0;

  constructor(origin: string, limit = MAX_RESPONSE_HEAD_BYTES) {
    this.#origin = origin;
    this.#limit = limit;
  }

  /** A request is about to be sent: its head starts counting from zero. */
  start(): void {
    this.#awaiting = true;
    this.#bytes = 0;
  }

  /** The final head arrived (or the request failed): body bytes are not counted. */
  end(): void {
    this.#awaiting = false;
  }

  /** Wraps a connector so that every socket it opens is counted. */
  wrap(inner: buildConnector.connector): buildConnector.connector {
    return (opts, callback: ConnectCallback) => {
      inner(opts, (...args) => {
        const [err, socket] = args;
        if (err === null) this.#watch(socket as Socket);
        callback(...args);
      });
    };
  }

  #watch(socket: Socket): void {
    let checking = false;
    const check = (): void => {
      checking = false;
      if (this.#awaiting && this.#bytes > this.#limit && !socket.destroyed) socket.destroy(headTooLarge(this.#limit, this.#origin));
    };
    // undici reads with 'readable' + read(); a 'data' listener then sees each chunk read() returns,
    // just before undici parses it. pause() keeps the listener from switching the socket to
    // flowing mode before undici attaches its own listeners.
    socket.on('data', (chunk: Buffer) => {
      if (!this.#awaiting) return;
      this.#bytes += chunk.length;
      if (this.#bytes > this.#limit && !checking) {
        checking = true;
        process.nextTick(check);
      }
    });
    socket.pause();
  }
}
