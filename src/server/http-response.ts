/**
 * The response writer of the server's own HTTP/1.1 stack (see http-reader.ts for why there is
 * one). Every response carries Content-Length, so keep-alive framing never depends on closing
 * the connection; the only exception is a deliberate fault (omitContentLength), which forces a
 * close, as the observed open-source BITS servers do.
 */
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';

export type HeaderValue = string | number;
export type ResponseHeaders = Readonly<Record<string, HeaderValue>>;

const REASONS: Readonly<Record<number, string>> = {
  100: 'Continue',
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  206: 'Partial Content',
  304: 'Not Modified',
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  411: 'Length Required',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  416: 'Range Not Satisfiable',
  417: 'Expectation Failed',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  505: 'HTTP Version Not Supported',
};

export function reasonPhrase(status: number): string {
  return REASONS[status] ?? 'Unknown';
}

/** Serialises a status line and headers (pure; the writer and tests share it). */
export function formatResponseHead(status: number, headers: ReadonlyArray<readonly [string, string]>): string {
  let out = `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\n`;
  for (const [name, value] of headers) {
    // Values come from our own code, but a CR/LF would split the response: refuse loudly.
    if (/[\r\n]/.test(name) || /[\r\n]/.test(value)) throw new Error(`header ${name} contains CR or LF`);
    out += `${name}: ${value}\r\n`;
  }
  return `${out}\r\n`;
}

export interface SendOptions {
  /** Fault injection: leave Content-Length out; the connection is closed after the body. */
  readonly omitContentLength?: boolean;
}

export interface StreamOptions extends SendOptions {
  /** Fault injection: reset the connection after this many body bytes. */
  readonly resetAfterBytes?: number;
}

/**
 * What became of the request: 'open' until the handler answers; 'held' for a deliberate stall
 * (never answered); 'reset' when the connection was torn down on purpose or by the peer.
 */
export type ResponseState = 'open' | 'sent' | 'held' | 'reset';

export class ResponseWriter {
  readonly #socket: Socket;
  readonly #isHead: boolean;
  readonly #keepAlive: boolean;
  #state: ResponseState = 'open';
  #closeAfter = false;
  /** Close after the response without announcing it (fault injection). */
  #silentClose = false;

  constructor(socket: Socket, method: string, keepAlive: boolean) {
    this.#socket = socket;
    this.#isHead = method === 'HEAD';
    this.#keepAlive = keepAlive;
  }

  get state(): ResponseState {
    return this.#state;
  }

  /** True when the connection must be closed after this response. */
  get closeAfter(): boolean {
    return this.#closeAfter || !this.#keepAlive;
  }

  /** Asks for the connection to be closed after this response (sends Connection: close). */
  requestClose(): void {
    this.#closeAfter = true;
  }

  /**
   * Fault injection: close the connection after this response without Connection: close, so the
   * client learns it only from the FIN (as after a server's idle timeout).
   */
  closeSilently(): void {
    this.#closeAfter = true;
    this.#silentClose = true;
  }

  #writable(): boolean {
    return this.#state === 'open' && !this.#socket.destroyed && this.#socket.writable;
  }

  #head(status: number, headers: ResponseHeaders, length: number | undefined): string {
    const list: Array<readonly [string, string]> = [];
    let hasDate = false;
    for (const [name, value] of Object.entries(headers)) {
      if (name.toLowerCase() === 'content-length' || name.toLowerCase() === 'connection') continue;
      if (name.toLowerCase() === 'date') hasDate = true;
      list.push([name, String(value)]);
    }
    if (!hasDate) list.push(['Date', new Date().toUTCString()]);
    if (length !== undefined) list.push(['Content-Length', String(length)]);
    // A keep-alive response announces an intended close, unless a fault wants it to go unsaid.
    if (!this.#keepAlive || (this.#closeAfter && !this.#silentClose)) list.push(['Connection', 'close']);
    return formatResponseHead(status, list);
  }

  /**
   * Sends a whole response. Content-Length is the body's size, or headers['Content-Length'] when
   * given (HEAD answers announce the size of the body they leave out).
   */
  send(status: number, headers: ResponseHeaders, body: Buffer | string = '', options: SendOptions = {}): void {
    if (!this.#writable()) return;
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    const announced = headerNumber(headers, 'content-length') ?? bytes.length;
    // Without Content-Length only the close can end a body; a HEAD answer has none to end.
    if (options.omitContentLength && !this.#isHead) this.#closeAfter = true;
    const head = this.#head(status, headers, options.omitContentLength ? undefined : announced);
    this.#state = 'sent';
    if (this.#isHead || bytes.length === 0) {
      this.#socket.write(head, 'latin1');
    } else {
      this.#socket.write(Buffer.concat([Buffer.from(head, 'latin1'), bytes]));
    }
  }

  /**
   * Sends a response whose body comes from a stream of exactly `length` bytes, with backpressure.
   * A source that ends early leaves the framing broken, so the connection is then destroyed.
   */
  async stream(
    status: number,
    headers: ResponseHeaders,
    length: number,
    source: Readable,
    options: StreamOptions = {},
  ): Promise<void> {
    if (!this.#writable()) {
      source.destroy();
      return;
    }
    if (options.omitContentLength && !this.#isHead) this.#closeAfter = true;
    this.#socket.write(this.#head(status, headers, options.omitContentLength ? undefined : length), 'latin1');
    this.#state = 'sent';
    if (this.#isHead) {
      source.destroy();
      return;
    }
    let sent = 0;
    const limit = options.resetAfterBytes;
    try {
      for await (const chunk of source as AsyncIterable<Buffer>) {
        if (this.#socket.destroyed) break;
        let piece = chunk;
        if (limit !== undefined && sent + piece.length >= limit) {
          piece = piece.subarray(0, limit - sent);
          await this.#write(piece);
          sent += piece.length;
          this.reset();
          return;
        }
        await this.#write(piece);
        sent += piece.length;
      }
    } catch {
      // A read error mid-body: fall through to the length check, which tears the connection down.
    } finally {
      source.destroy();
    }
    if (limit !== undefined && sent >= limit) {
      this.reset();
      return;
    }
    if (sent !== length) this.reset();
  }

  #write(chunk: Buffer): Promise<void> {
    if (this.#socket.destroyed || chunk.length === 0) return Promise.resolve();
    if (this.#socket.write(chunk)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.#socket.off('drain', done);
        this.#socket.off('close', done);
        resolve();
      };
      this.#socket.on('drain', done);
      this.#socket.on('close', done);
    });
  }

  /** Tears the connection down with a TCP RST (a "connection reset" as clients see it). */
  reset(): void {
    this.#state = 'reset';
    if (!this.#socket.destroyed) this.#socket.resetAndDestroy();
  }

  /** Never answers this request; the connection stays open until the peer or the server closes it. */
  hold(): void {
    if (this.#state === 'open') this.#state = 'held';
  }

  /** Marks a request whose connection went away before it could be answered. */
  markGone(): void {
    if (this.#state === 'open') this.#state = 'reset';
  }
}

function headerNumber(headers: ResponseHeaders, name: string): number | undefined {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name) return Number(value);
  }
  return undefined;
}
