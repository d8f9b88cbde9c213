/**
 * The data directory lock (src/store/instance-lock.ts) against the real kernel: exclusive within
 * one process and across processes, kept by a stopped holder, dropped when its holder is killed.
 * The child holders run from the compiled tree: build first (npx tsc -p tsconfig.json).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { BitsError } from '../../src/shared/errors.js';
import { DataDirLock, DataDirLockedError, INSTANCE_LOCK_FILE } from '../../src/store/instance-lock.js';
import { isStoppedPerProc } from '../../src/daemon/lock.js';
import { tempDir, waitFor } from '../helpers/temp.js';

const CHILD = fileURLToPath(new URL('../../dist/test/fixtures/lock-child.js', import.meta.url));
const children = new Set<ChildProcess>();
const locks: DataDirLock[] = [];

afterEach(async () => {
  for (const lock of locks.splice(0)) lock.release();
  await Promise.all(
    [...children].map(async (child) => {
      children.delete(child);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL'); // also ends a stopped child
      await gone;
    }),
  );
});

function take(dir: string): DataDirLock {
  const lock = DataDirLock.acquire(dir);
  locks.push(lock);
  return lock;
}

/** Starts a child on `dir` and resolves with its first line ("HELD <pid>" or "REFUSED <code>"). */
async function childHolding(dir: string): Promise<{ child: ChildProcess; line: string; exited: Promise<unknown> }> {
  const child = spawn(process.execPath, [CHILD, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`lock child said nothing within 10 s: ${out}`)), 10_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(out.slice(0, nl));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (!out.includes('\n')) reject(new Error(`lock child exited ${code} without a line`));
    });
  });
  return { child, line, exited };
}

function refusal(dir: string): unknown {
  try {
    take(dir);
  } catch (err) {
    return err;
  }
  return null;
}

describe('DataDirLock', () => {
  it('a second acquisition in the same process fails with a clear BitsError; release lets it succeed', async () => {
    const dir = await tempDir();
    const first = take(dir);
    expect(first.held).toBe(true);
    const err = refusal(dir);
    expect(err).toBeInstanceOf(DataDirLockedError);
    expect(err).toBeInstanceOf(BitsError);
    expect(err).toMatchObject({ code: 'ERROR_SHARING_VIOLATION', context: 'GENERAL_QUEUE_MANAGER', path: join(dir, INSTANCE_LOCK_FILE) });
    expect((err as Error).message).toContain(`The data directory lock ${join(dir, INSTANCE_LOCK_FILE)} is held by another process`);
    // The refused attempt did not weaken the first holder: still refused.
    expect(refusal(dir)).toBeInstanceOf(DataDirLockedError);
    first.release();
    first.release(); // idempotent
    expect(first.held).toBe(false);
    const second = take(dir);
    expect(second.held).toBe(true);
    const stats = await stat(join(dir, INSTANCE_LOCK_FILE));
    expect(stats.mode & 0o777).toBe(0o600);
    expect(stats.size).toBe(0); // never written
  });

  it('a lock held in this process refuses another process', async () => {
    const dir = await tempDir();
    take(dir);
    const { line } = await childHolding(dir);
    expect(line).toBe('REFUSED ERROR_SHARING_VIOLATION');
  });

  it('a child holding it keeps it while stopped, and releases it when killed with SIGKILL', async () => {
    const dir = await tempDir();
    const { child, line, exited } = await childHolding(dir);
    expect(line).toBe(`HELD ${child.pid}`);
    expect(refusal(dir)).toBeInstanceOf(DataDirLockedError);
    child.kill('SIGSTOP');
    await waitFor(() => isStoppedPerProc(child.pid as number), 5000, 'the child to be stopped');
    expect(refusal(dir)).toBeInstanceOf(DataDirLockedError);
    child.kill('SIGKILL');
    await exited;
    const lock = take(dir);
    expect(lock.held).toBe(true);
  });
});
