/**
 * The `connect` of the real bitsadmin: BitsClient over the daemon's Unix socket. A daemon that is
 * not there becomes a DaemonUnavailableError whose one line says how to start bitsd on the socket
 * this command used.
 */
import { BitsClient } from '../ipc/client.js';
import { defaultSocketPath } from '../ipc/socket-path.js';
import type { BackgroundCopyManagerApi } from '../api/types.js';
import { DaemonUnavailableError } from './errors.js';
import type { Connect } from './types.js';

function osCode(err: unknown): string | undefined {
  const cause = typeof err === 'object' && err !== null ? (err as { cause?: unknown }).cause : undefined;
  const code = typeof cause === 'object' && cause !== null ? (cause as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

export function daemonConnect(env: Readonly<Record<string, string | undefined>>, options: { timeoutMs?: number } = {}): Connect {
  return async (socket?: string): Promise<BackgroundCopyManagerApi> => {
    const path = socket ?? defaultSocketPath(env);
    try {
      return await BitsClient.connect({ socket: path, ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }) });
    } catch (err) {
      if (typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'BG_E_CONNECT_FAILURE') {
        // bitsd finds the same default socket from the same environment; only --socket must be repeated.
        throw new DaemonUnavailableError(path, osCode(err) ?? 'no answer', socket === undefined ? 'bitsd' : `bitsd --socket ${path}`);
      }
      throw err;
    }
  };
}
