/**
 * The daemon.* IPC methods on an IPC server in this process: without daemon hooks they say
 * E_NOTIMPL (the server is not bitsd); with hooks, BitsClient gets the hooks' report, and a
 * reload's BitsError arrives with its code and message. Parameters are checked like any method's.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BackgroundCopyManager } from '../../src/api/manager.js';
import { BitsClient } from '../../src/index.js';
import { IpcServer } from '../../src/ipc/server.js';
import { mergeConfig, validateConfig } from '../../src/policy/config.js';
import { policyReport, type PolicyReport } from '../../src/policy/report.js';
import { BitsError } from '../../src/shared/errors.js';
import { tempDir } from '../helpers/temp.js';
import { startIpcServer } from './in-process-server.js';
import { rawConnect } from './raw-client.js';

describe('daemon.policy and daemon.reload', () => {
  it('without daemon hooks: E_NOTIMPL, and the connection goes on', async () => {
    const dir = await tempDir();
    const srv = await startIpcServer(dir);
    const client = await BitsClient.connect({ socket: srv.socket });
    try {
      await expect(client.getPolicy()).rejects.toMatchObject({ code: 'E_NOTIMPL', message: 'This IPC server has no daemon config to show or reload (it is not bitsd).' });
      await expect(client.reloadPolicy()).rejects.toMatchObject({ code: 'E_NOTIMPL' });
      expect(await client.enumJobs()).toEqual([]);
    } finally {
      await client.close();
    }
  });

  it('with hooks: the report travels as JSON; a refused reload keeps its code and message; extra params are refused', async () => {
    const dir = await tempDir();
    const manager = await BackgroundCopyManager.open({ dataDir: join(dir, 'data') });
    const config = mergeConfig(validateConfig({ bandwidth: { normal: '1 MB/s' } }, 'c.json'));
    const report: PolicyReport = policyReport({ config, now: new Date('2025-01-06T12:00:00Z'), files: [{ path: '/c.json', role: 'given', found: true }], loadedAt: new Date('2025-01-06T11:00:00Z'), backgroundInForce: 1 });
    let reloads = 0;
    const server = new IpcServer({
      manager,
      serverName: 'bitsd test',
      pid: process.pid,
      daemon: {
        policy: () => report,
        reload: async () => {
          reloads++;
          throw new BitsError('E_INVALIDARG', 'c.json: bandwidth.normal is "fast"; use ...');
        },
      },
    });
    const socket = join(dir, 's.sock');
    await server.listen(socket);
    const client = await BitsClient.connect({ socket });
    try {
      expect(await client.getPolicy()).toEqual(report);
      const err = await client.reloadPolicy().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BitsError);
      expect(err).toMatchObject({ code: 'E_INVALIDARG', message: 'c.json: bandwidth.normal is "fast"; use ...' });
      expect(reloads).toBe(1);
      const raw = await rawConnect(socket);
      await raw.hello();
      expect(await raw.request(1, 'daemon.reload', { force: true })).toMatchObject({
        ok: false,
        error: { code: 'E_INVALIDARG', message: expect.stringContaining('unknown field "force"') },
      });
      expect(await raw.request(2, 'daemon.policy', {})).toMatchObject({ ok: true, result: { limits: { normal: 1_000_000 } } });
      expect(reloads).toBe(1);
    } finally {
      await client.close();
      await server.close(100);
      await manager.close();
    }
  });
});
