/**
 * A real full disk: a small tmpfs mounted on a fresh directory (mounting needs root and
 * CAP_SYS_ADMIN, which the CI machines have; elsewhere `tmpfsMountable` is false and the tests
 * that need it say so and are skipped). Mounts are lazily unmounted after each test.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { tempDir } from './temp.js';

export const tmpfsMountable: boolean = (() => {
  if (process.getuid?.() !== 0) return false;
  const probe = `/tmp/bitsd-tmpfs-probe-${process.pid}`;
  try {
    mkdirSync(probe, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe], { stdio: 'ignore' });
    execFileSync('umount', [probe], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
})();

const mounts: string[] = [];

afterEach(() => {
  for (const m of mounts.splice(0)) execFileSync('umount', ['-l', m], { stdio: 'ignore' });
});

/** A directory on its own tmpfs of `size` (mount's syntax: "1m", "256k"), unmounted after the test. */
export async function smallDisk(size = '1m'): Promise<string> {
  const dir = join(await tempDir(), 'disk');
  mkdirSync(dir);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  mounts.push(dir);
  return dir;
}

/** Fills the file system up to the last byte; returns a function that frees the space again. */
export function fill(dir: string): () => void {
  const path = join(dir, 'ballast');
  const chunk = Buffer.alloc(4096, 1);
  let written = 0;
  try {
    for (;;) {
      writeFileSync(path, chunk, { flag: 'a' });
      written += chunk.length;
      if (written > 64 * 1024 * 1024) throw new Error('the tmpfs did not fill up');
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  }
  return () => rmSync(path);
}
