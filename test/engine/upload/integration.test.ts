/**
 * The upload engine with the real undici transport against the reference BITS server on
 * 127.0.0.1: the uploaded file must be byte-identical.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BitsUploadEngine } from '../../../src/engine/upload/engine.js';
import { readUploadState } from '../../../src/engine/upload/state.js';
import { type BitsServer, startBitsServer } from '../../../src/server/index.js';
import { UndiciTransport } from '../../../src/transport/undici-transport.js';
import type { JobType } from '../../../src/job/types.js';
import { makeContext } from './fake-context.js';

const FRAGMENT = 64 * 1024;
let work: string;
let server: BitsServer;
let replyServer: BitsServer;
const transport = new UndiciTransport({ keepAliveTimeoutMs: 1000 });

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'bitsd-upload-it-'));
  await mkdir(join(work, 'client'));
  server = await startBitsServer({ root: join(work, 'server') });
  replyServer = await startBitsServer({
    root: join(work, 'reply-server'),
    replyHandler: async (uploadedPath) => ({ body: `received ${(await readFile(uploadedPath)).length} bytes` }),
  });
});

afterAll(async () => {
  await server.close();
  await replyServer.close();
  await rm(work, { recursive: true, force: true });
});

/** Byte-identical check by digest: vitest's deep equality on multi-MiB buffers takes seconds. */
async function digestOf(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

function digest(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function content(size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 131 + (i >> 8)) & 0xff;
  return b;
}

async function upload(size: number, name: string, options: { type?: JobType; target?: BitsServer; fragmentSize?: number } = {}) {
  const data = content(size);
  const local = join(work, 'client', name);
  await writeFile(local, data);
  const target = options.target ?? server;
  const engine = new BitsUploadEngine({ transport, fragmentSize: options.fragmentSize ?? FRAGMENT, minFragmentSize: 1024, retryDelayMs: 10 });
  const { ctx, rec } = makeContext({ localName: local, remoteName: `${target.url}/up/${name}`, type: options.type ?? 'UPLOAD' });
  await engine.transfer(ctx);
  return { data, rec, stored: join(target.root, 'up', name) };
}

describe('upload engine against the reference server', () => {
  const sizes: Array<[string, number]> = [
    ['0 bytes', 0],
    ['1 byte', 1],
    ['an exact multiple of the fragment size', 3 * FRAGMENT],
    ['a few MiB', 3 * 1024 * 1024 + 12345],
  ];
  for (const [label, size] of sizes) {
    it(`uploads ${label} byte-identically`, async () => {
      const { data, rec, stored } = await upload(size, `file-${size}.bin`);
      expect(await digestOf(stored)).toBe(digest(data));
      expect(rec.lastBytes).toBe(size);
      expect(readUploadState(rec.lastState).phase).toBe('closed');
    });
  }

  it('one kept-alive connection carries the whole session', async () => {
    const before = server.packets.length;
    await upload(5 * FRAGMENT, 'keepalive.bin');
    const packets = server.packets.slice(before);
    expect(packets.map((p) => p.kind)).toEqual(['create-session', ...Array<string>(5).fill('fragment'), 'close-session']);
    // Every packet came over one TCP connection (the server numbers them in accept order)...
    const connection = packets[0]?.connection;
    expect(connection).toBeGreaterThan(0);
    expect(packets.every((p) => p.connection === connection)).toBe(true);
    expect(new Set(packets.map((p) => p.remotePort)).size).toBe(1);
    // ...one the session opened: no earlier upload's connection was borrowed.
    expect(server.packets.slice(0, before).some((p) => p.connection === connection)).toBe(false);
  });

  it('upload-reply: fetches the reply, then closes', async () => {
    const { data, rec, stored } = await upload(100_000, 'reply.bin', { type: 'UPLOAD_REPLY', target: replyServer });
    expect(await digestOf(stored)).toBe(digest(data));
    const state = readUploadState(rec.lastState);
    expect(state.phase).toBe('closed');
    const tempName = state.reply?.tempName ?? '';
    expect(await readFile(tempName, 'utf8')).toBe('received 100000 bytes');
    expect(rec.replies.at(-1)).toMatchObject({ bytesTotal: 21, bytesTransferred: 21 });
  });

  it('a server limit on fragment size makes the engine shrink its fragments', async () => {
    const small = await startBitsServer({ root: join(work, 'small'), maxFragmentSize: 20_000 });
    try {
      const { data, stored, rec } = await upload(200_000, 'shrunk.bin', { target: small, fragmentSize: 65_536 });
      expect(await digestOf(stored)).toBe(digest(data));
      expect(readUploadState(rec.lastState).fragmentSize).toBe(16_384);
    } finally {
      await small.close();
    }
  });

  describe('recovery over a real connection', () => {
    let faulty: BitsServer;
    beforeAll(async () => {
      faulty = await startBitsServer({ root: join(work, 'faulty') });
    });
    afterAll(async () => {
      await faulty.close();
    });

    it('a connection reset mid-fragment is resent and the file still arrives intact', async () => {
      faulty.setFaults({ fragment: [{ kind: 'reset', afterBodyBytes: 10_000, store: true }] });
      const { data, stored } = await upload(4 * FRAGMENT + 7, 'reset.bin', { target: faulty });
      expect(await digestOf(stored)).toBe(digest(data));
      expect(faulty.pendingFaults('fragment')).toBe(0);
    });

    for (const announce of [true, false]) {
      it(`the server closes the connection mid-session (${announce ? 'Connection: close' : 'a bare FIN'}): a new one carries the rest of the same session`, async () => {
        // Fragment 1 served normally (a lie of delta 0), fragment 2 answered, then its connection closed.
        faulty.setFaults({ fragment: [{ kind: 'received-range', delta: 0 }, { kind: 'close', announce }] });
        const before = faulty.packets.length;
        const { data, stored } = await upload(5 * FRAGMENT, `server-closed-${announce}.bin`, { target: faulty });
        expect(await digestOf(stored)).toBe(digest(data));
        const packets = faulty.packets.slice(before);
        const closedAt = packets.findIndex((p) => p.fault?.includes('"close"') === true);
        expect(closedAt).toBe(2);
        const first = packets.slice(0, closedAt + 1);
        const rest = packets.slice(closedAt + 1);
        expect(first.map((p) => p.kind)).toEqual(['create-session', 'fragment', 'fragment']);
        expect(rest.map((p) => p.kind)).toEqual(['fragment', 'fragment', 'fragment', 'close-session']);
        const [a, b] = [first[0]?.connection, rest[0]?.connection];
        expect(first.every((p) => p.connection === a)).toBe(true);
        expect(rest.every((p) => p.connection === b)).toBe(true);
        expect(b).not.toBe(a);
        // The same session throughout, every packet answered with success, nothing sent twice.
        const session = first[0]?.answeredSessionId;
        expect(packets.slice(1).every((p) => p.sessionId === session)).toBe(true);
        expect(packets.every((p) => typeof p.outcome === 'number' && p.outcome < 300)).toBe(true);
        expect(faulty.stats).toMatchObject({ completedUploads: expect.arrayContaining([`up/server-closed-${announce}.bin`]) });
      });
    }

    it('a lost Ack: the resent fragment overlaps what the server holds', async () => {
      faulty.setFaults({ fragment: [{ kind: 'drop-ack' }] });
      const { data, stored } = await upload(3 * FRAGMENT, 'lost-ack.bin', { target: faulty });
      expect(await digestOf(stored)).toBe(digest(data));
    });

    it('the server forgets the session mid-upload: a new session from byte 0', async () => {
      faulty.setFaults({ fragment: [{ kind: 'status', status: 500, errorCode: 'BG_E_SESSION_NOT_FOUND' }] });
      const before = faulty.packets.length;
      const { data, stored } = await upload(2 * FRAGMENT, 'forgot.bin', { target: faulty });
      expect(await digestOf(stored)).toBe(digest(data));
      const kinds = faulty.packets.slice(before).map((p) => p.kind);
      expect(kinds.filter((k) => k === 'create-session')).toHaveLength(2);
    });

    it('a 503 ends the attempt transiently, and the next attempt continues the same session', async () => {
      // The first fragment is served normally (a lie of delta 0), the second gets 503.
      faulty.setFaults({ fragment: [{ kind: 'received-range', delta: 0 }, { kind: 'status', status: 503 }] });
      const data = content(3 * FRAGMENT);
      const local = join(work, 'client', 'again.bin');
      await writeFile(local, data);
      const engine = new BitsUploadEngine({ transport, fragmentSize: FRAGMENT, retryDelayMs: 10 });
      const remoteName = `${faulty.url}/up/again.bin`;
      const first = makeContext({ localName: local, remoteName });
      await expect(engine.transfer(first.ctx)).rejects.toMatchObject({ code: 'BG_E_HTTP_ERROR_503', transient: true });
      expect(first.rec.lastBytes).toBe(FRAGMENT);
      const second = makeContext({ localName: local, remoteName, engineState: first.rec.lastState, bytesTransferred: first.rec.lastBytes });
      const before = faulty.packets.length;
      await engine.transfer(second.ctx);
      expect(faulty.packets.slice(before).some((p) => p.kind === 'create-session')).toBe(false);
      expect(await digestOf(join(faulty.root, 'up', 'again.bin'))).toBe(digest(data));
    });
  });
});

