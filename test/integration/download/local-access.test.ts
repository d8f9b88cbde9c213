/**
 * A destination directory that becomes unwritable after AddFile: the download fails with
 * E_ACCESSDENIED in context LOCAL_FILE, the job goes to ERROR (fatal, not retried after the retry
 * delay), and neither a temp file nor a partial destination is left behind.
 *
 * Root bypasses permission checks, and the tests run as root here and in CI; so the download runs
 * in a child process (test/fixtures/download-eacces-child.ts, compiled to dist/ by
 * `tsc -p tsconfig.json`) for which the mode bits apply (test/helpers/unprivileged.ts). The child
 * makes the directory read-only itself, after AddFile's checks passed. Nothing here is skipped.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { spawnUnprivileged } from '../../helpers/unprivileged.js';
import { onCleanup, randomContent, startFileServer, workDir } from './helpers.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const childScript = join(root, 'dist/test/fixtures/download-eacces-child.js');

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

function runChild(args: string[]): Promise<ChildReport> {
  const child = spawnUnprivileged(childScript, args);
  child.stdin.end();
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
    const dir = await workDir();
    const destDir = join(dir, 'dest');
    await mkdir(destDir);
    const destination = join(destDir, 'file.bin');
    onCleanup(() => chmod(destDir, 0o755));
    const server = await startFileServer();
    server.put('/file.bin', randomContent(200_000));

    const report = await runChild([join(dir, 'data'), `${server.url}/file.bin`, destination]);

    // The child made the directory read-only after AddFile; the refusal below shows the kernel
    // applied the mode bits to it (as root it ran without CAP_DAC_OVERRIDE).
    expect((await stat(destDir)).mode & 0o777).toBe(0o555);

    expect(report.state).toBe('ERROR');
    expect(report.error).toMatchObject({ hresult: 0x80070005, code: 'E_ACCESSDENIED', context: 'LOCAL_FILE' });
    expect(report.error?.message).toContain(report.tempName);
    expect(report.errorCount).toBe(1);
    // Fatal: the retry delay passing brings nothing back.
    expect(report.stateAfterRetryDelay).toBe('ERROR');
    expect(report.errorCountAfterRetryDelay).toBe(1);
    // One GET told the size; its body was discarded: the temp file could not be created.
    expect(server.log('HEAD', '/file.bin')).toHaveLength(0);
    expect(server.log('GET', '/file.bin')).toHaveLength(1);
    // Nothing left behind: no BIT*.tmp, no partial destination.
    expect(report.filesInDirectory).toEqual([]);
    expect(await readdir(destDir)).toEqual([]);
    expect(existsSync(report.tempName)).toBe(false);
  });
});
