/**
 * A destination directory that becomes unwritable after AddFile: the download fails with
 * E_ACCESSDENIED in context LOCAL_FILE, the job goes to ERROR (fatal, not retried after the retry
 * delay), and neither a temp file nor a partial destination is left behind.
 *
 * Root bypasses permission checks, and the tests run as root here and in CI; so the download runs
 * in a child process (test/fixtures/download-eacces-child.ts, compiled to dist/ by
 * `tsc -p tsconfig.json`) under uid/gid 65534 when this process is root, and under this process's
 * own user otherwise. The child makes the directory read-only itself, after AddFile's checks
 * passed. Nothing here is skipped: the test asserts the child really ran without root.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { onCleanup, randomContent, startFileServer, workDir } from './helpers.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const childScript = join(root, 'dist/test/fixtures/download-eacces-child.js');
const NOBODY = 65534;

interface ChildReport {
  uid: number | null;
  state: string;
  error: { hresult: number; code: string; context: string; message: string } | null;
  errorCount: number;
  stateAfterRetryDelay: string;
  errorCountAfterRetryDelay: number;
  tempName: string;
  filesInDirectory: string[];
}

function runChild(args: string[], asNobody: boolean): Promise<ChildReport> {
  const child = spawn(process.execPath, [childScript, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(asNobody ? { uid: NOBODY, gid: NOBODY } : {}),
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  return new Promise<ChildReport>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the child did not finish in 20 s; stderr: ${err}`));
    }, 20_000);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || line === '') {
        reject(new Error(`the child exited with ${code ?? signal}; stdout: ${out}; stderr: ${err}`));
        return;
      }
      resolve(JSON.parse(line) as ChildReport);
    });
  });
}

describe('destination directory not writable at transfer time', () => {
  it('EACCES: ERROR E_ACCESSDENIED (0x80070005) in LOCAL_FILE, not retried, no temp or partial file left', async () => {
    if (!existsSync(childScript)) throw new Error(`${childScript} is missing: build with "npx tsc -p tsconfig.json" first`);
    const asRoot = process.getuid?.() === 0;
    const dir = await workDir();
    const destDir = join(dir, 'dest');
    await mkdir(destDir);
    const destination = join(destDir, 'file.bin');
    onCleanup(() => chmod(destDir, 0o755));
    if (asRoot) {
      // The child's user owns the work directory (for its data directory) and the destination.
      await chown(dir, NOBODY, NOBODY);
      await chown(destDir, NOBODY, NOBODY);
    }
    const server = await startFileServer();
    server.put('/file.bin', randomContent(200_000));

    const report = await runChild([join(dir, 'data'), `${server.url}/file.bin`, destination], asRoot);

    // The check must have been a real one: the child ran without root's bypass.
    expect(report.uid).not.toBe(0);
    if (asRoot) expect(report.uid).toBe(NOBODY);
    expect((await stat(destDir)).mode & 0o777).toBe(0o555);

    expect(report.state).toBe('ERROR');
    expect(report.error).toMatchObject({ hresult: 0x80070005, code: 'E_ACCESSDENIED', context: 'LOCAL_FILE' });
    expect(report.error?.message).toContain(report.tempName);
    expect(report.errorCount).toBe(1);
    // Fatal: the retry delay passing brings nothing back.
    expect(report.stateAfterRetryDelay).toBe('ERROR');
    expect(report.errorCountAfterRetryDelay).toBe(1);
    // The size was asked for, but no body was fetched: the temp file could not be created.
    expect(server.log('HEAD', '/file.bin')).toHaveLength(1);
    expect(server.log('GET', '/file.bin')).toHaveLength(0);
    // Nothing left behind: no BIT*.tmp, no partial destination.
    expect(report.filesInDirectory).toEqual([]);
    expect(await readdir(destDir)).toEqual([]);
    expect(existsSync(report.tempName)).toBe(false);
  });
});
