/**
 * Which file is at a path, by device and inode. bitsd creates its temp files with O_EXCL and
 * records their identity; before it renames or deletes one it checks that the name still holds
 * that file, so a symlink or another file planted at the name is never followed or moved.
 */
import type { BigIntStats } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { errnoOf } from './os-errors.js';

/** "<dev>:<ino>" (job/types.ts FileIdentity). */
export function identityOf(stats: BigIntStats): string {
  return `${stats.dev}:${stats.ino}`;
}

export type Occupant =
  | { readonly kind: 'absent' }
  /** A regular file; `identity` says which. */
  | { readonly kind: 'file'; readonly identity: string; readonly links: number }
  /** A symlink, directory, device, FIFO or socket: never bitsd's temp file. */
  | { readonly kind: 'other' };

/** What occupies `path`, without following a symlink there. */
export async function occupantOf(path: string): Promise<Occupant> {
  let stats: BigIntStats;
  try {
    stats = await lstat(path, { bigint: true });
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return { kind: 'absent' };
    throw err;
  }
  if (!stats.isFile()) return { kind: 'other' };
  return { kind: 'file', identity: identityOf(stats), links: Number(stats.nlink) };
}

/** What a non-regular file, or a regular file bitsd did not make, is, for error messages. */
export function describeStats(stats: BigIntStats): string {
  if (stats.isSymbolicLink()) return 'a symbolic link';
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a named pipe (FIFO)';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device file';
  return `a regular file (device:inode ${identityOf(stats)}, owner uid ${stats.uid}, ${stats.nlink} link${stats.nlink === 1n ? '' : 's'})`;
}
