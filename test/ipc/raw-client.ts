/**
 * A raw socket client for scripted IPC conversations: send exact bytes, read the frames that come
 * back, see when the server closes. Sockets opened here are destroyed after each test.
 */
import { connect, type Socket } from 'node:net';
import { afterEach } from 'vitest';

export interface RawClient {
  readonly socket: Socket;
  send(data: string | Buffer): void;
  /** Sends {"type":"hello","version":1} and returns the answer. */
  hello(): Promise<Record<string, unknown>>;
  /** The next frame (parsed); rejects if the connection closes first or after timeoutMs. */
  next(timeoutMs?: number): Promise<Record<string, unknown>>;
  /** The next frame `match` accepts (others are kept). */
  nextMatching(match: (frame: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Sends a request and returns its response frame (other frames are kept for next()). */
  request(id: number, method: string, params?: unknown): Promise<Record<string, unknown>>;
  readonly closed: Promise<void>;
  isClosed(): boolean;
}

const open = new Set<Socket>();

afterEach(() => {
  for (const s of open) s.destroy();
  open.clear();
});

/** Connects, retrying briefly while the server's accept queue is full (EAGAIN). */
async function connected(path: string): Promise<Socket> {
  for (let attempt = 0; ; attempt++) {
    const socket = connect({ path });
    open.add(socket);
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      });
      return socket;
    } catch (err) {
      socket.destroy();
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || attempt >= 100) throw err;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

export async function rawConnect(path: string): Promise<RawClient> {
  const socket = await connected(path);
  socket.on('error', () => undefined);
  let buffer = '';
  const frames: Array<Record<string, unknown>> = [];
  const waiters = new Set<() => void>();
  let isClosed = false;
  socket.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      frames.push(JSON.parse(buffer.slice(0, nl)) as Record<string, unknown>);
      buffer = buffer.slice(nl + 1);
    }
    for (const w of [...waiters]) w();
  });
  const closed = new Promise<void>((resolve) =>
    socket.once('close', () => {
      isClosed = true;
      resolve();
      for (const w of [...waiters]) w();
    }),
  );
  const take = (match: (f: Record<string, unknown>) => boolean, timeoutMs: number): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const i = frames.findIndex(match);
        if (i >= 0) {
          done();
          resolve(frames.splice(i, 1)[0] as Record<string, unknown>);
        } else if (isClosed) {
          done();
          reject(new Error('connection closed'));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no frame within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  const client: RawClient = {
    socket,
    send: (data) => {
      socket.write(data);
    },
    async hello() {
      client.send('{"type":"hello","version":1}\n');
      return client.next();
    },
    next: (timeoutMs = 5000) => take(() => true, timeoutMs),
    nextMatching: (match, timeoutMs = 5000) => take(match, timeoutMs),
    request(id, method, params) {
      client.send(`${JSON.stringify({ type: 'request', id, method, ...(params === undefined ? {} : { params }) })}\n`);
      return take((f) => f.type === 'response' && f.id === id, 5000);
    },
    closed,
    isClosed: () => isClosed,
  };
  return client;
}
