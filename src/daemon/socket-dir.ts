/**
 * The socket's directory and file: created private (0700 / 0600), and refused when someone else
 * could have planted or could reach them (a directory owned by another user, writable by group
 * or others, or a symlink). A socket file left by a crashed daemon is removed; one a live daemon
 * answers on, or any file that is not a socket, is never touched.
 */
import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { BitsError } from '../shared/errors.js';
import type { ServerInfo } from '../ipc/client-connection.js';

export class UnsafePathError extends BitsError {
  constructor(message: string) {
    super('E_ACCESSDENIED', message);
  }
}

export class SocketInUseError extends BitsError {
  readonly holder: ServerInfo;
  constructor(message: string, holder: ServerInfo) {
    super('BG_E_INVALID_STATE', message);
    this.holder = holder;
  }
}

function mode(stats: Stats): string {
  return `0${(stats.mode & 0o777).toString(8)}`;
}

async function lstatOrNull(path: string): Promise<Stats | null> {
  try {
    return await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Makes sure `dir` exists and is private to `uid`. `owned`: the directory is bitsd's own default,
 * so it is created 0700 and tightened to 0700 if it was looser (but never if it is writable by
 * others: that is refused, since someone may already have planted something in it).
 */
export async function prepareSocketDir(dir: string, options: { uid: number; owned: boolean }): Promise<{ created: boolean; tightened: boolean }> {
  let stats = await lstatOrNull(dir);
  let created = false;
  if (!stats) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700); // mkdir's mode is filtered by the umask
    created = true;
    stats = await lstat(dir);
  }
  if (stats.isSymbolicLink()) throw new UnsafePathError(`The socket directory ${dir} is a symbolic link; bitsd refuses it. Use a real directory (or --socket elsewhere).`);
  if (!stats.isDirectory()) throw new UnsafePathError(`The socket directory ${dir} is not a directory.`);
  if (stats.uid !== options.uid) {
    throw new UnsafePathError(`The socket directory ${dir} is owned by uid ${stats.uid}, not by you (uid ${options.uid}); bitsd refuses it. Remove it or choose another --socket.`);
  }
  if ((stats.mode & 0o022) !== 0) {
    throw new UnsafePathError(`The socket directory ${dir} is writable by ${stats.mode & 0o002 ? 'others' : 'its group'} (mode ${mode(stats)}); bitsd refuses it. Run chmod 700 ${dir} or choose another --socket.`);
  }
  let tightened = false;
  if (options.owned && (stats.mode & 0o077) !== 0) {
    await chmod(dir, 0o700);
    tightened = true;
  }
  return { created, tightened };
}

/**
 * Clears the way for binding `path`: nothing there is fine; a socket nobody answers on is a
 * leftover and is removed; a socket a bitsd answers on is SocketInUseError; anything else is
 * refused untouched. `probe` says who answers (null: nobody).
 */
export async function clearStaleSocket(path: string, probe: (path: string) => Promise<ServerInfo | null>): Promise<'none' | 'removed'> {
  const stats = await lstatOrNull(path);
  if (!stats) return 'none';
  if (!stats.isSocket()) throw new UnsafePathError(`${path} exists and is not a socket; bitsd will not replace it. Remove it or choose another --socket.`);
  const holder = await probe(path);
  if (holder) throw new SocketInUseError(`Another bitsd (pid ${holder.pid}) is listening on ${path}. Stop it first, or give this one another --socket.`, holder);
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
  return 'removed';
}

/** After bind: the socket is 0600 (the directory already keeps others out; this is belt and braces). */
export async function secureSocket(path: string): Promise<void> {
  await chmod(path, 0o600);
}
