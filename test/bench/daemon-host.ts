/**
 * The daemon for the IPC queue-scale case: bitsd's own Daemon (lock, socket, IPC server, manager),
 * with two settings the bitsd binary has no flags for: quotas raised so 100,000 jobs fit (BITS
 * allows 300 per machine), and the gate engine instead of the HTTP engines, so the figure is the
 * cost of the queue and IPC rather than of transfers. Prints "ready" on stdout once listening;
 * SIGTERM stops it.
 *
 *   node dist/test/bench/daemon-host.js DATA_DIR SOCKET
 */
import { homedir } from 'node:os';
import { BackgroundCopyManager } from '../../src/api/manager.js';
import { resolveConfig } from '../../src/daemon/config.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { createLogger } from '../../src/shared/logger.js';
import { GateEngine } from './lib/gate-engine.js';

async function main(): Promise<void> {
  const [dataDir, socket] = process.argv.slice(2);
  if (!dataDir || !socket) throw new Error('usage: daemon-host DATA_DIR SOCKET');
  process.umask(0o077);
  const uid = process.getuid?.() ?? 0;
  const config = resolveConfig({ flags: { dataDir, socket, logLevel: 'warn' }, env: {}, uid, home: homedir(), cwd: process.cwd() });
  const daemon = new Daemon({
    config,
    logger: createLogger({ level: 'warn', write: (line) => process.stderr.write(line) }),
    pid: process.pid,
    uid,
    version: 'bench',
    isProcessAlive: () => false,
    openManager: (dir) => BackgroundCopyManager.open({ dataDir: dir, quotas: { jobsPerUser: 1e9, jobsPerMachine: 1e9 }, engines: [new GateEngine()] }),
  });
  const stop = (): void => {
    daemon.stop('SIGTERM').then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  await daemon.start();
  process.stdout.write('ready\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`daemon-host: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
