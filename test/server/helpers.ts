/**
 * Test helpers for the BITS server: a raw HTTP/1.1 client over node:net (for framing, keep-alive
 * and malformed-input tests, where a real client library would hide what went over the wire),
 * a BITS client over undici, and temp directories.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'undici';

export interface RawResponse {
  readonly status: number;
  /** Lower-cased names. */
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

export class RawClient {
  readonly socket: Socket;
  #buffer = Buffer.alloc(0);
  #closed = false;
  #waiters: Array<() => void> = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#wake();
    });
    socket.on('close', () => {
      this.#closed = true;
      this.#wake();
    });
    socket.on('error', () => undefined);
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host: '127.0.0.1' }, () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes received and not yet parsed as a response. */
  get unread(): Buffer {
    return this.#buffer;
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  write(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  async #waitFor<T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = check();
      if (value !== undefined) return value;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Reads one response. noBody: a HEAD answer (Content-Length is not followed). */
  readResponse(options: { timeoutMs?: number; noBody?: boolean } = {}): Promise<RawResponse> {
    return this.#waitFor(
      () => {
        const end = this.#buffer.indexOf('\r\n\r\n');
        if (end === -1) {
          if (this.#closed) throw new Error(`connection closed without a response (${this.#buffer.length} bytes)`);
          return undefined;
        }
        const lines = this.#buffer.subarray(0, end).toString('latin1').split('\r\n');
        const status = Number((lines[0] ?? '').split(' ')[1]);
        const headers: Record<string, string> = {};
        for (const line of lines.slice(1)) {
          const i = line.indexOf(':');
          headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
        }
        const cl = headers['content-length'];
        let length: number;
        if (options.noBody === true || status === 100) length = 0;
        else if (cl !== undefined) length = Number(cl);
        else if (this.#closed) length = this.#buffer.length - end - 4;
        else return undefined;
        if (this.#buffer.length < end + 4 + length) {
          if (this.#closed) throw new Error('connection closed mid-body');
          return undefined;
        }
        const body = Buffer.from(this.#buffer.subarray(end + 4, end + 4 + length));
        this.#buffer = this.#buffer.subarray(end + 4 + length);
        return { status, headers, body };
      },
      options.timeoutMs ?? 5_000,
      'a response',
    );
  }

  /** Resolves once the server has closed the connection. */
  waitClosed(timeoutMs = 5_000): Promise<true> {
    return this.#waitFor(() => (this.#closed ? true : undefined), timeoutMs, 'the connection to close');
  }

  /** True when nothing arrives (no byte, no close) for ms. */
  async staysSilent(ms: number): Promise<boolean> {
    const before = this.#buffer.length;
    await new Promise((r) => setTimeout(r, ms));
    return this.#buffer.length === before && !this.#closed;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export const PROTOCOL = '{7df0354d-249b-430f-820d-3d2a9bef4931}';

export interface Ack {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** A BITS client over one undici connection (the way a real client keeps one keep-alive socket). */
export class BitsClient {
  readonly client: Client;

  constructor(url: string) {
    this.client = new Client(url, { pipelining: 1, headersTimeout: 10_000, bodyTimeout: 10_000 });
  }

  async post(path: string, type: string, headers: Record<string, string> = {}, body?: Buffer): Promise<Ack> {
    const res = await this.client.request({
      path,
      method: 'BITS_POST',
      headers: { 'BITS-Packet-Type': type, ...(body === undefined ? { 'Content-Length': '0' } : {}), ...headers },
      ...(body === undefined ? {} : { body }),
    });
    const text = await res.body.text();
    const flat: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) flat[k] = Array.isArray(v) ? v.join(', ') : (v ?? '');
    return { status: res.statusCode, headers: flat, body: text };
  }

  async create(path: string): Promise<string> {
    const ack = await this.post(path, 'Create-Session', { 'BITS-Supported-Protocols': PROTOCOL });
    if (ack.status !== 201) throw new Error(`Create-Session answered ${ack.status}`);
    return ack.headers['bits-session-id'] ?? '';
  }

  fragment(path: string, session: string, data: Buffer, first: number, total: number): Promise<Ack> {
    const last = first + data.length - 1;
    return this.post(path, 'Fragment', { 'BITS-Session-Id': session, 'Content-Range': `bytes ${first}-${last}/${total}` }, data);
  }

  /** Create → fragments of `size` → (no close). Returns the session id and the last Ack. */
  async upload(path: string, data: Buffer, size: number): Promise<{ session: string; last: Ack }> {
    const session = await this.create(path);
    let last: Ack | undefined;
    for (let off = 0; off < data.length; off += size) {
      last = await this.fragment(path, session, data.subarray(off, off + size), off, data.length);
      if (last.status !== 200) throw new Error(`Fragment answered ${last.status}`);
    }
    if (last === undefined) throw new Error('nothing uploaded');
    return { session, last };
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

export async function tempDir(prefix: string): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `bits-server-${prefix}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

export function randomBytes(n: number, seed = 1): Buffer {
  const out = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
