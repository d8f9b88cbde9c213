/**
 * Spawns the real bitsd (dist/src/bin/bitsd.js, built by `npx tsc -p tsconfig.json`) in temporary
 * directories, collects its stderr log lines, and makes sure every daemon a test started is dead
 * after the test (afterEach kills leftovers with SIGKILL).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach } from 'vitest';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BITSD = join(ROOT, 'dist/src/bin/bitsd.js');

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface LogLine {
  readonly level: string;
  readonly msg: string;
  readonly [field: string]: unknown;
}

export interface SpawnedDaemon {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly socket: string;
  readonly dataDir: string;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** The JSON log lines so far. */
  logs(): LogLine[];
  waitForLog(match: (line: LogLine) => boolean, timeoutMs?: number, what?: string): Promise<LogLine>;
  readonly exited: Promise<Exit>;
  /** Sends `signal` and waits for the exit; resolves with the exit and how long it took. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<Exit & { ms: number }>;
}

/** Daemons started by a test (killed after it) and by a beforeAll (killed after the file). */
const live = new Set<ChildProcess>();
const fileScoped = new Set<ChildProcess>();

afterEach(() => killAll(live));
afterAll(() => killAll(fileScoped));

async function killAll(set: Set<ChildProcess>): Promise<void> {
  const children = [...set];
  set.clear();
  await Promise.all(
    children.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await gone;
    }),
  );
}

/**
 * The system config file of spawned daemons: this machine's /etc/bitsd and ~/.config/bitsd are
 * never read. It turns yielding off: the test runner's other files move data over loopback at
 * the same time, and a daemon that yielded to them would make unrelated tests slow and flaky.
 * The tests of yielding and of the config file bring their own files.
 */
const TEST_CONFIG_DIR = mkdtempSync(join(tmpdir(), 'bitsd-test-config-'));
writeFileSync(join(TEST_CONFIG_DIR, 'system.json'), '{"bandwidth": {"yield": false}}\n');
afterAll(() => rmSync(TEST_CONFIG_DIR, { recursive: true, force: true }));
const NO_CONFIG = TEST_CONFIG_DIR;

/**
 * The environment of spawned daemons: no BITSD_* or proxy settings leak in from the test runner,
 * and no config file of this machine is read, only TEST_CONFIG_DIR's (tests that want their own
 * pass BITSD_SYSTEM_CONFIG and XDG_CONFIG_HOME, or BITSD_CONFIG, in `extra`).
 */
export function cleanEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^BITSD_|^(http|https|all|no)_proxy$/i.test(k)) continue;
    env[k] = v;
  }
  return { ...env, BITSD_SYSTEM_CONFIG: `${NO_CONFIG}/system.json`, XDG_CONFIG_HOME: NO_CONFIG, ...extra };
}

export interface SpawnOptions {
  readonly dataDir: string;
  readonly socket: string;
  readonly args?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly logLevel?: string;
  /** Wait for the "ready" log line (default true). */
  readonly waitReady?: boolean;
  /** false: pass neither --data-dir nor --socket (the environment decides; dataDir/socket say where). */
  readonly useFlags?: boolean;
  /** 'file': started in beforeAll, lives until the file's tests are done (default 'test'). */
  readonly scope?: 'test' | 'file';
  /** A command that runs bitsd (`ip netns exec NS`: in a network namespace); it must exec it, keeping the pid. */
  readonly wrap?: readonly string[];
}

export async function spawnDaemon(options: SpawnOptions): Promise<SpawnedDaemon> {
  const paths = options.useFlags === false ? [] : ['--data-dir', options.dataDir, '--socket', options.socket];
  const args = [BITSD, ...paths, '--log-level', options.logLevel ?? 'info', ...(options.args ?? [])];
  const [program, ...prefix] = options.wrap && options.wrap.length > 0 ? [...options.wrap, process.execPath] : [process.execPath];
  const child = spawn(program as string, [...prefix, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? cleanEnv() });
  const registry = options.scope === 'file' ? fileScoped : live;
  registry.add(child);
  let err = '';
  const waiters = new Set<() => void>();
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString('utf8');
    for (const w of [...waiters]) w();
  });
  child.stdout?.resume();
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  void exited.then(() => {
    registry.delete(child);
    for (const w of [...waiters]) w();
  });
  const logs = (): LogLine[] =>
    err
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as LogLine);
  const daemon: SpawnedDaemon = {
    child,
    pid: child.pid as number,
    socket: options.socket,
    dataDir: options.dataDir,
    stderr: () => err,
    logs,
    exited,
    waitForLog(match, timeoutMs = 10_000, what = 'a log line') {
      return new Promise<LogLine>((resolve, reject) => {
        const check = (): void => {
          const found = logs().find(match);
          if (found) {
            done();
            resolve(found);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            done();
            reject(new Error(`bitsd exited (${child.exitCode ?? child.signalCode}) before ${what}; stderr:\n${err}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no ${what} within ${timeoutMs} ms; stderr:\n${err}`));
        }, timeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async stop(signal = 'SIGTERM', timeoutMs = 10_000) {
      const started = Date.now();
      child.kill(signal);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`bitsd did not exit within ${timeoutMs} ms of ${signal}; stderr:\n${err}`)), timeoutMs);
      });
      try {
        const exit = await Promise.race([exited, timeout]);
        return { ...exit, ms: Date.now() - started };
      } finally {
        clearTimeout(timer);
      }
    },
  };
  if (options.waitReady ?? true) await daemon.waitForLog((l) => l.msg === 'ready', 15_000, 'the ready line');
  return daemon;
}

export interface RunResult extends Exit {
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

export const BITSADMIN = join(ROOT, 'dist/src/bin/bitsadmin.js');

export interface RunOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** The child is killed (SIGKILL) past this; default 15 s. */
  readonly timeoutMs?: number;
  /** Called with all of stdout so far on every chunk; may signal the child (Ctrl-C). */
  readonly onStdout?: (stdout: string, kill: (signal: NodeJS.Signals) => void) => void;
}

/** Runs one of the dist/ binaries to completion, collecting its output. */
async function runScript(script: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  const started = Date.now();
  const child = spawn(process.execPath, [script, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: options.env ?? cleanEnv(),
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
  live.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => {
    stdout += c.toString('utf8');
    options.onStdout?.(stdout, (signal) => child.kill(signal));
  });
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 15_000);
  const exit = await new Promise<Exit>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  clearTimeout(timer);
  live.delete(child);
  return { ...exit, stdout, stderr, ms: Date.now() - started };
}

/** Runs bitsd to completion (for invocations that must exit by themselves). */
export function runBitsd(args: readonly string[], env: NodeJS.ProcessEnv = cleanEnv(), timeoutMs = 15_000): Promise<RunResult> {
  return runScript(BITSD, args, { env, timeoutMs });
}

/** Runs bitsadmin to completion. */
export function runBitsadmin(args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return runScript(BITSADMIN, args, options);
}
