/**
 * Who answers on a socket: the hello of a live bitsd, or null when nobody does (no socket,
 * refused, not bitsd, or no answer in time). Used by the daemon to tell a running daemon from the
 * leftovers of a crashed one.
 */
import { IpcConnection, type ServerInfo } from './client-connection.js';

export async function probeDaemon(socket: string, timeoutMs = 2000): Promise<ServerInfo | null> {
  try {
    const conn = await IpcConnection.open({ socket, timeoutMs });
    await conn.close();
    return conn.info;
  } catch {
    return null;
  }
}
