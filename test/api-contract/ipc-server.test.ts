/**
 * The shared API suite against BitsClient talking to an IPC server in this process over a real
 * Unix socket (fast: no process start per test).
 */
import { BitsClient } from '../../src/ipc/client.js';
import { tempDir } from '../helpers/temp.js';
import { startIpcServer } from '../ipc/in-process-server.js';
import { defineApiContract } from './contract.js';

defineApiContract('BitsClient over an in-process IPC server', async () => {
  const server = await startIpcServer(await tempDir());
  const client = await BitsClient.connect({ socket: server.socket });
  return {
    manager: client,
    async close() {
      await client.close();
      await server.close();
    },
  };
});
