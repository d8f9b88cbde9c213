/**
 * The temp file's name can be taken over between runs (it sits in the destination directory):
 * the engine creates the file itself (O_EXCL|O_NOFOLLOW), records its identity before writing,
 * and resumes only into that same file. A symlink, another file, a FIFO or a directory at the
 * name is refused with the fatal BG_E_LOCAL_FILE_CHANGED (LOCAL_FILE) and left exactly as it was.
 * Real files, a real HTTP server.
 */
import { execFileSync } from 'node:child_process';
import { chown, link, lstat, mkdir, mkdtemp, readFile, rename, rm, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HttpDownloadEngine } from '../../../src/engine/download/http-download-engine.js';
import { identityOf } from '../../../src/shared/file-identity.js';
import { UndiciTransport } from '../../../src/transport/undici-transport.js';
import { baseJob, content, FakeRunner, type FileServer, failure, startFileServer } from './fixtures.js';

const engine = new HttpDownloadEngine({ transport: new UndiciTransport(), timeoutMs: 5_000, progressBytes: 16 * 1024 });

let dir: string;
let outside: string;
let server: FileServer;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bitsd-takeover-'));
  outside = join(dir, 'elsewhere');
  await mkdir(join(dir, 'dest'));
  await mkdir(outside);
  server = await startFileServer({ content: content(200_000) });
});

