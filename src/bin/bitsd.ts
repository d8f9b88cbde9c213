#!/usr/bin/env node
/**
 * bitsd: the BITS daemon, in the foreground (a systemd --user unit runs it as is; see
 * docs/daemon.md). This is the only module that touches `process`: argv, environment, umask,
 * signals and the exit status.
 *
 * Exit status: 0 stopped cleanly; 1 failed (or a stop took longer than 5 s); 2 bad usage or a bad
 * config file;
 * 3 already running for this data directory (or the socket is in use); 4 unsafe socket
 * directory or file; 130/143 a second SIGINT/SIGTERM forced the exit.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BitsError } from '../shared/errors.js';
import { createLogger, LOG_FORMATS, LOG_LEVELS, type Logger } from '../shared/logger.js';
import { resolveConfig, type DaemonConfig } from '../daemon/config.js';
import { Daemon } from '../daemon/daemon.js';
import { BackgroundCopyManager } from '../api/manager.js';
import { crashSeamFromEnv } from '../shared/crash-seam.js';
import { bootIdFromEnv } from '../shared/boot-id.js';
import { procLinkProbe } from '../shared/net-counters.js';
import { AlreadyRunningError } from '../daemon/lock.js';
import { SocketInUseError, UnsafePathError } from '../daemon/socket-dir.js';
import { ConfigFileError } from '../daemon/config-file.js';

const HELP = `Usage: bitsd [options]

Runs the bitsd daemon in the foreground: the BITS job queue, served to bitsadmin and
BitsClient over a Unix socket. Logs go to stderr, one line per event.

  --data-dir DIR       where the job database lives
                       (default: $BITSD_DATA_DIR, $XDG_DATA_HOME/bitsd, ~/.local/share/bitsd)
  --socket PATH        the socket to listen on
                       (default: $BITSD_SOCKET, $XDG_RUNTIME_DIR/bitsd/bitsd.sock,
                       /tmp/bitsd-<uid>/bitsd.sock)
  --log-level LEVEL    ${LOG_LEVELS.join(', ')} (default: $BITSD_LOG_LEVEL or info)
  --log-format FORMAT  ${LOG_FORMATS.join(', ')} (default: $BITSD_LOG_FORMAT or json)
  --config FILE        read the config from FILE only (default: $BITSD_CONFIG, else
                       /etc/bitsd/config.json under $XDG_CONFIG_HOME/bitsd/config.json
                       or ~/.config/bitsd/config.json; see docs/config.md)
  -h, --help           this text
  -V, --version        print the version and exit

SIGTERM or SIGINT stops it gracefully (jobs resume at the next start); a second one forces
the exit. SIGHUP (or bitsadmin /reload) re-reads the config files. See docs/daemon.md.
`;

const EXIT = { ok: 0, failed: 1, usage: 2, running: 3, unsafe: 4 } as const;
/** A stop must finish within 5 s; this leaves time to log and exit. */
const STOP_DEADLINE_MS = 4500;

function packageVersion(): string {
  // dist/src/bin or src/bin: walk up to bitsd's package.json.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'bitsd' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not here: keep walking up
    }
    dir = dirname(dir);
  }
  return 'unknown';
}

function usageError(message: string): never {
  process.stderr.write(`bitsd: ${message}\nTry 'bitsd --help'.\n`);
  process.exit(EXIT.usage);
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function exitCodeFor(err: unknown): number {
  if (err instanceof AlreadyRunningError || err instanceof SocketInUseError) return EXIT.running;
  if (err instanceof UnsafePathError) return EXIT.unsafe;
  // A bad config file is a usage error: restarting cannot fix it (the unit does not retry 2).
  if (err instanceof ConfigFileError) return EXIT.usage;
  return EXIT.failed;
}

function parseFlags(): { config: DaemonConfig } {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        'data-dir': { type: 'string' },
        socket: { type: 'string' },
        'log-level': { type: 'string' },
        'log-format': { type: 'string' },
        config: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'V' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    return usageError(err instanceof Error ? err.message : String(err));
  }
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(EXIT.ok);
  }
  if (values.version) {
    process.stdout.write(`bitsd ${packageVersion()}\n`);
    process.exit(EXIT.ok);
  }
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  try {
    const config = resolveConfig({
      flags: {
        ...(values['data-dir'] !== undefined ? { dataDir: values['data-dir'] } : {}),
        ...(values.socket !== undefined ? { socket: values.socket } : {}),
        ...(values['log-level'] !== undefined ? { logLevel: values['log-level'] } : {}),
        ...(values['log-format'] !== undefined ? { logFormat: values['log-format'] } : {}),
        ...(values.config !== undefined ? { config: values.config } : {}),
      },
      env: process.env,
      uid,
      home: homedir(),
      cwd: process.cwd(),
    });
    return { config };
  } catch (err) {
    return usageError(err instanceof Error ? err.message : String(err));
  }
}

function handleSignals(daemon: Daemon, log: Logger): void {
  let received: NodeJS.Signals | null = null;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (received !== null) {
      log.warn('second signal: exiting at once', { signal });
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
    received = signal;
    const deadline = setTimeout(() => {
      log.error('stopping took too long; exiting anyway', { ms: STOP_DEADLINE_MS });
      process.exit(EXIT.failed);
    }, STOP_DEADLINE_MS);
    deadline.unref();
    daemon.stop(signal).then(
      () => process.exit(EXIT.ok),
      (err: unknown) => {
        log.error('stop failed', { error: err });
        process.exit(EXIT.failed);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // SIGHUP re-reads the config; the daemon logs the outcome (a refused file included).
  process.on('SIGHUP', () => {
    daemon.reload('SIGHUP').catch((err: unknown) => {
      if (!(err instanceof ConfigFileError)) log.warn('SIGHUP: nothing reloaded', { error: err instanceof Error ? err.message : String(err) });
    });
  });
}

async function main(): Promise<void> {
  const { config } = parseFlags();
  // Everything bitsd creates (database, temp files of its own, socket) is private by default.
  process.umask(0o077);
  const log = createLogger({ level: config.logLevel, format: config.logFormat, write: (line) => process.stderr.write(line) });
  process.on('uncaughtException', (err) => {
    log.error('uncaught exception', { error: err, stack: err.stack });
    process.exit(EXIT.failed);
  });
  process.on('unhandledRejection', (reason) => log.error('unhandled rejection', { error: reason }));

  const daemon = new Daemon({
    config,
    logger: log,
    pid: process.pid,
    uid: typeof process.getuid === 'function' ? process.getuid() : 0,
    version: packageVersion(),
    isProcessAlive,
    // Crash tests start bitsd with BITSD_TEST_CRASH_AT to stop it dead at a step boundary, and
    // with BITSD_TEST_BOOT_ID to make a restart look like a reboot (or not); otherwise the
    // kernel's boot id.
    openManager: (dataDir, fromConfig) =>
      BackgroundCopyManager.open({ dataDir, ...fromConfig, crashSeam: crashSeamFromEnv(process.env), link: procLinkProbe, bootId: bootIdFromEnv(process.env) }),
  });
  handleSignals(daemon, log);
  try {
    await daemon.start();
  } catch (err) {
    if (err instanceof BitsError) log.error(err.message, { code: err.code });
    else log.error('bitsd could not start', { error: err, stack: err instanceof Error ? err.stack : undefined });
    process.exit(exitCodeFor(err));
  }
}

void main();
