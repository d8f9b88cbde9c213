/**
 * The strict session table of the upload server and the files behind it. A session exists from
 * Create-Session until Close-Session or Cancel-Session; anything else naming an unknown id gets
 * BG_E_SESSION_NOT_FOUND. Bytes land in a temp file in the staging directory and are renamed
 * into place when the last byte arrives.
 */
import { randomUUID } from 'node:crypto';
import { copyFile, type FileHandle, mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export interface StoredReply {
  /** The file served at the reply URL. */
  readonly path: string;
  /** True when the file is ours (in staging) and is deleted with the session. */
  readonly owned: boolean;
  readonly contentType: string;
}

export interface UploadSession {
  /** "{GUID}" in upper case, the way Windows servers spell it. */
  readonly id: string;
  /** The reply URL's last segment (a brace-free id, so the URL needs no escaping). */
  readonly replyToken: string;
  /** The URL path the session was created for (as sent, percent-encoded). */
  readonly urlPath: string;
  /** Root-relative destination path. */
  readonly relPath: string;
  readonly targetPath: string;
  readonly tempPath: string;
  /** The next byte offset the server wants (everything before it is held). */
  received: number;
  /** Set by the first fragment; every later fragment must agree. */
  total: number | undefined;
  completed: boolean;
  reply: StoredReply | undefined;
  /** Serialises packets of one session (a retry on a new connection waits for the old one). */
  tail: Promise<void>;
}

export interface SessionInfo {
  readonly id: string;
  readonly relPath: string;
  readonly received: number;
  readonly total: number | undefined;
  readonly completed: boolean;
}

export class UploadSessions {
  readonly #stagingDir: string;
  readonly #sessions = new Map<string, UploadSession>();
  readonly #byReplyToken = new Map<string, UploadSession>();

  constructor(stagingDir: string) {
    this.#stagingDir = stagingDir;
  }

  get stagingDir(): string {
    return this.#stagingDir;
  }

  async create(urlPath: string, relPath: string, targetPath: string): Promise<UploadSession> {
    const uuid = randomUUID();
    const session: UploadSession = {
      id: `{${uuid.toUpperCase()}}`,
      replyToken: uuid.replaceAll('-', ''),
      urlPath,
      relPath,
      targetPath,
      tempPath: join(this.#stagingDir, `${uuid}.part`),
      received: 0,
      total: undefined,
      completed: false,
      reply: undefined,
      tail: Promise.resolve(),
    };
    await mkdir(this.#stagingDir, { recursive: true });
    await writeFile(session.tempPath, '');
    this.#sessions.set(session.id, session);
    this.#byReplyToken.set(session.replyToken, session);
    return session;
  }

  get(id: string | undefined): UploadSession | undefined {
    return id === undefined ? undefined : this.#sessions.get(id);
  }

  byReplyToken(token: string): UploadSession | undefined {
    return this.#byReplyToken.get(token);
  }

  list(): SessionInfo[] {
    return [...this.#sessions.values()].map((s) => ({
      id: s.id,
      relPath: s.relPath,
      received: s.received,
      total: s.total,
      completed: s.completed,
    }));
  }

  get size(): number {
    return this.#sessions.size;
  }

  /** Runs fn with the session's packets serialised. */
  async withLock<T>(session: UploadSession, fn: () => Promise<T>): Promise<T> {
    const previous = session.tail;
    let release: () => void = () => undefined;
    session.tail = new Promise<void>((resolve) => {
      release = resolve;
    });
    await previous;
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /** Forgets a session: the partial upload (if not completed) and an owned reply are deleted. */
  async remove(session: UploadSession): Promise<void> {
    this.#sessions.delete(session.id);
    this.#byReplyToken.delete(session.replyToken);
    if (!session.completed) await rm(session.tempPath, { force: true });
    if (session.reply?.owned) await rm(session.reply.path, { force: true });
    session.reply = undefined;
  }

  /** Deletes every staged file (server shutdown). */
  async removeAll(): Promise<void> {
    for (const session of [...this.#sessions.values()]) await this.remove(session);
  }
}

/**
 * Writes the new part of a fragment body at `received`: the first (received - first) bytes are
 * already held and are skipped, never rewritten. Reads at most `limit` body bytes (fault
 * injection: the connection is reset after them). Returns how many new bytes were stored and
 * whether the body ended early (the client went away).
 */
export async function writeFragment(
  tempPath: string,
  body: AsyncIterable<Buffer>,
  first: number,
  received: number,
  limit: number = Number.POSITIVE_INFINITY,
): Promise<{ written: number; aborted: boolean }> {
  let skip = Math.max(0, received - first);
  let position = Math.max(first, received);
  let read = 0;
  const file = await open(tempPath, 'r+');
  const writer = new WriteBehind(file);
  try {
    for await (const chunk of body) {
      let piece = chunk;
      if (read + piece.length > limit) piece = piece.subarray(0, limit - read);
      read += piece.length;
      if (skip > 0) {
        const dropped = Math.min(skip, piece.length);
        skip -= dropped;
        piece = piece.subarray(dropped);
      }
      if (piece.length > 0) {
        await writer.write(piece, position);
        position += piece.length;
      }
      if (read >= limit) break;
    }
    await writer.flush();
    return { written: writer.written, aborted: false };
  } catch {
    // Whatever reached the file counts: the client resumes from there.
    await writer.flush().catch(() => undefined);
    return { written: writer.written, aborted: true };
  } finally {
    await file.close();
  }
}

/**
 * The BITS sink (uploads under SINK_PREFIX): the fragment's new bytes are counted as received but
 * not stored, so a benchmark measures the client and the protocol, not the server's disk.
 */
export async function sinkFragment(
  body: AsyncIterable<Buffer>,
  first: number,
  received: number,
  limit: number = Number.POSITIVE_INFINITY,
): Promise<{ written: number; aborted: boolean }> {
  let skip = Math.max(0, received - first);
  let read = 0;
  let written = 0;
  try {
    for await (const chunk of body) {
      const take = Math.min(chunk.length, limit - read);
      read += take;
      const dropped = Math.min(skip, take);
      skip -= dropped;
      written += take - dropped;
      if (read >= limit) break;
    }
    return { written, aborted: false };
  } catch {
    return { written, aborted: true };
  }
}

/**
 * Writes to the file while the body keeps arriving. Awaiting each socket chunk's write before
 * reading the next held the socket back at every chunk (a thread-pool round trip per 64 KiB) and
 * capped fragments at ~160 MiB/s on loopback; here chunks collect while one write is in flight
 * and go out together, with at most MAX_BUFFERED bytes held.
 */
class WriteBehind {
  static readonly MAX_BUFFERED = 8 * 1024 * 1024;
  written = 0;
  readonly #file: FileHandle;
  #queue: Buffer[] = [];
  #queuedBytes = 0;
  #queueAt = 0;
  #inflight: Promise<void> | null = null;
  #failure: unknown = null;

  constructor(file: FileHandle) {
    this.#file = file;
  }

  /** Queues `data` for `position` (always right after the previous piece); waits when too much is held. */
  async write(data: Buffer, position: number): Promise<void> {
    if (this.#failure) throw this.#failure;
    if (this.#queuedBytes === 0) this.#queueAt = position;
    this.#queue.push(data);
    this.#queuedBytes += data.length;
    this.#inflight ??= this.#drain();
    if (this.#queuedBytes >= WriteBehind.MAX_BUFFERED) await this.#inflight;
  }

  async flush(): Promise<void> {
    while (this.#inflight) await this.#inflight;
    if (this.#failure) throw this.#failure;
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queuedBytes > 0 && !this.#failure) {
        const data = this.#queue.length === 1 ? (this.#queue[0] as Buffer) : Buffer.concat(this.#queue, this.#queuedBytes);
        let at = this.#queueAt;
        this.#queue = [];
        this.#queuedBytes = 0;
        for (let done = 0; done < data.length; ) {
          const { bytesWritten } = await this.#file.write(data, done, data.length - done, at);
          done += bytesWritten;
          at += bytesWritten;
          this.written += bytesWritten;
        }
      }
    } catch (err) {
      this.#failure = err;
    } finally {
      this.#inflight = null;
    }
  }
}

/** Moves a finished upload into place, creating parent directories; copies across file systems. */
export async function placeUpload(tempPath: string, targetPath: string): Promise<void> {
  await mkdir(dirname(targetPath), { recursive: true });
  try {
    await rename(tempPath, targetPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    await copyFile(tempPath, targetPath);
    await rm(tempPath, { force: true });
  }
}