afterEach(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

function runner(dynamic = false): FakeRunner {
  const r = new FakeRunner(baseJob({ dynamicContent: dynamic }), { remoteName: `${server.url}/file.bin`, tempName: join(dir, 'dest', 'BIT0A1B2C3D.tmp') });
  r.expected = server.file.content;
  return r;
}

/** A file outside the destination directory that a planted name could point at. */
async function victim(size = 39_000): Promise<{ path: string; bytes: Buffer; unchanged: () => Promise<void> }> {
  const path = join(outside, 'victim.dat');
  const bytes = Buffer.alloc(size, 0x5a);
  await writeFile(path, bytes);
  const before = await stat(path);
  return {
    path,
    bytes,
    unchanged: async () => {
      expect((await readFile(path)).equals(bytes)).toBe(true);
      expect((await stat(path)).mtimeMs).toBe(before.mtimeMs);
    },
  };
}

/** A first run that stops mid-body (dropped connection): bytes on disk, identity recorded. */
async function interruptedRun(r: FakeRunner): Promise<void> {
  server.file.dropAfter = 60_000;
  const err = await failure(engine.transfer(r.context()));
  expect(err.transient).toBe(true);
  expect(r.file.bytesTransferred).toBeGreaterThan(0);
  expect(r.file.tempIdentity).toBe(identityOf(await stat(r.file.tempName, { bigint: true })));
}

function expectRefused(err: { code: string; context: string; transient: boolean; message: string }, path: string, what: RegExp): void {
  expect(err).toMatchObject({ code: 'BG_E_LOCAL_FILE_CHANGED', context: 'LOCAL_FILE', transient: false });
  expect(err.message).toContain(path);
  expect(err.message).toMatch(what);
  expect(err.message).toMatch(/remove it; then resume the job/);
}

describe('the temp file cannot be hijacked', () => {
  it('a symlink planted before the first run is refused; the file it points at is untouched', async () => {
    const v = await victim();
    for (const dynamic of [false, true]) {
      const r = runner(dynamic);
      await symlink(v.path, r.file.tempName);
      const err = await failure(engine.transfer(r.context()));
      expectRefused(err, r.file.tempName, /a symbolic link/);
      await v.unchanged();
      expect((await lstat(r.file.tempName)).isSymbolicLink()).toBe(true);
      expect(r.calls).not.toContain('tempCreated');
      expect(r.progress.filter((n) => n > 0)).toEqual([]);
      await unlink(r.file.tempName);
    }
  });

  it('a symlink swapped in between two runs is refused, and the recorded progress stays', async () => {
    const v = await victim();
    const r = runner();
    await interruptedRun(r);
    const kept = r.file.bytesTransferred;
    await unlink(r.file.tempName);
    await symlink(v.path, r.file.tempName);
    const err = await failure(engine.transfer(r.context()));
    expectRefused(err, r.file.tempName, /a symbolic link/);
    await v.unchanged();
    expect(r.file.bytesTransferred).toBe(kept);
  });

  it('another regular file renamed over the temp name between runs is refused and not modified', async () => {
    const r = runner();
    await interruptedRun(r);
    const other = join(dir, 'dest', 'other.bin');
    // Longer than the durable offset: an adopted file would have been truncated.
    const bytes = Buffer.alloc(150_000, 0x33);
    await writeFile(other, bytes);
    await rename(other, r.file.tempName);
    const before = await stat(r.file.tempName, { bigint: true });
    const err = await failure(engine.transfer(r.context()));
    expectRefused(err, r.file.tempName, new RegExp(`instead of the one bitsd created \\(${r.file.tempIdentity}\\)`));
    expect((await readFile(r.file.tempName)).equals(bytes)).toBe(true);
    expect(identityOf(await stat(r.file.tempName, { bigint: true }))).toBe(identityOf(before));
  });

  it.skipIf(process.getuid?.() !== 0)('the recorded file handed to another user between runs is refused and not modified', async () => {
    const r = runner();
    await interruptedRun(r);
    await chown(r.file.tempName, 65534, 65534);
    const before = await readFile(r.file.tempName);
    expectRefused(await failure(engine.transfer(r.context())), r.file.tempName, /owner uid 65534/);
    expect((await readFile(r.file.tempName)).equals(before)).toBe(true);
  });

  it('a FIFO or a directory at the name is refused without opening or replacing it', async () => {
    const r = runner();
    await interruptedRun(r);
    await unlink(r.file.tempName);
    execFileSync('mkfifo', [r.file.tempName]);
    // Opening a FIFO for writing with no reader would hang: the refusal must come first.
    expectRefused(await failure(engine.transfer(r.context())), r.file.tempName, /a named pipe/);
    expect((await lstat(r.file.tempName)).isFIFO()).toBe(true);
    await unlink(r.file.tempName);
    await mkdir(r.file.tempName);
    expectRefused(await failure(engine.transfer(r.context())), r.file.tempName, /a directory/);
    expect((await lstat(r.file.tempName)).isDirectory()).toBe(true);
  });

  it('a temp file deleted between runs: its bytes are gone, so a new one is created and the file downloads from byte 0', async () => {
    const r = runner();
    await interruptedRun(r);
    await unlink(r.file.tempName);
    await engine.transfer(r.context());
    expect((await readFile(r.file.tempName)).equals(server.file.content)).toBe(true);
    expect(r.file.tempIdentity).toBe(identityOf(await stat(r.file.tempName, { bigint: true })));
    expect(r.calls.filter((c) => c === 'tempCreated')).toHaveLength(2);
    const gets = server.requests.filter((q) => q.method === 'GET').map((q) => q.headers.range);
    expect(gets.at(-1)).toBe('bytes=0-');
  });

  it('a normal resume reopens the same file and continues at the durable offset', async () => {
    const r = runner();
    await interruptedRun(r);
    const identity = r.file.tempIdentity;
    const kept = r.file.bytesTransferred;
    await engine.transfer(r.context());
    expect((await readFile(r.file.tempName)).equals(server.file.content)).toBe(true);
    expect(r.file.tempIdentity).toBe(identity);
    expect(r.calls.filter((c) => c === 'tempCreated')).toHaveLength(1);
    expect(server.requests.filter((q) => q.method === 'GET').map((q) => q.headers.range)).toEqual(['bytes=0-', `bytes=${kept}-`]);
  });

  it('tempCreated is reported before any progress', async () => {
    const r = runner();
    await engine.transfer(r.context());
    const created = r.calls.indexOf('tempCreated');
    expect(created).toBeGreaterThanOrEqual(0);
    expect(r.calls.findIndex((c) => c.startsWith('progress'))).toBeGreaterThan(created);
  });
});

describe('bytes recorded without an identity (rows from before identities, or a crash before the identity committed)', () => {
  async function legacy(): Promise<FakeRunner> {
    const r = runner();
    await interruptedRun(r);
    r.file.tempIdentity = null;
    r.calls.length = 0;
    return r;
  }

  it("this process's own regular file with one link is adopted: its identity is recorded and the download resumes", async () => {
    const r = await legacy();
    const kept = r.file.bytesTransferred;
    await engine.transfer(r.context());
    expect((await readFile(r.file.tempName)).equals(server.file.content)).toBe(true);
    expect(r.file.tempIdentity).toBe(identityOf(await stat(r.file.tempName, { bigint: true })));
    expect(r.calls.indexOf('tempCreated')).toBeLessThan(r.calls.findIndex((c) => c.startsWith('progress')));
    expect(server.requests.filter((q) => q.method === 'GET').at(-1)?.headers.range).toBe(`bytes=${kept}-`);
  });

  it('a file with a second hard link (it may be someone else\'s file) is refused and left as it is', async () => {
    const r = await legacy();
    const v = join(outside, 'linked.dat');
    await link(r.file.tempName, v);
    const before = await readFile(v);
    expectRefused(await failure(engine.transfer(r.context())), r.file.tempName, /2 links\), for which bitsd has no record/);
    expect((await readFile(v)).equals(before)).toBe(true);
  });

  it.skipIf(process.getuid?.() !== 0)("another user's file is refused and left as it is", async () => {
    const r = await legacy();
    await chown(r.file.tempName, 65534, 65534);
    const before = await readFile(r.file.tempName);
    expectRefused(await failure(engine.transfer(r.context())), r.file.tempName, /owner uid 65534/);
    expect((await readFile(r.file.tempName)).equals(before)).toBe(true);
  });
});
