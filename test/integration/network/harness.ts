/**
 * What the network integration tests share: the reference server in the server namespace
 * (test/fixtures/net-server.ts, reporting each request and packet), and bitsd in the client
 * namespace with its config file, reached over its Unix socket from the test.
 */
import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { BitsClient } from '../../../src/ipc/client.js';
import { cleanEnv, spawnDaemon, type SpawnedDaemon } from '../../daemon/spawn.js';
import type { NetPair } from '../../helpers/netns.js';

const NET_SERVER = fileURLToPath(new URL('../../../dist/test/fixtures/net-server.js', import.meta.url));

export interface ServerEvent {
  readonly request?: { method: string; target: string; range: string | null };
  readonly packet?: { kind: string; range: { kind: string; first?: number; last?: number } | null };
}

/** bits-server on the server's address; resolves with its URL and the live list of what it answered. */
export async function startNetServer(pair: NetPair, root: string): Promise<{ url: string; events: ServerEvent[] }> {
  const server: ChildProcess = pair.spawnIn('server', process.execPath, [NET_SERVER, root, pair.serverAddress], { stdio: ['ignore', 'pipe', 'inherit'] });
  const events: ServerEvent[] = [];
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: server.stdout as NodeJS.ReadableStream });
    lines.on('line', (line) => {
      const m = /^listening on (\S+)/.exec(line);
      if (m?.[1]) resolve(m[1]);
      else if (line.startsWith('{')) events.push(JSON.parse(line) as ServerEvent);
    });
    server.once('exit', (code) => reject(new Error(`net-server exited ${code}`)));
  });
  return { url, events };
}

/** bitsd in the client namespace with `config` as its config file; `env` adds to a clean environment. */
export async function startNetDaemon(pair: NetPair, dir: string, config: unknown, env: Record<string, string>): Promise<{ daemon: SpawnedDaemon; client: BitsClient; socket: string; env: NodeJS.ProcessEnv }> {
  const file = join(dir, 'config.json');
  await writeFile(file, JSON.stringify(config));
  const socket = join(dir, 'bitsd.sock');
  const daemonEnv = cleanEnv(env);
  const daemon = await spawnDaemon({ dataDir: join(dir, 'data'), socket, args: ['--config', file], env: daemonEnv, wrap: ['ip', 'netns', 'exec', pair.client] });
  const client = await BitsClient.connect({ socket });
  return { daemon, client, socket, env: daemonEnv };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every 50 ms; resolves with the time it took, or fails naming `what`. */
export async function within(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (await check()) return Date.now() - started;
    await sleep(50);
  }
  throw new Error(`${what}: not within ${timeoutMs} ms`);
}
