/**
 * The daemon's configuration: command-line flags over environment over XDG defaults. Pure: the
 * flags, environment, uid and home directory are parameters, so every rule can be tested.
 *
 *   data directory   --data-dir   > BITSD_DATA_DIR > $XDG_DATA_HOME/bitsd > ~/.local/share/bitsd
 *   socket           --socket     > BITSD_SOCKET   > $XDG_RUNTIME_DIR/bitsd/bitsd.sock
 *                                                   > $TMPDIR or /tmp /bitsd-<uid>/bitsd.sock
 *   log level        --log-level  > BITSD_LOG_LEVEL  > info
 *   log format       --log-format > BITSD_LOG_FORMAT > json
 *   config files     --config     > BITSD_CONFIG (that file only, which must exist)
 *                                 > $BITSD_SYSTEM_CONFIG or /etc/bitsd/config.json, then over it
 *                                   $XDG_CONFIG_HOME/bitsd/config.json or ~/.config/bitsd/config.json
 *                                   (either may be missing)
 */
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { BitsError } from '../shared/errors.js';
import { isLogFormat, isLogLevel, LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from '../shared/logger.js';
import { defaultSocketLocation } from '../ipc/socket-path.js';

/** sun_path is 108 bytes on Linux, NUL included. */
export const MAX_SOCKET_PATH_BYTES = 107;

export interface DaemonFlags {
  readonly dataDir?: string;
  readonly socket?: string;
  readonly logLevel?: string;
  readonly logFormat?: string;
  readonly config?: string;
}

/** A config file to read at start-up and on reload (src/daemon/config-file.ts reads it). */
export interface ConfigFileSpec {
  readonly path: string;
  /** system: /etc/bitsd/config.json (or BITSD_SYSTEM_CONFIG); user: the XDG file; given: --config/BITSD_CONFIG. */
  readonly role: 'system' | 'user' | 'given';
  /** A missing file is an error (a file named on the command line); otherwise it means "no settings". */
  readonly required: boolean;
}

export const SYSTEM_CONFIG_FILE = '/etc/bitsd/config.json';

export interface DaemonConfig {
  readonly dataDir: string;
  readonly socketPath: string;
  readonly socketDir: string;
  /**
   * True when the socket directory is bitsd's own (a default location): the daemon creates it
   * 0700 and tightens its mode. A directory named with --socket/BITSD_SOCKET is only checked.
   */
  readonly ownsSocketDir: boolean;
  /**
   * <dataDir>/bitsd.lock: names the daemon holding the data directory, for refusals. The lock
   * itself is <dataDir>/bitsd.lock.sqlite (src/store/instance-lock.ts).
   */
  readonly lockHolderPath: string;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  /** The config files, lowest first: each overrides the ones before it key by key. */
  readonly configFiles: readonly ConfigFileSpec[];
}

export interface ConfigInputs {
  readonly flags: DaemonFlags;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly uid: number;
  readonly home: string;
  readonly cwd: string;
}

function usage(message: string): BitsError {
  return new BitsError('E_INVALIDARG', message);
}

export function resolveConfig(inputs: ConfigInputs): DaemonConfig {
  const { flags, env } = inputs;
  const dataDir = resolve(inputs.cwd, flags.dataDir ?? env.BITSD_DATA_DIR ?? join(xdgDataHome(env, inputs.home), 'bitsd'));
  const explicit = flags.socket ?? env.BITSD_SOCKET;
  const socketPath = resolve(inputs.cwd, explicit ?? defaultSocketLocation({ ...env, BITSD_SOCKET: undefined }, inputs.uid).socket);
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH_BYTES) {
    throw usage(`The socket path ${socketPath} is ${Buffer.byteLength(socketPath)} bytes long; Unix sockets allow ${MAX_SOCKET_PATH_BYTES}. Choose a shorter --socket.`);
  }
  const logLevel = flags.logLevel ?? env.BITSD_LOG_LEVEL ?? 'info';
  if (!isLogLevel(logLevel)) throw usage(`Unknown log level ${JSON.stringify(logLevel)}; use one of ${LOG_LEVELS.join(', ')}.`);
  const logFormat = flags.logFormat ?? env.BITSD_LOG_FORMAT ?? 'json';
  if (!isLogFormat(logFormat)) throw usage(`Unknown log format ${JSON.stringify(logFormat)}; use one of ${LOG_FORMATS.join(', ')}.`);
  return {
    dataDir,
    socketPath,
    socketDir: dirname(socketPath),
    ownsSocketDir: explicit === undefined,
    lockHolderPath: join(dataDir, 'bitsd.lock'),
    logLevel,
    logFormat,
    configFiles: resolveConfigFiles(inputs),
  };
}

/** Where the config comes from: one named file, or the system file under the user's. */
export function resolveConfigFiles(inputs: Pick<ConfigInputs, 'flags' | 'env' | 'home' | 'cwd'>): readonly ConfigFileSpec[] {
  const { flags, env } = inputs;
  const given = flags.config ?? (env.BITSD_CONFIG || undefined);
  if (given !== undefined) {
    if (given === '') throw usage('--config needs a file name.');
    return [{ path: resolve(inputs.cwd, given), role: 'given', required: true }];
  }
  const system = env.BITSD_SYSTEM_CONFIG ? resolve(inputs.cwd, env.BITSD_SYSTEM_CONFIG) : SYSTEM_CONFIG_FILE;
  return [
    { path: system, role: 'system', required: false },
    { path: join(xdgConfigHome(env, inputs.home), 'bitsd', 'config.json'), role: 'user', required: false },
  ];
}

function xdgConfigHome(env: Readonly<Record<string, string | undefined>>, home: string): string {
  return env.XDG_CONFIG_HOME && isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : join(home, '.config');
}

function xdgDataHome(env: Readonly<Record<string, string | undefined>>, home: string): string {
  // The XDG spec: a relative XDG_DATA_HOME is invalid and ignored.
  return env.XDG_DATA_HOME && isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : join(home, '.local', 'share');
}
