/**
 * Child processes of a benchmark: timed runs of curl/aria2c, the bitsd worker, the bitsd daemon
 * (the real binary, or the bench host), and memory readings from /proc.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WorkerResult, WorkerTask } from '../worker.js';
import { stopChild } from './peers.js';

const here = dirname(fileURLToPath(import.meta.url));
/** dist/test/bench */
export const BENCH_DIST = dirname(here);
/** dist/src/bin */
export const BIN_DIST = join(BENCH_DIST, '..', '..', 'src', 'bin');

export interface Finished {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** Runs a program to completion; the wall time includes its start-up. Rejects on a non-zero exit. */
export function run(program: string, args: readonly string[], timeoutMs = 600_000): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      const done = { code, stdout, stderr, ms: performance.now() - t0 };
      if (code === 0) resolve(done);
      else reject(new Error(`${program} ${args.join(' ')} exited with ${code}: ${stderr.slice(-2000)}`));
    });
  });
}

let taskSeq = 0;

/** One measured bitsd run in a fresh worker process (the task goes in a file: it can be large). */
export async function worker(task: WorkerTask, nodeArgs: readonly string[] = []): Promise<WorkerResult> {
  const file = join(tmpdir(), `bitsd-bench-task-${process.pid}-${taskSeq++}.json`);
  writeFileSync(file, JSON.stringify(task));
  try {
    const done = await run(process.execPath, [...nodeArgs, join(BENCH_DIST, 'worker.js'), `@${file}`], 1_800_000);
    const line = done.stdout.trim().split('\n').pop() ?? '';
    return JSON.parse(line) as WorkerResult;
  } finally {
    rmSync(file, { force: true });
  }
}

export interface Daemon {
  readonly child: ChildProcess;
  readonly pid: number;
  /** ms from spawn to ready. */
  readonly readyMs: number;
  stop(): Promise<void>;
}

/**
 * Starts bitsd (dist/src/bin/bitsd.js) or the bench daemon host and waits for it to be ready:
 * the "ready" log line (bitsd) or stdout line (host).
 */
export function startDaemon(kind: 'bitsd' | 'host', dataDir: string, socket: string): Promise<Daemon> {
  const args =
    kind === 'bitsd'
      ? [join(BIN_DIST, 'bitsd.js'), '--data-dir', dataDir, '--socket', socket, '--log-level', 'info', '--log-format', 'json']
      : [join(BENCH_DIST, 'daemon-host.js'), dataDir, socket];
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const onData = (d: Buffer): void => {
      out += d.toString();
      const ready = kind === 'bitsd' ? out.includes('"msg":"ready"') : /^ready$/m.test(out);
      if (ready) {
        const readyMs = performance.now() - t0;
        child.stdout.off('data', onData);
        child.stderr.off('data', onData);
        // Keep draining so a chatty daemon never blocks on a full pipe.
        child.stdout.resume();
        child.stderr.resume();
        resolve({ child, pid: child.pid ?? 0, readyMs, stop: () => stopChild(child, 10_000) });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${kind} exited with ${code} before ready: ${out.slice(-2000)}`)));
  });
}

/** Peak resident set (VmHWM) and current RSS of a live process, in bytes. */
export function memoryOf(pid: number): { peak: number; rss: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
  return { peak: kb('VmHWM'), rss: kb('VmRSS') };
}
