/** Benchmark data: big files of incompressible bytes (not sparse), and the small-file set. */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';

export async function makeFile(path: string, size: number): Promise<void> {
  if (existsSync(path) && statSync(path).size === size) return;
  const chunk = randomBytes(4 * 1024 * 1024);
  const fh = await open(path, 'w');
  try {
    for (let written = 0; written < size; ) {
      const n = Math.min(chunk.length, size - written);
      await fh.write(chunk, 0, n, written);
      written += n;
      // Vary each chunk a little so no two are identical (no dedup or compression shortcut).
      chunk.writeUInt32LE(written % 2 ** 32, 0);
    }
  } finally {
    await fh.close();
  }
}

export function makeSmallFiles(dir: string, count: number, size: number): string[] {
  mkdirSync(dir, { recursive: true });
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = `f${String(i).padStart(5, '0')}.bin`;
    const path = join(dir, name);
    if (!existsSync(path)) writeFileSync(path, randomBytes(size));
    names.push(name);
  }
  return names;
}

/** Empties a directory (keeps it). */
export function emptyDir(dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const entry of readdirSync(dir)) rmSync(join(dir, entry), { recursive: true, force: true });
}
