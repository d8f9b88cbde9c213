/**
 * An IPC server over a real Unix socket in this process, on a fresh manager: the fast way to
 * test BitsClient and the protocol. Everything started here is stopped in afterEach.
 */
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { BackgroundCopyManager, type ManagerOptions } from '../../src/api/manager.js';
import { IpcServer, type IpcLimits } from '../../src/ipc/server.js';
import type { Logger } from '../../src/shared/logger.js';

export interface InProcessServer {
  readonly manager: BackgroundCopyManager;
  readonly server: IpcServer;
  readonly socket: string;
  close(): Promise<void>;
}

const running = new Set<InProcessServer>();

afterEach(async () => {
  const all = [...running];
  running.clear();
  for (const s of all) await s.close();
});

export async function startIpcServer(
  dir: string,
  options: { limits?: Partial<IpcLimits>; logger?: Logger; manager?: Omit<ManagerOptions, 'dataDir'> } = {},
): Promise<InProcessServer> {
  const manager = await BackgroundCopyManager.open({ dataDir: join(dir, 'data'), ...options.manager });
  const server = new IpcServer({
    manager,
    serverName: 'bitsd test',
    pid: process.pid,
    ...(options.limits ? { limits: options.limits } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const socket = join(dir, 's.sock');
  await server.listen(socket);
  let closed = false;
  const handle: InProcessServer = {
    manager,
    server,
    socket,
    async close() {
      if (closed) return;
      closed = true;
      running.delete(handle);
      await server.close(100);
      await manager.close();
    },
  };
  running.add(handle);
  return handle;
}
