/**
 * How bitsadmin fails: the exit codes, the CLI's own errors (a bad command line, no daemon), and
 * one Failure shape that every error is turned into, so stderr text and the --json error
 * document always carry the same HRESULT, code, context and message.
 */
import { describeHresult, formatHresult, hresultOf } from '../shared/hresult.js';
import { printable } from './format.js';

/** Exit codes (docs/cli.md). */
export const EXIT = {
  OK: 0,
  /** The API returned a failure HRESULT, or /transfer's job ended in ERROR. */
  FAILED: 1,
  /** The command line was wrong: unknown verb, missing argument, bad number, ambiguous job name. */
  USAGE: 2,
  /** No daemon answers on the socket, or it went away during the command. */
  NO_DAEMON: 3,
  /** Ctrl-C interrupted /transfer (the job was cancelled): 128 + SIGINT, as shells report it. */
  INTERRUPTED: 130,
} as const;

/**
 * A mistake on the command line: exit 2, with the verb's usage line. E_INVALIDARG, or E_NOTIMPL
 * for a bitsadmin verb that bitsd does not offer.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  /** "/addfile JOB REMOTE LOCAL", printed after the message; null for errors before the verb. */
  readonly usage: string | null;
  readonly code: 'E_INVALIDARG' | 'E_NOTIMPL';

  constructor(message: string, usage: string | null = null, code: 'E_INVALIDARG' | 'E_NOTIMPL' = 'E_INVALIDARG') {
    super(message);
    this.usage = usage;
    this.code = code;
  }
}

/** A job name shared by several jobs: a command-line error, but the verb's usage line would not help. */
export class AmbiguousNameError extends UsageError {}

/** The daemon's socket does not answer (thrown by the `connect` of connect.ts). */
export class DaemonUnavailableError extends Error {
  override readonly name = 'DaemonUnavailableError';
  readonly socket: string;
  /** The OS error code (ENOENT, ECONNREFUSED, ...) or a short reason. */
  readonly reason: string;

  /** `startCommand`: the command that starts a daemon on this socket. */
  constructor(socket: string, reason: string, startCommand: string) {
    super(`bitsd is not running: nothing answers on ${socket} (${reason}). Start it with: ${startCommand}`);
    this.socket = socket;
    this.reason = reason;
  }
}

/** IPC failures that mean "no daemon to talk to" (not running, or it went away mid-command). */
const NO_DAEMON_CODES = new Set(['BG_E_CONNECT_FAILURE', 'BG_E_CONNECTION_CLOSED']);

export interface Failure {
  readonly hresult: number;
  readonly code: string;
  readonly context: string;
  readonly message: string;
  readonly description: string;
  readonly exitCode: number;
  /** Usage line for command-line mistakes. */
  readonly usage: string | null;
}

interface BitsErrorLike {
  readonly hresult: number;
  readonly code: string;
  readonly context?: string;
  readonly message: string;
}

/** BitsError by shape, not instanceof: errors rebuilt by the IPC client must match too. */
function isBitsErrorLike(err: unknown): err is BitsErrorLike {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as Record<string, unknown>;
  return typeof e.hresult === 'number' && typeof e.code === 'string' && typeof e.message === 'string';
}

export function toFailure(err: unknown): Failure {
  if (err instanceof UsageError) {
    const hresult = hresultOf(err.code);
    return { hresult, code: err.code, context: 'NONE', message: err.message, description: describeHresult(hresult), exitCode: EXIT.USAGE, usage: err.usage };
  }
  if (err instanceof DaemonUnavailableError) {
    const hresult = hresultOf('BG_E_CONNECT_FAILURE');
    return { hresult, code: 'BG_E_CONNECT_FAILURE', context: 'NONE', message: err.message, description: describeHresult(hresult), exitCode: EXIT.NO_DAEMON, usage: null };
  }
  if (isBitsErrorLike(err)) {
    return {
      hresult: err.hresult >>> 0,
      code: err.code,
      context: err.context ?? 'NONE',
      message: err.message,
      description: describeHresult(err.hresult),
      exitCode: NO_DAEMON_CODES.has(err.code) ? EXIT.NO_DAEMON : EXIT.FAILED,
      usage: null,
    };
  }
  // Anything else is a bug or an OS failure in the CLI itself: report it as E_FAIL with its text.
  const hresult = hresultOf('E_FAIL');
  const message = err instanceof Error ? err.message : String(err);
  return { hresult, code: 'E_FAIL', context: 'NONE', message, description: describeHresult(hresult), exitCode: EXIT.FAILED, usage: null };
}

/**
 * The stderr text: "ERROR: 0x80200003 BG_E_EMPTY - <description> (<message>)", the message only
 * when it adds something; a daemon that is not running gets its one self-contained line.
 */
export function failureText(f: Failure): string {
  // Messages quote what they refuse (a job name, a URL): shown printable, exact in --json.
  if (f.exitCode === EXIT.NO_DAEMON) return `ERROR: ${formatHresult(f.hresult)} ${f.code} - ${printable(f.message)}\n`;
  const detail = f.message && f.message !== f.description ? ` (${printable(f.message)})` : '';
  const usage = f.usage ? `Usage: bitsadmin ${f.usage}\n` : '';
  return `ERROR: ${formatHresult(f.hresult)} ${f.code} - ${f.description}${detail}\n${usage}`;
}

/** The --json failure document. */
export function failureJson(f: Failure): { error: { hresult: number; code: string; context: string; message: string; description: string } } {
  return { error: { hresult: f.hresult, code: f.code, context: f.context, message: f.message, description: f.description } };
}
