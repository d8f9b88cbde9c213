/**
 * The shared API suite against BitsClient talking to a real bitsd process (one daemon for the
 * file, a new connection per test: the suite only looks at the jobs each test created).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { BitsClient } from '../../src/ipc/client.js';
import { spawnDaemon, type SpawnedDaemon } from '../daemon/spawn.js';
import { defineApiContract } from './contract.js';

let dir: string;
let daemon: SpawnedDaemon;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bitsd-contract-daemon-'));
  daemon = await spawnDaemon({ dataDir: join(dir, 'data'), socket: join(dir, 'run', 'bitsd.sock'), scope: 'file' });
});

afterAll(async () => {
  const exit = await daemon.stop('SIGTERM');
  await rm(dir, { recursive: true, force: true });
  if (exit.code !== 0) throw new Error(`bitsd exited ${exit.code ?? exit.signal}: ${daemon.stderr()}`);
});

defineApiContract('BitsClient over a spawned bitsd', async () => {
  const client = await BitsClient.connect({ socket: daemon.socket });
  return { manager: client, close: () => client.close() };
});
