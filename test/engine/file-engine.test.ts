/**
 * The file:// engine writes through the same temp-file discipline as HTTP downloads: the temp
 * file is created with O_EXCL|O_NOFOLLOW and its identity reported before any byte, a resume
 * reopens only that file, and anything else at the name is refused (BG_E_LOCAL_FILE_CHANGED) and
 * left untouched. Real files; the TransferFile is the test's, playing the runner between runs.
 */
import { lstat, mkdir, mkdtemp, readFile, rename, rm, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileEngine } from '../../src/engine/file-engine.js';
import { identityOf } from '../../src/shared/file-identity.js';
import { baseJob, FakeRunner, failure } from './download/fixtures.js';

const engine = new FileEngine({ progressBytes: 4096 });
let dir: string;
let source: Buffer;
let r: FakeRunner;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bitsd-file-engine-'));
  await mkdir(join(dir, 'dest'));
  source = Buffer.alloc(100_000);
  for (let i = 0; i < source.length; i++) source[i] = (i * 7 + 3) & 0xff;
  await writeFile(join(dir, 'source.bin'), source);
  r = new FakeRunner(baseJob(), { remoteName: pathToFileURL(join(dir, 'source.bin')).href, tempName: join(dir, 'dest', 'BIT00C0FFEE.tmp') });
  r.expected = source;
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function victim(): Promise<{ path: string; unchanged: () => Promise<void> }> {
  const path = join(dir, 'victim.dat');
  const bytes = Buffer.alloc(39_000, 0x42);
  await writeFile(path, bytes);
  return { path, unchanged: async () => expect((await readFile(path)).equals(bytes)).toBe(true) };
}

/** The first run, then the runner's record rolled back to a durable offset inside the file (as after a crash). */
async function firstRunStoppedAt(offset: number): Promise<void> {
  await engine.transfer(r.context());
  expect(r.file.tempIdentity).toBe(identityOf(await stat(r.file.tempName, { bigint: true })));
  r.file.bytesTransferred = offset;
}

describe('FileEngine temp file', () => {
  it('reports the identity before any progress, and a resume continues in the same file', async () => {
    await firstRunStoppedAt(40_000);
    expect(r.calls.indexOf('tempCreated')).toBeLessThan(r.calls.findIndex((c) => c.startsWith('progress')));
    const identity = r.file.tempIdentity;
    r.calls.length = 0;
    await engine.transfer(r.context());
    expect(r.calls).not.toContain('tempCreated');
    expect(r.file.tempIdentity).toBe(identity);
    expect((await readFile(r.file.tempName)).equals(source)).toBe(true);
  });

  it('a symlink planted before the first run is refused; the file it points at is untouched', async () => {
    const v = await victim();
    await symlink(v.path, r.file.tempName);
    const err = await failure(engine.transfer(r.context()));
    expect(err).toMatchObject({ code: 'BG_E_LOCAL_FILE_CHANGED', context: 'LOCAL_FILE', transient: false });
    expect(err.message).toContain(r.file.tempName);
    await v.unchanged();
    expect((await lstat(r.file.tempName)).isSymbolicLink()).toBe(true);
    expect(r.calls).not.toContain('tempCreated');
  });

  it('a symlink swapped in between runs is refused; the file it points at is untouched', async () => {
    await firstRunStoppedAt(40_000);
    const v = await victim();
    await unlink(r.file.tempName);
    await symlink(v.path, r.file.tempName);
    expect(await failure(engine.transfer(r.context()))).toMatchObject({ code: 'BG_E_LOCAL_FILE_CHANGED', context: 'LOCAL_FILE', transient: false });
    await v.unchanged();
  });

  it('another regular file renamed over the temp name between runs is refused and not modified', async () => {
    await firstRunStoppedAt(40_000);
    const other = Buffer.alloc(70_000, 0x11);
    await writeFile(join(dir, 'other'), other);
    await rename(join(dir, 'other'), r.file.tempName);
    expect(await failure(engine.transfer(r.context()))).toMatchObject({ code: 'BG_E_LOCAL_FILE_CHANGED', context: 'LOCAL_FILE', transient: false });
    expect((await readFile(r.file.tempName)).equals(other)).toBe(true);
  });
});
