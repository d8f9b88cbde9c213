/**
 * Where bitsd listens by default, shared by the daemon (to bind) and its clients (to connect):
 * $BITSD_SOCKET, else $XDG_RUNTIME_DIR/bitsd/bitsd.sock, else a per-user directory under the
 * temporary directory, <tmp>/bitsd-<uid>/bitsd.sock (the daemon creates it 0700 and refuses it when
 * another user owns it). Pure: the environment and uid are parameters.
 */
import { join } from 'node:path';

export const SOCKET_NAME = 'bitsd.sock';

export interface SocketLocation {
  readonly socket: string;
  /** Where the default came from, for messages and logs. */
  readonly source: 'BITSD_SOCKET' | 'XDG_RUNTIME_DIR' | 'fallback';
}

export function defaultSocketLocation(env: Readonly<Record<string, string | undefined>>, uid: number): SocketLocation {
  if (env.BITSD_SOCKET) return { socket: env.BITSD_SOCKET, source: 'BITSD_SOCKET' };
  // The XDG spec says a relative XDG_RUNTIME_DIR is invalid and must be ignored.
  if (env.XDG_RUNTIME_DIR && env.XDG_RUNTIME_DIR.startsWith('/')) {
    return { socket: join(env.XDG_RUNTIME_DIR, 'bitsd', SOCKET_NAME), source: 'XDG_RUNTIME_DIR' };
  }
  const tmp = env.TMPDIR && env.TMPDIR.startsWith('/') ? env.TMPDIR : '/tmp';
  return { socket: join(tmp, `bitsd-${uid}`, SOCKET_NAME), source: 'fallback' };
}

/** The default socket of the current user, from this process's environment. */
export function defaultSocketPath(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return defaultSocketLocation(env, typeof process.getuid === 'function' ? process.getuid() : 0).socket;
}
